"""Engine, migrations and unit of work on SQLite and PostgreSQL."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Engine, Integer, MetaData, bindparam, event, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from tracker.errors import StoreError
from tracker.store.db import (
    alembic_config,
    close_stores,
    current_revision,
    ensure_schema,
    head_revision,
    make_engine,
    mask_url,
    normalize_url,
    open_store,
    unit_of_work,
    upgrade,
)
from tracker.store.models import AnnouncementServiceRow, Base, RunRow, SourceRow, UTCDateTime
from tracker.store.search import include_name

TABLES = {
    "sources",
    "documents",
    "services",
    "service_aliases",
    "events",
    "announcements",
    "announcement_services",
    "mentions",
    "sessions",
    "announcement_sessions",
    "runs",
}


@pytest.fixture
def engine(empty_database_url: str) -> Iterator[Engine]:
    """An engine on a database with no schema yet (these tests migrate it)."""
    made = make_engine(empty_database_url)
    yield made
    made.dispose()


def _diff(engine: Engine, metadata: MetaData) -> list[object]:
    with engine.connect() as conn, warnings.catch_warnings():
        # The full-text index and the lower() indexes of the name lookups (migrations 0002, 0010)
        # are not models: include_name leaves them out, and SQLite's reflection skips the latter.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": False, "include_name": include_name}
        )
        return list(compare_metadata(ctx, metadata))


def test_migrations_apply_on_an_empty_database_and_reapply_as_a_no_op(engine: Engine) -> None:
    assert not set(inspect(engine).get_table_names()) & TABLES
    upgrade(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision() is not None

    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    upgrade(engine)
    writes = [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP", "INSERT", "UPDATE"))]
    assert writes == []


def test_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    from alembic import command

    upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
    assert not set(inspect(engine).get_table_names()) & TABLES
    upgrade(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    assert _diff(engine, Base.metadata) == []


def test_models_and_migrated_schema_agree(engine: Engine) -> None:
    upgrade(engine)
    assert _diff(engine, Base.metadata) == []


def test_schema_comparison_would_notice_a_difference(engine: Engine) -> None:
    # Guards the test above: a model change without a migration must show up.
    upgrade(engine)
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["runs"].append_column(Column("extra", Integer, nullable=True))
    diff = _diff(engine, changed)
    assert any("extra" in repr(d) for d in diff)


def test_open_store_upgrades_only_when_behind(empty_database_url: str) -> None:
    factory = open_store(empty_database_url)
    bind = factory.kw["bind"]
    assert isinstance(bind, Engine)
    with bind.connect() as conn:
        assert current_revision(conn) == head_revision()
    statements: list[str] = []
    event.listen(bind, "before_cursor_execute", lambda *a: statements.append(a[2]))
    ensure_schema(bind)
    assert statements and not any(s.lstrip().upper().startswith(("CREATE", "INSERT", "UPDATE")) for s in statements)
    close_stores()


def test_open_store_reuses_one_factory_per_url(database_url: str) -> None:
    first = open_store(database_url)
    assert open_store(database_url) is first
    close_stores()
    second = open_store(database_url)
    assert second is not first
    with unit_of_work(second) as session:
        assert session.scalars(select(RunRow)).all() == []
    close_stores()


def test_a_schema_newer_than_the_code_is_refused(database_url: str) -> None:
    open_store(database_url)
    close_stores()
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer version"):
        open_store(database_url)


def test_unit_of_work_commits_on_success_and_rolls_back_on_error(database_url: str) -> None:
    factory = open_store(database_url)
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with unit_of_work(factory) as session:
        session.add(RunRow(started_at=now, status="ok", counts={}, outcomes={}))
    with pytest.raises(RuntimeError):
        with unit_of_work(factory) as session:
            session.add(RunRow(started_at=now, status="lost", counts={}, outcomes={}))
            session.flush()
            raise RuntimeError("boom")
    with unit_of_work(factory) as session:
        assert session.scalars(select(RunRow.status)).all() == ["ok"]
    close_stores()


def test_a_refused_write_is_a_store_error_and_rolled_back(database_url: str) -> None:
    factory = open_store(database_url)
    with unit_of_work(factory) as session:
        session.add(SourceRow(name="dup", kind="feed", url="https://example.com/a"))
    with pytest.raises(StoreError) as exc:
        with unit_of_work(factory) as session:
            session.add(SourceRow(name="other", kind="feed", url="https://example.com/b"))
            session.flush()
            session.add(SourceRow(name="dup", kind="feed", url="https://example.com/c"))
    assert "database transaction failed" in str(exc.value)
    with unit_of_work(factory) as session:
        assert session.scalars(select(SourceRow.name)).all() == ["dup"]
    close_stores()


def test_session_factory_does_not_expire_on_commit(database_url: str) -> None:
    factory = open_store(database_url)
    with unit_of_work(factory) as session:
        row = RunRow(started_at=datetime(2030, 1, 1, tzinfo=UTC), status="ok", counts={"a": 1}, outcomes={})
        session.add(row)
    # Readable after the session closed: no lazy reload needed.
    assert row.status == "ok" and row.counts == {"a": 1}
    close_stores()


@pytest.mark.parametrize("offset", [UTC, timezone(timedelta(hours=-8)), timezone(timedelta(hours=5, minutes=30))])
def test_aware_datetimes_read_back_as_utc(database_url: str, offset: timezone) -> None:
    factory = open_store(database_url)
    moment = datetime(2030, 11, 28, 9, 30, 15, 123456, tzinfo=offset)
    with unit_of_work(factory) as session:
        session.add(RunRow(started_at=moment, status="ok", counts={}, outcomes={}))
    with unit_of_work(factory) as session:
        stored = session.scalars(select(RunRow.started_at)).one()
        # Compared through SQL too: the bound value is converted the same way.
        assert session.scalars(select(RunRow.id).where(RunRow.started_at == moment)).one()
        assert session.scalars(select(RunRow.id).where(RunRow.started_at > moment)).all() == []
    assert stored == moment
    assert stored.utcoffset() == timedelta(0)
    assert stored.tzinfo is not None
    close_stores()


def test_sqlite_engine_settings(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "deeper" / "tracker.db"
    engine = make_engine(f"sqlite:///{target}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    assert target.parent.is_dir()
    engine.dispose()


def test_a_unit_of_work_that_reads_then_writes_survives_another_process_writing(tmp_path: Path) -> None:
    import sqlite3

    target = tmp_path / "tracker.db"
    factory = open_store(f"sqlite:///{target}")
    with unit_of_work(factory) as session:
        session.add(RunRow(started_at=datetime(2030, 1, 1, tzinfo=UTC), status="running", counts={}, outcomes={}))
    other = sqlite3.connect(target, timeout=0.2, isolation_level=None)  # as another process would
    with unit_of_work(factory) as session:
        row = session.scalars(select(RunRow)).one()  # read first
        # The unit of work holds the write lock already: the other writer waits (here: gives up)
        # instead of committing between this read and the write below, which would make SQLite
        # refuse that write at once ("database is locked", no busy wait).
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("UPDATE runs SET status = 'other'")
        row.status = "ok"
    other.execute("UPDATE runs SET error = 'after'")  # free again once the unit of work ended
    with unit_of_work(factory, write=False) as session:
        assert session.execute(select(RunRow.status, RunRow.error)).one() == ("ok", "after")
        # A unit of work that only reads takes no write lock: the other writer goes on.
        other.execute("UPDATE runs SET error = 'while reading'")
    other.close()
    close_stores()


def test_sqlite_foreign_keys_are_enforced(sqlite_url: str) -> None:
    factory = open_store(sqlite_url)
    with pytest.raises(StoreError):
        with unit_of_work(factory) as session:
            session.execute(text("INSERT INTO service_aliases (service_id, alias) VALUES (4242, 'ghost')"))
    close_stores()


def test_in_memory_sqlite_works(tmp_path: Path) -> None:
    factory = open_store("sqlite://")
    with unit_of_work(factory) as session:
        session.add(RunRow(started_at=datetime(2030, 1, 1, tzinfo=UTC), status="ok", counts={}, outcomes={}))
    with unit_of_work(factory) as session:
        assert session.scalars(select(RunRow.status)).all() == ["ok"]


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgres://u:pw@db.example:5432/tracker", "postgresql+psycopg"),
        ("postgresql://u:pw@db.example/tracker", "postgresql+psycopg"),
        ("postgresql+psycopg://u:pw@db.example/tracker", "postgresql+psycopg"),
        ("sqlite:///tracker.db", "sqlite"),
    ],
)
def test_database_urls_are_normalised_to_psycopg(given: str, driver: str) -> None:
    url = normalize_url(given)
    assert url.drivername == driver
    assert "pw" not in mask_url(given)


def test_unreachable_postgres_is_a_store_error_with_the_password_masked() -> None:
    secret = "s3cr3t-Pa55"
    with pytest.raises(StoreError) as exc:
        open_store(f"postgresql://tracker:{secret}@127.0.0.1:1/tracker")
    message = str(exc.value)
    assert secret not in message and secret not in repr(exc.value.args)
    assert "tracker:***@127.0.0.1:1/tracker" in message
    assert "check" in message and "server is running" in message
    assert exc.value.url is not None and secret not in exc.value.url


def test_unusable_sqlite_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError) as exc:
        open_store(f"sqlite:///{blocker / 'sub' / 'tracker.db'}")
    assert "a-file" in str(exc.value) and "writable" in str(exc.value)


def test_store_error_is_raised_for_a_malformed_url() -> None:
    with pytest.raises(StoreError):
        open_store("not a url at all")


def test_factory_type(database_url: str) -> None:
    factory = open_store(database_url)
    assert isinstance(factory, sessionmaker)
    with unit_of_work(factory) as session:
        assert isinstance(session, Session)
        assert session.in_transaction()
    close_stores()


def test_sort_keys_migration_fills_existing_links(engine: Engine) -> None:
    # 0004 adds announcement_services.sort_at to a database that already holds links: each
    # takes its announcement's date, or UNDATED when it has none.
    from alembic import command

    from tracker.store.models import UNDATED

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003_robots")
    dated = datetime(2024, 11, 30, 9, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO services (id, slug, name) VALUES (1, 's3', 'Amazon S3')"))
        for ann_id, at in ((1, dated), (2, None)):
            conn.execute(
                text(
                    "INSERT INTO announcements (id, key, title, summary, announced_at, created_at, updated_at, content_hash)"
                    " VALUES (:id, :key, 't', '', :at, :now, :now, 'h')"
                ).bindparams(bindparam("at", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime())),
                {"id": ann_id, "key": f"k{ann_id}", "at": at, "now": dated},
            )
            conn.execute(
                text("INSERT INTO announcement_services (announcement_id, service_id) VALUES (:a, 1)"), {"a": ann_id}
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            select(AnnouncementServiceRow.announcement_id, AnnouncementServiceRow.sort_at).order_by(
                AnnouncementServiceRow.announcement_id
            )
        ).all()
    assert [tuple(r) for r in rows] == [(1, dated), (2, UNDATED)]
    assert _diff(engine, Base.metadata) == []


def test_postgresql_connections_do_not_compile_queries(postgres_url: str) -> None:
    # JIT compilation of a full-text statement whose later parts never run cost 130 ms for 2 ms of work.
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW jit")).scalar() == "off"
    finally:
        engine.dispose()
