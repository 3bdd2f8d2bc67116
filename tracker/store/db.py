"""Engine and session factory, Alembic migrations and the unit of work.

SQLite and PostgreSQL (psycopg 3) behave the same from here on: foreign keys are
enforced, datetimes come back aware UTC and DDL runs inside transactions.
"""

from __future__ import annotations

import errno
import functools
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from tracker.errors import StoreError

if TYPE_CHECKING:
    # Imported where a session factory is made: the queries of the CLI read with Core only
    # (tracker.store.queries), and importing the ORM would be a third of their start (issue 15).
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_ENGINES: dict[str, Engine] = {}  # schema checked, one per URL
_STORES: dict[str, sessionmaker[Session]] = {}
_STORES_LOCK = threading.Lock()
# The PostgreSQL advisory lock key serializing schema changes (a fixed bigint, "tracker:schema").
SCHEMA_LOCK_KEY = 0x7472_6B73_6368_656D
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connections a pool keeps open between uses: at least the request threads of `tracker serve`
# (tracker.web.server.THREADS), each holding one at a time. With SQLAlchemy's default of 5,
# three of its eight threads opened a connection (and set up SQLite's pragmas) per request
# under load and closed it after. A process that reads with one thread still opens one.
POOL_SIZE = 8
POSTGRES_CONNECT_TIMEOUT_S = 10


# --------------------------------------------------------------------------- URLs and errors


def normalize_url(url: str) -> URL:
    """Parse a database URL; plain `postgres://` and `postgresql://` get the psycopg 3 driver."""
    text = url.strip()
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://") :]
    try:
        parsed = make_url(text)
    except ArgumentError as exc:
        raise StoreError(
            f"not a database URL: {exc}; use sqlite:///path/to/tracker.db or "
            "postgresql+psycopg://user:password@host:5432/dbname",
            url=text.split("@")[-1],
        ) from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ***."""
    try:
        parsed = url if isinstance(url, URL) else normalize_url(url)
    except StoreError:
        return "<unparseable database URL>"
    return parsed.render_as_string(hide_password=True)


class DiskError(StoreError):
    """The disk refused a write (full, read-only, over quota, not writable, a file in the way).

    Its own exit code, 74 (EX_IOERR), so that cron and systemd see it as the failure it is:
    nothing more can be stored or published until someone frees space or fixes the folder.
    """

    exit_code = 74


# SQLite's primary result codes that mean "the disk said no" (sqlite3.h).
_SQLITE_DISK_CODES = {8: "READONLY", 10: "IOERR", 13: "FULL", 14: "CANTOPEN"}
# PostgreSQL SQLSTATEs of the same kind: disk_full, insufficient_resources' out-of-space, io_error.
_POSTGRES_DISK_STATES = {"53100", "58030"}
_ERRNO_ADVICE = {
    errno.ENOSPC: "the disk is full: free space on it",
    errno.EDQUOT: "the disk quota is used up: free space or raise the quota",
    errno.EFBIG: "the file is over the size limit (ulimit -f) or the disk is full",
    errno.EROFS: "the file system is read-only: remount it read-write",
    errno.EACCES: "no permission to write there: give the user running tracker write access",
    errno.EPERM: "the operation is not permitted there: give the user running tracker write access",
    errno.ENOTDIR: "a file is in the way where a folder is needed: move it",
    errno.EEXIST: "a file is in the way where a folder is needed: move it",
    errno.EISDIR: "a folder is in the way where a file is written: move it",
    errno.EIO: "the disk reported an I/O error: check it (dmesg)",
}


def disk_error(exc: OSError, path: Path | str | None, doing: str, setting: str) -> DiskError:
    """A `DiskError` naming the path, the cause and the setting that moves it elsewhere."""
    where = exc.filename or path
    advice = _ERRNO_ADVICE.get(exc.errno or 0, "check that the folder exists and is writable")
    reason = exc.strerror or exc.__class__.__name__
    return DiskError(f"{doing} failed at {where}: {reason}; {advice}, or set {setting} to a writable folder")


def is_disk_failure(exc: BaseException) -> bool:
    """Whether a database error means the disk refused (SQLite full/read-only/I-O, PostgreSQL disk full)."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _SQLITE_DISK_CODES:
        return True
    return getattr(orig, "sqlstate", None) in _POSTGRES_DISK_STATES


