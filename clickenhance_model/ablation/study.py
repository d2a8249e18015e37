"""Run the study: train every (setting, variant, seed) on the same budget, evaluate its last weights.

Layout under OUT:
  scenes/<setting>/                         generated scans (train: sequence 00, validation: 01)
  eval_sets/<set>.json                      the fixed objects of each evaluation set
  <setting>/<variant>/seed<S>/              a training run folder (last.pt, train_log.csv, ...) + done.json
  <setting>/<variant>/seed<S>/eval/<set>/   results.json, table.md, iou_vs_clicks.png
Rerunning skips finished trainings (done.json of the same training config) and evaluations
(results.json of the same checkpoint step, objects and protocol), and continues an interrupted
training from its last.pt. The weights evaluated are those after the last step: no model
selection on validation data, so every variant gets exactly the same budget.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from clickenhance_model.ablation.config import SETTINGS, StudyConfig
from clickenhance_model.ablation.eval_sets import EvalSet, prepare_eval_set
from clickenhance_model.ablation.variants import Variant, get_variants
from clickenhance_model.errors import CheckpointError
from clickenhance_model.evaluation.protocol import ProtocolSettings, evaluate_scene
from clickenhance_model.evaluation.report import build_results, strict_json, write_results
from clickenhance_model.segmenter import Segmenter
from clickenhance_model.training.config import TrainConfig
from clickenhance_model.training.loop import train
from clickenhance_model.training.run_log import logged_seconds
from clickenhance_model.training.sampling import group_by_scene

DONE = "done.json"
RESULTS = "results.json"


@dataclass(frozen=True)
class Run:
    """One training run of the study and where it lives."""

    setting: str
    variant: Variant
    seed: int
    config: TrainConfig
    folder: Path

    @property
    def label(self) -> str:
        """Short name for progress bars: setting/variant/seed."""
        return f"{self.setting}/{self.variant.name}/seed{self.seed}"

    def results_path(self, eval_set: str) -> Path:
        """results.json of this run on one evaluation set."""
        return self.folder / "eval" / eval_set / RESULTS


@dataclass(frozen=True)
class Outcome:
    """What one run produced: its done.json record, results.json per evaluation set, evaluations run now."""

    run: Run
    record: dict
    results: dict[str, Path]
    evaluations_run: int


def plan_runs(study: StudyConfig) -> list[Run]:
    """Every run, seed-major (a finished first seed is a complete one-seed study), then setting, then variant."""
    configs = {s: study.train_config(s) for s in SETTINGS if s in study.settings}
    return [
        Run(setting, variant, seed, variant.apply(configs[setting], seed),
            study.out / setting / variant.name / f"seed{seed}")  # fmt: skip
        for seed in study.seeds
        for setting in SETTINGS
        if setting in study.settings
        for variant in get_variants(study.variants)
    ]


def train_run(run: Run, study: StudyConfig) -> dict:
    """Train `run` (continuing its last.pt) unless its done.json says it finished with the same config."""
    done = run.folder / DONE
    expected = json.loads(json.dumps(run.config.to_dict()))  # as stored: tuples become lists
    if done.is_file():
        record = json.loads(done.read_text())
        if record.get("train_config") != expected:
            raise CheckpointError(f"{run.folder} holds a finished run of other settings than "
                                  f"{run.setting}/{run.variant.name}; delete that folder or choose another --out")
        return record
    result = train(run.config, run.folder, study.device, resume=True, show_progress=study.show_progress,
                   cpu_threads=study.threads)  # fmt: skip
    record = {"setting": run.setting, "variant": run.variant.name, "seed": run.seed, "step": result["step"],
              "train_seconds": logged_seconds(run.folder)[0], "train_config": expected}  # fmt: skip
    done.write_text(json.dumps(strict_json(record), indent=1) + "\n")
    return record


def _eval_record(run: Run, eval_set: EvalSet, step: int, study: StudyConfig) -> dict:
    """The `run` section of results.json: what was evaluated, how, and on which objects."""
    return {"dataset": "semantickitti", "eval_set": eval_set.name, "root": str(eval_set.root.resolve()),
            "sequences": None if eval_set.sequences is None else list(eval_set.sequences), "method": "model",
            "setting": run.setting, "variant": run.variant.name, "seed": run.seed,
            "checkpoint": str((run.folder / "last.pt").resolve()), "checkpoint_step": step,
            "trained_on": f"generated {run.setting}", "max_clicks": study.max_clicks, "temperature": None,
            "min_points": study.min_points, "colour": False}  # fmt: skip


def evaluation_current(path: Path, record: dict, eval_set: EvalSet) -> bool:
    """Whether results.json at `path` holds this evaluation already (same record, same objects in order)."""
    if not path.is_file():
        return False
    results = json.loads(path.read_text())
    keys = [(o["scene"], o["instance_id"]) for o in results.get("objects", [])]
    return results.get("run") == record and keys == eval_set.keys()


def evaluate_run(run: Run, eval_set: EvalSet, step: int, study: StudyConfig) -> tuple[Path, bool]:
    """Evaluate the run's last weights on `eval_set` with the simulated user; (results.json, whether it ran)."""
    path = run.results_path(eval_set.name)
    record = _eval_record(run, eval_set, step, study)
    if evaluation_current(path, record, eval_set):
        return path, False
    segmenter = Segmenter.load(run.folder / "last.pt", study.device)
    settings = ProtocolSettings(max_clicks=study.max_clicks)
    began, rows = time.perf_counter(), {}
    with tqdm(total=len(eval_set.objects), desc=f"eval {eval_set.name}", unit="object", leave=False,
              disable=not study.show_progress) as bar:  # fmt: skip
        for scene_name, objects in group_by_scene(eval_set.objects).items():
            for result in evaluate_scene(segmenter, eval_set.dataset.load_scene(scene_name), objects, settings):
                rows[result.key] = result
                bar.update()
    ordered = [rows[key] for key in eval_set.keys()]
    results = build_results(record, ordered, [])
    results["seconds"] = time.perf_counter() - began
    write_results(path.parent, results)
    return path, True


def run_study(study: StudyConfig, on_seed_done: Callable[[int], None] | None = None) -> list[Outcome]:
    """Train and evaluate every run in order; `on_seed_done(seed)` is called once all runs of a seed are done.

    Generated scenes are made first (each setting's in-domain evaluation set lives in its scene folder).
    """
    runs = plan_runs(study)
    names = dict.fromkeys(name for setting in study.settings for name in study.eval_sets(setting))
    sets = {name: prepare_eval_set(name, study, study.show_progress) for name in names}
    outcomes: list[Outcome] = []
    bar = tqdm(total=len(runs), desc="ablation runs", unit="run", disable=not study.show_progress)
    for number, run in enumerate(runs):
        bar.set_postfix_str(run.label)
        record = train_run(run, study)
        evaluated = {n: evaluate_run(run, sets[n], record["step"], study) for n in study.eval_sets(run.setting)}
        outcomes.append(Outcome(run, record, {n: path for n, (path, _) in evaluated.items()},
                                sum(ran for _, ran in evaluated.values())))  # fmt: skip
        bar.update()
        if on_seed_done is not None and (number + 1 == len(runs) or runs[number + 1].seed != run.seed):
            on_seed_done(run.seed)
    bar.close()
    return outcomes
