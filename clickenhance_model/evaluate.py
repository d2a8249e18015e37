"""`clickenhance-eval`: NoC/IoU of a click segmenter on a benchmark, with the simulated user.

    python -m clickenhance_model.evaluate --dataset semantickitti --root DIR --method baseline --out OUT

Writes OUT/results.json (summary and per-object clicks/IoU), OUT/table.md (the paper's
Table IV layout) and OUT/iou_vs_clicks.png. Each finished object is appended to
OUT/objects.jsonl, so an interrupted run continues where it stopped when started again
with the same settings. `--jobs N` evaluates N scenes at once, in worker processes; every object's
result is the same as in a one-process run. The last stdout line is the summary:
`NoC@80=.. NoC@85=.. NoC@90=.. IoU@5=.. IoU@10=.. IoU@15=.. objects=N` (IoU in percent).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from tqdm import tqdm

from clickenhance_model.config import config_to_dict, load_config
from clickenhance_model.datasets import DATASETS, SceneDataset, build_dataset
from clickenhance_model.datasets.npy_triplets import DOMAINS
from clickenhance_model.datasets.scannet import NYU40_NAMES
from clickenhance_model.datasets.scene import Scene, SceneObject
from clickenhance_model.datasets.stuff_objects import DEFAULT_GAP, OBJECT_SETS
from clickenhance_model.errors import ClickEnhanceError, DatasetError
from clickenhance_model.evaluation.protocol import ObjectResult, ProtocolSettings, SupportsSession, evaluate_scene
from clickenhance_model.evaluation.report import build_results, summary_line, write_results
from clickenhance_model.inference.click_rules import ClickRules, chosen_rules
from clickenhance_model.model_config import CHOSEN_ON_VALIDATION, JOINED_CLICK_RULES, MAX_VIEWS

RUN_FILE = "run.json"
LOG_FILE = "objects.jsonl"
RESUME_IGNORED = ("limit_objects",)  # settings that may change between a run and its continuation


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the evaluator."""
    parser = argparse.ArgumentParser(prog="clickenhance-eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS), help="benchmark format of --root")
    parser.add_argument("--root", required=True, type=Path, help="dataset folder")
    parser.add_argument("--method", required=True, choices=("model", "baseline"), help="segmenter to evaluate")
    parser.add_argument("--checkpoint", type=Path,
                        help="model checkpoint for --method model (default: the shipped model)")
    parser.add_argument("--device", default="auto", help="torch device for the model: auto, cpu, cuda, cuda:1")
    parser.add_argument("--ground-gate", action=argparse.BooleanOptionalAction, default=None,
                        help="model: leave ground voxels out of an off-ground object (default: SegmenterConfig's)")
    parser.add_argument("--ground-prior", action=argparse.BooleanOptionalAction, default=None,
                        help="prior-fusion model: an object clicked first on the ground is the prior's region "
                             "(default: the weights' own choice, else SegmenterConfig's)")  # fmt: skip
    parser.add_argument("--joined-click", choices=JOINED_CLICK_RULES,
                        help="prior-fusion model: the prior's rule for an object first clicked on a node that only "
                             "joined the ground (GraphConfig.joined_click; default: the weights' own choice, else "
                             "the domain preset's)")  # fmt: skip
    parser.add_argument("--views", type=int, choices=range(1, MAX_VIEWS + 1), metavar=f"{{1..{MAX_VIEWS}}}",
                        help="model: test-time views per crop, the mean of their network logits (quarter turns "
                             "about z, then mirrors; default: the weights' own choice, else 1)")  # fmt: skip
    parser.add_argument("--baseline-config", type=Path, help="YAML of GraphConfig fields (default: the domain preset)")
    parser.add_argument("--max-clicks", type=int, default=20, help="click budget per object")
    parser.add_argument("--temperature", type=float, help="sample clicks with ClickEnhance eq. 5 (T in [0, 1])")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled clicks")
    parser.add_argument("--gain-reach", type=float,
                        help="click rule 3 for every session of the run (ClickRules.gain_reach): a positive click "
                             "adds to the answer before it only within this many times its distance to the nearest "
                             "negative click; 0 = off (default: the sessions' own, off but for a model whose weights "
                             "carry it, SegmenterConfig.gain_reach)")  # fmt: skip
    parser.add_argument("--keep-direction", action=argparse.BooleanOptionalAction, default=None,
                        help="click rule 4 for every session of the run (ClickRules.keep_direction): positive clicks "
                             "only add to the answer before them, negative clicks only take out of it (default: the "
                             "sessions' own, off but for a model whose weights carry it)")  # fmt: skip
    parser.add_argument("--classes", nargs="+", type=int,
                        help="evaluate only objects of these semantic ids (the dataset's own ids, e.g. 2: a generated "
                             "room's floor)")  # fmt: skip
    parser.add_argument("--min-points", type=int, default=100, help="skip objects with fewer points")
    parser.add_argument("--limit-objects", type=int, help="evaluate only the first N objects")
    parser.add_argument("--scene-stride", type=int, default=1,
                        help="evaluate every K-th scene only (a sample spread over a folder whose scans come "
                             "in groups, e.g. a generated mix of sensors and rooms)")  # fmt: skip
    parser.add_argument("--scene-domain", choices=("outdoor", "indoor"),
                        help="a generated mix: evaluate only its streets or only its rooms (the generator's record; "
                             "after --scene-stride, so the objects are those of the whole run's split)")  # fmt: skip
    parser.add_argument("--scene-sensors", nargs="+", metavar="SENSOR",
                        help="a generated mix: evaluate only the scans of these sensors (the generator's record, "
                             "e.g. hdl64 os1_128 os2_128: the spinning LiDARs of 64 rings and more, which "
                             "--keep-rings 4 cuts to a 16-ring sensor); after --scene-stride")  # fmt: skip
    parser.add_argument("--sequences", nargs="+", type=str, help="semantickitti: sequences to read, e.g. 08")
    parser.add_argument("--label-set", choices=("scannet40", "scannet20", "unseen"), help="scannet: object classes")
    parser.add_argument("--scene-list", type=Path, help="scannet: file of scene names, e.g. scannetv2_val.txt")
    parser.add_argument("--areas", nargs="+", type=int, help="s3dis: areas to read, e.g. 5")
    parser.add_argument("--objects", choices=OBJECT_SETS,
                        help="semantickitti, kitti360: labelled instances (things, the default), connected "
                             "components of pole/trunk/sign/fence/... points (stuff), or both (all)")
    parser.add_argument("--stuff-gap", type=float,
                        help=f"semantickitti, kitti360: metres between points of one stuff object ({DEFAULT_GAP})")
    parser.add_argument("--keep-rings", type=int,
                        help="semantickitti: keep every K-th laser ring, e.g. 4 makes the 64-beam scans 16-beam")
    parser.add_argument("--ground-objects", action="store_true", default=None,
                        help="semantickitti: the main pieces of the ground surface (road, sidewalk, ...) are objects")
    parser.add_argument("--domain", choices=DOMAINS,
                        help="npy: indoor or outdoor clouds (the baseline's preset); auto: indoor if coloured")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--jobs", type=int, default=1,
                        help="scenes evaluated at once, each in its own worker process (the results are those of "
                             "one process; each worker runs torch on its share of the CPU cores)")  # fmt: skip
    parser.add_argument("--restart", action=argparse.BooleanOptionalAction, default=False,
                        help="discard results of an earlier run in --out instead of continuing it")  # fmt: skip
    return parser


