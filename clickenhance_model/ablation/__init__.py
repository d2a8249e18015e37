"""The ablation study of the paper's design choices, in miniature: sparse vs dense click encoding, the
Click-Specific Encoder and the click loss, trained with one budget and seed policy on generated scenes
(indoor rooms only, and street scans) and evaluated on generated and real outdoor scans.

Modules: `variants` (the four model switches), `config` (what a study runs), `eval_sets` (the fixed
evaluation objects), `study` (trainings and evaluations, resumable), `claims` (the verdict rule),
`report` (tables, plots, docs/ablation.md) and `__main__` (the CLI, `make ablation`).
"""
