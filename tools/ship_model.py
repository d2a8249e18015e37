"""Ship a trained checkpoint as the package's default model, with a model card measured against the baseline.

    PYTHONPATH=. python tools/ship_model.py --checkpoint runs/synthetic/best.pt --run-dir runs/synthetic \
        --val-root runs/scenes/synthetic_street --real-root ../shared/real_scans/semantickitti \
        --indoor-root ../shared/real_scans/scannet --out clickenhance_model/weights

Steps: (1) strip the checkpoint to weights + model config + training metadata (no optimizer,
scheduler, scaler or RNG state) and check it fits in 20 MB; (2) evaluate that stripped file and
the training-free baseline on the same objects of the generated validation scans and of the four
real dev sets (the `clickenhance-eval` code path, into `--eval-dir`): the vehicles of the real
SemanticKITTI scans, their stuff objects (poles, trunks, signs, fences, ...), the same scans cut
to every 4th laser ring (a 16-beam sensor), and the real indoor region; (3) write OUT/default.pt
and the model card OUT/README.md. The real dev sets are read only for a candidate that beats the
baseline by the rule below on every generated validation set: the scans of each domain (streets,
rooms: the "(all sensors)" rows of a mix), the streets of its 64- and 128-ring sensors cut to every
4th ring (`--val-ring-cut`, the generated kind of the real 16-ring set) and any `--extra-val-roots`
street folder, whole and cut; and that passes `make demo`'s simulated operator on six generated
streets and the tests' one-click cars (`evaluation.demo_operator`); otherwise it stops there (exit 1,
a note in the eval folder; `--no-validation-gate` / `--no-demo-gate` read them anyway). `--fail-fast`
stops the generated gate at the first set lost, and `--gate-order` says which sets go first. With
`--refuse-if-worse` (the default) a model is shipped only if on EVERY real dev set it needs fewer
clicks (NoC@85; as few, where the baseline needs one click per object), reaches a higher IoU@10
and leaves no more objects stuck (see `evaluation.metrics.click_responsiveness`) than the baseline;
otherwise OUT is left untouched and the card goes to the eval folder, saying why. Exit status: 0
shipped, 1 refused, 2 bad input.

On the generated sets the stuck objects are judged by a sign test (`--generated-stuck sign`, the default): the
objects stuck in the model alone may outnumber those stuck in the baseline alone only by what chance gives (p of
at least 0.05); with a few discordant objects per set a count that differs by one or two says nothing. The real
dev sets keep the count. A candidate whose weights carry click rules (`--gain-reach`, `--keep-direction`) must
beat, on every set, both the baseline as it ships and the baseline served with the same rules: the rules need no
training and help the baseline as much.

The baseline keeps improving, so weights shipped earlier can stop beating it. `--rejudge-installed`
judges OUT/default.pt again, by the same rule on the real dev sets, against today's baseline:

    PYTHONPATH=. python tools/ship_model.py --rejudge-installed --out clickenhance_model/weights \
        --real-root ../shared/real_scans/semantickitti --indoor-root ../shared/real_scans/scannet

It writes no weights. It records the verdict in OUT/default.json, which `method: auto` reads
(`shipped_facts.auto_method`: refused weights are not served by default), and in a section of
OUT/README.md. Exit status: 0 they still win, 1 they do not, 2 bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml

from clickenhance_model import evaluate
from clickenhance_model.checkpoint import load_checkpoint, save_checkpoint
from clickenhance_model.datasets.semantic_kitti import OBJECT_KINDS
from clickenhance_model.errors import CheckpointError, ClickEnhanceError
from clickenhance_model.evaluation.demo_operator import (
    CARS_MIN_IOU,
    CARS_SEED,
    DEMO_MAX_CLICKS,
    DEMO_MIN_IOU,
    DEMO_OBJECTS,
    DEMO_SEEDS,
    DEMO_TARGET_IOU,
    cars_pass,
    demo_streets,
    one_click_cars,
)
from clickenhance_model.evaluation.paired import (
    StuckComparison,
    nearly_right,
    paired_difference,
    part_of,
    stuck_comparison,
)
from clickenhance_model.inference.click_rules import ClickRules
from clickenhance_model.model_config import CHOSEN_ON_VALIDATION, JOINED_CLICK_RULES, MAX_VIEWS, SegmenterConfig
from clickenhance_model.shipped_facts import facts_path, record_auto_refusal, write_facts
from clickenhance_model.training.config import train_config_from_dict, trained_domains
from clickenhance_model.training.point_refiner_fit import BAND_DEFAULTS, COLLECTION_SETTINGS, FitSettings
from clickenhance_model.training.run_log import logged_seconds
from clickenhance_model.training.synthetic import manifest_domains
from clickenhance_model.unet import PRIOR_SCALE_INIT

MAX_BYTES = 20 * 1024 * 1024
KEEP_EXTRA = ("train_config", "state", "metrics", "trained_on", "world_size",  # training metadata, no optimizer
              "inference_options", "point_refiner_fit",
              "edge_affinity", "edge_affinity_fit")  # and the learned prior's edge prices; fmt: skip
NOC_THRESHOLDS = (80, 85, 90)
IOU_CLICKS = (1, 5, 10)
RULE_CLICKS = 10  # the rule compares IoU@10 (or the last click of a smaller budget)
MIN_NOC = 1.0  # a set the baseline finishes with one click each: the model can only tie in NoC there
METHODS = ("model", "baseline")
# a candidate whose weights carry click rules (--gain-reach, --keep-direction) is also judged against the baseline
# served with the same rules: the rules need no training, and they help the baseline as much (session 55)
RULED = "baseline_with_rules"
BASELINES = ("baseline", RULED)
STUCK_RULES = ("sign", "count")  # the generated sets' stuck criterion (--generated-stuck)
STUCK_SIGNIFICANCE = 0.05  # "sign": refused only where the model's extra stuck objects are this unlikely by chance
EVAL_RECORD = "ship_eval.json"  # beside each results.json: the clickenhance-eval command and the graph presets


class EvalSet(NamedTuple):
    """One set the card reports: its reader, the root option it reads (or a folder of its own) and the reader
    options.

    `real` sets decide the verdict, generated ones the gate before it; `min_points_divisor` lowers the object
    size limit where the sensor is sparser (a 16-ring cut has a quarter of the points).
    """

    name: str
    title: str
    dataset: str
    root_option: str
    options: tuple[str, ...] = ()
    real: bool = True
    min_points_divisor: int = 1
    root: Path | None = None  # an --extra-val-roots folder, read instead of the option's

    def folder(self, args: argparse.Namespace) -> Path:
        """The folder this set reads."""
        return self.root if self.root is not None else getattr(args, self.root_option)


EVAL_SETS = (
    EvalSet("val", "generated validation scans (never trained on)", "semantickitti", "val_root", real=False),
    EvalSet("vehicles", "real SemanticKITTI scans, labelled instances (cars, ...)", "semantickitti", "real_root",
            ("--objects", "things")),
    EvalSet("stuff", "real SemanticKITTI scans, stuff objects (poles, trunks, signs, fences, other objects)",
            "semantickitti", "real_root", ("--objects", "stuff")),
    EvalSet("rings16", "real SemanticKITTI scans cut to every 4th laser ring (16-beam sensor), all objects",
            "semantickitti", "real_root", ("--objects", "all", "--keep-rings", "4"), min_points_divisor=2),
    EvalSet("indoor", "real indoor region (ScanNet, RGB-D, npy triplets)", "npy", "indoor_root"),
)  # fmt: skip
REAL_SETS = tuple(s for s in EVAL_SETS if s.real)  # the sets the rule reads
RING_CUT = 4  # a 16-ring set keeps every 4th laser ring of a 64- or 128-ring scan
DENSE_RINGS = 64  # ... so the generated cut reads the scans of sensors with at least this many rings
CUT_SUFFIX = "_rings16"  # a generated set cut so is named after its set: val_rings16, any_object_low_fences_rings16
# the generated cut keeps objects of a quarter of the streets' size limit (25 points at the default 100), as the
# gates of sessions 41-51 did; the real 16-ring set keeps half (its scans are denser near the car)
CUT_MIN_POINTS_DIVISOR = 4
SETS = (EVAL_SETS[0].name, f"{EVAL_SETS[0].name}{CUT_SUFFIX}", *(s.name for s in REAL_SETS))  # the standard sets


class ShipError(Exception):
    """A reason not to ship: bad input, an oversized file or a failed evaluation (message names the problem)."""


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="ship_model", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="trained checkpoint, e.g. runs/NAME/best.pt (required unless "
                                                         "--rejudge-installed)")
    parser.add_argument("--run-dir", type=Path, help="its run folder (train_config.yaml, *_log.csv; required unless "
                                                      "--rejudge-installed, or for a point refiner fitted on weights "
                                                      "without a run folder here, such as the shipped ones)")
    parser.add_argument("--val-root", type=Path, help="generated validation scans, SemanticKITTI layout (required "
                                                       "unless --rejudge-installed)")
    parser.add_argument("--val-sequences", nargs="+", type=str,
                        help="sequences of --val-root to evaluate (default: the synthetic val split, 01)")  # fmt: skip
    parser.add_argument("--real-root", required=True, type=Path,
                        help="real SemanticKITTI scans (the vehicles, stuff and rings16 sets)")
    parser.add_argument("--indoor-root", required=True, type=Path,
                        help="real indoor clouds as npy triplets (the indoor set), e.g. ../shared/real_scans/scannet")
    parser.add_argument("--out", required=True, type=Path, help="weights folder: default.pt and README.md go here")
    parser.add_argument("--eval-dir", type=Path, help="evaluation outputs (default: RUN_DIR/ship_eval)")
    parser.add_argument("--max-clicks", type=int, default=20, help="click budget per object")
    parser.add_argument("--min-points", type=int, default=100, help="skip objects with fewer points")
    parser.add_argument("--limit-objects", type=int, help="evaluate only the first N objects of each set")
    parser.add_argument("--val-scene-stride", type=int, default=1,
                        help="generated validation: every K-th scan only (a generated mix keeps its sensors "
                             "and rooms in groups, so a stride samples all of them)")  # fmt: skip
    parser.add_argument("--val-ring-cut", action=argparse.BooleanOptionalAction, default=True,
                        help="the gate also reads --val-root's streets of 64- and 128-ring sensors cut to every "
                             f"{RING_CUT}th laser ring (set val{CUT_SUFFIX}, objects of at least a quarter of "
                             "--min-points): the generated kind of the real 16-ring set (default on)")  # fmt: skip
    parser.add_argument("--extra-val-roots", nargs="+", type=Path, default=[], metavar="ROOT",
                        help="more generated street folders whose validation scans the model must also win, each "
                             "whole and cut like --val-ring-cut (sets NAME and NAME_rings16, NAME the folder's "
                             "name), e.g. runs/scenes/any_object_fence_feet runs/scenes/any_object_low_fences "
                             "(`clickenhance-train --config any_object_low_fences --prepare-data val` makes one)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated user")
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="scenes evaluated at once in worker processes (clickenhance-eval --jobs; the same "
                             "results); not with --limit-objects")  # fmt: skip
    parser.add_argument("--reuse-eval", action="store_true",
                        help="take the evaluations already in --eval-dir (of the same weights, made by the same "
                             "command under today's graph presets) instead of rerunning")
    parser.add_argument("--baseline-dir", type=Path,
                        help="keep the baseline's evaluations here instead of --eval-dir and take them again for "
                             "every later candidate while they were made by the same command under today's graph "
                             "presets (the baseline does not depend on the candidate: half of each gate's work); "
                             "empty it when the baseline's code changes")  # fmt: skip
    parser.add_argument("--ground-gate", action=argparse.BooleanOptionalAction, default=None,
                        help="the model's ground gate, chosen on generated validation scans (clickenhance-eval "
                             "--ground-gate / --no-ground-gate there): stored in the weights as their inference "
                             "option, so Segmenter.load() and the node use it (default: SegmenterConfig's)")
    parser.add_argument("--ground-prior", action=argparse.BooleanOptionalAction, default=None,
                        help="a prior-fusion model's ground prior, chosen on generated validation scans "
                             "(clickenhance-eval --ground-prior there): stored in the weights like --ground-gate")
    parser.add_argument("--joined-click", choices=JOINED_CLICK_RULES,
                        help="a prior-fusion model's rule for an object first clicked on a node that only joined the "
                             "ground, chosen on generated validation scans (clickenhance-eval --joined-click there): "
                             "stored in the weights like --ground-gate")  # fmt: skip
    parser.add_argument("--views", type=int, choices=range(1, MAX_VIEWS + 1), metavar=f"{{1..{MAX_VIEWS}}}",
                        help="test-time views per crop, chosen on generated validation scans (clickenhance-eval "
                             "--views there): stored in the weights like --ground-gate")
    parser.add_argument("--gain-reach", type=float,
                        help="click rule 3 as part of the model's recipe (SegmenterConfig.gain_reach: a positive "
                             "click adds only within this many times its distance to the nearest negative click), "
                             "chosen on generated validation scans: stored in the weights like --ground-gate; the "
                             "model is judged against the baseline as it ships and the baseline served with the "
                             "same rules")  # fmt: skip
    parser.add_argument("--keep-direction", action=argparse.BooleanOptionalAction, default=None,
                        help="click rule 4 as part of the model's recipe (SegmenterConfig.keep_direction: positive "
                             "clicks only add to the answer before them, negative clicks only take out of it), "
                             "chosen on generated validation scans: stored in the weights like "
                             "--gain-reach")  # fmt: skip
    parser.add_argument("--generated-stuck", choices=STUCK_RULES, default="sign",
                        help="the generated sets' stuck criterion: sign (default) refuses a model only where the "
                             "objects stuck in it alone outnumber those stuck in the baseline alone beyond chance "
                             f"(exact one-sided sign test, p < {STUCK_SIGNIFICANCE}); count refuses any model with "
                             "more stuck objects. The real dev sets always use count (the issue's bar)")
    parser.add_argument("--validation-gate", action=argparse.BooleanOptionalAction, default=True,
                        help="read the real dev sets only for a model that beats the baseline on the generated "
                             "validation scans of every domain, by the same rule (default on)")
    parser.add_argument("--gate-order", nargs="+", default=[], metavar="SET",
                        help="generated sets to evaluate first, in this order (names as in the card: val, "
                             "val_rings16, any_object_low_fences_rings16, ...); the others follow in the tool's order")
    parser.add_argument("--fail-fast", action="store_true",
                        help="stop the generated gate at the first set the model loses (its model and baseline "
                             "runs done, the rest not evaluated): a refused candidate costs one set, not all; put "
                             "the set most likely to refuse first with --gate-order")  # fmt: skip
    parser.add_argument("--demo-gate", action=argparse.BooleanOptionalAction, default=True,
                        help="read the real dev sets only for a model that passes `make demo`'s simulated operator "
                             "on the generated streets of seeds 0-5 and the one-click cars that the tests ask of the "
                             "shipped default (evaluation.demo_operator; default on)")
    parser.add_argument("--demo-seeds", type=int, nargs="+", default=list(DEMO_SEEDS),
                        help="the generated streets of --demo-gate (default: 0-5; `make demo` shows seed 0)")
    parser.add_argument("--refuse-if-worse", action=argparse.BooleanOptionalAction, default=True,
                        help="write default.pt only if the model beats the baseline on every real dev set")  # fmt: skip
    parser.add_argument("--rejudge-installed", action="store_true",
                        help="judge the weights already in OUT (default.pt) again against today's baseline on the "
                             "real dev sets; record in OUT/default.json whether `method: auto` may serve them and "
                             "add the figures to OUT/README.md (no weights are written; --eval-dir default: "
                             "runs/rejudge_default)")  # fmt: skip
    return parser


def strip_checkpoint(checkpoint: Path, path: Path, inference_options: dict | None = None) -> tuple[int, dict]:
    """Write weights + model config + training metadata of `checkpoint` to `path`; returns (bytes, metadata).

    `inference_options` (SegmenterConfig fields, e.g. the chosen ground gate) are stored with
    them, over any the checkpoint holds. Raises ShipError (and removes `path`) when the file
    exceeds MAX_BYTES.
    """
    from clickenhance_model.unet import ClickEnhanceNet

    state_dict, config, extra = load_checkpoint(checkpoint)
    model = ClickEnhanceNet(config)
    model.load_state_dict(state_dict)
    metadata = {k: extra[k] for k in KEEP_EXTRA if k in extra}
    if inference_options:
        metadata["inference_options"] = {**metadata.get("inference_options", {}), **inference_options}
    save_checkpoint(path, model, config, metadata)
    size = path.stat().st_size
    if size > MAX_BYTES:
        path.unlink()
        raise ShipError(f"{checkpoint}: the stripped weights take {size / 2**20:.1f} MiB, "
                        f"more than the {MAX_BYTES / 2**20:.0f} MiB allowed in the package")  # fmt: skip
    return size, metadata


def affinity_weights(extra: dict) -> dict:
    """A checkpoint's edge affinity (`extra["edge_affinity"]`) as named tensors, its weight among them; empty
    without one. Two checkpoints with other affinities answer otherwise, as with other network weights."""
    stored = extra.get("edge_affinity")
    if stored is None:
        return {}
    import torch

    return {**{f"edge_affinity.{k}": v for k, v in stored["state_dict"].items()},
            "edge_affinity.weight": torch.tensor(float(stored["weight"]))}  # fmt: skip


def check_same_weights(checkpoint: Path, candidate: Path) -> None:
    """Raise ShipError unless `candidate` (the file evaluated before) holds the weights of `checkpoint`."""
    if not candidate.is_file():
        raise ShipError(f"--reuse-eval: {candidate} is missing, so nothing was evaluated there yet")
    (new, _, new_extra), (old, _, old_extra) = load_checkpoint(checkpoint), load_checkpoint(candidate)
    new, old = {**new, **affinity_weights(new_extra)}, {**old, **affinity_weights(old_extra)}
    if new.keys() != old.keys() or not all(new[k].equal(old[k]) for k in new):
        raise ShipError(f"--reuse-eval: the evaluations in {candidate.parent} are of other weights than {checkpoint}")


def val_sequences(args: argparse.Namespace, train_config: dict) -> list[str]:
    """Sequences of the generated validation sets; refuses the run's own training sequence of its own scene
    folder (--val-root or an --extra-val-roots folder)."""
    from clickenhance_model.training.synthetic import SPLIT_SEQUENCES

    sequences = args.val_sequences or [SPLIT_SEQUENCES["val"]]
    data = train_config.get("data", {})
    if not (data.get("root") and data.get("dataset") == "synthetic" and SPLIT_SEQUENCES["train"] in sequences):
        return sequences
    for root in (args.val_root, *args.extra_val_roots):
        if Path(data["root"]).resolve() == root.resolve():
            raise ShipError(f"--val-sequences {' '.join(sequences)} includes the training scans "
                            f"(sequence {SPLIT_SEQUENCES['train']} of {root})")  # fmt: skip
    return sequences


def dense_sensors() -> frozenset[str]:
    """The generator's sensors whose scans a 16-ring cut is made of: spinning LiDARs of `DENSE_RINGS` rings or
    more (HDL-64, the 128-ring Ousters), read off their presets."""
    from clickenhance_model.scenes.sensors import SENSOR_PRESETS

    return frozenset(name for name, lidar in SENSOR_PRESETS.items()
                     if lidar.pattern == "spinning" and (len(lidar.elevations_deg) or lidar.beams) >= DENSE_RINGS)


def ring_cut_options(root: Path) -> tuple[str, ...]:
    """`clickenhance-eval` options of a generated folder's streets cut to every `RING_CUT`th ring: of a mix, only
    the scans of its dense sensors (`dense_sensors`; a 16-ring scan cut so keeps 4 rings); a folder of one sensor
    is cut as it is."""
    from clickenhance_model.training.synthetic import manifest_sensors

    options = ("--scene-domain", "outdoor", "--keep-rings", str(RING_CUT))
    recorded = manifest_sensors(root)
    if not recorded:
        return options
    dense = sorted({part.split(" ", 1)[1] for part in recorded.values() if part.startswith("outdoor ")}
                   & dense_sensors())  # fmt: skip
    if not dense:
        raise ShipError(f"{root} records no street scan of a {DENSE_RINGS}-ring or denser sensor to cut to "
                        f"{DENSE_RINGS // RING_CUT} rings (--no-val-ring-cut: a folder without one)")  # fmt: skip
    return (*options, "--scene-sensors", *dense)


def generated_sets(args: argparse.Namespace) -> tuple[EvalSet, ...]:
    """The gate's generated sets, in the order they are read: --val-root's scans (judged per domain: streets,
    rooms), with --val-ring-cut its dense sensors' streets cut to 16 rings, then each --extra-val-roots folder's
    streets whole and cut alike. Each is a kind of real set: the streets of the vehicles and the stuff objects,
    the cut of the 16-ring set, the rooms of the indoor region."""
    val = EVAL_SETS[0]

    def cut(name: str, what: str, folder: Path, root: Path | None = None) -> EvalSet:
        return EvalSet(f"{name}{CUT_SUFFIX}", f"{what} cut to every {RING_CUT}th laser ring ({DENSE_RINGS} rings or "
                       "more)", val.dataset, val.root_option, ring_cut_options(folder), real=False,
                       min_points_divisor=CUT_MIN_POINTS_DIVISOR, root=root)  # fmt: skip

    sets = [val, cut(val.name, "the generated validation streets", args.val_root)] if args.val_ring_cut else [val]
    for root in args.extra_val_roots:
        sets += [EvalSet(root.name, f"generated validation streets of {root.name}", val.dataset, val.root_option,
                         ("--scene-domain", "outdoor"), real=False, root=root),
                 cut(root.name, "the same streets", root, root)]
    names = [s.name for s in sets]
    taken = {s.name for s in REAL_SETS}
    if len(set(names)) < len(names) or taken & set(names):
        raise ShipError(f"--extra-val-roots: each folder needs a name of its own, none of {', '.join(sorted(taken))} "
                        f"(sets: {', '.join(names)})")  # fmt: skip
    return tuple(sets)


def run_eval(method: str, eval_set: EvalSet, out: Path, args: argparse.Namespace, extra_argv: Sequence[str]) -> dict:
    """One `clickenhance-eval` run (its main, started afresh in `out`); returns its results.json.

    With --reuse-eval an existing results.json is returned instead where it was evaluated by the same command
    under today's graph presets and default click rules (`EVAL_RECORD`, written beside it: the baseline keeps
    improving, and a prior-fusion model's prior with it) and records the same method, root, click budget, seed,
    size limit and inference options.
    """
    root = eval_set.folder(args)
    min_points = max(1, args.min_points // eval_set.min_points_divisor)
    argv = ["--dataset", eval_set.dataset, "--root", str(root), "--method", method, "--out", str(out),
            "--max-clicks", str(args.max_clicks), "--min-points", str(min_points), "--seed", str(args.seed),
            "--device", args.device, *eval_set.options, *extra_argv]  # fmt: skip
    if args.limit_objects is not None:
        argv += ["--limit-objects", str(args.limit_objects)]
    record = {"argv": argv, "graph_presets": graph_presets(),
              "click_rules": dataclasses.asdict(ClickRules())}  # the sessions' default rules of today, too
    reuse = args.reuse_eval or (method == "baseline" and args.baseline_dir is not None)
    if reuse and (out / "results.json").is_file() and same_command(read_record(out), record):
        results = json.loads((out / "results.json").read_text())
        run = results.get("run", {})
        wanted = {"method": method, "dataset": eval_set.dataset, "root": str(root.resolve()),
                  "max_clicks": args.max_clicks, "seed": args.seed, "min_points": min_points,
                  "limit_objects": args.limit_objects,
                  "scene_stride": 1 if eval_set.real else args.val_scene_stride}  # fmt: skip
        for name in CHOSEN_ON_VALIDATION:  # the inference options the candidate carries
            if method == "model" and getattr(args, name) is not None:
                wanted[name] = getattr(args, name)
        measured = "stuck_objects" in results.get("summary", {})  # older evaluations lack the rule's stuck count
        if measured and all(run.get(k) == v for k, v in wanted.items()):
            print(f"ship_model: reusing {out / 'results.json'}", file=sys.stderr)
            return results
    (out / EVAL_RECORD).unlink(missing_ok=True)  # a run cut short leaves no record to reuse
    jobs = ["--jobs", str(args.jobs)] if args.jobs > 1 else []  # the same results in any number of workers
    print(f"ship_model: clickenhance-eval {' '.join([*argv, '--restart', *jobs])}", file=sys.stderr)
    if evaluate.main([*argv, "--restart", *jobs]) != 0:
        raise ShipError(f"evaluation of the {method} on the {eval_set.name} set ({root}) failed or found no object "
                        f"(see {out})")  # fmt: skip
    (out / EVAL_RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return json.loads((out / "results.json").read_text())


def graph_presets() -> dict[str, dict]:
    """Today's graph presets per domain (`voxel_graph.PRESETS`): the baseline, and a prior-fusion model's prior."""
    from clickenhance_model.config import config_to_dict
    from clickenhance_model.inference.voxel_graph import PRESETS

    return json.loads(json.dumps({domain: config_to_dict(preset) for domain, preset in PRESETS.items()}))


def same_command(kept: dict | None, record: dict) -> bool:
    """Whether a kept evaluation's record matches `record` but for the folder it was written to (a kept
    evaluation moved to --baseline-dir is the same evaluation)."""

    def placeless(entry: dict) -> dict:
        argv = list(entry.get("argv", []))
        if "--out" in argv[:-1]:
            argv[argv.index("--out") + 1] = None
        return {**entry, "argv": argv}

    return kept is not None and placeless(kept) == placeless(record)


def rule_options(args: argparse.Namespace) -> list[str]:
    """The `clickenhance-eval` options of the click rules the candidate's weights carry (--gain-reach,
    --keep-direction); empty when it carries none."""
    options = ["--gain-reach", str(args.gain_reach)] if args.gain_reach else []
    return options + (["--keep-direction"] if args.keep_direction else [])


def read_record(out: Path) -> dict | None:
    """The `EVAL_RECORD` of an evaluation folder; None where it has none or it cannot be read."""
    try:
        return json.loads((out / EVAL_RECORD).read_text())
    except (OSError, ValueError):
        return None


def evaluate_all(candidate: Path, args: argparse.Namespace, sequences: list[str], eval_dir: Path,
                 sets: Sequence[EvalSet] = EVAL_SETS) -> dict:
    """results[set][method] for each of `sets` and both methods, checked to cover the same objects."""
    results: dict[str, dict[str, dict]] = {}
    for eval_set in sets:
        stride = ["--scene-stride", str(args.val_scene_stride)]
        options = [] if eval_set.real else ["--sequences", *sequences, *stride]
        model_options = ["--checkpoint", str(candidate), *options]
        name = eval_set.name
        baseline_dir = args.baseline_dir or eval_dir
        results[name] = {
            "model": run_eval("model", eval_set, eval_dir / f"{name}_model", args, model_options),
            "baseline": run_eval("baseline", eval_set, baseline_dir / f"{name}_baseline", args, options),
        }
        if rules := rule_options(args):  # the same rules for the baseline: its folder is named after them
            folder = baseline_dir / "_".join([f"{name}_baseline", *(o.lstrip("-").replace("-", "_") for o in rules)])
            results[name][RULED] = run_eval("baseline", eval_set, folder, args, [*options, *rules])
        keys = [[(o["scene"], o["instance_id"]) for o in run["objects"]] for run in results[name].values()]
        if any(key != keys[0] for key in keys):
            raise ShipError(f"the model and the baseline were evaluated on different objects of the {name} set")
    return results


def figures(results: dict) -> dict:
    """Objects, NoC@80/85/90, IoU@1/5/10 (fractions; None past the budget) and stuck objects of a results.json."""
    summary = results["summary"]
    ious = summary["IoU@k"]
    row = {"objects": summary["objects"], **{f"NoC@{t}": summary[f"NoC@{t}"] for t in NOC_THRESHOLDS}}
    row.update({f"IoU@{k}": ious[k - 1] if k <= len(ious) else None for k in IOU_CLICKS})
    row["stuck"] = summary.get("stuck_objects")  # None: not measured (a budget of 5 clicks or fewer)
    if "collapsed_objects" in summary:  # absent from evaluations made before collapses were counted
        row["collapsed"] = (f"{summary['collapsed_objects']} ({summary['collapses_after_negative']} / "
                            f"{summary['collapses_after_positive']})")  # fmt: skip
    return row


def baselines_of(set_results: dict) -> list[str]:
    """The baselines one set was evaluated with: the baseline as it ships, and with the model's click rules
    where the weights carry some (`RULED`)."""
    return [key for key in BASELINES if key in set_results]


def against(name: str, baseline: str) -> str:
    """A verdict's label: the set, and which baseline where it is not the one that ships."""
    return name if baseline == "baseline" else f"{name} (against the baseline with the model's click rules)"


