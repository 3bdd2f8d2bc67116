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
from pathlib import Path

log = logging.getLogger(__name__)

_SHA = re.compile(r"[0-9a-f]{64}")


class Archive:
    """Raw bytes on disk, keyed by their SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha: str) -> Path:
        """Where the bytes with this hash live (whether or not they are stored)."""
        if not _SHA.fullmatch(sha):
            raise ValueError(f"not a sha256 hex digest: {sha!r}")
        return self.root / sha[:2] / sha[2:4] / sha

    def put(self, body: bytes) -> str:
        """Store the bytes (once) and return their sha256 hex digest."""
        sha = hashlib.sha256(body).hexdigest()
        target = self.path_for(sha)
        if target.exists():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temp file in the same folder, then rename: a reader never sees a
        # half-written file, and a crash leaves at most a stray temp file behind.
        fd, tmp = tempfile.mkstemp(prefix=f".{sha[:8]}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            # mkstemp makes the file private; archived documents are ordinary data.
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.debug("archived %d bytes as %s", len(body), sha)
        return sha

    def get(self, sha: str) -> bytes:
        """The stored bytes; FileNotFoundError when absent."""
        return self.path_for(sha).read_bytes()

    def has(self, sha: str) -> bool:
        """Whether bytes with this hash are stored."""
        try:
            return self.path_for(sha).is_file()
        except ValueError:
            return False
