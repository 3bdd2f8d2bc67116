"""Content-addressed archive of the raw bytes of every fetched document.

A body is stored once under its SHA-256 (root/ab/cd/<sha>), so re-fetching the same
bytes costs nothing and any document can be re-extracted later with a newer extractor.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)

_SHA = re.compile(r"[0-9a-f]{64}")


class Archive:
    """Raw bytes on disk, keyed by their SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        # Bodies written but not yet synced and renamed into place (`put(..., wait=False)`).
        self._lock = threading.Lock()
        self._pending: dict[str, Future[None]] = {}
        self._syncer: ThreadPoolExecutor | None = None

    def path_for(self, sha: str) -> Path:
        """Where the bytes with this hash live (whether or not they are stored)."""
        if not _SHA.fullmatch(sha):
            raise ValueError(f"not a sha256 hex digest: {sha!r}")
        return self.root / sha[:2] / sha[2:4] / sha

    def put(self, body: bytes, *, wait: bool = True) -> str:
        """Store the bytes (once) and return their sha256 hex digest.

        `wait=False` returns at once with the digest: the writing, the wait for the disk (fsync)
        and the rename into place run on a background thread, so that they overlap the caller's
        work (extracting the body) instead of adding to it (on a disk slow to create folders and
        files, a backfill's largest cost after parsing); `synced()` waits for them and raises what
        the disk refused, and must be called before anything that names the body is committed.
        """
        sha = hashlib.sha256(body).hexdigest()
        target = self.path_for(sha)
        if not wait:
            with self._lock:
                if sha in self._pending:
                    return sha
                if self._syncer is None:
                    self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-sync")
                try:
                    self._pending[sha] = self._syncer.submit(_store, body, target)
                    return sha
                except RuntimeError:
                    # The interpreter is shutting down (a run finishing in a worker thread after
                    # SIGTERM): no new thread work is taken, so the body is stored here.
                    pass
        _store(body, target)
        return sha

    def synced(self) -> None:
        """Wait until every body put with `wait=False` is on disk under its name; raises the first
        failure (an OSError: the disk refused it, its temp file removed)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        failure: BaseException | None = None
        for future in pending.values():
            try:
                future.result()
            except BaseException as exc:  # every one waited for; the first failure raised
                failure = failure or exc
        if failure is not None:
            raise failure

    def get(self, sha: str) -> bytes:
        """The stored bytes; FileNotFoundError when absent."""
        return self.path_for(sha).read_bytes()

    def has(self, sha: str) -> bool:
        """Whether bytes with this hash are stored."""
        try:
            return self.path_for(sha).is_file()
        except ValueError:
            return False


def _store(body: bytes, target: Path) -> None:
    """Write the bytes under their name unless there already: to a temp file in the same folder,
    synced, then renamed (a reader never sees a half-written file, and a crash leaves at most a
    stray temp file behind)."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:8]}.", suffix=".tmp", dir=target.parent)
    try:
        handle = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        with handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private; archived documents are ordinary data.
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.debug("archived %d bytes as %s", len(body), target.name)