def set_verdict(name: str, results: dict, max_clicks: int) -> tuple[bool, str]:
    """Whether the model beats the baseline on one real set (lower NoC@85, higher IoU@10, no more stuck objects),
    and the baseline served with the model's click rules too where the weights carry some.

    Where the baseline needs a single click for every object (NoC@85 1.00, the least possible),
    the model ties it by doing the same; IoU@10 must still be higher.
    """
    checks = [summary_verdict(against(name, b), results[name]["model"]["summary"], results[name][b]["summary"],
                              max_clicks) for b in baselines_of(results[name])]  # fmt: skip
    return all(beats for beats, _ in checks), "; ".join(text for _, text in checks)


def summary_verdict(name: str, model: dict, baseline: dict, max_clicks: int,
                    stuck: StuckComparison | None = None) -> tuple[bool, str]:  # fmt: skip
    """`set_verdict`'s rule on two summaries of the same objects (a set, or one part of the validation scans).

    With `stuck` (the objects stuck in either, `evaluation.paired.stuck_comparison`) the stuck criterion is the
    generated sets' sign test instead of the count: more objects stuck in the model alone than in the baseline
    alone refuse it only when chance would give that many with p < STUCK_SIGNIFICANCE.
    """
    k = min(RULE_CLICKS, max_clicks)
    noc_m, noc_b = model["NoC@85"], baseline["NoC@85"]
    iou_m, iou_b = model["IoU@k"][k - 1], baseline["IoU@k"][k - 1]
    stuck_m, stuck_b = model.get("stuck_objects"), baseline.get("stuck_objects")
    if stuck is not None:
        fewer_stuck = stuck.p_value >= STUCK_SIGNIFICANCE
        stuck_text = stuck.sentence("the model", "the baseline")
    else:
        fewer_stuck = stuck_m is None or stuck_b is None or stuck_m <= stuck_b  # None: not measurable in this budget
        stuck_text = "stuck " + ("not measured" if stuck_m is None or stuck_b is None else f"{stuck_m} vs {stuck_b}")
    fewer_clicks = noc_m < noc_b or noc_m == noc_b == MIN_NOC  # nothing needs fewer than one click
    beats = fewer_clicks and iou_m is not None and iou_b is not None and iou_m > iou_b and fewer_stuck
    nocs = _decisive(noc_m, noc_b, lambda v: f"{v:.2f}", lambda v: f"{v:.3f}")
    ious = _decisive(iou_m, iou_b, _percent, lambda v: f"{100 * v:.3f}")
    return beats, (f"{name}: NoC@85 {nocs[0]} vs {nocs[1]}, IoU@{k} {ious[0]} vs {ious[1]}, "
                   f"{stuck_text} ({model['objects']} objects)")  # fmt: skip


