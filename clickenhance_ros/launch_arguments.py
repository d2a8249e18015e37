"""Launch arguments as operators type them: yes/no flags and ROS names, checked with clear errors.

`launch` compares `choices` as exact strings, so `use_sim_time:=True` used to be refused;
these functions accept what people type and name the argument when a value is wrong. They
are plain Python (no `launch` import), so they are tested where launch is not installed.
"""

from __future__ import annotations

import re

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_flag(value: str, name: str) -> bool:
    """True/False from a launch argument: true/false, 1/0, yes/no, on/off in any letter case."""
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"launch argument '{name}' must be true or false (also 1/0, yes/no, on/off, any case), "
                     f"got {value!r}")


def _check_tokens(name: str, what: str) -> None:
    """Raise ValueError unless every '/'-separated part of `name` is a valid ROS name token."""
    tokens = name.strip("/").split("/")
    for token in tokens:
        if not _TOKEN.fullmatch(token) or "__" in token:
            raise ValueError(f"{what} {name!r} is not a valid ROS name: each part between '/' must start "
                             f"with a letter or '_' and hold only letters, digits and single '_' "
                             f"(bad part {token!r})")


def resolve_namespace(namespace: str) -> str:
    """Absolute namespace without a trailing '/': '' and '/' give '', 'robot' gives '/robot'."""
    text = str(namespace).strip()
    if text in ("", "/"):
        return ""
    _check_tokens(text, "namespace")
    return "/" + text.strip("/")


def resolve_name(name: str, namespace: str, node_name: str) -> str:
    """Absolute topic name of `name` for a node `node_name` in `namespace`, as rcl expands it.

    '/x' stays, '~/x' (or '~') goes under the node ('/ns/node/x'), and a relative 'x' under
    the namespace ('/ns/x').
    """
    text = str(name).strip()
    base = resolve_namespace(namespace)
    if text == "~" or text.startswith("~/"):
        resolved = f"{base}/{node_name}" + text[1:]
    elif text.startswith("/"):
        resolved = text
    else:
        resolved = f"{base}/{text}"
    if not text or resolved.endswith("/"):
        raise ValueError(f"topic name {name!r} is empty or ends with '/'")
    _check_tokens(resolved, "topic name")
    return resolved