def dataset_options(args: argparse.Namespace) -> dict[str, Any]:
    """Reader options given on the command line, checked against the chosen dataset."""
    allowed = {"semantickitti": ("sequences", "objects", "stuff_gap", "keep_rings", "ground_objects"),
               "kitti360": ("objects", "stuff_gap"), "scannet": ("label_set", "scene_list"), "s3dis": ("areas",),
               "npy": ("domain",)}  # fmt: skip
    names = ("sequences", "label_set", "scene_list", "areas", "objects", "stuff_gap", "keep_rings", "ground_objects",
             "domain")  # fmt: skip
    given = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    wrong = [k for k in given if k not in allowed.get(args.dataset, ())]
    if wrong:
        raise ValueError(f"--{wrong[0].replace('_', '-')} does not apply to --dataset {args.dataset}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}


def load_segmenters(
    args: argparse.Namespace, dataset: SceneDataset
) -> tuple[dict[str, SupportsSession], dict[str, Any]]:
    """The segmenter to evaluate per domain ("outdoor" | "indoor") and its settings for run.json.

    A generated mix (streets and rooms in one folder) clicks each scene with its domain's graph
    preset, as training and validation do; any other folder is of the reader's domain.
    """
    others = sorted(set(scene_domains(args, dataset).values()) - {dataset.domain})
    loaded = {dataset.domain: load_segmenter(args, dataset.domain)}
    for domain in others:  # a model's weights are loaded once and shared
        loaded[domain] = load_segmenter(args, domain, loaded[dataset.domain][0])
    domains = [dataset.domain, *others]
    info = loaded[dataset.domain][1]
    if len(domains) > 1:
        info = {**info, "domain": "per scene (generator manifest)"}
        if "baseline_config" in info:
            info["baseline_config"] = {domain: loaded[domain][1]["baseline_config"] for domain in domains}
    return {domain: segmenter for domain, (segmenter, _) in loaded.items()}, info


# Class names of a generated mix's scans whose domain is not their reader's: the generator writes NYU40 ids in rooms
# (scenes.classes), which a SemanticKITTI reader would name as street classes (NYU bookshelf 10 as "car").
MIX_CLASS_NAMES = {"indoor": NYU40_NAMES}


def named_for_domain(objects: list[SceneObject], domain: str, reader_domain: str) -> list[SceneObject]:
    """`objects` of a scan of `domain`, named by that domain's classes where the reader's are another domain's."""
    names = MIX_CLASS_NAMES.get(domain) if domain != reader_domain else None
    if names is None:
        return objects
    return [dataclasses.replace(o, class_name=names.get(o.semantic_id, f"class_{o.semantic_id}")) for o in objects]


def scene_domains(args: argparse.Namespace, dataset: SceneDataset) -> dict[str, str]:
    """Scene -> domain where a generated folder's settings record says so (a mix); empty otherwise."""
    if args.dataset != "semantickitti":
        return {}
    from clickenhance_model.training.synthetic import manifest_domains

    return manifest_domains(args.root)


def scene_sensors(args: argparse.Namespace) -> dict[str, str]:
    """Scene -> "domain sensor" where a generated mix's settings record says so; empty otherwise."""
    if args.dataset != "semantickitti":
        return {}
    from clickenhance_model.training.synthetic import manifest_sensors

    return manifest_sensors(args.root)


def load_segmenter(
    args: argparse.Namespace, domain: str, loaded: SupportsSession | None = None
) -> tuple[SupportsSession, dict[str, Any]]:
    """The segmenter to evaluate on clouds of `domain` and its settings for run.json.

    `loaded` is the model already loaded for another domain: its network is shared, not read again.
    """
    if args.method == "model":
        try:
            from clickenhance_model.segmenter import Segmenter  # torch and spconv only when needed
        except ImportError as error:
            raise ValueError(f"the learned segmenter cannot be imported ({error})") from error
        options = {"domain": domain}  # the geodesic prior's graph preset, for prior_fusion networks
        for name in CHOSEN_ON_VALIDATION:
            if getattr(args, name) is not None:
                options[name] = getattr(args, name)
        if isinstance(loaded, Segmenter):
            segmenter = loaded.with_options(**options)
        else:
            segmenter = Segmenter.load(args.checkpoint, args.device, **options)  # None: the shipped default model
        checkpoint = "shipped default" if args.checkpoint is None else str(args.checkpoint.resolve())
        return segmenter, {"checkpoint": checkpoint, "device": args.device, "domain": domain,
                           "ground_gate": segmenter.options.ground_gate, "ground_prior": segmenter.options.ground_prior,
                           "joined_click": segmenter.options.joined_click, "views": segmenter.options.views,
                           "gain_reach": segmenter.options.gain_reach,
                           "keep_direction": segmenter.options.keep_direction,
                           "trained_on": segmenter.extra.get("trained_on")}  # fmt: skip
    from clickenhance_model.baseline import BaselineSegmenter
    from clickenhance_model.inference.voxel_graph import GraphConfig

    if args.baseline_config is not None:
        segmenter = BaselineSegmenter(load_config(GraphConfig, args.baseline_config))
    else:
        segmenter = BaselineSegmenter.for_domain(domain)
    return segmenter, {"baseline_config": config_to_dict(segmenter.config)}


def open_log(out: Path, run: dict[str, Any], restart: bool) -> tuple[dict[tuple[str, int], ObjectResult], set[str]]:
    """Start or continue the run in `out`: finished objects and scenes of a matching earlier run."""
    out.mkdir(parents=True, exist_ok=True)
    run_path, log_path = out / RUN_FILE, out / LOG_FILE
    if run_path.is_file() and not restart:
        earlier = json.loads(run_path.read_text())
        differ = sorted(k for k in set(run) | set(earlier) if k not in RESUME_IGNORED and run.get(k) != earlier.get(k))
        if differ:
            raise ValueError(f"{out} holds a run with other settings ({', '.join(differ)}); "
                             "use another --out or --restart")  # fmt: skip
    if restart or not run_path.is_file():
        log_path.unlink(missing_ok=True)
    run_path.write_text(json.dumps(run, indent=1) + "\n")
    done: dict[tuple[str, int], ObjectResult] = {}
    scenes: set[str] = set()
    if log_path.is_file():
        for number, line in enumerate(log_path.read_text().splitlines(), start=1):
            try:
                entry = json.loads(line)
                if "scene_done" in entry:
                    scenes.add(entry["scene_done"])
                else:
                    row = ObjectResult.from_dict(entry["object"])
                    done[row.key] = row
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                print(f"{log_path}:{number}: ignoring an unreadable line (interrupted write?)", file=sys.stderr)
    return done, scenes


def selected_scenes(dataset: SceneDataset, domains: dict[str, str], args: argparse.Namespace) -> list[str]:
    """The scenes to evaluate, in order: every `--scene-stride`-th, of `--scene-domain` and `--scene-sensors`."""
    names = dataset.scene_names()[:: args.scene_stride]
    if args.scene_domain is not None:
        names = [name for name in names if domains.get(name, dataset.domain) == args.scene_domain]
    if args.scene_sensors is not None:  # main checked the sensors
        from clickenhance_model.training.synthetic import scans_of_sensors

        names = scans_of_sensors(args.root, names, args.scene_sensors)
    return names


def scene_objects(dataset: SceneDataset, scene: Scene, domain: str, args: argparse.Namespace) -> list[SceneObject]:
    """The objects of a loaded scene that the run evaluates (`--min-points`, `--classes`), named for its domain."""
    objects = [o for o in dataset.objects(scene, args.min_points)
               if args.classes is None or o.semantic_id in args.classes]  # fmt: skip
    return named_for_domain(objects, domain, dataset.domain)


def run_dataset(
    dataset: SceneDataset, segmenters: dict[str, SupportsSession], domains: dict[str, str], settings: ProtocolSettings,
    args: argparse.Namespace,
    done: dict[tuple[str, int], ObjectResult], done_scenes: set[str],
) -> tuple[list[ObjectResult], list[tuple[str, str]]]:  # fmt: skip
    """Evaluate every object of every scene (reusing logged ones); returns rows and skipped scenes."""
    if args.jobs > 1:
        return run_dataset_in_workers(dataset, domains, args, done, done_scenes)
    rows: list[ObjectResult] = []
    skipped: list[tuple[str, str]] = []
    limit = args.limit_objects
    with (args.out / LOG_FILE).open("a") as log, tqdm(total=0, unit="object", file=sys.stderr) as bar:
        for scene_name in selected_scenes(dataset, domains, args):
            if limit is not None and len(rows) >= limit:
                break
            if scene_name in done_scenes:
                logged = sorted((r for r in done.values() if r.scene == scene_name), key=lambda r: r.instance_id)
                new = logged[: None if limit is None else limit - len(rows)]
                rows += new
                bar.total += len(new)
                bar.update(len(new))
                continue
            try:
                scene = dataset.load_scene(scene_name)
            except DatasetError as error:
                skipped.append((scene_name, str(error)))
                tqdm.write(f"skipping scene {scene_name}: {error}", file=sys.stderr)
                continue
            domain = domains.get(scene_name, dataset.domain)
            objects = scene_objects(dataset, scene, domain, args)
            complete = limit is None or len(objects) <= limit - len(rows)
            objects = objects if complete else objects[: limit - len(rows)]
            bar.total += len(objects)
            bar.set_description(scene_name)
            todo = [o for o in objects if (o.scene, o.instance_id) not in done]
            for result in evaluate_scene(segmenters[domain], scene, todo, settings):
                done[result.key] = result
                log.write(json.dumps({"object": result.to_dict()}) + "\n")
                log.flush()
                bar.update(1)
            bar.update(len(objects) - len(todo))
            rows += [done[(o.scene, o.instance_id)] for o in objects]
            if complete:
                log.write(json.dumps({"scene_done": scene_name, "objects": len(objects)}) + "\n")
    return rows, skipped


def protocol_settings(args: argparse.Namespace) -> ProtocolSettings:
    """The simulated user's settings and, with `--gain-reach` or `--keep-direction`, the click rules every baseline
    session answers under."""
    rules = None  # a model's switches are its options (`load_segmenters`), as the node serves them
    if args.method == "baseline":
        rules = chosen_rules(args.gain_reach or 0.0, bool(args.keep_direction))
    return ProtocolSettings(args.max_clicks, args.temperature, args.seed, rules)


def session_rules(args: argparse.Namespace, segmenters: dict[str, SupportsSession]) -> ClickRules:
    """The click rules the run's sessions answer under (recorded in run.json): a baseline's by
    `protocol_settings`, a model's by its options (its weights' own rules 3 and 4, or the command line's)."""
    if args.method == "baseline":
        return protocol_settings(args).click_rules or ClickRules()
    from clickenhance_model.segmenter import model_click_rules

    return model_click_rules(next(iter(segmenters.values())).options, ClickRules())


# One worker process's run (`--jobs`): its dataset reader, segmenters and settings, built once per process.
_worker: dict[str, Any] = {}


def _start_worker(args: argparse.Namespace) -> None:
    """Build a worker's reader and segmenters from the command line's settings; torch gets its share of the cores."""
    if args.method == "model" and "OMP_NUM_THREADS" not in os.environ:  # the user's setting wins
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.jobs))
    dataset = build_dataset(args.dataset, args.root, **dataset_options(args))
    segmenters, _ = load_segmenters(args, dataset)
    _worker.update(dataset=dataset, segmenters=segmenters, domains=scene_domains(args, dataset), args=args,
                   settings=protocol_settings(args))  # fmt: skip


