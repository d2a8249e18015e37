"""What a caller may know about a shipped checkpoint before loading it: the cloud domains its training covered,
and whether it still beats the training-free baseline.

`tools/ship_model.py` writes `default.json` beside `weights/default.pt`. `method: auto` (the ROS
node, the browser annotator) reads it without importing torch (`auto_method`). It serves the model
only on the domains the model was trained on ("outdoor" LiDAR, "indoor" RGB-D): a network never
shown a room should not be the default answer in one. And it serves it only while no re-judgement
refused it: the baseline keeps improving, so `ship_model.py --rejudge-installed` measures the
installed weights again against today's baseline by today's rule and, when they lose, records why
(`auto_refused`). A model that does not beat the baseline on every real dev set should not be the
answer an operator gets by default; `method: model` still serves it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clickenhance_model.model_config import DOMAINS

SHIPPED_CHECKPOINT = Path(__file__).resolve().parent / "weights" / "default.pt"  # segmenter.DEFAULT_CHECKPOINT
AUTO_REFUSED = "auto_refused"  # the facts key of a re-judgement's refusal


def facts_path(checkpoint: Path) -> Path:
    """The facts file of a checkpoint: the same name with `.json`."""
    return Path(checkpoint).with_suffix(".json")


def read_trained_domains(checkpoint: Path) -> tuple[str, ...]:
    """Domains the checkpoint was trained on, from its facts file; every domain when there is none or it is unreadable.

    Without facts nothing is known, so nothing is taken away: the model serves every domain as before.
    """
    try:
        domains = tuple(domain for domain in DOMAINS if domain in _read_facts(checkpoint)["trained_domains"])
    except (KeyError, TypeError):
        return DOMAINS
    return domains or DOMAINS


def write_facts(checkpoint: Path, train_config: dict[str, Any] | None = None,
                domains: Sequence[str] | None = None) -> Path:  # fmt: skip
    """Write the facts file of `checkpoint`: the domains its training covered, from its training config (the plain
    dict stored in it) or given as `domains` (weights fitted on scans of named domains, e.g. a point refiner's)."""
    from clickenhance_model.training.config import train_config_from_dict, trained_domains

    if domains is None:
        if train_config is None:
            raise ValueError("write_facts needs a training config or the domains")
        domains = trained_domains(train_config_from_dict(train_config))
    path = facts_path(checkpoint)
    path.write_text(json.dumps({"trained_domains": list(domains)}, indent=2) + "\n")
    return path


def _read_facts(checkpoint: Path) -> dict[str, Any]:
    """The facts file of `checkpoint` as a dict; empty when there is none or it is unreadable."""
    try:
        facts = json.loads(facts_path(checkpoint).read_text())
    except (OSError, ValueError):
        return {}
    return facts if isinstance(facts, dict) else {}


def read_auto_refusal(checkpoint: Path) -> str | None:
    """Why `method: auto` must not serve `checkpoint` (the re-judgement's phrase, e.g. its date and lost sets), or
    None when nothing says so (no facts file, an unreadable one, or no refusal in it)."""
    reason = _read_facts(checkpoint).get(AUTO_REFUSED)
    return reason if isinstance(reason, str) and reason.strip() else None


def record_auto_refusal(checkpoint: Path, reason: str | None) -> Path:
    """Store a re-judgement in the facts file of `checkpoint`, keeping its other facts: `reason` (a phrase: when
    it was judged and which sets it lost) refuses the weights to `method: auto`; None clears an earlier refusal
    (they pass again)."""
    facts = _read_facts(checkpoint)
    if reason is None:
        facts.pop(AUTO_REFUSED, None)
    else:
        facts[AUTO_REFUSED] = reason
    path = facts_path(checkpoint)
    path.write_text(json.dumps(facts, indent=2) + "\n")
    return path


def auto_method(shipped: Path, domain: str, checkpoint: str | None = None) -> tuple[str, str]:
    """What `method: auto` serves ("model" | "baseline") and why, in a phrase for the start-up log.

    A checkpoint the caller names is served as asked. Else the shipped weights at `shipped`, when
    they exist, were trained on clouds of `domain` and no re-judgement refused them; else the baseline.
    """
    if checkpoint:
        return "model", f"auto: checkpoint {checkpoint} given"
    if not Path(shipped).is_file():
        return "baseline", f"auto: no checkpoint given and no shipped model yet ({shipped} missing)"
    trained = read_trained_domains(shipped)
    if domain not in trained:
        return "baseline", (f"auto: the shipped model was trained on {' and '.join(trained)} clouds only, not "
                            f"{domain} ones (method 'model' serves it anyway)")  # fmt: skip
    refused = read_auto_refusal(shipped)
    if refused is not None:
        return "baseline", (f"auto: the shipped model does not beat today's training-free baseline on every real "
                            f"dev set ({refused}; its card: weights/README.md); method 'model' serves it anyway")
    return "model", f"auto: shipped model {shipped}"