def _advice(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return "check that the folder of the database file exists and is writable and that no other program holds a lock on it"
    return (
        "check that the server is running and reachable at that host and port, that the user name, "
        "password and database name are right, and the database_url setting (TRACKER_DATABASE_URL)"
    )


def store_error(exc: BaseException, url: URL | str, doing: str) -> StoreError:
    """A `StoreError` naming the database (password masked) and what to check."""
    try:
        parsed = url if isinstance(url, URL) else normalize_url(url)
    except StoreError:
        return StoreError(f"{doing} failed: {exc}", url=mask_url(str(url)))
    masked = mask_url(parsed)
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    detail = reason[0] if reason else exc.__class__.__name__
    if parsed.password:
        # Drivers sometimes echo the connection string back: never let the password out.
        detail = detail.replace(str(parsed.password), "***")
    if is_disk_failure(exc):
        where = parsed.database if parsed.get_backend_name() == "sqlite" else "the database server's disk"
        return DiskError(
            f"{doing} failed: {detail}: the disk of the database ({where}) is full, read-only or not writable; "
            "free space on it or make it writable, or set database_url to another database",
            url=masked,
        )
    return StoreError(f"{doing} failed: {detail}; {_advice(parsed)}", url=masked)


# --------------------------------------------------------------------------- engine


# A unit of work on SQLite takes the write lock when it begins (BEGIN IMMEDIATE, waiting up to
# the busy timeout). A deferred transaction that reads and then writes fails at once with
# "database is locked" (SQLITE_BUSY_SNAPSHOT, no busy wait) when another process committed in
# between; two schedulers on one file (their job stores write every tick) lost a run's end so.
_WRITE_OPTION = "tracker_sqlite_write"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling skips BEGIN before DDL; take it over so that
        # migrations and SAVEPOINTs are transactional (the recipe in SQLAlchemy's docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if engine.url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode=WAL")
                # In WAL mode NORMAL never corrupts the database and survives a killed process;
                # only a power cut or an OS crash may lose the last commits (the next run fetches
                # those documents again). FULL syncs the disk at every commit: 2-7 ms each here,
                # three commits per imported file, more than storing its rows costs.
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # On the driver's connection: the same statement without SQLAlchemy's execution around
        # it, which cost more than the rest of opening a read transaction (every API request
        # opens one); a failure is SQLAlchemy's DBAPIError, as from any statement.
        statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE_OPTION) else "BEGIN"
        try:
            conn.connection.driver_connection.execute(statement)  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            raise DBAPIError.instance(statement, (), exc, sqlite3.Error) from exc


def make_engine(url: str) -> Engine:
    """An engine for a SQLite or PostgreSQL URL, configured for the tracker."""
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = {"future": True}
    if backend == "sqlite":
        database = parsed.database
        if database in (None, "", ":memory:"):
            # One shared connection, else every connection would see its own empty database.
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            kwargs["pool_size"] = POOL_SIZE
            path = Path(database).expanduser()
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise store_error(exc, parsed, "creating the database folder") from exc
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    elif backend == "postgresql":
        connect_args: dict[str, Any] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
        if "options" not in parsed.query:
            # No JIT compilation: the store's queries are small, and a plan whose estimate passes
            # jit_above_cost (a full-text statement whose later windows are never run) spent
            # 130 ms compiling to run for 2 ms. A URL's own `options` are left as they are.
            connect_args["options"] = "-c jit=off"
        kwargs.update(pool_pre_ping=True, pool_size=POOL_SIZE, connect_args=connect_args)
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as exc:
        raise store_error(exc, parsed, "creating the database engine") from exc
    if backend == "sqlite":
        _sqlite_setup(engine)
    return engine


# --------------------------------------------------------------------------- migrations