def generated_checks(name: str, results: dict, max_clicks: int, stuck_rule: str = "count") -> list[tuple[bool, str]]:
    """The rule's verdicts on one generated set of `results`, against each baseline it was evaluated with: for
    --val-root's scans one per domain (a mix's "outdoor (all sensors)" and "indoor (all sensors)" rows; the whole
    set without a mix), else the set whole. `stuck_rule` "sign" judges stuck objects by `summary_verdict`'s sign
    test, "count" by their numbers (the real sets' rule)."""
    checks = []
    model = results[name]["model"]
    domains = manifest_domains(Path(model["run"]["root"])) if name == "val" and model.get("run", {}).get("root") else {}
    for b in baselines_of(results[name]):
        baseline = results[name][b]
        parts: list[tuple[str, str | None, dict, dict]] = [(name, None, model["summary"], baseline["summary"])]
        if name == "val":
            sensors = [run.get("per_sensor") or {} for run in (model, baseline)]
            mixed = sorted(part for part in sensors[0] if part.endswith("(all sensors)") and part in sensors[1])
            parts = [(f"generated {part.split()[0]}", part.split()[0], sensors[0][part], sensors[1][part])
                     for part in mixed] or parts  # fmt: skip
        for label, domain, summary_m, summary_b in parts:
            stuck = None
            if stuck_rule == "sign" and summary_m.get("stuck_objects") is not None and (domain is None or domains):
                members = [[o for o in run["objects"] if domain is None or domains.get(o["scene"]) == domain]
                           for run in (model, baseline)]  # fmt: skip
                stuck = stuck_comparison(*members, max_clicks)
            checks.append(summary_verdict(against(label, b), summary_m, summary_b, max_clicks, stuck))
    return checks


