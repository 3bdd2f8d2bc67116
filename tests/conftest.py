"""Shared fixtures: the two databases, the real corpus and a loopback HTTP server; test lanes.

Two lanes. `pytest` alone runs the developer's lane: every test on SQLite that takes no more
than a few seconds (about three minutes in all). `pytest --runslow` runs the full suite: the
PostgreSQL variants (marked `postgres`), end-to-end subprocesses, crash and attack campaigns,
corpus ingests and evaluations (marked `slow`). CI=true runs the full suite.

On CI (CI=true) a missing PostgreSQL or ../shared/corpus is a failure; on a user's
fresh clone those tests skip with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
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
_POSTGRES_FIXTURES = frozenset({"postgres_url", "postgres_server"})


def pytest_addoption(parser: pytest.Parser) -> None:
    """--runslow: the full suite (what CI runs)."""
    parser.addoption(
        "--runslow",
        action="store_true",
        default=False,
        help="run the full suite: slow tests and the PostgreSQL variants (CI=true implies it)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the PostgreSQL variants and the slow modules; the developer's lane skips both."""
    full = bool(config.getoption("--runslow")) or ON_CI
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


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"tracker_test_{uuid.uuid4().hex[:12]}"
    admin = _postgres_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'tracker.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
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
