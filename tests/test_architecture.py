"""The import rules of docs/architecture.md: each part of `tracker` imports only what its row allows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tracker"

# Part -> the parts of tracker it may import (docs/architecture.md, "Stages and what they may import").
ALLOWED: dict[str, set[str]] = {
    "items": set(),
    "errors": set(),
    "redact": set(),
    "media": set(),
    "meaning": set(),
    "textutil": {"redact"},
    "config": {"errors", "redact"},
    "sources": {"textutil", "config", "errors", "items", "redact"},
    "extract": {"textutil", "config", "errors", "items", "normalize"},
    "normalize": {"textutil", "config", "errors", "items", "meaning", "redact"},
    "link": {"textutil", "items", "meaning"},
    "store": {"textutil", "errors", "items", "normalize", "redact"},
    "publish": {"textutil", "config", "errors", "items", "media", "normalize", "redact"},
    "parallel": {"errors", "extract", "items", "store"},
    "lock": {"errors", "store"},
    "schedule": {"config", "errors", "lock", "redact", "store", "pipeline", "textutil"},
    "web": {"media", "textutil", "items", "store", "redact", "errors"},
    "console": {"redact"},
}
# The development tool that refits the candidate model reads documents the way the pipeline does.
EXCEPTIONS = {"extract/learn.py": {"pipeline"}}


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_parts(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and (node.module == "tracker" or node.module.startswith("tracker."))
        ):
            pieces = node.module.split(".")
            if len(pieces) > 1:
                found.add(pieces[1])
            else:  # from tracker import pipeline
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("tracker."))
    return found


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_part_imports_only_what_it_may(part: str) -> None:
    files = [p for p in PACKAGE.rglob("*.py") if _part(p) == part]
    assert files, f"no module for {part}"
    wrong = {
        str(p.relative_to(PACKAGE)): sorted(
            name
            for name in _imported_parts(p) - ALLOWED[part] - {part} - EXCEPTIONS.get(str(p.relative_to(PACKAGE)), set())
            if not name.startswith("__")  # the package's own metadata (__version__)
        )
        for p in files
    }
    assert not {k: v for k, v in wrong.items() if v}
