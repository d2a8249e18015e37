"""What a caller may know about a shipped checkpoint before loading it: the cloud domains its training covered.

`tools/ship_model.py` writes `default.json` beside `weights/default.pt`. The ROS node's
`method: auto` reads it without importing torch. It serves the model only on the domains the
model was trained on ("outdoor" LiDAR, "indoor" RGB-D). On any other domain it serves the
training-free baseline: a network never shown a room should not be the default answer in one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clickenhance_model.model_config import DOMAINS


def facts_path(checkpoint: Path) -> Path:
    """The facts file of a checkpoint: the same name with `.json`."""
    return Path(checkpoint).with_suffix(".json")


def read_trained_domains(checkpoint: Path) -> tuple[str, ...]:
    """Domains the checkpoint was trained on, from its facts file; every domain when there is none or it is unreadable.

    Without facts nothing is known, so nothing is taken away: the model serves every domain as before.
    """
    try:
        facts = json.loads(facts_path(checkpoint).read_text())
        domains = tuple(domain for domain in DOMAINS if domain in facts["trained_domains"])
    except (OSError, ValueError, KeyError, TypeError):
        return DOMAINS
    return domains or DOMAINS


def write_facts(checkpoint: Path, train_config: dict[str, Any]) -> Path:
    """Write the facts file of `checkpoint` from its training config (the plain dict stored in it)."""
    from clickenhance_model.training.config import train_config_from_dict, trained_domains

    path = facts_path(checkpoint)
    facts = {"trained_domains": list(trained_domains(train_config_from_dict(train_config)))}
    path.write_text(json.dumps(facts, indent=2) + "\n")
    return path