def alembic_config(connection: Connection | None = None) -> Any:
    """An Alembic `Config` built in code, on the given connection when there is one."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


# `revision: str = "0002_x"` / `down_revision = None` at the start of a line of a migration file.
_REVISION_LINE = re.compile(
    r"""^(?P<name>revision|down_revision)\s*(?::[^=\n]*)?=\s*(?:(?P<none>None)|(?P<q>["'])(?P<id>[^"'\n]+)(?P=q))\s*(?:#.*)?$""",
    re.MULTILINE,
)


@functools.lru_cache(maxsize=1)
def shipped_revisions() -> tuple[str | None, frozenset[str]]:
    """The newest migration shipped with the code and every revision id it knows.

    Read from the migration files' `revision` and `down_revision` lines, without importing
    Alembic (whose import, with every SQLAlchemy dialect it pulls in, costs more than a query's
    whole run); Alembic's own reading is the fallback for any history this simple reading cannot
    follow (a merge revision, a computed id, two heads), so the answer is never a guess.
    """
    return read_revisions(MIGRATIONS / "versions") or _alembic_revisions()


def read_revisions(versions: Path) -> tuple[str, frozenset[str]] | None:
    """(head, every revision) of a folder of migration files forming one line; None when it is not that simple."""
    parents: dict[str, str | None] = {}
    for path in sorted(versions.glob("*.py")):
        found: dict[str, str | None] = {}
        for match in _REVISION_LINE.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match["name"], None if match["none"] else match["id"])
        revision = found.get("revision")
        if revision is None or "down_revision" not in found or revision in parents:
            return None
        parents[revision] = found["down_revision"]
    heads = set(parents) - {parent for parent in parents.values() if parent is not None}
    if len(heads) != 1 or any(parent is not None and parent not in parents for parent in parents.values()):
        return None
    return heads.pop(), frozenset(parents)


def _alembic_revisions() -> tuple[str | None, frozenset[str]]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return script.get_current_head(), frozenset(rev.revision for rev in script.walk_revisions())


def head_revision() -> str | None:
    """The newest migration shipped with the code."""
    return shipped_revisions()[0]


def current_revision(connection: Connection) -> str | None:
    """The migration the database is at (None when it has no schema yet): one query when it has one.

    Call it on a connection of its own (`engine.connect()`): on a database without the version
    table the failed query is rolled back before the table is looked for.
    """
    try:
        rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except DBAPIError:
        # Most often a new database without the table. PostgreSQL has aborted the transaction
        # by now: roll it back, then tell "no table" from a real failure.
        connection.rollback()
        if inspect(connection).has_table("alembic_version"):
            raise
        return None
    if len(rows) > 1:
        raise StoreError(
            f"the database records {len(rows)} schema revisions ({', '.join(str(r[0]) for r in rows)}), "
            "a branched migration history tracker never makes; use another database",
            url=mask_url(connection.engine.url),
        )
    return str(rows[0][0]) if rows else None


def upgrade(engine: Engine) -> None:
    """Apply every pending Alembic migration (`upgrade head`) in one transaction."""
    from alembic import command

    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two processes starting on a new version at once (two schedulers) migrate one
                # after the other: the second reads the version after the first committed, at head.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            command.upgrade(alembic_config(connection), "head")
    except SQLAlchemyError as exc:
        raise store_error(exc, engine.url, "upgrading the database schema") from exc


@contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """On PostgreSQL, hold the lock migrations take (other processes creating tables wait); elsewhere nothing."""
    if normalize_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = make_engine(url)
    try:
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
    except SQLAlchemyError as exc:
        engine.dispose()
        raise store_error(exc, engine.url, "taking the schema lock") from exc
    try:
        yield
    finally:
        # Closing the session's connection releases its advisory locks as well.
        connection.close()
        engine.dispose()


def ensure_schema(engine: Engine) -> None:
    """Upgrade only when the schema is missing or behind; refuse a schema newer than the code.

    An up-to-date database costs one query and no Alembic import: Alembic is loaded only
    when there is a migration to run.
    """
    head, known = shipped_revisions()
    try:
        with engine.connect() as connection:
            current = current_revision(connection)
    except SQLAlchemyError as exc:
        raise store_error(exc, engine.url, "connecting to the database") from exc
    if current == head:
        return
    if current is not None and current not in known:
        raise StoreError(
            f"the database schema is at revision {current}, which this version of tracker does not know "
            "(it was migrated by a newer version); upgrade tracker or use another database",
            url=mask_url(engine.url),
        )
    log.info("upgrading the database schema from %s to %s", current or "empty", head)
    upgrade(engine)


def _engine_locked(key: str, url: str) -> Engine:
    cached = _ENGINES.get(key)
    if cached is not None:
        return cached
    engine = make_engine(url)
    try:
        ensure_schema(engine)
    except BaseException:
        engine.dispose()
        raise
    _ENGINES[key] = engine
    return engine


def open_engine(url: str) -> Engine:
    """The engine of a URL after the automatic migration on first use, without the ORM (see `reading`).

    Engines are kept per URL for the life of the process and shared with `open_store`.
    """
    key = normalize_url(url).render_as_string(hide_password=False)
    with _STORES_LOCK:
        return _engine_locked(key, url)


def open_store(url: str) -> sessionmaker[Session]:
    """Engine plus automatic migration on first use; returns the session factory.

    Factories are kept per URL for the life of the process, so a scheduler or a web
    server calling this repeatedly shares one connection pool and checks the schema once.
    """
    from sqlalchemy.orm import sessionmaker

    key = normalize_url(url).render_as_string(hide_password=False)
    with _STORES_LOCK:
        cached = _STORES.get(key)
        if cached is not None:
            return cached
        factory = sessionmaker(bind=_engine_locked(key, url), expire_on_commit=False)
        _STORES[key] = factory
        return factory


def close_stores() -> None:
    """Dispose every engine `open_store` and `open_engine` made and forget them (shutdown, tests)."""
    with _STORES_LOCK:
        engines = list(_ENGINES.values())
        _ENGINES.clear()
        _STORES.clear()
    for engine in engines:
        engine.dispose()


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """One Core connection in one transaction, for the read functions of `tracker.store.queries`.

    The same errors as `unit_of_work`: a database error becomes a `StoreError` naming the database.
    """
    try:
        with engine.begin() as connection:
            yield connection
    except DBAPIError as exc:
        raise store_error(exc, engine.url, "a database transaction") from exc


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, durable: bool = True, write: bool = True) -> Iterator[Session]:
    """One session, one transaction: commit on success, roll back on any error.

    Database errors (unreachable, locked, constraint refused) become a `StoreError`
    naming the database, so callers handle one error type.

    `durable=False` is for writes a later run redoes anyway (fetched documents and their
    sources' state): on PostgreSQL the commit then returns without waiting for the disk
    (synchronous_commit off, 0.2 ms instead of 3.5 ms here). A crash of the database server
    may lose the last fraction of a second of such commits, whole and in order; it never
    corrupts or half-applies one, and a killed tracker process loses nothing committed. SQLite
    files run with synchronous=NORMAL for every transaction (see `_sqlite_setup`).

    On a SQLite file the transaction holds the write lock from its start (BEGIN IMMEDIATE):
    one that reads, then writes, never fails because another process wrote in between.
    `write=False` is for a unit that only reads: it neither takes nor waits for that lock.
    """
    bind = factory.kw.get("bind")
    url = bind.url if isinstance(bind, Engine) else "unknown"
    session = factory()
    try:
        with session.begin():
            if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
                if not durable:
                    session.connection().exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            elif write and isinstance(bind, Engine) and bind.url.database not in (None, "", ":memory:"):
                session.connection(execution_options={_WRITE_OPTION: True})
            yield session
    except DBAPIError as exc:
        raise store_error(exc, url, "a database transaction") from exc
    finally:
        session.close()


