"""The content-addressed archive of raw bytes."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from tracker.store.archive import Archive


def test_put_returns_the_sha256_and_stores_under_a_fanout_path(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive")
    body = b"<rss><channel><title>Launches</title></channel></rss>"
    sha = archive.put(body)
    assert sha == hashlib.sha256(body).hexdigest()
    path = tmp_path / "archive" / sha[:2] / sha[2:4] / sha
    assert path.read_bytes() == body
    assert archive.has(sha) and archive.get(sha) == body


def test_same_bytes_are_stored_once_and_never_rewritten(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    sha = archive.put(b"same")
    path = archive.path_for(sha)
    os.utime(path, (1_000_000_000, 1_000_000_000))
    assert archive.put(b"same") == sha
    assert path.stat().st_mtime == 1_000_000_000
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


def test_different_bytes_get_different_files(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    a, b = archive.put(b"one"), archive.put(b"two")
    assert a != b and archive.get(a) == b"one" and archive.get(b) == b"two"


def test_empty_body_is_archivable(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    sha = archive.put(b"")
    assert archive.get(sha) == b""


def test_missing_and_malformed_hashes(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not archive.has(absent)
    with pytest.raises(FileNotFoundError):
        archive.get(absent)
    assert not archive.has("../../etc/passwd")
    with pytest.raises(ValueError):
        archive.get("../../etc/passwd")


def test_no_temp_files_are_left_behind(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    for i in range(20):
        archive.put(f"document {i}".encode())
    names = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert len(names) == 20
    assert not [n for n in names if n.endswith(".tmp") or n.startswith(".")]


def test_concurrent_writers_of_the_same_bytes_leave_one_complete_file(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    body = os.urandom(2_000_000)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(archive.put(body))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert archive.get(results[0]) == body
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) == 1


def test_a_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    bodies = [os.urandom(500_000) for _ in range(6)]
    shas = [hashlib.sha256(b).hexdigest() for b in bodies]
    seen_partial: list[str] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            for sha, body in zip(shas, bodies, strict=True):
                if archive.has(sha) and archive.get(sha) != body:
                    seen_partial.append(sha)

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        for body in bodies:
            archive.put(body)
    finally:
        done.set()
        watcher.join()
    assert seen_partial == []
    assert all(archive.get(sha) == body for sha, body in zip(shas, bodies, strict=True))


def test_a_body_put_without_waiting_is_in_place_once_synced(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    bodies = [f"document {i}".encode() * 1000 for i in range(12)]
    shas = [archive.put(body, wait=False) for body in bodies]
    assert archive.put(bodies[0], wait=False) == shas[0]  # the same bytes while in flight: stored once
    archive.synced()
    assert shas == [hashlib.sha256(b).hexdigest() for b in bodies]
    assert all(archive.get(sha) == body for sha, body in zip(shas, bodies, strict=True))
    names = [p.name for p in tmp_path.rglob("*") if p.is_file()]
    assert sorted(names) == sorted(shas)  # no temp file left, each body once
    archive.synced()  # nothing pending: returns at once


def test_a_sync_the_disk_refuses_is_raised_by_synced_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = Archive(tmp_path)

    def refused(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", refused)
    sha = archive.put(b"a body the disk will not keep", wait=False)
    with pytest.raises(OSError, match="No space left"):
        archive.synced()
    assert not archive.has(sha)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # its temp file removed
    with pytest.raises(OSError, match="No space left"):
        archive.put(b"waited for", wait=True)


def test_a_body_put_while_the_interpreter_shuts_down_is_synced_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A scheduled run finishing in a worker thread after SIGTERM: concurrent.futures takes no
    # new work once the interpreter shuts down; the body is then written, synced and renamed inline.
    from concurrent.futures import ThreadPoolExecutor

    def shutting_down(self: ThreadPoolExecutor, *args: object, **kwargs: object) -> None:
        raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    monkeypatch.setattr(ThreadPoolExecutor, "submit", shutting_down)
    archive = Archive(tmp_path)
    sha = archive.put(b"stored during shutdown", wait=False)
    assert archive.has(sha) and archive.get(sha) == b"stored during shutdown"
    archive.synced()
