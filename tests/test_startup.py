"""A fast start (issue 15): `--help` and queries import only what they use; Alembic only to migrate;
the queries read with SQLAlchemy Core, without the ORM (tracker.store.queries).

Each command runs in a fresh interpreter (a subprocess), the only place where "what was
imported" means anything; the figures themselves are in tests/benchmarks/startup.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event, inspect, text

from tracker.cli import main
from tracker.store.db import (
    _alembic_revisions,
    alembic_config,
    close_stores,
    current_revision,
    ensure_schema,
    head_revision,
    make_engine,
    open_store,
    read_revisions,
    shipped_revisions,
)

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
# Two Amazon S3 launches (a recap) and four others (a What's New feed).
DOCUMENTS = (FIXTURES / "link" / "recap-reinvent-2031-storage.md", FIXTURES / "extract" / "whats-new-feed.xml")

# Runs cli.main in a fresh interpreter, then prints which of the watched modules it imported.
PROBE = """
import contextlib, io, json, sys
from tracker.cli import main
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
dialects = sorted({m.split(".")[2] for m in sys.modules if m.startswith("sqlalchemy.dialects.") and not m.split(".")[2].startswith("_")})
print(json.dumps({"code": code, "out": out.getvalue(), "alembic": "alembic" in sys.modules,
                  "sqlalchemy": "sqlalchemy" in sys.modules, "orm": "sqlalchemy.orm" in sys.modules,
                  "models": "tracker.store.models" in sys.modules, "rich": "rich" in sys.modules, "dialects": dialects}))
"""


def _probe(*argv: str, cwd: Path) -> dict[str, object]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=cwd, env=env, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _config(tmp_path: Path, database_url: str) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    (config / "tracker.toml").write_text(
        f"database_url = {json.dumps(database_url)}\noutput_dir = {json.dumps(str(tmp_path / 'feeds'))}\n"
        f"archive_dir = {json.dumps(str(tmp_path / 'archive'))}\n"
    )
    return config


def test_help_imports_neither_the_database_layer_nor_alembic(tmp_path: Path) -> None:
    seen = _probe("--help", cwd=tmp_path)
    assert seen["code"] == 0 and "announcements" in str(seen["out"])
    assert seen["alembic"] is False
    assert seen["sqlalchemy"] is False
    assert seen["rich"] is False  # drawn tables and progress bars load it, nothing else does


def test_a_query_imports_no_alembic_and_only_its_own_dialect(database_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, database_url)
    assert main(["--config", str(config), "--quiet", "import", *map(str, DOCUMENTS)]) == 0
    close_stores()
    seen = _probe("--config", str(config), "announcements", "--service", "S3", cwd=tmp_path)
    assert seen["code"] == 0
    assert "Amazon S3 Tape Mode" in str(seen["out"]) and "Amazon S3 Quantum Buckets" in str(seen["out"])
    assert seen["alembic"] is False
    assert seen["rich"] is False  # the table went to a pipe: plain text, no rich
    assert seen["dialects"] == [database_url.split(":")[0].split("+")[0]]
    # Core reads: the ORM and the declarative models were a third of a query's start.
    assert seen["orm"] is False and seen["models"] is False


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("show", "1"), "Amazon S3"),
        (("services",), "amazon-s3"),
        (("services", "--unmatched", "--format", "json"), "["),
        (("sessions", "--format", "csv"), "code,kind,title"),
        (("status",), "import:"),
        (("announcements", "--event", "reinvent 2031", "--search", "tape", "--format", "json"), "Tape Mode"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else None,
)
def test_every_query_command_reads_without_the_orm(
    database_url: str, tmp_path: Path, argv: tuple[str, ...], expected: str
) -> None:
    config = _config(tmp_path, database_url)
    assert main(["--config", str(config), "--quiet", "import", *map(str, DOCUMENTS)]) == 0
    close_stores()
    seen = _probe("--config", str(config), *argv, cwd=tmp_path)
    assert seen["code"] == 0 and expected in str(seen["out"])
    assert seen["orm"] is False and seen["models"] is False and seen["alembic"] is False


def test_a_database_at_an_older_revision_is_migrated_on_first_use(empty_database_url: str, tmp_path: Path) -> None:
    from alembic import command

    engine = make_engine(empty_database_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003_robots")
    with engine.connect() as conn:
        assert current_revision(conn) == "0003_robots" != head_revision()
    engine.dispose()
    seen = _probe("--config", str(_config(tmp_path, empty_database_url)), "announcements", cwd=tmp_path)
    assert seen["code"] == 0
    assert seen["alembic"] is True  # loaded because there was a migration to run
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
        assert "runs" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_the_revision_of_a_new_database_is_none_and_the_connection_stays_usable(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) is None
            # PostgreSQL aborts a transaction on a failed query: it was rolled back, not left broken.
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_the_schema_check_of_an_up_to_date_database_is_one_query(database_url: str) -> None:
    open_store(database_url)
    close_stores()
    engine = make_engine(database_url)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        ensure_schema(engine)
    finally:
        engine.dispose()
    assert [s for s in statements if "alembic" in s] == ["SELECT version_num FROM alembic_version"]
    assert not any(s.lstrip().upper().startswith(("CREATE", "ALTER", "INSERT", "UPDATE")) for s in statements)


def test_the_shipped_head_is_the_one_alembic_reads() -> None:
    assert shipped_revisions() == _alembic_revisions()
    assert read_revisions(REPO / "tracker" / "store" / "migrations" / "versions") == _alembic_revisions()


def _migration(folder: Path, name: str, revision: str, down: str) -> None:
    (folder / f"{name}.py").write_text(
        f'"""{name}"""\nfrom __future__ import annotations\n\nrevision: str = "{revision}"\n'
        f"down_revision: str | None = {down}\nbranch_labels = None\ndepends_on = None\n"
    )


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ([("a", "r1", "None"), ("b", "r2", '"r1"')], ("r2", frozenset({"r1", "r2"}))),
        ([("a", "r1", "None"), ("b", "r2", '"r1"'), ("c", "r3", '"r1"')], None),  # two heads
        ([("a", "r1", "None"), ("b", "r2", '"r1"'), ("m", "r3", '("r1", "r2")')], None),  # a merge
        ([("a", "r1", "None"), ("b", "r2", '"gone"')], None),  # a parent that is not there
        ([("a", "r1", "None"), ("b", "r1", "None")], None),  # one id twice
    ],
)
def test_a_history_the_simple_reading_cannot_follow_is_left_to_alembic(
    tmp_path: Path, files: list[tuple[str, str, str]], expected: tuple[str, frozenset[str]] | None
) -> None:
    for name, revision, down in files:
        _migration(tmp_path, name, revision, down)
    assert read_revisions(tmp_path) == expected


def test_a_database_recording_two_revisions_is_refused_with_a_message(database_url: str) -> None:
    from tracker.errors import StoreError

    open_store(database_url)
    close_stores()
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0003_robots')"))
    engine.dispose()
    with pytest.raises(StoreError, match="2 schema revisions"):
        open_store(database_url)