# --------------------------------------------------------------------------- advisory locks (PostgreSQL)


def _advisory_parts(key: int) -> tuple[int, int]:
    """pg_locks shows a bigint advisory key as (classid, objid): its high and low 32 bits."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


def try_advisory_lock(url: str, key: int, *, label: str = "tracker") -> Connection | None:
    """Take a session-level advisory lock on a connection of its own; None when another session holds it.

    The lock lives as long as the returned connection: pass it to `release_advisory_lock`.
    A process that dies loses its connection, and PostgreSQL releases the lock with it.
    """
    engine = make_engine(url)
    try:
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except SQLAlchemyError as exc:
        engine.dispose()
        raise store_error(exc, engine.url, "connecting to the database for the run lock") from exc
    try:
        # The label shows in pg_stat_activity, so a waiting process can say who holds the lock.
        connection.exec_driver_sql("SELECT set_config('application_name', %s, false)", (label[:63],))
        got = bool(connection.exec_driver_sql("SELECT pg_try_advisory_lock(%s)", (key,)).scalar())
    except SQLAlchemyError as exc:
        connection.close()
        engine.dispose()
        raise store_error(exc, engine.url, "taking the run lock") from exc
    if got:
        return connection
    connection.close()
    engine.dispose()
    return None


def advisory_lock_holder(url: str, key: int) -> str | None:
    """Who holds the advisory lock: application name, client address and since when (None if nobody)."""
    classid, objid = _advisory_parts(key)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.exec_driver_sql(
                "SELECT a.pid, a.application_name, a.client_addr, a.backend_start "
                "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
                (classid, objid),
            ).first()
    except SQLAlchemyError:
        return None  # the holder is a courtesy in a message; not being able to see it is no error
    finally:
        engine.dispose()
    if row is None:
        return None
    pid, app, addr, since = row
    where = f" from {addr}" if addr else ""
    return f"server process {pid} ({app or 'tracker'}){where} since {since:%Y-%m-%d %H:%M:%S %Z}".rstrip()


def release_advisory_lock(connection: Connection, key: int) -> None:
    """Release a lock from `try_advisory_lock` and close its connection."""
    engine = connection.engine
    try:
        connection.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (key,))
    except SQLAlchemyError as exc:
        log.warning("releasing the run lock failed (%s); closing its connection releases it", exc)
    finally:
        connection.close()
        engine.dispose()