def validation_verdict(results: dict, max_clicks: int, skipped: Sequence[str] = (),
                       stuck_rule: str = "count") -> tuple[bool, str]:  # fmt: skip
    """Whether the model beats the baseline, by the real sets' rule (the stuck objects by `stuck_rule`,
    `generated_checks`), on every generated set in `results` (`generated_sets`: the validation scans of each
    domain, the 16-ring cuts, the extra street folders); `skipped` names the sets --fail-fast left unevaluated
    after the first loss.

    A candidate's real dev sets are read only when it does: the mean over a mix can be won in the rooms alone,
    and the real sets judge streets and rooms each on their own, and the 16-ring scans too.
    """
    real = {s.name for s in REAL_SETS}
    checks = [check for name in results if name not in real
              for check in generated_checks(name, results, max_clicks, stuck_rule)]  # fmt: skip
    text = "; ".join(sentence for _, sentence in checks) + " (model vs baseline)"
    if skipped:
        text += f"; not evaluated after that loss (--fail-fast): {', '.join(skipped)}"
    if all(beats for beats, _ in checks) and not skipped:
        return True, f"The model beats the baseline on every generated validation set: {text}."
    return False, (f"The model is no candidate: it does not beat the baseline on every generated validation set, "
                   f"so the real dev sets were not read: {text}.")  # fmt: skip


def ordered_sets(sets: Sequence[EvalSet], first: Sequence[str]) -> tuple[EvalSet, ...]:
    """`sets` with those named in `first` (--gate-order) moved to the front in that order; ShipError for a name
    that is not one of them."""
    names = [s.name for s in sets]
    unknown = [name for name in first if name not in names]
    if unknown:
        raise ShipError(f"--gate-order: no generated set {', '.join(unknown)} (sets: {', '.join(names)})")
    return (*(sets[names.index(name)] for name in dict.fromkeys(first)), *(s for s in sets if s.name not in first))


def run_generated_gate(candidate: Path, args: argparse.Namespace, sequences: list[str], eval_dir: Path,
                       sets: Sequence[EvalSet]) -> tuple[dict, tuple[bool, str]]:  # fmt: skip
    """Evaluate the generated sets in --gate-order and judge them (`validation_verdict`); with --fail-fast stop
    at the first set the model loses, so a refused candidate costs one set's evaluations instead of all of them."""
    results: dict[str, dict[str, dict]] = {}
    ordered = ordered_sets(sets, args.gate_order)
    for done, eval_set in enumerate(ordered, 1):
        results.update(evaluate_all(candidate, args, sequences, eval_dir, (eval_set,)))
        checks = generated_checks(eval_set.name, results, args.max_clicks, args.generated_stuck)
        if args.fail_fast and not all(beats for beats, _ in checks):
            skipped = [s.name for s in ordered[done:]]
            return results, validation_verdict(results, args.max_clicks, skipped, args.generated_stuck)
    return results, validation_verdict(results, args.max_clicks, stuck_rule=args.generated_stuck)


