"""The study's report, generated from its results files: tables, IoU-vs-clicks plots and computed verdicts.

`collect` reads every results.json and done.json of the study into
`table[setting][eval_set][variant][seed] = figures`; `write_report` renders the Markdown report,
one PNG per training setting next to it, and OUT/summary.json with the same numbers. No number
in the report is typed by hand: rerun the study (or `--report-only`) to refresh it.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clickenhance_model.ablation.claims import CLAIMS, MIN_DIFFERENCE, Verdict, judge, overall, rank
from clickenhance_model.ablation.config import IN_DOMAIN, SET_TITLES, SETTING_TITLES, StudyConfig
from clickenhance_model.ablation.eval_sets import available_objects
from clickenhance_model.ablation.study import DONE, plan_runs
from clickenhance_model.ablation.variants import VARIANTS
from clickenhance_model.evaluation.report import strict_json

IOU_CLICKS = (1, 3, 5, 10)
NOC_THRESHOLDS = (80, 85, 90)


def figures(results: dict) -> dict:
    """Figures of one results.json: objects, IoU@1/3/5/10 and after the last click, NoC@80/85/90, mean IoU."""
    summary = results["summary"]
    curve = [float("nan") if v is None else float(v) for v in summary["IoU@k"]]
    row: dict = {"objects": summary["objects"], "curve": curve, "seconds": results.get("seconds")}
    row.update({f"IoU@{k}": curve[k - 1] if k <= len(curve) else None for k in IOU_CLICKS})
    row["IoU@final"] = curve[-1]
    row.update({f"NoC@{t}": float(summary[f"NoC@{t}"]) for t in NOC_THRESHOLDS})
    row["mIoU"] = float(np.mean(curve))  # the area under the IoU-vs-clicks curve, per click
    return row


@dataclass
class Collected:
    """Everything the report shows: figures per evaluation, training records, object keys, what is missing."""

    table: dict = field(default_factory=dict)  # [setting][eval_set][variant][seed] -> figures
    trainings: dict = field(default_factory=dict)  # [setting][variant][seed] -> done.json record
    keys: dict = field(default_factory=dict)  # eval_set -> object keys of its first results
    missing: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Finished trainings and evaluations."""
        trainings = sum(len(seeds) for runs in self.trainings.values() for seeds in runs.values())
        evaluations = sum(len(seeds) for sets in self.table.values() for runs in sets.values()
                          for seeds in runs.values())  # fmt: skip
        return {"trainings": trainings, "evaluations": evaluations}


def collect(study: StudyConfig) -> Collected:
    """Read the results of every planned run; ValueError when two runs were evaluated on different objects."""
    found = Collected()
    for run in plan_runs(study):
        done = run.folder / DONE
        if not done.is_file():
            found.missing.append(f"training {run.label}")
            continue
        found.trainings.setdefault(run.setting, {}).setdefault(run.variant.name, {})[run.seed] = json.loads(
            done.read_text())
        for eval_set in study.eval_sets(run.setting):
            path = run.results_path(eval_set)
            if not path.is_file():
                found.missing.append(f"evaluation {run.label} on {eval_set}")
                continue
            results = json.loads(path.read_text())
            keys = [(o["scene"], o["instance_id"]) for o in results["objects"]]
            if found.keys.setdefault(eval_set, keys) != keys:
                raise ValueError(f"{path}: evaluated on other objects than the study's other runs on {eval_set} "
                                 "(stale results?); rerun the study without --report-only")  # fmt: skip
            cell = found.table.setdefault(run.setting, {}).setdefault(eval_set, {}).setdefault(run.variant.name, {})
            cell[run.seed] = figures(results)
    return found


def _percent(value: float | None) -> str:
    """A fraction as percent with one decimal; – when absent."""
    return "–" if value is None or np.isnan(value) else f"{100 * value:.1f}"


def _value(metric: str, value: float | None) -> str:
    """A figure as shown in the report: NoC in clicks (2 decimals), IoU in percent."""
    if metric.startswith("NoC"):
        return "–" if value is None else f"{value:.2f}"
    return _percent(value)


