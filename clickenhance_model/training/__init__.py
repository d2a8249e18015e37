"""Iterative click training of ClickEnhance (`clickenhance-train`), split by job.

config (TrainConfig from YAML), synthetic (generated scenes), data (splits, object index,
loading), sampling (which object each sample is), click_simulation (clicks from the model's
own errors), step (one gradient step), optimization (optimizer, LR schedule), validation
(NoC/IoU through the evaluation protocol), run_log (CSV/TensorBoard/plot), resume (may a
checkpoint be continued), distributed (device, torchrun/DDP, AMP) and loop (the run).
The shipped configs (`*.yaml`) live in this folder.
"""
