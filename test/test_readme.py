"""Every Python snippet of the README runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_readme_has_python_snippets() -> None:
    assert SNIPPETS, "the README shows the Python API; its snippets must be found"


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(snippet: str, capsys) -> None:
    exec(compile(snippet, str(README), "exec"), {"__name__": "readme"})  # noqa: S102
    printed = capsys.readouterr().out
    assert "points selected" in printed and "refused:" in printed
