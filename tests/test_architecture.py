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


# Inside store/ and pipeline/: module -> the sibling modules it may import (docs/architecture.md).
# The read path (queries and what it reads with) never reaches the ORM, so the query commands start
# fast (tests/test_startup.py checks it at run time); each write domain stands alone on the shared
# helpers; the pipeline's parts depend on its context, and only its runs on the other parts.
_READ_PATH = {"names", "prepared", "search", "tables", "types"}
_WRITES = {"_common", "changes", "ids", "models", "queries", "types"}
SIBLINGS: dict[str, set[str]] = {
    "store/types.py": set(),
    "store/tables.py": {"types"},
    "store/search.py": {"prepared", "tables"},
    "store/prepared.py": {"tables"},
    "store/names.py": {"prepared", "tables"},
    "store/queries.py": _READ_PATH,
    "store/changes.py": {"models"},
    "store/_common.py": {"models", "changes"},
    "store/ids.py": {"_common", "changes", "models", "queries"},
    "store/sources.py": _WRITES,
    "store/documents.py": _WRITES,
    "store/announcements.py": _WRITES,
    "store/sessions.py": _WRITES,
    "store/runs.py": _WRITES,
    "store/published.py": _WRITES,
    "pipeline/context.py": set(),
    "pipeline/ingest.py": {"context"},
    "pipeline/links.py": {"context"},
    "pipeline/folder.py": {"context"},
    "pipeline/pages.py": {"context", "folder"},
    "pipeline/runs.py": {"context", "ingest", "links", "pages"},
}
# Modules that must not import the ORM: the query path.
NO_ORM = {
    "store/types.py",
    "store/tables.py",
    "store/search.py",
    "store/names.py",
    "store/prepared.py",
    "store/queries.py",
}


def _imports(path: Path) -> set[str]:
    """Every module a file imports at run time (not those under `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_every_module_of_store_and_pipeline_has_a_row() -> None:
    modules = {
        str(p.relative_to(PACKAGE))
        for part in ("store", "pipeline")
        for p in (PACKAGE / part).glob("*.py")
        if p.name != "__init__.py"
    }
    # db, models and archive are the store's foundation: the import-rule rows cover the rest.
    assert modules - {"store/db.py", "store/models.py", "store/archive.py"} == set(SIBLINGS)


@pytest.mark.parametrize("module", sorted(SIBLINGS))
def test_modules_inside_store_and_pipeline_import_only_their_siblings(module: str) -> None:
    part = module.split("/")[0]
    prefix = f"tracker.{part}."
    siblings = {
        name.removeprefix(prefix).split(".")[0] for name in _imports(PACKAGE / module) if name.startswith(prefix)
    }
    assert siblings - SIBLINGS[module] - {Path(module).stem} == set()


@pytest.mark.parametrize("module", sorted(NO_ORM))
def test_the_query_path_never_imports_the_orm(module: str) -> None:
    wrong = {n for n in _imports(PACKAGE / module) if n.startswith("sqlalchemy.orm") or n == "tracker.store.models"}
    assert not wrong