def _evaluate_in_worker(
    scene_name: str, done: set[tuple[str, int]]
) -> tuple[list[tuple[str, int]], list[ObjectResult], str | None]:
    """One scene in a worker: the keys of its evaluated objects, the results of those not `done`, and the reader's
    error where the scene cannot be read (None otherwise)."""
    dataset, args = _worker["dataset"], _worker["args"]
    try:
        scene = dataset.load_scene(scene_name)
    except DatasetError as error:
        return [], [], str(error)
    domain = _worker["domains"].get(scene_name, dataset.domain)
    objects = scene_objects(dataset, scene, domain, args)
    todo = [o for o in objects if (o.scene, o.instance_id) not in done]
    results = list(evaluate_scene(_worker["segmenters"][domain], scene, todo, _worker["settings"]))
    return [(o.scene, o.instance_id) for o in objects], results, None


def run_dataset_in_workers(
    dataset: SceneDataset, domains: dict[str, str], args: argparse.Namespace,
    done: dict[tuple[str, int], ObjectResult], done_scenes: set[str],
) -> tuple[list[ObjectResult], list[tuple[str, str]]]:  # fmt: skip
    """`run_dataset` with `--jobs` scenes at once: each worker process loads the segmenters once and evaluates whole
    scenes; finished scenes are logged as they come back, and the rows keep the scenes' order."""
    names = selected_scenes(dataset, domains, args)
    keys: dict[str, list[tuple[str, int]]] = {}
    errors: dict[str, str] = {}
    for name in names:
        if name in done_scenes:
            keys[name] = sorted(key for key in done if key[0] == name)
    todo = [name for name in names if name not in done_scenes]
    context = multiprocessing.get_context("spawn")  # torch's thread pools do not survive a fork
    with (args.out / LOG_FILE).open("a") as log, tqdm(total=len(todo), unit="scene", file=sys.stderr) as bar, \
            ProcessPoolExecutor(args.jobs, context, initializer=_start_worker, initargs=(args,)) as pool:  # fmt: skip
        futures = {pool.submit(_evaluate_in_worker, name, {k for k in done if k[0] == name}): name for name in todo}
        for future in as_completed(futures):
            name = futures[future]
            evaluated, results, error = future.result()
            bar.update(1)
            if error is not None:
                errors[name] = error
                tqdm.write(f"skipping scene {name}: {error}", file=sys.stderr)
                continue
            for result in results:
                done[result.key] = result
                log.write(json.dumps({"object": result.to_dict()}) + "\n")
            log.write(json.dumps({"scene_done": name, "objects": len(evaluated)}) + "\n")
            log.flush()
            keys[name] = evaluated
    rows = [done[key] for name in names for key in keys.get(name, [])]
    return rows, [(name, errors[name]) for name in names if name in errors]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation; 0 on success, 1 when no object was evaluated, 2 on bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.max_clicks < 1 or args.scene_stride < 1 or args.jobs < 1
            or (args.limit_objects is not None and args.limit_objects < 1)):  # fmt: skip
        parser.error("--max-clicks, --scene-stride, --jobs and --limit-objects must be at least 1")
    if args.jobs > 1 and args.limit_objects is not None:
        parser.error("--limit-objects takes the first N objects in scene order: run it with --jobs 1")
    if args.gain_reach is not None and not args.gain_reach >= 0:
        parser.error(f"--gain-reach must be >= 0 (0 = off), got {args.gain_reach}")
    if args.temperature is not None and not 0.0 <= args.temperature <= 1.0:
        parser.error(f"--temperature must be in [0, 1], got {args.temperature}")
    try:
        dataset = build_dataset(args.dataset, args.root, **dataset_options(args))
        segmenters, method_info = load_segmenters(args, dataset)
        domains = scene_domains(args, dataset)
        present = set(domains.values()) if domains else {dataset.domain}
        if args.scene_domain is not None and args.scene_domain not in present:
            raise ValueError(f"--scene-domain {args.scene_domain}: {args.root} has no such scene (its scenes are "
                             f"{' and '.join(sorted(present))})")  # fmt: skip
        if args.scene_sensors is not None:
            from clickenhance_model.training.synthetic import scans_of_sensors

            try:
                scans_of_sensors(args.root, (), args.scene_sensors)  # refuses a sensor the folder records no scan of
            except ValueError as error:
                raise ValueError(f"--scene-sensors: {error}") from error
        settings = protocol_settings(args)
        run = {"dataset": args.dataset, "root": str(args.root.resolve()), "method": args.method,
               "dataset_options": {k: list(v) if isinstance(v, tuple) else v if isinstance(v, (int, float)) else str(v)
                                   for k, v in dataset_options(args).items()},
               "max_clicks": args.max_clicks, "temperature": args.temperature, "seed": args.seed,
               "min_points": args.min_points, "limit_objects": args.limit_objects,
               "scene_stride": args.scene_stride, **method_info}  # fmt: skip
        if args.classes is not None:
            run["classes"] = sorted(args.classes)
        if args.scene_domain is not None:
            run["scene_domain"] = args.scene_domain
        if args.scene_sensors is not None:
            run["scene_sensors"] = sorted(args.scene_sensors)
        if args.method == "baseline" and args.gain_reach:  # a model's run records its options
            run["gain_reach"] = args.gain_reach
        if args.method == "baseline" and args.keep_direction:
            run["keep_direction"] = True
        run["click_rules"] = dataclasses.asdict(session_rules(args, segmenters))
        done, done_scenes = open_log(args.out, run, args.restart)
    except (ClickEnhanceError, ValueError, OSError) as error:
        print(f"clickenhance-eval: error: {error}", file=sys.stderr)
        return 2
    rows, skipped = run_dataset(dataset, segmenters, domains, settings, args, done, done_scenes)
    results = build_results(run, rows, skipped, scene_sensors(args))
    write_results(args.out, results)
    print(f"wrote {args.out / 'results.json'}, table.md and iou_vs_clicks.png", file=sys.stderr)
    print(summary_line(results["summary"]))
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
