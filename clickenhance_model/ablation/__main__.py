"""`python -m clickenhance_model.ablation`: the whole ablation study from scratch, then its report.

    python -m clickenhance_model.ablation                       # 2 seeds, both settings, 4 variants
    python -m clickenhance_model.ablation --seeds 0             # one seed (about half the time)
    python -m clickenhance_model.ablation --report-only         # render docs/ablation.md from finished runs

Generates the scenes, trains every (setting, variant, seed) under --out, evaluates each on the
same objects, and writes the report (--report) with its PNGs. Rerunning the command skips what
is finished and continues an interrupted training. The last stdout line is the summary:
`ablation: runs=.. evaluations=.. dense_vs_sparse=.. cse_first_clicks=.. click_loss_final=.. winner=.. report=PATH`
(finished trainings and evaluations, each claim's overall verdict, the best variant of the default setting).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from clickenhance_model.ablation.config import DEFAULT_REAL_ROOT, SETTINGS, StudyConfig
from clickenhance_model.ablation.variants import VARIANTS
from clickenhance_model.errors import ClickEnhanceError


def _listed(values: Sequence[str], cast: Callable[[str], object] = str) -> tuple:
    """Values given as separate words and/or comma-separated lists ("indoor,outdoor"), cast to a type."""
    return tuple(cast(part) for value in values for part in value.split(",") if part)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the study."""
    defaults = StudyConfig()
    parser = argparse.ArgumentParser(prog="clickenhance-ablation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=defaults.out, help="run folder (scenes, trainings, evaluations)")
    parser.add_argument("--seeds", nargs="+", default=[str(s) for s in defaults.seeds], help="training seeds, e.g. 0 1")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), help=f"of {', '.join(SETTINGS)}")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"of {', '.join(VARIANTS)}")
    parser.add_argument("--indoor-config", default=defaults.indoor_config, help="training YAML, indoor setting")
    parser.add_argument("--outdoor-config", default=defaults.outdoor_config, help="training YAML, outdoor setting")
    parser.add_argument("--real-root", type=Path, default=DEFAULT_REAL_ROOT,
                        help="real SemanticKITTI scans (skipped, with a note in the report, when absent)")  # fmt: skip
    parser.add_argument("--report", type=Path, default=defaults.report, help="Markdown report; PNGs go to REPORT/")
    parser.add_argument("--max-clicks", type=int, default=defaults.max_clicks, help="click budget per object")
    parser.add_argument("--min-points", type=int, default=defaults.min_points, help="smallest object evaluated")
    parser.add_argument("--generated-objects", type=int, default=defaults.generated_objects,
                        help="objects drawn once from each generated evaluation set (0 = all)")  # fmt: skip
    parser.add_argument("--real-objects", type=int, default=defaults.real_objects,
                        help="objects drawn once from the real scans (0 = all)")  # fmt: skip
    parser.add_argument("--device", default="auto", help="torch device: auto (CUDA when present), cpu, cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="progress bars")
    parser.add_argument("--report-only", action=argparse.BooleanOptionalAction, default=False,
                        help="only render the report from the finished runs under --out")  # fmt: skip
    return parser


def study_from_args(args: argparse.Namespace, argv: Sequence[str]) -> StudyConfig:
    """The StudyConfig of the command line (ValueError on bad values)."""
    try:
        seeds = _listed(args.seeds, int)
    except ValueError as error:
        raise ValueError(f"--seeds takes integers: {error}") from error
    return StudyConfig(
        out=args.out, seeds=seeds, settings=_listed(args.settings), variants=_listed(args.variants),
        indoor_config=args.indoor_config, outdoor_config=args.outdoor_config, real_root=args.real_root,
        report=args.report, max_clicks=args.max_clicks, min_points=args.min_points,
        generated_objects=args.generated_objects, real_objects=args.real_objects, device=args.device,
        threads=args.threads, show_progress=args.progress,
        command=shlex.join(["python", "-m", "clickenhance_model.ablation", *argv]),
    )  # fmt: skip


def summary_line(summary: dict, report: Path) -> str:
    """The last stdout line: finished runs and evaluations, each claim's verdict, the winner and the report path."""
    claims = " ".join(f"{row['claim']}={row['overall'].replace(' ', '_')}" for row in summary["claims"])
    winner, finished = summary["winner"], summary["finished"]
    won = "none" if winner is None else f"{winner['variant']}({winner['setting']}/{winner['eval_set']})"
    return (f"ablation: runs={finished['trainings']} evaluations={finished['evaluations']} {claims} winner={won} "
            f"report={report}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study and write its report; 0 on success, 2 on bad input or settings."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        study = study_from_args(args, argv)
        from clickenhance_model.ablation.report import write_report  # torch and spconv only past argument checks
        from clickenhance_model.ablation.study import run_study

        if not study.has_real_scans:
            print(f"clickenhance-ablation: real scans not found at {study.real_root}: that evaluation is skipped",
                  file=sys.stderr)  # fmt: skip
        if not args.report_only:
            if study.threads > 0:
                import torch

                torch.set_num_threads(study.threads)
            run_study(study, on_seed_done=lambda seed: write_report(study))
        summary = write_report(study)
    except (ClickEnhanceError, ValueError, FileNotFoundError) as error:
        print(f"clickenhance-ablation: error: {error}", file=sys.stderr)
        return 2
    print(summary_line(summary, study.report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
