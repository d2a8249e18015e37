"""Evaluation outputs: results.json, table.md (the paper's Table IV layout) and iou_vs_clicks.png."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from clickenhance_model.evaluation.metrics import (
    COLLAPSE_DROP,
    RISE_FROM_CLICK,
    click_collapses,
    click_responsiveness,
    collapse_summary,
    summarize,
)
from clickenhance_model.evaluation.protocol import ObjectResult

TABLE_CLICKS = (5, 10, 15)  # IoU@k columns of Table IV
AP_CLICKS = (1, 3, 5, 10)  # rows of the AP table
DATASET_TITLES = {"semantickitti": "SemanticKITTI", "kitti360": "KITTI-360", "scannet": "ScanNet", "s3dis": "S3DIS"}


def build_results(run: dict[str, Any], rows: Sequence[ObjectResult], skipped: Sequence[tuple[str, str]],
                  sensors: dict[str, str] | None = None) -> dict:
    """The results.json document: run settings, summary, per-class summaries and per-object rows.

    `sensors` (scene -> "domain sensor", a generated mix's parts) adds a summary per part ("per_sensor"),
    so that a win in one kind of scan cannot hide a loss in another."""
    max_clicks = int(run["max_clicks"])
    summary = summarize([r.ious for r in rows], [r.class_name for r in rows], max_clicks)
    collapses = {r.key: click_collapses(r.ious, r.clicks) for r in rows}
    summary.update(collapse_summary(list(collapses.values())))
    times = [t for r in rows for t in r.inference_ms]
    summary["mean_inference_ms"] = float(np.mean(times)) if times else float("nan")

    def group_summary(members: list[ObjectResult]) -> dict:
        part = summarize([r.ious for r in members], [r.class_name for r in members], max_clicks)
        part.update(collapse_summary([collapses[r.key] for r in members]))
        return {k: v for k, v in part.items() if k != "AP@k"}

    per_class = {name: group_summary([r for r in rows if r.class_name == name])
                 for name in sorted({r.class_name for r in rows})}  # fmt: skip
    objects = [
        {**r.to_dict(), "responsiveness": click_responsiveness(r.ious, max_clicks), "collapses": collapses[r.key]}
        for r in rows
    ]
    results = {
        "run": run,
        "summary": summary,
        "per_class": per_class,
        "skipped_scenes": [{"scene": s, "reason": reason} for s, reason in skipped],
        "objects": objects,
    }
    if sensors:  # each part, and each domain over all its sensors ("outdoor (all sensors)")
        groups: dict[str, list[ObjectResult]] = {}
        for r in (r for r in rows if r.scene in sensors):
            groups.setdefault(sensors[r.scene], []).append(r)
            groups.setdefault(f"{sensors[r.scene].split()[0]} (all sensors)", []).append(r)
        results["per_sensor"] = {name: group_summary(groups[name]) for name in sorted(groups)}
    return results


def summary_line(summary: dict) -> str:
    """The CLI's last line: NoC@80/85/90 (clicks) and IoU@5/10/15 (percent) over N objects."""
    ious = summary["IoU@k"]

    def iou_at(k: int) -> str:
        return f"{100 * ious[k - 1]:.1f}" if k <= len(ious) and not math.isnan(ious[k - 1]) else "nan"

    nocs = " ".join(f"NoC@{t}={summary[f'NoC@{t}']:.2f}" for t in (80, 85, 90))
    return f"{nocs} IoU@5={iou_at(5)} IoU@10={iou_at(10)} IoU@15={iou_at(15)} objects={summary['objects']}"


def write_results(out_dir: Path, results: dict) -> None:
    """Write results.json (strict JSON: NaN as null, infinity as "inf"), table.md and iou_vs_clicks.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(strict_json(results), indent=1, allow_nan=False) + "\n")
    (out_dir / "table.md").write_text(render_table(results))
    plot_iou_curve(results, out_dir / "iou_vs_clicks.png")


def strict_json(value: Any) -> Any:
    """Replace NaN by None and infinities by "inf"/"-inf", recursively (JSON has neither)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def _method_cells(run: dict[str, Any]) -> tuple[str, str]:
    """Method name and the "Train → Eval" cell of Table IV."""
    dataset = DATASET_TITLES.get(run["dataset"], run["dataset"])
    if run["method"] == "baseline":
        return "Baseline (geodesic region growing, training-free)", f"– → {dataset}"
    checkpoint = Path(run.get("checkpoint") or "?").name
    return f"ClickEnhance ({checkpoint})", f"{run.get('trained_on') or '?'} → {dataset}"


def _cell(values: list[float], k: int, scale: float = 100.0) -> str:
    """A table cell for a per-click list (– beyond the click budget)."""
    if k > len(values) or values[k - 1] is None or math.isnan(values[k - 1]):
        return "–"
    return f"{scale * values[k - 1]:.1f}"


def render_table(results: dict) -> str:
    """table.md: Table IV (NoC@80/85/90, IoU@5/10/15), then per-class rows and AP after k clicks."""
    run, summary = results["run"], results["summary"]
    method, train_eval = _method_cells(run)
    header = "| Method | Train → Eval | NoC@80 ↓ | NoC@85 ↓ | NoC@90 ↓ | IoU@5 ↑ | IoU@10 ↑ | IoU@15 ↑ |"
    rule = "|---|---|---|---|---|---|---|---|"

    def row(name: str, second: str, s: dict) -> str:
        nocs = " | ".join(f"{s[f'NoC@{t}']:.2f}" for t in (80, 85, 90))
        ious = " | ".join(_cell(s["IoU@k"], k) for k in TABLE_CLICKS)
        return f"| {name} | {second} | {nocs} | {ious} |"

    lines = [
        f"## Interactive single-object segmentation on {train_eval.split('→ ')[-1]}",
        "",
        f"{summary['objects']} objects (at least {run['min_points']} points), at most {run['max_clicks']} clicks, "
        f"simulated user {'deterministic' if run.get('temperature') is None else 'T=' + str(run['temperature'])}. "
        "IoU in percent.",
        "",
        header,
        rule,
        row(method, train_eval, summary),
        "",
        "### Per class",
        "",
        header.replace("Method | Train → Eval", "Class | Objects"),
        rule,
        *(row(name, str(s["objects"]), s) for name, s in results["per_class"].items()),
        *sensor_lines(results, header, rule, row),
        "",
        "### AP of the masks after k clicks (no mask confidence: every mask ranks equal)",
        "",
        "| Clicks | AP | AP50 | AP25 |",
        "|---|---|---|---|",
    ]
    for k in AP_CLICKS:
        if k <= len(summary["AP@k"]):
            ap = summary["AP@k"][k - 1]
            lines.append(f"| {k} | " + " | ".join(f"{100 * ap[m]:.1f}" for m in ("AP", "AP50", "AP25")) + " |")
    return "\n".join(lines + responsiveness_lines(results)) + "\n"


def sensor_lines(results: dict, header: str, rule: str, row: Callable[[str, str, dict], str]) -> list[str]:
    """table.md's rows per part of a generated mix (domain and sensor), with stuck and collapsed counts; none
    for other datasets."""
    parts = results.get("per_sensor")
    if not parts:
        return []
    return ["", "### Per sensor (the parts of the generated mix)", "",
            header.replace("Method | Train → Eval", "Sensor | Objects") + " Stuck | Collapsed |",
            rule + "---|---|",
            *(row(name, str(s["objects"]), s) + f" {s.get('stuck_objects', '–')} | {s.get('collapsed_objects', '–')} |"
              for name, s in parts.items())]  # fmt: skip


def responsiveness_lines(results: dict) -> list[str]:
    """table.md's section on whether corrections still help: per class rising/stuck counts, the stuck objects."""
    summary, max_clicks = results["summary"], results["run"]["max_clicks"]
    title = f"### Click responsiveness (IoU@{max_clicks} − IoU@{RISE_FROM_CLICK})"
    if summary.get("stuck_objects") is None:
        return ["", title, "", f"Not measured: the budget of {max_clicks} clicks ends by click {RISE_FROM_CLICK}."]
    lines = [
        "", title, "",
        f"An object is rising when its IoU gains at least 2 points after click {RISE_FROM_CLICK}; stuck when it "
        f"does not while IoU@{max_clicks} is below 85% (corrections no longer help). "
        f"**{summary['stuck_objects']} of {summary['objects']} objects stuck**, {summary['rising_after_5']} rising.",
        *collapse_lines(summary),
        "", "| Class | Objects | Rising | Stuck | Collapsed |", "|---|---|---|---|---|",
        *(f"| {name} | {c['objects']} | {c['rising_after_5']} | {c['stuck_objects']} | "
          f"{c.get('collapsed_objects', '–')} |" for name, c in results["per_class"].items()),
    ]  # fmt: skip
    stuck = [o for o in results["objects"] if (o.get("responsiveness") or {}).get("stuck")]
    if stuck:
        lines += ["", f"| Stuck object | Class | Points | IoU@{RISE_FROM_CLICK} | IoU@{max_clicks} |",
                  "|---|---|---|---|---|"]  # fmt: skip
        lines += [f"| {o['scene']} #{o['instance_id']} | {o['class_name']} | {o['num_points']} | "
                  f"{100 * o['ious'][RISE_FROM_CLICK - 1]:.1f} | {100 * o['ious'][-1]:.1f} |" for o in stuck]
    return lines


def collapse_lines(summary: dict) -> list[str]:
    """The sentence on collapses (one click taking more than 20 IoU points), by the sign of that click."""
    if "collapsed_objects" not in summary:  # results written before collapses were counted
        return []
    return [
        "",
        f"An object collapses when one click takes more than {100 * COLLAPSE_DROP:.0f} IoU points from its mask: "
        f"**{summary['collapsed_objects']} of {summary['objects']} objects collapse**, "
        f"{summary['collapses_after_negative']} times after a negative click and "
        f"{summary['collapses_after_positive']} after a positive one.",
    ]


def plot_iou_curve(results: dict, path: Path) -> None:
    """Mean IoU against the number of clicks, with the NoC thresholds as reference lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = [np.nan if v is None else 100 * v for v in results["summary"]["IoU@k"]]
    clicks = np.arange(1, len(curve) + 1)
    method, _ = _method_cells(results["run"])
    figure, axes = plt.subplots(figsize=(6, 4), dpi=120)
    axes.plot(clicks, curve, marker="o", label=method)
    for threshold in (80, 85, 90):
        axes.axhline(threshold, color="grey", linestyle=":", linewidth=0.8)
    axes.set_xlabel("number of clicks")
    axes.set_ylabel("mean IoU (%)")
    dataset = DATASET_TITLES.get(results["run"]["dataset"], results["run"]["dataset"])
    axes.set_title(f"{dataset}: {results['summary']['objects']} objects")
    axes.set_xticks(clicks)
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