def verdict(results: dict, max_clicks: int) -> tuple[bool, str]:
    """Whether the model beats the baseline on EVERY real dev set, and a sentence saying so (and where it loses)."""
    k = min(RULE_CLICKS, max_clicks)
    checks = [(s.name, *set_verdict(s.name, results, max_clicks)) for s in REAL_SETS]
    figures_text = "; ".join(text for _, _, text in checks) + " (model vs baseline)"
    losing = [name for name, beats, _ in checks if not beats]
    if not losing:
        return True, f"The model BEATS the training-free baseline on every real dev set: {figures_text}."
    return False, (f"The model does NOT beat the training-free baseline on every real dev set (it needs a lower "
                   f"NoC@85, a higher IoU@{k} and no more stuck objects on each; it loses on "
                   f"{', '.join(losing)}): {figures_text}.")  # fmt: skip


def validation_note(results: dict, gate: str, max_clicks: int) -> str:
    """The eval folder's README.md for a model refused on the generated validation scans: why, and its figures
    per part of the mix."""
    parts = [results["val"][m].get("per_sensor") for m in METHODS] if "val" in results else []  # none: --fail-fast
    tables = group_table("val: per sensor (the generated mix's parts)", "Sensor", *parts,
                         min(RULE_CLICKS, max_clicks)) if parts and all(parts) else []  # fmt: skip
    return "\n".join(["# Not a candidate (the real dev sets were not read)", "", gate, "", *results_table(results),
                      "", *tables, *paired_lines(results, max_clicks)])  # fmt: skip


def _decisive(first: float | None, second: float | None, coarse: Callable[[float | None], str],
              fine: Callable[[float], str]) -> list[str]:  # fmt: skip
    """Two figures as `coarse` writes them, or as `fine` does where they differ by less than the rounding: a
    verdict decided there shows the digits that decide it."""
    texts = [coarse(first), coarse(second)]
    if first is not None and second is not None and first != second and texts[0] == texts[1]:
        return [fine(first), fine(second)]
    return texts


def _percent(value: float | None) -> str:
    """A fraction as a percent cell (– when absent)."""
    return "–" if value is None else f"{100 * value:.1f}"


def results_table(results: dict) -> list[str]:
    """The card's table: set, method, objects, NoC@80/85/90 (clicks), IoU@1/5/10 (percent), stuck objects, and
    collapsed objects (after negative / positive clicks; `evaluation.metrics.click_collapses`)."""
    nocs = " | ".join(f"NoC@{t} ↓" for t in NOC_THRESHOLDS)
    ious = " | ".join(f"IoU@{k} ↑" for k in IOU_CLICKS)
    lines = [f"| Set | Method | Objects | {nocs} | {ious} | Stuck ↓ | Collapsed (neg / pos) ↓ |",
             "|---|---|---|" + "---|" * 8]  # fmt: skip
    for name in results:
        for method in ("model", *baselines_of(results[name])):
            row = figures(results[name][method])
            cells = [f"{row[f'NoC@{t}']:.2f}" for t in NOC_THRESHOLDS] + [_percent(row[f"IoU@{k}"]) for k in IOU_CLICKS]
            cells.append("–" if row["stuck"] is None else str(row["stuck"]))
            cells.append(row.get("collapsed", "–"))
            label = "baseline + the model's click rules" if method == RULED else method
            lines.append(f"| {name} | {label} | {row['objects']} | " + " | ".join(cells) + " |")
    return lines


def class_tables(results: dict, max_clicks: int) -> list[str]:
    """Per real set, one row per class; for generated validation scans of a mix, one row per part (domain and
    sensor): objects, NoC@85, IoU@10 and stuck objects of model and baseline."""
    k = min(RULE_CLICKS, max_clicks)
    lines: list[str] = []
    for eval_set in REAL_SETS:
        model, baseline = (results[eval_set.name][m]["per_class"] for m in METHODS)
        lines += group_table(f"{eval_set.name}: per class", "Class", model, baseline, k)
    parts = [results.get("val", {}).get(m, {}).get("per_sensor") for m in METHODS]
    if all(parts):
        lines += group_table("val: per sensor (the generated mix's parts)", "Sensor", *parts, k)
    return lines


