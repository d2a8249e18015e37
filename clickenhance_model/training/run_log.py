"""What a training run writes besides checkpoints: CSV logs, TensorBoard (when installed) and a curve plot.

`train_log.csv` gets a row every `log_every_steps` steps (means over those steps) and
`val_log.csv` one per validation. A resumed run drops the rows written after the
checkpoint it continues from, so each step appears once.
"""

from __future__ import annotations

import csv
from pathlib import Path

TRAIN_FIELDS = ("step", "epoch", "lr", "total", "ce", "dice", "click", "rounds", "seconds_per_step")
VAL_FIELDS = ("step", "epoch", "objects", "NoC@80", "NoC@85", "NoC@90", "IoU@1", "IoU@5", "IoU@10", "seconds")


class CsvLog:
    """Append-only CSV with a fixed header; rows with a step beyond `keep_until_step` are dropped on open."""

    def __init__(self, path: Path, fields: tuple[str, ...], keep_until_step: int = 0):
        self.path, self.fields = path, fields
        rows = []
        if keep_until_step > 0 and path.is_file():
            with path.open(newline="") as stream:
                rows = [r for r in csv.DictReader(stream) if r.get("step") and int(r["step"]) <= keep_until_step]
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=fields, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    def append(self, row: dict) -> None:
        """Write one row (missing fields stay empty), flushed at once so a killed run keeps it."""
        with self.path.open("a", newline="") as stream:
            csv.DictWriter(stream, fieldnames=self.fields, extrasaction="ignore").writerow(
                {k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()}
            )

    def read(self) -> list[dict[str, str]]:
        """All rows so far."""
        with self.path.open(newline="") as stream:
            return list(csv.DictReader(stream))


def logged_seconds(run_dir: Path, until_step: int | None = None) -> tuple[float, float]:
    """(training steps, validation) seconds a run folder's logs record up to `until_step` (None: all).

    train_log.csv rows hold the mean seconds_per_step of the steps since the previous row;
    val_log.csv rows the seconds of each validation.
    """
    train = val = 0.0
    previous = 0
    with (run_dir / "train_log.csv").open(newline="") as stream:
        for row in csv.DictReader(stream):
            step = int(row["step"])
            if until_step is None or step <= until_step:
                train += float(row["seconds_per_step"]) * (step - previous)
            previous = step
    val_log = run_dir / "val_log.csv"
    if val_log.is_file():
        with val_log.open(newline="") as stream:
            val = sum(float(r["seconds"]) for r in csv.DictReader(stream)
                      if r.get("seconds") and (until_step is None or int(r["step"]) <= until_step))  # fmt: skip
    return train, val


class TensorBoardLog:
    """Scalars to TensorBoard when the `tensorboard` package is importable; silently nothing otherwise."""

    def __init__(self, folder: Path, purge_step: int = 0):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard is optional; the CSV logs hold the same numbers
            self.writer = None
            return
        self.writer = SummaryWriter(str(folder), purge_step=purge_step or None)

    def scalars(self, prefix: str, values: dict, step: int) -> None:
        """Log every numeric value under `prefix/name`."""
        if self.writer is None:
            return
        for name, value in values.items():
            if isinstance(value, (int, float)) and name not in ("step", "epoch"):
                self.writer.add_scalar(f"{prefix}/{name}", value, step)
        self.writer.flush()

    def close(self) -> None:
        """Close the event file."""
        if self.writer is not None:
            self.writer.close()


def _column(rows: list[dict[str, str]], name: str) -> list[float]:
    """A numeric column (empty cells skipped together with their step)."""
    return [float(r[name]) for r in rows if r.get(name)]


def plot_curves(train_rows: list[dict[str, str]], val_rows: list[dict[str, str]], path: Path) -> Path:
    """PNG with the training loss and the validation NoC@85 / IoU@5 over steps."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), dpi=110)
    FigureCanvasAgg(figure)
    loss_axes, val_axes = figure.subplots(1, 2)
    kept = [r for r in train_rows if r.get("total")]
    loss_axes.plot(_column(kept, "step"), _column(kept, "total"), label="total")
    loss_axes.plot(_column(kept, "step"), _column(kept, "ce"), label="cross-entropy", alpha=0.7)
    loss_axes.set_xlabel("step")
    loss_axes.set_ylabel("training loss")
    loss_axes.legend()
    measured = [r for r in val_rows if r.get("NoC@85")]
    val_axes.plot(_column(measured, "step"), _column(measured, "NoC@85"), "o-", label="NoC@85")
    val_axes.set_xlabel("step")
    val_axes.set_ylabel("validation NoC@85 (clicks)")
    iou_axes = val_axes.twinx()
    iou_axes.plot(_column(measured, "step"), _column(measured, "IoU@5"), "s--", color="tab:orange", label="IoU@5")
    iou_axes.set_ylabel("validation IoU@5")
    val_axes.legend(loc="upper left")
    iou_axes.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(path)
    return path
