"""The Core read path (tracker.store.queries) against the models it mirrors, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import TableClause

from tracker.cli import main
from tracker.store import queries
from tracker.store.db import close_stores, open_engine, open_store, reading, unit_of_work
from tracker.store.models import Base
from tracker.store.tables import TABLES, Reader

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Two Amazon S3 launches at an event with a session (a recap) and four others (a What's New feed).
DOCUMENTS = (FIXTURES / "link" / "recap-reinvent-2031-storage.md", FIXTURES / "extract" / "whats-new-feed.xml")


@pytest.mark.parametrize("light", TABLES, ids=lambda t: t.name)
def test_every_column_read_is_a_column_of_the_models_with_its_type(light: TableClause) -> None:
    model = Base.metadata.tables[light.name]
    for col in light.c:
        assert col.name in model.c, f"{light.name}.{col.name} is not in tracker.store.models"
        # The value conversions (aware UTC datetimes, JSON) must be the models' own.
        assert isinstance(model.c[col.name].type, type(col.type)), (light.name, col.name, model.c[col.name].type)


@pytest.fixture
def stored(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database holding the two fixture documents, imported by the CLI as a user would."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "tracker.toml").write_text(
        f'database_url = "{database_url}"\noutput_dir = "{tmp_path / "feeds"}"\narchive_dir = "{tmp_path / "archive"}"\n'
    )
    assert main(["--config", str(config), "--quiet", "import", *map(str, DOCUMENTS)]) == 0
    close_stores()
    try:
        yield database_url
    finally:
        close_stores()


def _reads(reader: Reader) -> dict[str, object]:
    return {
        "all": queries.query_announcements(reader),
        "s3": queries.query_announcements(reader, service="S3"),
        "search": queries.query_announcements(reader, search="tape"),
        "event": queries.query_announcements(reader, event="reinvent 2031", order="asc"),
        "one": queries.get_announcement(reader, 1),
        "services": queries.list_services(reader),
        "events": queries.list_events(reader),
        "sessions": queries.list_sessions(reader),
        "unmatched": queries.announcements_without_services(reader),
        "months": queries.announcements_per_month(reader),
        "sources": queries.list_source_states(reader),
        "runs": queries.last_runs(reader),
    }


def test_a_core_connection_and_an_orm_session_read_the_same(stored: str) -> None:
    with reading(open_engine(stored)) as connection:
        core = _reads(connection)
    with unit_of_work(open_store(stored)) as session:
        orm = _reads(session)
    assert core == orm
    s3 = core["s3"]
    assert isinstance(s3, list) and {r.title for r in s3} == {"Amazon S3 Tape Mode", "Amazon S3 Quantum Buckets"}
    everything = core["all"]
    assert isinstance(everything, list) and len(everything) == 6
    # Read through UTCDateTime: aware UTC datetimes, as the ORM gave.
    assert all(r.announced_at is None or r.announced_at.utcoffset() is not None for r in everything)
    assert core["sessions"] and core["runs"] and core["sources"]