def cell(metric: str, values: list[float | None]) -> str:
    """Mean over seeds, with (min–max) when there are several seeds."""
    present = [v for v in values if v is not None and not np.isnan(v)]
    if not present:
        return "–"
    text = _value(metric, float(np.mean(present)))
    if len(present) > 1:
        text += f" ({_value(metric, min(present))}–{_value(metric, max(present))})"
    return text


def metric_label(metric: str, max_clicks: int) -> str:
    """Column and sentence name of a figure key."""
    return {"mIoU": f"mean IoU@1–{max_clicks}", "IoU@final": f"IoU@{max_clicks}"}.get(metric, metric)


def _columns(max_clicks: int) -> list[str]:
    """Figure keys of the result tables, in column order."""
    ious = [f"IoU@{k}" for k in IOU_CLICKS if k < max_clicks]
    return [*ious, "IoU@final", *(f"NoC@{t}" for t in NOC_THRESHOLDS), "mIoU"]


def result_table(by_variant: dict, max_clicks: int) -> list[str]:
    """Markdown table of one evaluation: one row per variant, cells mean (min–max) over seeds."""
    columns = _columns(max_clicks)
    arrows = {c: " ↓" if c.startswith("NoC") else " ↑" for c in columns}
    lines = ["| Variant | Seeds | " + " | ".join(metric_label(c, max_clicks) + arrows[c] for c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]  # fmt: skip
    for name, variant in VARIANTS.items():
        seeds = by_variant.get(name)
        if not seeds:
            continue
        cells = [cell(c, [f[c] for f in seeds.values()]) for c in columns]
        lines.append(f"| {variant.title} | {len(seeds)} | " + " | ".join(cells) + " |")
    return lines


def verdict_line(verdict: Verdict, max_clicks: int) -> str:
    """One evaluation of a claim, with the means, the difference and every seed's difference."""
    claim, metric = verdict.claim, verdict.claim.metric
    scale, unit = (1.0, " clicks") if metric.startswith("NoC") else (100.0, " IoU points")
    per_seed = ", ".join(f"seed {s}: {scale * (b - w):+.1f}"
                         for s, b, w in zip(verdict.seeds, verdict.better_values, verdict.worse_values, strict=True))
    return (f"{SETTING_TITLES[verdict.setting]} → {SET_TITLES[verdict.eval_set]}: "
            f"{VARIANTS[claim.better].title} {_value(metric, float(np.mean(verdict.better_values)))} vs "
            f"{VARIANTS[claim.worse].title} {_value(metric, float(np.mean(verdict.worse_values)))} "
            f"{metric_label(metric, max_clicks)} (difference {scale * verdict.difference:+.1f}{unit}; {per_seed}): "
            f"**{verdict.outcome}**")  # fmt: skip


def claim_sections(table: dict, max_clicks: int) -> tuple[list[str], list[dict]]:
    """Markdown lines stating each claim's overall verdict and its evaluations; the same as JSON rows."""
    lines, rows = [], []
    for number, claim in enumerate(CLAIMS, start=1):
        verdicts = judge(claim, table)
        status = overall(verdicts)
        hits = sum(v.outcome == "reproduced" for v in verdicts)
        lines.append(f"{number}. **{status}** ({hits} of {len(verdicts)} evaluations). {claim.statement}.")
        lines += [f"   - {verdict_line(v, max_clicks)}" for v in verdicts]
        rows.append({"claim": claim.key, "overall": status, "evaluations": [
            {"setting": v.setting, "eval_set": v.eval_set, "seeds": list(v.seeds), "better": list(v.better_values),
             "worse": list(v.worse_values), "outcome": v.outcome} for v in verdicts]})  # fmt: skip
    return lines, rows


def winner_lines(table: dict, max_clicks: int) -> tuple[list[str], dict | None]:
    """Which variant wins on the default setting (outdoor, real scans if evaluated), and every ranking."""
    setting = "outdoor" if "outdoor" in table else next(iter(table), None)
    if setting is None:
        return ["No evaluation finished yet."], None
    eval_set = "real" if "real" in table[setting] else IN_DOMAIN[setting]
    best = rank(table, setting, eval_set)
    if best is None:
        return ["No evaluation finished yet."], None
    label = metric_label("mIoU", max_clicks)
    (first, first_value), *rest = best.order
    lead = "" if not rest else (f", ahead of {VARIANTS[rest[0][0]].title} ({_percent(rest[0][1])})"
                                + ("" if best.clear else "; the lead is NOT clear (below "
                                   f"{100 * MIN_DIFFERENCE['IoU']:.0f} IoU point or not under every seed)"))
    lines = [f"**Which variant wins.** {SETTING_TITLES[setting].capitalize()} and evaluated on "
             f"{SET_TITLES[eval_set]}, the best variant by {label} is **{VARIANTS[first].title}** "
             f"({_percent(first_value)}){lead}.", "", f"Ranking by {label} (mean over seeds), best first:", ""]
    for name in table:
        for set_name in table[name]:
            ranking = rank(table, name, set_name)
            order = " > ".join(f"{VARIANTS[v].title} {_percent(m)}" for v, m in ranking.order)
            lines.append(f"- {SETTING_TITLES[name]} → {SET_TITLES[set_name]}: {order}")
    return lines, {"setting": setting, "eval_set": eval_set, "variant": first, "clear": best.clear}


def _steps(config: dict) -> str:
    """The training length of a config (dict form): optimizer steps, cut at max_steps."""
    limit = config["max_steps"]
    if not config["samples_per_epoch"]:  # one pass over every training object per epoch: length known when run
        return f"{config['epochs']} epoch(s) over every training object" + (f", at most {limit} steps" if limit else "")
    planned = config["epochs"] * -(-config["samples_per_epoch"] // config["batch_size"])
    return f"{min(planned, limit) if limit else planned} steps"


def _training_line(setting: str, config: dict, path: str) -> str:
    """One setting's training recipe, read from its config."""
    data, model, augment = config["data"], config["model"], config.get("augment") or {}
    switched = [f"{k} {v}" for k, v in augment.items() if v not in (False, 0, 0.0, [1.0, 1.0])]
    return (f"- **{setting}** (`{path}`): {data['synthetic']['train_scans']} generated {data['synthetic']['domain']} "
            f"scans; {_steps(config)} of batch {config['batch_size']}, {config['optimizer']['name'].upper()} "
            f"peak lr {config['optimizer']['lr']}, {config['scheduler']['name']} schedule, up to "
            f"{config['clicks']['max_rounds']} simulated click rounds per sample; augmentation: "
            f"{', '.join(switched) or 'none'}. Network channels {model['network']['channels']}, CSE channels "
            f"{model['network']['cse_channels']}; {model['input']['voxel_size']} m voxels, crop radius "
            f"{model['input']['crop_radius']} m, at most {model['input']['max_voxels']} voxels, sparse cubes "
            f"{model['input']['sparse_cube_size']} m.")  # fmt: skip


def setup_lines(study: StudyConfig, found: Collected) -> list[str]:
    """The set-up: variants, training recipe per setting, seeds, evaluation sets and their objects."""
    lines = ["| Variant | Click encoding | CSE | Click loss |", "|---|---|---|---|"]
    lines += [f"| {v.title} | {v.encoding} | {'yes' if v.use_cse else 'no'} | {'yes' if v.click_loss else 'no'} |"
              for n, v in VARIANTS.items() if n in study.variants]  # fmt: skip
    lines += ["", "Training (the same for every variant; the variants differ only in the switches above):", ""]
    for setting in study.settings:
        path = study.indoor_config if setting == "indoor" else study.outdoor_config
        lines.append(_training_line(setting, study.train_config(setting).to_dict(), path))
    lines += ["", f"Seeds: {', '.join(map(str, study.seeds))} (initial weights, sample order and simulated clicks; "
              "the generated scenes are the same for every seed). Geometry only: no colour is read, since the "
              "outdoor scans have none. The weights after the last step are evaluated (no model selection).", "",
              f"Evaluation: simulated user (deterministic), {study.max_clicks} clicks per object, objects with at "
              f"least {study.min_points} points; every variant and seed on the same objects:", ""]  # fmt: skip
    for eval_set, keys in found.keys.items():
        available = available_objects(study, eval_set)
        drawn = "" if available in (None, len(keys)) else f" (a fixed draw from {available})"
        scans = len({k[0] for k in keys})
        lines.append(f"- {SET_TITLES[eval_set]}: {len(keys)} objects{drawn} in {scans} scan{'s' * (scans != 1)}")
    if not study.has_real_scans:
        lines.append(f"- real SemanticKITTI scans: NOT evaluated ({study.real_root} not found)")
    return lines


def plot_setting(table: dict, setting: str, path: Path, max_clicks: int) -> None:
    """IoU vs clicks of every variant (mean over seeds, band min–max) on each evaluation set of one setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(table[setting])
    figure, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4), dpi=110, squeeze=False)
    clicks = np.arange(1, max_clicks + 1)
    for axis, eval_set in zip(axes[0], sets, strict=True):
        for name, variant in VARIANTS.items():
            seeds = table[setting][eval_set].get(name)
            if not seeds:
                continue
            curves = 100 * np.array([f["curve"] for f in seeds.values()])  # [seeds, clicks]
            axis.plot(clicks, curves.mean(axis=0), marker="o", markersize=3, label=f"{variant.title} ({len(seeds)})")
            if len(seeds) > 1:
                axis.fill_between(clicks, curves.min(axis=0), curves.max(axis=0), alpha=0.2)
        objects = next(iter(next(iter(table[setting][eval_set].values())).values()))["objects"]
        axis.set_title(f"{SET_TITLES[eval_set]}\n{objects} objects", fontsize=9)
        for threshold in (80, 85, 90):
            axis.axhline(threshold, color="grey", linestyle=":", linewidth=0.8)
        axis.set_xticks(clicks[clicks % 2 == 1] if max_clicks > 10 else clicks)
        axis.set_xlabel("number of clicks")
        axis.set_ylabel("mean IoU (%)")
        axis.set_ylim(0, 100)
        axis.grid(alpha=0.3)
        axis.legend(loc="best", fontsize=7, title="variant (seeds)", title_fontsize=7)
    figure.suptitle(f"{SETTING_TITLES[setting].capitalize()}: IoU vs clicks (mean over seeds, band min–max)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


def cost_lines(found: Collected) -> list[str]:
    """Training and evaluation time per run, from done.json and results.json."""
    lines = ["| Setting | Variant | Steps | Training (s, mean over seeds) | Evaluation (s, all sets) |",
             "|---|---|---|---|---|"]  # fmt: skip
    for setting, by_variant in found.trainings.items():
        for name, records in by_variant.items():
            seconds = [r["train_seconds"] for r in records.values()]
            evals = [f["seconds"] or 0.0 for sets in found.table.get(setting, {}).values()
                     for s, f in sets.get(name, {}).items()]  # fmt: skip
            steps = sorted({r["step"] for r in records.values()})
            lines.append(f"| {setting} | {VARIANTS[name].title} | {', '.join(map(str, steps))} | "
                         f"{np.mean(seconds):.0f} | {sum(evals) / max(len(records), 1):.0f} |")  # fmt: skip
    train = sum(r["train_seconds"] for runs in found.trainings.values() for seeds in runs.values()
                for r in seeds.values())  # fmt: skip
    evaluate = sum(f["seconds"] or 0.0 for sets in found.table.values() for runs in sets.values()
                   for seeds in runs.values() for f in seeds.values())  # fmt: skip
    return [*lines, "", f"In all: {train / 60:.1f} min of training steps and {evaluate / 60:.1f} min of evaluation "
            "(scene generation, model set-up and checkpoints not included)."]


def results_lines(study: StudyConfig, found: Collected) -> list[str]:
    """Per setting: its plot, then one table per evaluation set."""
    lines: list[str] = []
    for setting, sets in found.table.items():
        lines += [f"### {SETTING_TITLES[setting].capitalize()}", "",
                  f"![IoU vs clicks, {SETTING_TITLES[setting]}]({study.plot_dir.name}/{setting}.png)", ""]  # fmt: skip
        for eval_set, by_variant in sets.items():
            seeds = sorted({s for runs in by_variant.values() for s in runs})
            objects = next(iter(next(iter(by_variant.values())).values()))["objects"]
            domain = "in-domain" if IN_DOMAIN[setting] == eval_set else "cross-domain"
            lines += [f"#### Evaluated on {SET_TITLES[eval_set]} ({domain}): {objects} objects, seeds "
                      f"{', '.join(map(str, seeds))}", "", *result_table(by_variant, study.max_clicks), ""]  # fmt: skip
    return lines


def render_report(study: StudyConfig, found: Collected, claim_lines: list[str], winner: list[str]) -> str:
    """The whole Markdown report."""
    rule = (f"A claim is **reproduced** on an evaluation when the claimed-better variant's mean (over seeds) is "
            f"better by at least {100 * MIN_DIFFERENCE['IoU']:.0f} IoU point ({MIN_DIFFERENCE['NoC']} clicks for "
            "NoC) and it is better under every seed; **opposite** when the other variant is better by that much; "
            "otherwise **no clear difference**. Overall: REPRODUCED when every evaluation reproduces it, PARTLY "
            "when some do, NOT when none does.")  # fmt: skip
    lines = [
        "# Ablation study in miniature: click encoding, Click-Specific Encoder, click loss", "",
        f"Generated by `{study.command}` on {datetime.date.today().isoformat()} from the results files under "
        f"`{study.out}` (numbers, plots and verdicts are computed; do not edit by hand: rerun the command, or add "
        "`--report-only` to render again). A miniature of the paper's ablation on one CPU: a smaller network, a "
        "few hundred training steps per variant and a few dozen objects per evaluation set, so small differences "
        "are noise. NoC in clicks (lower is better), IoU in percent; cells are the mean over seeds with (min–max).",
        "", "## Verdicts on the paper's claims", "", rule, "", *claim_lines, "", *winner, "",
        "## Set-up", "", *setup_lines(study, found), "", "## Results", "", *results_lines(study, found),
        "## Cost", "", "Seconds on this machine (one torch thread).", "", *cost_lines(found),
    ]  # fmt: skip
    if found.missing:
        lines += ["", "## Not finished", "", *(f"- {m}" for m in found.missing)]
    return "\n".join(lines) + "\n"


def write_report(study: StudyConfig) -> dict:
    """Collect the results, write the report, its PNGs and OUT/summary.json; returns the summary."""
    found = collect(study)
    claim_lines, claim_rows = claim_sections(found.table, study.max_clicks)
    winner, winning = winner_lines(found.table, study.max_clicks)
    for setting in found.table:
        plot_setting(found.table, setting, study.plot_dir / f"{setting}.png", study.max_clicks)
    study.report.parent.mkdir(parents=True, exist_ok=True)
    study.report.write_text(render_report(study, found, claim_lines, winner))
    summary = {"table": {s: {e: {v: {str(seed): f for seed, f in runs.items()} for v, runs in by_variant.items()}
                             for e, by_variant in sets.items()} for s, sets in found.table.items()},
               "claims": claim_rows, "winner": winning, "missing": found.missing,
               "finished": found.counts()}  # fmt: skip
    study.out.mkdir(parents=True, exist_ok=True)
    (study.out / "summary.json").write_text(json.dumps(strict_json(summary), indent=1) + "\n")
    return summary
