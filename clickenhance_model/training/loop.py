"""The training run: epochs of (sample objects -> simulate clicks -> gradient step), validation, checkpoints.

Run folder (`out`): `last.pt` (weights + optimizer, scheduler, scaler and counters, written
every `checkpoint_every_steps` steps, at the end of each epoch's steps and after its
validation), `best.pt` (weights of the best validation so far), `train_log.csv`,
`val_log.csv`, `training_curves.png`, `train_config.yaml`, `model_config.yaml`, the cached
object indexes, and `tensorboard/` when TensorBoard is installed. With `resume` a run
continues from `last.pt`: same global step, optimizer state and LR schedule position,
and the same remaining samples (every epoch's order and every step's clicks derive from
the seed and the step alone).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from clickenhance_model.checkpoint import load_checkpoint, save_checkpoint
from clickenhance_model.config import save_config
from clickenhance_model.errors import CheckpointError
from clickenhance_model.inference.voxel_graph import maps_graph_config
from clickenhance_model.segmenter import Segmenter
from clickenhance_model.training.click_simulation import simulate_clicks
from clickenhance_model.training.config import TrainConfig
from clickenhance_model.training.data import ObjectSamples, index_objects, open_split, own_prior_presets, scene_domains
from clickenhance_model.training.distributed import (
    ProcessContext,
    amp_enabled,
    barrier,
    close_process,
    init_process,
    mean_over_processes,
    shard,
    wrap_model,
)
from clickenhance_model.training.initialisation import initialise_weights
from clickenhance_model.training.optimization import build_optimizer, build_scheduler
from clickenhance_model.training.resume import check_resumable
from clickenhance_model.training.run_log import TRAIN_FIELDS, VAL_FIELDS, CsvLog, TensorBoardLog, plot_curves
from clickenhance_model.training.sampling import epoch_rng, sample_objects
from clickenhance_model.training.step import train_step
from clickenhance_model.training.validation import choose_val_objects, metric_is_better, validate

LAST, BEST = "last.pt", "best.pt"


def check_fresh_start(out: Path, resume: bool) -> None:
    """Refuse to start over in a folder that holds a run, unless resuming (nothing is overwritten by surprise)."""
    if not resume and (Path(out) / LAST).is_file():
        raise CheckpointError(f"{out} already holds a training run ({LAST}); continue it with --resume "
                              "(the default) or choose another --out")  # fmt: skip


def train(config: TrainConfig, out: str | Path, device: str = "auto", resume: bool = True,
          show_progress: bool = True, cpu_threads: int = 0) -> dict:  # fmt: skip
    """Train with `config` into run folder `out` (continuing its last checkpoint when `resume`); see TrainingRun.run."""
    check_fresh_start(Path(out), resume)
    context = init_process(device, cpu_threads)
    try:
        return TrainingRun(config, Path(out), context, show_progress).run(resume)
    finally:
        close_process(context)


class TrainingRun:
    """One training run in one process (one rank of a torchrun run); `run()` trains to the end."""

    def __init__(self, config: TrainConfig, out: Path, context: ProcessContext, show_progress: bool = True):
        self.config, self.out, self.context, self.show_progress = config, Path(out), context, show_progress
        self._open_data()
        segmenter = Segmenter.from_config(config.model, context.device, seed=config.seed)
        self.model = segmenter.model.train()
        self.trained = wrap_model(self.model, context, all_parameters_used=config.model.loss.click_loss)
        self.optimizer = build_optimizer(self.model, config.optimizer)
        self.scheduler = build_scheduler(self.optimizer, config.scheduler, config.epochs * self.steps_per_epoch)
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp_enabled(context.device, config.amp))
        self.state = {"epoch": 0, "epoch_step": 0, "step": 0, "best": None}
        self.metrics: dict[str, float] = {}

    def _open_data(self) -> None:
        """Open both splits and index their objects (rank 0 first: it may generate scenes and write caches)."""
        data, val = self.config.data, self.config.val
        for turn in (True, False):
            if self.context.is_main == turn:
                self.train_data = open_split(data, "train", self.show_progress)
                self.train_objects = index_objects(self.train_data, data, self.out / "objects_train.json")
                self.val_data = open_split(data, "val", self.show_progress) if val.objects else None
                found = index_objects(self.val_data, data, self.out / "objects_val.json") if val.objects else []
                self.val_objects = choose_val_objects(found, val.objects, self.config.seed)
            barrier(self.context)
        if not self.train_objects:
            raise ValueError(f"no training object in {self.train_data.root} (min_points={data.min_points})")
        count = self.config.samples_per_epoch or len(self.train_objects)
        per_rank = -(-count // self.context.world_size)
        self.samples_per_epoch = count
        self.steps_per_epoch = -(-per_rank // self.config.batch_size)

    # ------------------------------------------------------------------ checkpoints
    def save(self, name: str, training_state: bool = True) -> Path:
        """Write a checkpoint into the run folder (rank 0 only); best.pt carries no optimizer state."""
        extra = {"train_config": self.config.to_dict(), "state": dict(self.state), "metrics": dict(self.metrics),
                 "world_size": self.context.world_size,
                 "trained_on": {"dataset": self.config.data.dataset, "root": self.config.data.root}}  # fmt: skip
        if training_state:
            extra.update(optimizer=self.optimizer.state_dict(), scheduler=self.scheduler.state_dict(),
                         scaler=self.scaler.state_dict(), torch_rng=torch.get_rng_state())  # fmt: skip
        return save_checkpoint(self.out / name, self.model, self.config.model, extra)

    def restore(self) -> bool:
        """Continue from `last.pt` if the run folder has one; returns whether it did."""
        path = self.out / LAST
        if not path.is_file():
            return False
        state_dict, model_config, extra = load_checkpoint(path, self.context.device)
        check_resumable(path, self.config, model_config, extra, self.context.world_size)
        self.model.load_state_dict(state_dict)
        try:
            self.optimizer.load_state_dict(extra["optimizer"])
            self.scheduler.load_state_dict(extra["scheduler"])
            self.scaler.load_state_dict(extra["scaler"])
        except (KeyError, ValueError) as error:
            raise CheckpointError(f"{path}: no usable optimizer/scheduler state to resume from ({error})") from error
        torch.set_rng_state(extra["torch_rng"].cpu())
        self.state = {k: extra["state"][k] for k in ("epoch", "epoch_step", "step", "best")}
        self.metrics = dict(extra.get("metrics") or {})
        return True

    def initialise_from(self, path: Path) -> None:
        """Start from the weights of checkpoint `path` (fine-tuning; `initialisation.initialise_weights`)."""
        state_dict, source, _ = load_checkpoint(path, self.context.device)
        initialise_weights(self.model, self.config.model, state_dict, source, path)

    # ------------------------------------------------------------------- training
    def _step(self, items: list) -> dict[str, float]:
        """Simulate clicks on a batch with the current model, then one gradient step."""
        config, step, rank = self.config, self.state["step"], self.context.rank
        rng = np.random.default_rng([config.seed, step, rank, 1])
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step * 101 + rank)
        samples, rounds = simulate_clicks(self.model, items, config.clicks, config.model, rng,
                                          self.context.device, config.amp, config.prior_noise)  # fmt: skip
        parts = train_step(self.trained, samples, self.optimizer, self.scheduler, self.scaler, config.model.loss,
                           self.context.device, config.amp, config.optimizer.grad_clip, generator)  # fmt: skip
        parts["rounds"] = float(np.mean(rounds))
        return parts

    def _epoch_loader(self, epoch: int) -> torch.utils.data.DataLoader:
        """This rank's remaining samples of `epoch` (after the steps already done), as a loader of batches."""
        samples = sample_objects(self.train_objects, self.samples_per_epoch, epoch_rng(self.config.seed, epoch),
                                 self.config.data.object_weighting)
        numbered = shard(list(enumerate(samples)), self.context)
        remaining = numbered[self.state["epoch_step"] * self.config.batch_size :]
        domains = scene_domains(self.train_data, self.config.data, "train")
        dataset = ObjectSamples(self.train_data, remaining, self.config.model.input.voxel_size,
                                self.config.augment, (self.config.seed, epoch), maps_graph_config(self.config.model),
                                own_prior_presets(domains, self.config.model))  # fmt: skip
        return torch.utils.data.DataLoader(dataset, batch_size=self.config.batch_size, shuffle=False,
                                           collate_fn=list, num_workers=self.config.num_workers)  # fmt: skip

    def train_epoch(self, epoch: int) -> None:
        """Train the rest of `epoch`, stopping early when max_steps is reached."""
        config, state = self.config, self.state
        window: list[dict[str, float]] = []
        progress = tqdm(self._epoch_loader(epoch), total=self.steps_per_epoch, initial=state["epoch_step"],
                        desc=f"epoch {epoch + 1}/{config.epochs}", unit="step",
                        disable=not (self.show_progress and self.context.is_main))  # fmt: skip
        began = time.perf_counter()
        for items in progress:
            parts = self._step(items)
            state["step"] += 1
            state["epoch_step"] += 1
            parts["seconds_per_step"] = time.perf_counter() - began
            began = time.perf_counter()
            window.append(parts)
            progress.set_postfix(loss=f"{parts['total']:.3f}", lr=f"{parts['lr']:.2e}")
            if len(window) == config.log_every_steps:
                self._log_train(epoch, window)
                window = []
            if config.checkpoint_every_steps and state["step"] % config.checkpoint_every_steps == 0:
                self._checkpoint()
            if self._stopped():
                break
        progress.close()
        if window:
            self._log_train(epoch, window)

    def _checkpoint(self) -> None:
        """last.pt from rank 0; every rank waits so none runs ahead of a checkpoint."""
        if self.context.is_main:
            self.save(LAST)
        barrier(self.context)

    # -------------------------------------------------------------------- logging
    def _log_train(self, epoch: int, window: list[dict[str, float]]) -> None:
        """Means over the last steps into train_log.csv and TensorBoard (rank 0)."""
        row = {k: mean_over_processes(float(np.mean([w[k] for w in window])), self.context) for k in window[0]}
        row.update(step=self.state["step"], epoch=epoch + 1, lr=window[-1]["lr"])
        if self.context.is_main:
            self.train_log.append(row)
            self.tensorboard.scalars("train", row, self.state["step"])

    def _validate_epoch(self, epoch: int) -> None:
        """Validation (rank 0), val_log.csv, curve plot and best.pt when the chosen metric improves."""
        if self.context.is_main and self.val_objects:
            val = self.config.val
            self.metrics = validate(self.model, self.config.model, self.val_data, self.val_objects, val,
                                    self.context.device, self.show_progress,
                                    scene_domains(self.val_data, self.config.data, "val"))  # fmt: skip
            row = {"step": self.state["step"], "epoch": epoch + 1, **self.metrics}
            self.val_log.append(row)
            self.tensorboard.scalars("val", row, self.state["step"])
            plot_curves(self.train_log.read(), self.val_log.read(), self.out / "training_curves.png")
            if metric_is_better(val.best_metric, self.metrics[val.best_metric], self.state["best"]):
                self.state["best"] = float(self.metrics[val.best_metric])
                self.save(BEST, training_state=False)
        barrier(self.context)

    # ------------------------------------------------------------------------ run
    def _open_logs(self, resumed: bool) -> None:
        """Config copies, CSV logs (trimmed to the resumed step) and TensorBoard, on rank 0."""
        if not self.context.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        save_config(self.config, self.out / "train_config.yaml")
        save_config(self.config.model, self.out / "model_config.yaml")
        keep = self.state["step"] if resumed else 0
        validation_pending = resumed and self.state["epoch_step"] >= self.steps_per_epoch  # killed while validating
        self.train_log = CsvLog(self.out / "train_log.csv", TRAIN_FIELDS, keep)
        self.val_log = CsvLog(self.out / "val_log.csv", VAL_FIELDS, keep - 1 if validation_pending else keep)
        self.tensorboard = TensorBoardLog(self.out / "tensorboard", purge_step=keep + 1 if resumed else 0)

    def _stopped(self) -> bool:
        """Whether the step limit (max_steps) is reached."""
        return bool(self.config.max_steps) and self.state["step"] >= self.config.max_steps

    def run(self, resume: bool = True) -> dict:
        """Train to the last epoch (or max_steps); returns the final counters, metrics and checkpoint paths."""
        check_fresh_start(self.out, resume)
        resumed = resume and self.restore()
        if not resumed and self.config.init_from:
            self.initialise_from(Path(self.config.init_from))
        self._open_logs(resumed)
        val_every, epochs = self.config.val.every_epochs, self.config.epochs
        for epoch in range(self.state["epoch"], epochs):
            if self._stopped():
                break
            self.train_epoch(epoch)
            self._checkpoint()  # the epoch's steps are safe before validation starts
            if self.state["epoch_step"] < self.steps_per_epoch:
                break  # stopped by max_steps mid-epoch
            if (epoch + 1) % val_every == 0 or epoch + 1 == epochs:
                self._validate_epoch(epoch)
            self.state.update(epoch=epoch + 1, epoch_step=0)
            self._checkpoint()
        if self.context.is_main:
            self.tensorboard.close()
        best = self.out / BEST
        return {**self.state, "resumed": resumed, "metrics": self.metrics, "last": str(self.out / LAST),
                "best": str(best) if best.is_file() else None, "steps_per_epoch": self.steps_per_epoch}  # fmt: skip
