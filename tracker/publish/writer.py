"""Write feed files atomically, and only those whose bytes changed.

A file is replaced by writing a temporary file in the same folder, fsync-ing it and
`os.replace`-ing it over the old one, so a reader (a web server, `tracker serve`)
sees either the old feed or the new one, never half of one. Files whose bytes are
already on disk are not touched, so their mtime (and the HTTP Last-Modified/ETag
derived from it) only moves when a feed really changed.

A temporary file is removed when its write fails or is interrupted (an exception, SIGINT,
SIGTERM); one left by a publish killed outright (SIGKILL, power loss) is recognised by its
name (``.<file name>.<8 random characters>.tmp``) and removed by the next publish.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

# Only these folders are ever pruned, and only files with these suffixes: a stray
# file a user put in the output folder is never deleted.
PRUNABLE_DIRS = ("services", "events", "archive")
PRUNABLE_SUFFIXES = frozenset({".atom", ".rss", ".json", ".opml"})
FILE_MODE = 0o644  # feeds are public: a web server running as another user must read them
# The names `atomic_write` gives its temporary files (8 random hex characters).
TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
# A temporary file older than this is a leftover even when no run lock says so: a write takes
# milliseconds, the largest feed file well under a minute.
STALE_TEMP_SECONDS = 3600.0


@dataclass
class PublishReport:
    """What `write_files` did: files written, how many were already identical, files pruned."""

    written: list[str]
    unchanged: int
    removed: list[str]


def _checked_relative(rel: str) -> PurePosixPath:
    """A relative path with no way out of the folder it is joined to, else ValueError."""
    if not rel or "\\" in rel or "\x00" in rel:
        raise ValueError(f"invalid feed path {rel!r}")
    path = PurePosixPath(rel)
    if path.is_absolute() or any(part in ("", ".", "..") for part in path.parts) or rel.endswith("/"):
        raise ValueError(f"feed path {rel!r} must stay inside the output folder")
    return path


def _inside(path: Path, root: Path) -> bool:
    """True when path, with every symlink resolved, is root or below it."""
    resolved = path.resolve()
    return resolved == root or root in resolved.parents


def _ensure_folder(root: Path, parts: tuple[str, ...]) -> Path:
    """Create root/parts one level at a time, refusing any level that resolves outside root."""
    folder = root
    for part in parts:
        folder = folder / part
        if not folder.exists() and not folder.is_symlink():
            folder.mkdir()
        if not _inside(folder, root) or not folder.is_dir():
            raise ValueError(f"{folder} is not a folder inside {root} (a symlink or a file is in the way)")
    return folder


def _current_bytes(target: Path) -> bytes | None:
    """The bytes of a regular file at target, or None (missing, a symlink, a folder...)."""
    try:
        info = target.lstat()
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        # Never read through a symlink: it could point outside the output folder.
        return None
    return target.read_bytes()


def current_file(output_dir: Path, rel: str) -> bytes | None:
    """The bytes of a feed file of the output folder as they are on disk, or None (missing, not a regular file)."""
    return _current_bytes(output_dir.joinpath(*_checked_relative(rel).parts))


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse
        pass
    finally:
        os.close(fd)


def atomic_write(target: Path, data: bytes, *, sync_folder: bool = True) -> None:
    """Replace target with data: temp file in the same folder, fsync, os.replace (then fsync
    the folder, unless the caller does it once for many files: `sync_folder=False`)."""
    # The name is chosen before the file exists and the file is made inside the try: a signal
    # (SIGTERM raises in the main thread) at any point leaves no temporary file behind.
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), FILE_MODE)  # created 0600 until whole
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_folder:
        _fsync_dir(target.parent)


def sweep_temp_files(root: Path, *, older_than: float = STALE_TEMP_SECONDS) -> list[str]:
    """Remove the temporary files a killed publish left in root (those older than `older_than`
    seconds; 0 when the caller holds the run lock, so no other publish can be writing)."""
    removed: list[str] = []
    if root.is_symlink() or not root.is_dir():
        return removed
    cutoff = time.time() - older_than
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            if not TEMP_NAME.fullmatch(name):
                continue
            path = Path(dirpath) / name
            try:
                info = path.lstat()
                if not stat.S_ISREG(info.st_mode) or info.st_mtime > cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue  # another sweeper or the writer itself got there first
            removed.append(path.relative_to(root).as_posix())
            log.warning("removed %s: a temporary file left by an interrupted publish", path)
    return removed


def _prune(root: Path, keep: set[str]) -> list[str]:
    removed: list[str] = []
    for top in PRUNABLE_DIRS:
        folder = root / top
        # A symlinked services/ could lead anywhere: only walk real folders.
        if folder.is_symlink() or not folder.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                rel = path.relative_to(root).as_posix()
                if rel in keep or path.suffix not in PRUNABLE_SUFFIXES:
                    continue
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
                path.unlink()
                removed.append(rel)
                log.info("removed %s: no longer produced", rel)
    return removed


class Sink:
    """What every publishing target keeps: the files this publish produced, and its report."""

    def __init__(self) -> None:
        self.report = PublishReport(written=[], unchanged=0, removed=[])
        self.produced: set[str] = set()

    def keep(self, rels: Iterable[str]) -> None:
        """Files not rendered because they are already right at the target: unchanged, never pruned."""
        new = set(rels) - self.produced
        self.produced |= new
        self.report.unchanged += len(new)


class FeedWriter(Sink):
    """Writes feed files one by one as they are rendered (none is held in memory), then prunes."""

    def __init__(self, output_dir: Path, *, stale_temp_after: float = STALE_TEMP_SECONDS, sweep: bool = True) -> None:
        super().__init__()
        output_dir.mkdir(parents=True, exist_ok=True)
        self.root = output_dir.resolve()
        # What an earlier publish killed mid-write (SIGKILL cannot be caught) left behind; a
        # publish of a few changed files (`sweep=False`) does not walk the whole folder for it.
        self.swept = sweep_temp_files(self.root, older_than=stale_temp_after) if sweep else []
        self._unsynced: set[Path] = set()  # folders with renames not yet made durable

    def write(self, rel: str, data: bytes) -> None:
        """Write one file if its bytes differ from the disk (atomically)."""
        parts = _checked_relative(rel).parts
        target = _ensure_folder(self.root, parts[:-1]) / parts[-1]
        self.produced.add(rel)
        if _current_bytes(target) == data:
            self.report.unchanged += 1
            return
        # The folder's own fsync (which makes the rename durable) once per folder, in finish():
        # a full publish writes thousands of files into a few folders.
        atomic_write(target, data, sync_folder=False)
        self._unsynced.add(target.parent)
        self.report.written.append(rel)
        log.debug("wrote %s (%d bytes)", rel, len(data))

    def remove(self, rels: Iterable[str]) -> None:
        """Remove these feed files (a feed or an archive page no longer produced), where they exist."""
        for rel in rels:
            parts = _checked_relative(rel).parts
            path = self.root.joinpath(*parts)
            if PurePosixPath(rel).suffix not in PRUNABLE_SUFFIXES or not _inside(path.parent, self.root):
                raise ValueError(f"{rel!r} is not a feed file inside {self.root}")
            try:
                if not stat.S_ISREG(path.lstat().st_mode):
                    continue
            except FileNotFoundError:
                continue
            path.unlink()
            self._unsynced.add(path.parent)
            self.report.removed.append(rel)
            log.info("removed %s: no longer produced", rel)

    def finish(self, *, prune: bool = False) -> PublishReport:
        """Optionally remove the feeds no longer produced; the report of everything done. Every
        folder written to is synced before this returns (callers record the publish after it)."""
        if prune:
            self.report.removed.extend(_prune(self.root, self.produced))
        for folder in sorted(self._unsynced):
            _fsync_dir(folder)
        self._unsynced.clear()
        self.report.removed.sort()
        self.report.written.sort()
        log.info(
            "published to %s: %d written, %d unchanged, %d removed",
            self.root,
            len(self.report.written),
            self.report.unchanged,
            len(self.report.removed),
        )
        return self.report


def write_files(
    output_dir: Path, files: Mapping[str, bytes], *, prune: bool = False, keep: Iterable[str] = ()
) -> PublishReport:
    """Write each file whose bytes differ from the disk, atomically; optionally prune stale feeds.

    `keep` names files that were not rendered because they are already right on disk: they
    count as unchanged and are never pruned.
    """
    for rel in files:
        _checked_relative(rel)  # a bad path refuses the whole set before anything is written
    writer = FeedWriter(output_dir)
    for rel in sorted(files):
        writer.write(rel, files[rel])
    writer.keep(keep)
    return writer.finish(prune=prune)


# Beside the feeds, hidden (never served, never pruned): what each file was last rendered from.
FINGERPRINTS = ".tracker-fingerprints.json"


def load_fingerprints(output_dir: Path) -> dict[str, str]:
    """The fingerprints of the last publish, for the files still on disk; {} when unknown or unreadable."""
    try:
        data = json.loads((output_dir / FINGERPRINTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    # A file deleted by hand (or never written) must be rendered again whatever its fingerprint.
    return {
        rel: value
        for rel, value in data.items()
        if isinstance(rel, str) and isinstance(value, str) and _is_regular_file_inside(output_dir, rel)
    }


def _is_regular_file_inside(output_dir: Path, rel: str) -> bool:
    try:
        parts = _checked_relative(rel).parts
    except ValueError:
        return False
    target = output_dir.joinpath(*parts)
    return target.is_file() and not target.is_symlink() and _inside(target, output_dir.resolve())


def save_fingerprints(output_dir: Path, fingerprints: Mapping[str, str]) -> None:
    """Record what each file was rendered from (after the files themselves are written)."""
    data = json.dumps(dict(sorted(fingerprints.items())), separators=(",", ":")).encode()
    target = output_dir / FINGERPRINTS
    if _current_bytes(target) != data:
        atomic_write(target, data)


def forget_fingerprints(output_dir: Path) -> None:
    """Drop the fingerprints before files change: a publish cut short then renders everything next time."""
    (output_dir / FINGERPRINTS).unlink(missing_ok=True)


# Beside the feeds, hidden: which published state (`tracker.store.published`) the files are of.
MARKER = ".tracker-published"


def read_marker(output_dir: Path) -> str | None:
    """The published state the folder's files were written for, or None (never, or cut short)."""
    try:
        text = (output_dir / MARKER).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None
    return text or None


def save_marker(output_dir: Path, text: str) -> None:
    """Say which published state the folder's files are of (after the files and the state are saved)."""
    data = (text.strip() + "\n").encode()
    target = output_dir / MARKER
    if _current_bytes(target) != data:
        atomic_write(target, data)


def forget_marker(output_dir: Path) -> None:
    """Before the first file changes: a publish cut short is followed by a full one."""
    (output_dir / MARKER).unlink(missing_ok=True)
