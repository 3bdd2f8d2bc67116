"""One run at a time, across processes and machines.

    with run_lock(settings.database_url, wait=0):
        pipeline.run(settings)

A SQLite database is guarded by an exclusive `flock` on ``<database file>.lock`` (processes on
one machine, which is where a SQLite file lives), named after the file's real path: a symlink to
the database, or a path through a symlinked folder, takes the same lock as the file itself; PostgreSQL by a session-level advisory lock
(`pg_try_advisory_lock`), which every machine using that database sees. Both are released by
the operating system or the server when the holder dies, even by SIGKILL: a crashed run never
leaves a stale lock behind.

When the lock is taken, `run_lock` waits up to `wait` seconds, then raises `RunInProgress`
(exit code 75, EX_TEMPFAIL: "try again later") naming the holder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from tracker.errors import TrackerError
from tracker.store.db import (
    advisory_lock_holder,
    disk_error,
    mask_url,
    normalize_url,
    release_advisory_lock,
    try_advisory_lock,
)

log = logging.getLogger(__name__)

LOCK_NAME = "tracker:run"
# The advisory lock key: a fixed bigint derived from the name, the same on every machine.
ADVISORY_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)
POLL_SECONDS = 0.2
_MEMORY_LOCK = threading.Lock()  # an in-memory SQLite database is private to its process


class RunInProgress(TrackerError):
    """Another run holds the lock."""

    exit_code = 75  # EX_TEMPFAIL: cron wrappers and systemd treat it as "try again later"


def _label() -> str:
    return f"tracker pid {os.getpid()} on {socket.gethostname()}"


def lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database file (beside its real path, every symlink resolved);
    None for PostgreSQL or an in-memory database."""
    url = normalize_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    if url.database in (None, "", ":memory:"):
        return None
    # The name of the resolved file, not of the path given: "link.db -> tracker.db" must lock
    # tracker.db.lock, or a run through the link would run beside a run on the file.
    real = Path(os.path.realpath(Path(url.database).expanduser()))
    return real.with_name(real.name + ".lock")


def _try_flock(handle: IO[bytes]) -> bool:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def _file_lock(path: Path, wait: float, database: str) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # "a+" never truncates: the holder's note stays readable until we own the lock.
        # Unbuffered: a note the disk refused is not written again (and refused again) on close.
        handle = path.open("a+b", buffering=0)
    except OSError as exc:
        raise disk_error(exc, path, "creating the run lock file", "database_url") from exc
    try:
        deadline = time.monotonic() + max(wait, 0.0)
        while not _try_flock(handle):
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().decode("utf-8", "replace").strip() or "another process"
                raise RunInProgress(
                    f"another tracker run is in progress ({holder}; lock file {path}); "
                    "try again later, or pass --wait SECONDS to wait for it",
                    url=database,
                )
            time.sleep(POLL_SECONDS)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{_label()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n".encode())
        except OSError as exc:
            raise disk_error(exc, path, "writing the run lock file", "database_url") from exc
        yield
    finally:
        # Closing the file releases the flock; the file itself stays (removing it would race).
        handle.close()


@contextmanager
def _advisory_lock(database_url: str, wait: float) -> Iterator[None]:
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        connection = try_advisory_lock(database_url, ADVISORY_KEY, label=_label())
        if connection is not None:
            break
        if time.monotonic() >= deadline:
            holder = advisory_lock_holder(database_url, ADVISORY_KEY) or "another session"
            raise RunInProgress(
                f"another tracker run is in progress ({holder} holds the run lock of this database); "
                "try again later, or pass --wait SECONDS to wait for it",
                url=mask_url(database_url),
            )
        time.sleep(POLL_SECONDS * 5)
    try:
        yield
    finally:
        release_advisory_lock(connection, ADVISORY_KEY)


@contextmanager
def run_lock(database_url: str, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the run lock of this database for the block; wait up to `wait` seconds for it."""
    backend = normalize_url(database_url).get_backend_name()
    if backend == "postgresql":
        with _advisory_lock(database_url, wait):
            log.debug("run lock taken (advisory lock %d)", ADVISORY_KEY)
            yield
        return
    path = lock_path(database_url)
    if path is None:
        if not (_MEMORY_LOCK.acquire(timeout=wait) if wait > 0 else _MEMORY_LOCK.acquire(blocking=False)):
            raise RunInProgress("another run is in progress in this process", url=database_url)
        try:
            yield
        finally:
            _MEMORY_LOCK.release()
        return
    with _file_lock(path, wait, mask_url(database_url)):
        log.debug("run lock taken (%s)", path)
        yield