def group_table(title: str, first: str, model: dict, baseline: dict, k: int) -> list[str]:
    """One `class_tables` section: a row per group (class or sensor) of model and baseline figures."""
    lines = [f"### {title}", "",
             f"| {first} | Objects | NoC@85 model | NoC@85 baseline | IoU@{k} model | IoU@{k} baseline "
             "| Stuck model | Stuck baseline |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in sorted(model):
        m, b = model[name], baseline.get(name, {})
        stuck = ["–" if c.get("stuck_objects") is None else str(c["stuck_objects"]) for c in (m, b)]
        lines.append(f"| {name} | {m['objects']} | {m['NoC@85']:.2f} | {b.get('NoC@85', float('nan')):.2f} | "
                     f"{_percent(m['IoU@k'][k - 1])} | {_percent((b.get('IoU@k') or [None] * k)[k - 1])} | "
                     f"{stuck[0]} | {stuck[1]} |")  # fmt: skip
    return lines + [""]


def object_noc(ious: Sequence[float], threshold: float = 0.85) -> int:
    """Clicks one object needed to reach `threshold` IoU (the budget + 1 when it never did).

    Unlike the evaluation's `metrics.number_of_clicks`, which counts the budget for both, an object reached at
    the last click stays apart from one never reached, so comparing two answers object by object sees it.
    """
    return next((k + 1 for k, iou in enumerate(ious) if iou >= threshold), len(ious) + 1)


def differing_objects(results: dict, max_clicks: int) -> list[str]:
    """Per set, the objects whose IoU after some click differs between model and baseline, and which answer is better.

    A fusion network that echoes its prior gives the baseline's masks, so its set means tie by construction; this
    table says how often the network changed the answer at all, and whether for the better (fewer clicks to 85%,
    or as many and a higher IoU@10) or the worse. Objects are paired by scene and instance.
    """
    k = min(RULE_CLICKS, max_clicks)
    lines = ["### Where the model's answer is not the baseline's", "",
             f"Objects whose IoU differs from the baseline's after any click; better: fewer clicks to 85%, or as many "
             f"and a higher IoU@{k}.", "",
             "| Set | Objects | Differ | Model better | Model worse |", "|---|---|---|---|---|"]  # fmt: skip
    for name in results:
        model, baseline = ({(o["scene"], o["instance_id"]): o["ious"] for o in results[name][m].get("objects", [])}
                           for m in METHODS)  # fmt: skip
        paired = [(model[key], baseline[key]) for key in model if key in baseline]
        differ = [(m, b) for m, b in paired if len(m) != len(b) or not np.allclose(m, b, rtol=0.0, atol=1e-9)]
        better = worse = 0
        for m, b in differ:
            order = (object_noc(b) - object_noc(m)) or (m[k - 1] - b[k - 1] if len(m) >= k and len(b) >= k else 0.0)
            better, worse = better + (order > 0), worse + (order < 0)
        lines.append(f"| {name} | {len(paired)} | {len(differ)} | {better} | {worse} |")
    return lines + [""]


NEARLY_RIGHT = 0.9  # IoU of the baseline's first click above which a generated object is a "nearly right" one


def paired_parts(results: dict) -> list[tuple[str, list[dict], list[dict]]]:
    """(label, model objects, baseline objects) per set, the generated validation scans split by domain where
    their folder records a mix (the gate's parts) and their streets by the kind of object each real dev set judges
    (things, stuff; other classes such as buildings and vegetation no real set holds); sets without per-object
    results are left out. Each generated domain also has the part of its objects whose baseline first click is
    nearly right (`evaluation.paired --nearly-right`): most real first clicks are, few generated ones, and a
    candidate that spoils them there spoiled them on the real 16-ring cut (docs/default_model.md, session 30)."""
    parts = []
    for name in results:
        model, baseline = (results[name][m].get("objects") or [] for m in METHODS)
        run = results[name]["model"].get("run", {})
        domains = manifest_domains(Path(run["root"])) if name == "val" and run.get("root") else {}
        if domains:
            for domain in sorted(set(domains.values())):
                members = [o for o in model if domains.get(o["scene"]) == domain]
                parts.append((f"generated {domain}", members, baseline))
                parts.append((f"generated {domain}: first click nearly right",
                              nearly_right(members, baseline, NEARLY_RIGHT), baseline))  # fmt: skip
                if domain == "outdoor":  # SemanticKITTI ids: split as the real sets are (`paired --by kind`)
                    kind_of = part_of("kind", run)
                    parts += [(f"generated outdoor: {kind}", [o for o in members if kind_of(o) == kind], baseline)
                              for kind in OBJECT_KINDS]  # fmt: skip
        else:
            parts.append((name, model, baseline))
    return [(label, model, baseline) for label, model, baseline in parts if model and baseline]


def paired_lines(results: dict, max_clicks: int) -> list[str]:
    """The card's noise table: per set (and generated domain), model minus baseline object by object, with the
    mean's standard error and 95% bootstrap interval (`evaluation.paired`).

    The rule compares means; where the interval holds zero the sign of the mean is within the noise of these
    objects, and this table says so beside the verdict.
    """
    k = min(RULE_CLICKS, max_clicks)
    rows = []
    for label, model, baseline in paired_parts(results):
        try:
            diffs = [paired_difference(model, baseline, metric, max_clicks) for metric in ("NoC@85", f"IoU@{k}")]
        except ValueError:  # no object in common: the evaluations already refused such sets
            continue
        rows.append(f"| {label} | {diffs[0].objects} | " + " | ".join(d.sentence(named=False) for d in diffs) + " |")
    if not rows:
        return []
    return ["### Model minus baseline, object by object", "",
            f"Per object, the model's NoC@85 (clicks) and IoU@{k} (points) minus the baseline's: mean ± standard "
            f"error, the mean's 95% bootstrap interval, and the objects each does better on. Where the interval holds "
            f"zero the two are level within what these objects can tell, whichever way the means point.", "",
            f"| Set | Objects | NoC@85 | IoU@{k} |", "|---|---|---|---|", *rows, ""]  # fmt: skip


def reproduce_command(train_config: dict, run_dir: Path) -> tuple[str, bool]:
    """The training command that reproduces the run, and whether it uses a shipped config by name unchanged.

    The stored config is read back through TrainConfig first, so settings added since the run (at
    their defaults, which reproduce the old behaviour) do not hide a match.
    """
    from clickenhance_model.training.config import CONFIG_DIR, load_train_config, train_config_from_dict

    seed = train_config.get("seed", 0)
    try:
        stored = train_config_from_dict(train_config).to_dict()
    except (TypeError, ValueError):
        stored = train_config
    for name in sorted(path.stem for path in CONFIG_DIR.glob("*.yaml")):  # every shipped training config
        try:
            if load_train_config(name).to_dict() == stored:
                return f"python -m clickenhance_model.train --config {name} --seed {seed} --out {run_dir}", True
        except (FileNotFoundError, ValueError):
            continue
    config = run_dir / "train_config.yaml"
    return f"python -m clickenhance_model.train --config {config} --seed {seed} --out {run_dir}", False


def training_stages(run_dir: Path, step: int | None) -> tuple[list[tuple[Path, dict, int | None]], Path | None]:
    """(run folder, train config, last step used) of the run and of every run it was initialised from, oldest
    first, and the shipped checkpoint the oldest stage started from (None: it started from scratch).

    A source checkpoint without its run folder is accepted when it carries its training metadata
    (a stripped, shipped model such as the package's default.pt): its own card names its stages.
    """
    stages = []
    while True:
        train_config = yaml.safe_load((run_dir / "train_config.yaml").read_text())
        stages.insert(0, (run_dir, train_config, step))
        source = train_config.get("init_from")
        if not source:
            return stages, None
        source = Path(source)
        if len(stages) > 8:
            raise ShipError(f"{run_dir}: more than 8 stages of init_from; is there a cycle?")
        if not (source.parent / "train_config.yaml").is_file():
            if source.is_file() and "train_config" in load_checkpoint(source)[2]:
                return stages, source
            raise ShipError(f"{run_dir}: started from {source}, whose run folder (train_config.yaml) is missing")
        run_dir, step = source.parent, (load_checkpoint(source)[2].get("state") or {}).get("step")


def inference_options(metadata: dict) -> dict:
    """The SegmenterConfig a checkpoint with this metadata loads with: defaults, then its stored options."""
    return {**dataclasses.asdict(SegmenterConfig()), **(metadata.get("inference_options") or {})}


def options_and_reproduce_heading(metadata: dict) -> list[str]:
    """Card lines shared by every provenance: the inference options the weights load with, then the heading of
    the reproduce steps."""
    return ["Inference options (what `Segmenter.load()`, the node and the evaluation use: the `SegmenterConfig` "
            "defaults, with the weights' own where they carry some, chosen on generated validation scans): "
            + ", ".join(f"{k}={v}" for k, v in inference_options(metadata).items()) + ".",
            "", "## Reproduce", ""]  # fmt: skip


def provenance(run_dir: Path, checkpoint: Path, size: int, metadata: dict) -> list[str]:
    """Card lines: source checkpoint, its step, the reproduce command(s) and seed, the wall time to that step."""
    state, trained_on = metadata.get("state") or {}, metadata.get("trained_on") or {}
    stages, origin = training_stages(run_dir, state.get("step"))
    stored = metadata.get("metrics") or {}
    metrics = ", ".join([f"NoC@{t} {stored[f'NoC@{t}']:.2f}" for t in NOC_THRESHOLDS if f"NoC@{t}" in stored]
                        + [f"IoU@{k} {100 * stored[f'IoU@{k}']:.1f}%" for k in IOU_CLICKS if f"IoU@{k}" in stored])
    lines = [
        f"Weights: `{checkpoint}` of run `{run_dir}`, step {state.get('step')} "
        f"(its validation: {metrics or 'none'}), stripped to weights + model config + training metadata "
        f"({size / 2**20:.2f} MiB). Trained on {trained_on.get('dataset', '?')} scenes in "
        f"`{trained_on.get('root', '?')}`.",
        "",
        *options_and_reproduce_heading(metadata),
        "Run " + ("these commands in order (each stage starts from the previous stage's checkpoint, its "
                  "`init_from`)" if len(stages) > 1 or origin is not None else "this command")
        + " from the repository root:",
        "",
    ]
    if origin is not None:
        origin_state = load_checkpoint(origin)[2].get("state") or {}
        lines += [f"0. Start: `{origin}` as it was when this run began (step {origin_state.get('step')} of its own "
                  "run, a shipped checkpoint whose run folder is not here; its card, in the git history of "
                  f"`{origin.parent}/README.md`, lists the commands and wall time that made it).", ""]  # fmt: skip
    total = 0.0
    for number, (stage_dir, train_config, step) in enumerate(stages, 1):
        command, by_name = reproduce_command(train_config, stage_dir)
        train_s, val_s = logged_seconds(stage_dir, step)
        total += train_s + val_s
        lines += [
            f"{number}. Seed {train_config.get('seed')}"
            + ("" if by_name else f" (config: `{stage_dir}/train_config.yaml`, not a shipped one)") + ":",
            "",
            f"        {command}",
            "",
            f"    Wall time to step {step} (from train_log.csv and val_log.csv): {(train_s + val_s) / 3600:.2f} h = "
            f"{train_s:.0f} s training steps + {val_s:.0f} s validation; "
            f"the whole run: {sum(logged_seconds(stage_dir)):.0f} s.",
            "",
        ]
    if len(stages) > 1 or origin is not None:
        lines.append(f"Wall time of all stages to these weights: {total / 3600:.2f} h"
                     + (" after the start checkpoint's own." if origin is not None else "."))  # fmt: skip
    return lines


def refiner_fit(checkpoint: Path) -> dict | None:
    """The report `clickenhance-fit-point-refiner` stored in `checkpoint` when the refiner was fitted on weights
    without a run folder here (a shipped model, `--as-fusion`); None for the weights of a training run."""
    fit = load_checkpoint(checkpoint)[2].get("point_refiner_fit")
    if not isinstance(fit, dict) or not fit.get("source"):
        return None
    source = Path(fit["source"])
    return None if (source.parent / "train_config.yaml").is_file() else fit


def refiner_domains(fit: dict | None) -> list[str] | None:
    """The domains a point refiner was fitted on: those its fit recorded, else those of its root's manifest (fits
    before the record); None without a refiner fit or a root."""
    if not fit:
        return None
    if fit.get("domains"):
        return sorted(fit["domains"])
    return sorted(set(manifest_domains(Path(fit["root"])).values())) if fit.get("root") else None


def served_domains(metadata: dict, fit: dict | None) -> list[str] | None:
    """The domains the facts file names for weights with a fitted point refiner: those the network was trained on and
    those the refiner was fitted on; None (the training config's alone) without a refiner fit."""
    fitted = refiner_domains(fit)
    if not fitted:
        return None
    trained = metadata.get("train_config")
    return sorted(set(fitted) | set(trained_domains(train_config_from_dict(trained)) if trained else ()))


def _option_text(value: object) -> str:
    """An option's value on a command line: a sequence (ring cuts) is several values of one option."""
    return " ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def _options(values: dict, keys: Sequence[str], defaults: dict) -> list[str]:
    """Command-line options of `values` whose value differs from `defaults`, in `keys`' order: a boolean as its
    bare flag (True) or nothing, anything else as `--name value`."""
    out = []
    for key in keys:
        if key not in values or _option_text(values[key]) == _option_text(defaults.get(key)):
            continue
        flag = f"--{key.replace('_', '-')}"
        value = values[key]
        out += [flag] if value is True else [] if value is False else [f"{flag} {_option_text(value)}"]
    return out


def _switches(options: dict) -> list[str]:
    """The inference switches (views, ground prior and gate) and `--as-fusion` of a fit or a collection."""
    switches = [f"--views {options['views']}"] if options.get("views") is not None else []
    switches += [f"--{'' if options[name] else 'no-'}{name.replace('_', '-')}"
                 for name in ("ground_prior", "ground_gate") if options.get(name) is not None]  # fmt: skip
    return switches + (["--as-fusion"] if options.get("as_fusion") else [])


def refiner_fit_commands(fit: dict, checkpoint: Path) -> list[str]:
    """The `clickenhance-fit-point-refiner` commands that made these weights: one per file of saved rows it was
    fitted on (each collects its rows; a note for rows saved before their collection was recorded), then the fit
    itself (the inference switches are the card's, chosen on generated validation scans)."""
    defaults = {**{f.name: f.default for f in dataclasses.fields(FitSettings)}, **BAND_DEFAULTS}
    settings = fit.get("settings", {})
    band = _options(fit, list(BAND_DEFAULTS), defaults) + (["--no-refiner-colour"] if fit.get("refiner_colour") is False
                                                     else [])  # fmt: skip
    rows = [str(path) for path in fit.get("rows") or []]
    commands = []
    for path, collection in zip(rows, fit.get("rows_collections") or [{}] * len(rows), strict=True):
        if not collection:
            commands.append(f"# {path}: collected before its collection's options were recorded; "
                            "docs/default_model.md names the command")  # fmt: skip
            continue
        commands.append(" ".join(["clickenhance-fit-point-refiner --checkpoint", str(collection["checkpoint"]),
                                  "--root", str(collection["root"]), *_switches(collection),
                                  *_options(collection, list(BAND_DEFAULTS), defaults),
                                  *_options(collection, [f.name for f in dataclasses.fields(FitSettings)], defaults),
                                  "--rows", path, "--out", str(Path(path).with_suffix(".pt"))]))  # fmt: skip
    fitted = [name for name in settings if not (rows and name in COLLECTION_SETTINGS)]
    commands.append(" ".join(["clickenhance-fit-point-refiner --checkpoint", str(fit["source"]), "--root",
                              str(fit.get("root")), *_switches({**(fit.get("inference_options") or {}),
                                                                "as_fusion": fit.get("as_fusion")}),
                              *band, *_options(settings, fitted, defaults), *(["--rows", *rows] if rows else []),
                              "--out", str(checkpoint)]))  # fmt: skip
    return commands


def fusion_phrase(network_gain: float) -> str:
    """How a network fitted `--as-fusion` answers, for the card: at gain 0 the prior alone, else with its own vote."""
    if network_gain == 0:
        return (" as a prior-fusion network at network gain 0 (its answer is the training-free geodesic region, the "
                "network's logits one input of the refiner)")  # fmt: skip
    return (f" as a prior-fusion network at network gain {network_gain:g} (set after the refiner's fit: its answer is "
            f"the training-free geodesic region's +-{PRIOR_SCALE_INIT:g} logit plus {network_gain:g} times the "
            "network's own, the network's logits also one input of the refiner)")  # fmt: skip


def refiner_provenance(checkpoint: Path, size: int, metadata: dict, fit: dict) -> list[str]:
    """Card lines for weights whose network is a shipped model's (its run folder is not here) and whose point
    refiner was fitted on it (`clickenhance-fit-point-refiner --as-fusion`): the source, the fit and its figures."""
    source = Path(fit["source"])
    held = (f"held-out crop points answered wrong {fit.get('held_out_wrong_before', 0):.0f} before the refiner, "
            f"{fit.get('held_out_wrong_after', 0):.0f} after, over {fit.get('held_out_states')} click states")
    return [
        f"Weights: `{checkpoint}`: the network of `{source}`"
        + (fusion_phrase(float(fit.get("settings", {}).get("network_gain", 0.0))) if fit.get("as_fusion") else "")
        + f", with a point refiner fitted on click states of the generated scans in `{fit.get('root')}` "
        f"({fit.get('fit_states')} states, "
        f"{fit.get('fit_rows')} rows; {held}); stripped to weights + model config + metadata ({size / 2**20:.2f} "
        "MiB).",
        "",
        *options_and_reproduce_heading(metadata),
        f"0. Start: `{source}` as it was when the refiner was fitted (a shipped checkpoint whose run folder is not "
        f"here; its card, in the git history of `{source.parent}/README.md`, lists the commands that made it).",
        "",
        "1. Collect the click states' rows where they were saved (minutes per 100 scans on one core; the rows "
        "files can be collected in parallel), then fit the refiner (seconds to minutes):",
        "",
        *[f"        {command}" for command in refiner_fit_commands(fit, checkpoint)],
        "",
    ]


def refuse_before_real_sets(eval_dir: Path, note: str, why: str, option: str) -> int:
    """Write the note of a candidate stopped before the real dev sets into the eval folder, say so; exit status 1.
    `option` is the switch that reads them anyway."""
    (eval_dir / "README.md").write_text(note)
    print(f"ship_model: refused before the real dev sets: {why}; note in {eval_dir / 'README.md'} ({option} reads "
          "them anyway)", file=sys.stderr)  # fmt: skip
    return 1


def demo_checks(candidate: Path, device: str, seeds: Sequence[int] = DEMO_SEEDS) -> tuple[bool, list[str]]:
    """`make demo`'s simulated operator on the generated streets of `seeds` and the one-click cars of
    `CARS_SEED` (`evaluation.demo_operator`), with the candidate's stored inference options: whether every object
    passes, and the card's lines. A default that fails them fails `make demo` or the tests."""
    from clickenhance_model.segmenter import Segmenter

    segmenter = Segmenter.load(candidate, device=device)
    lines = []
    failures = demo_streets(segmenter, seeds, DEMO_MIN_IOU, echo=lambda line: lines.append(f"- {line}"))
    cars = one_click_cars(segmenter)
    passed = not failures and cars_pass(cars)
    return passed, ["## Shipping checks", "",
                    f"`make demo`'s simulated operator (`python -m clickenhance_model.evaluation.demo_operator "
                    f"--cars --seeds {' '.join(map(str, seeds))}`): the {DEMO_OBJECTS} largest objects of each "
                    f"generated street, at most "
                    f"{DEMO_MAX_CLICKS} clicks, stopping at IoU {DEMO_TARGET_IOU}; each must end at "
                    f"{DEMO_MIN_IOU} or more" + (": every object does." if not failures else
                                                 f": {len(failures)} do not."), "", *lines, "",
                    f"One-click cars of street seed {CARS_SEED} (each must exceed {CARS_MIN_IOU}): "
                    + ", ".join(f"{value:.3f}" for value in cars) + ".", ""]  # fmt: skip


def set_lines(args: argparse.Namespace, sequences: Sequence[str], sets: Sequence[EvalSet]) -> list[str]:
    """One Markdown list item per evaluated set: its name, what it is, its root and reader options."""
    return [f"- {s.name}: {s.title}: `{s.folder(args)}`"
            + (f" sequences {', '.join(sequences)}" if not s.real else "")
            + (f" (`{' '.join(s.options)}`)" if s.options else "")
            + (f", objects of at least {max(1, args.min_points // s.min_points_divisor)} points"
               if s.min_points_divisor > 1 else "") for s in sets]  # fmt: skip


def render_card(results: dict, head: list[str], shipped: bool, sentence: str, sequences: list[str],
                args: argparse.Namespace, fit: dict | None = None,
                sets: Sequence[EvalSet] = EVAL_SETS) -> str:  # fmt: skip
    """The model card (Markdown): verdict, provenance (`head`), results beside the baseline on the evaluated
    `sets`, training config (or the settings of the point refiner's fit, `fit`)."""
    lines = [
        "# ClickEnhance default model" + ("" if shipped else " (NOT SHIPPED: refused)"),
        "",
        f"Card written {datetime.date.today().isoformat()} by `tools/ship_model.py`.",
        "",
        f"**Verdict.** {sentence} "
        + ("The ROS node's `method: auto` uses this model on the domains it was trained on (`default.json`)."
           if shipped else "default.pt was NOT written."),
        "",
        *head,
        "",
        "## Results",
        "",
        f"Simulated user (deterministic, seed {args.seed}), at most {args.max_clicks} clicks, objects with at least "
        f"{args.min_points} points" + ("" if args.limit_objects is None else f", first {args.limit_objects} objects")
        + ". Model and baseline on the same objects. NoC in clicks, IoU in percent (– beyond the click budget); "
        "stuck: objects whose IoU gains under 2 points after click 5 while below 85% (– when the budget is 5 "
        "clicks or fewer). The verdict reads the real sets only.",
        *set_lines(args, sequences, sets),
        "",
        *results_table(results),
        "",
        *class_tables(results, args.max_clicks),
        *differing_objects(results, args.max_clicks),
        *paired_lines(results, args.max_clicks),
        *(["## Training config (train_config.yaml)", "", "```yaml",
           (args.run_dir / "train_config.yaml").read_text().rstrip(), "```"] if fit is None else
          ["## Point refiner fit (clickenhance-fit-point-refiner settings)", "", "```yaml",
           yaml.safe_dump({"source": fit["source"], "root": fit.get("root"), **fit.get("settings", {})},
                          sort_keys=False).rstrip(), "```"]),
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def install(candidate: Path, out: Path, card: str, train_config: dict | None,
            domains: Sequence[str] | None = None) -> None:  # fmt: skip
    """Copy the evaluated weights to OUT/default.pt (atomically), write OUT/README.md and OUT/default.json (the
    domains its training covered, which `method: auto` reads: `shipped_facts`; from `domains` where given, else
    from the training config; none without either)."""
    out.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=".default.pt.", suffix=".tmp", dir=out)
    os.close(handle)
    try:
        shutil.copyfile(candidate, tmp_name)
        os.replace(tmp_name, out / "default.pt")
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    if train_config is None and domains is None:
        facts_path(out / "default.pt").unlink(missing_ok=True)  # nothing known: no stale facts of an earlier model
    else:
        write_facts(out / "default.pt", train_config, domains)
    (out / "README.md").write_text(card)


REJUDGED_HEADING = "## Judged again by today's rule"


def rejudge_section(results: dict, beats: bool, sentence: str, args: argparse.Namespace, today: str) -> str:
    """The card section of a re-judgement on `today` (ISO date): the verdict, what `method: auto` does now, the
    figures."""
    command = (f"PYTHONPATH=. python tools/ship_model.py --rejudge-installed --out {args.out} --real-root "
               f"{args.real_root} --indoor-root {args.indoor_root}")  # fmt: skip
    outcome = ("`method: auto` keeps serving these weights." if beats else
               "`method: auto` (the ROS node, the browser annotator) serves the training-free baseline instead "
               "(`default.json`: `auto_refused`); `method: model` and `Segmenter.load()` still serve these weights.")
    lines = [f"{REJUDGED_HEADING} ({today})", "",
             "The baseline keeps improving, so the installed weights were measured again against today's "
             "training-free baseline by today's ship rule (fewer clicks to 85% IoU, a higher IoU@10 and no more "
             f"stuck objects on each real dev set), with their own inference options: `{command}`.", "",
             f"**Verdict.** {sentence} {outcome}", "",
             f"Simulated user (deterministic, seed {args.seed}), at most {args.max_clicks} clicks, objects with at "
             f"least {args.min_points} points.", *set_lines(args, [], REAL_SETS), "",
             *results_table(results), "", *class_tables(results, args.max_clicks),
             *differing_objects(results, args.max_clicks), *paired_lines(results, args.max_clicks)]  # fmt: skip
    return "\n".join(lines).rstrip() + "\n"


REJUDGED_POINTER = "**Judged again"


def with_section(card: str, section: str, pointer: str) -> str:
    """`card` with its re-judgement section replaced by `section` (appended when it has none) and the
    `pointer` line to it right under the title (replacing an earlier one)."""
    head = card.partition(REJUDGED_HEADING)[0].rstrip()
    if not head:
        return section
    lines = head.splitlines()
    kept = [line for line in lines if not line.startswith(REJUDGED_POINTER)]
    if len(kept) < len(lines) and len(kept) > 2 and kept[1] == kept[2] == "":
        del kept[1]  # the blank line that came with the earlier pointer
    return "\n".join([kept[0], "", pointer, *kept[1:]]) + "\n\n" + section


def rejudge_installed(args: argparse.Namespace) -> int:
    """Evaluate OUT/default.pt and today's baseline on the real dev sets and record the verdict for `method: auto`
    (`shipped_facts.record_auto_refusal`) and in the card; 0 the weights still win, 1 they do not, 2 error."""
    weights = args.out / "default.pt"
    eval_dir = args.eval_dir or Path("runs") / "rejudge_default"
    try:
        if not weights.is_file():
            raise ShipError(f"{weights}: no installed weights to judge")
        results = evaluate_all(weights, args, [], eval_dir, REAL_SETS)
    except (ShipError, CheckpointError, ClickEnhanceError, ValueError, KeyError, OSError) as error:
        print(f"ship_model: error: {error}", file=sys.stderr)
        return 2
    beats, sentence = verdict(results, args.max_clicks)
    losing = [s.name for s in REAL_SETS if not set_verdict(s.name, results, args.max_clicks)[0]]
    today = datetime.date.today().isoformat()  # one date for the facts, the pointer and the section
    reason = None if beats else f"judged {today}: not better on {', '.join(losing)}"
    record_auto_refusal(weights, reason)
    card_path = args.out / "README.md"
    card = card_path.read_text() if card_path.is_file() else ""
    pointer = (f"{REJUDGED_POINTER} {today}:** "
               + ("it still beats today's baseline on every real dev set." if beats else
                  f"it no longer beats today's training-free baseline on every real dev set (not better on "
                  f"{', '.join(losing)}), so `method: auto` serves the baseline (last section)."))  # fmt: skip
    card_path.write_text(with_section(card, rejudge_section(results, beats, sentence, args, today), pointer))
    print(sentence)
    print(f"ship_model: {'kept' if beats else 'refused'} for method auto: {facts_path(weights)}; section added to "
          f"{card_path}", file=sys.stderr)  # fmt: skip
    return 0 if beats else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Strip, evaluate, and ship (or refuse); 0 shipped, 1 refused, 2 bad input or failed evaluation.

    With --rejudge-installed: judge the installed weights again (`rejudge_installed`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.max_clicks < 1 or args.jobs < 1 or (args.limit_objects is not None and args.limit_objects < 1):
        parser.error("--max-clicks, --jobs and --limit-objects must be at least 1")
    if args.jobs > 1 and args.limit_objects is not None:
        parser.error("--limit-objects takes the first N objects in scene order: run it with --jobs 1")
    if args.fail_fast and not (args.validation_gate and args.refuse_if_worse):
        parser.error("--fail-fast stops at a refusal: it needs the validation gate and --refuse-if-worse")
    if args.gain_reach is not None and not args.gain_reach >= 0:
        parser.error(f"--gain-reach must be >= 0 (0 = off), got {args.gain_reach}")
    missing = [f"--{name.replace('_', '-')}" for name in ("checkpoint", "val_root")
               if getattr(args, name) is None]  # fmt: skip
    if missing and not args.rejudge_installed:
        parser.error(f"the following arguments are required: {', '.join(missing)}")
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    if args.rejudge_installed:
        return rejudge_installed(args)
    try:
        fit = refiner_fit(args.checkpoint) if args.run_dir is None else None
        if args.run_dir is None and fit is None:
            raise ShipError("--run-dir (the checkpoint's run folder) is required, unless the checkpoint is a point "
                            "refiner fitted on weights without a run folder here (clickenhance-fit-point-refiner)")
        eval_dir = args.eval_dir or (args.checkpoint.parent if fit else args.run_dir) / "ship_eval"
        for path in (() if fit else (args.run_dir / "train_config.yaml", args.run_dir / "train_log.csv")):
            if not path.is_file():
                raise ShipError(f"{path}: missing (is --run-dir the checkpoint's run folder?)")
        sequences = val_sequences(args, {} if fit else yaml.safe_load((args.run_dir / "train_config.yaml").read_text()))
        candidate = eval_dir / "candidate.pt"  # the stripped file that is evaluated, then copied to OUT
        if args.reuse_eval:
            check_same_weights(args.checkpoint, candidate)
        chosen = {name: getattr(args, name) for name in CHOSEN_ON_VALIDATION if getattr(args, name) is not None}
        size, metadata = strip_checkpoint(args.checkpoint, candidate, chosen)
        head = (refiner_provenance(args.checkpoint, size, metadata, fit) if fit else
                provenance(args.run_dir, args.checkpoint, size, metadata))  # fmt: skip
        gate_sets = generated_sets(args)
        results, (candidate_ok, gate) = run_generated_gate(candidate, args, sequences, eval_dir, gate_sets)
        print(gate, "", *paired_lines(results, args.max_clicks), sep="\n")
        if not candidate_ok and args.validation_gate and args.refuse_if_worse:
            return refuse_before_real_sets(eval_dir, validation_note(results, gate, args.max_clicks),
                                           f"{args.out / 'default.pt'} not written", "--no-validation-gate")
        if args.demo_gate:
            demo_ok, demo = demo_checks(candidate, args.device, args.demo_seeds)
            print(*demo, sep="\n")
            head = [*head, "", *demo]
            if not demo_ok and args.refuse_if_worse:
                note = "\n".join(["# Not a candidate (the real dev sets were not read)", "", *demo]) + "\n"
                return refuse_before_real_sets(eval_dir, note, "the demo checks failed", "--no-demo-gate")
        results.update(evaluate_all(candidate, args, sequences, eval_dir, REAL_SETS))
    except (ShipError, CheckpointError, ClickEnhanceError, ValueError, KeyError, OSError) as error:
        print(f"ship_model: error: {error}", file=sys.stderr)
        return 2
    beats, sentence = verdict(results, args.max_clicks)
    shipped = beats or not args.refuse_if_worse
    card = render_card(results, head, shipped, sentence, sequences, args, fit, (*gate_sets, *REAL_SETS))
    print(sentence)
    if not shipped:
        (eval_dir / "README.md").write_text(card)
        print(f"ship_model: refused (--refuse-if-worse): {args.out / 'default.pt'} not written; "
              f"card in {eval_dir / 'README.md'}", file=sys.stderr)  # fmt: skip
        return 1
    install(candidate, args.out, card, metadata.get("train_config"), served_domains(metadata, fit))
    print(f"ship_model: wrote {args.out / 'default.pt'} ({size / 2**20:.2f} MiB) and {args.out / 'README.md'}",
          file=sys.stderr)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
