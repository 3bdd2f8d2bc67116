"""Extraction of many archived bodies on several cores.

Extraction is pure (bytes in, documents out) and CPU-bound, so `tracker reextract` hands it to
worker processes while the main process stores what they return, in the archive's order.
Workers only read the archive; every database write stays in the main process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from tracker.errors import ExtractError
from tracker.extract import Rules, extract, load_rules
from tracker.items import Document
from tracker.store.archive import Archive

log = logging.getLogger(__name__)

# Below this many bodies, starting worker processes costs more than it saves.
MIN_PARALLEL = 64
# Bodies handed out ahead of the one being stored, per worker: enough to keep workers busy,
# few enough that finished results never pile up in memory.
AHEAD_PER_WORKER = 8


@dataclass(frozen=True, slots=True)
class Job:
    """One archived body to extract."""

    sha: str
    url: str
    kind: str
    event: str | None = None


@dataclass(frozen=True, slots=True)
class Extracted:
    """What one body gave: its documents, or why it gave none."""

    job: Job
    docs: tuple[Document, ...] = ()
    error: str | None = None
    missing: bool = False


def default_workers() -> int:
    """One worker per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def extract_one(job: Job, archive: Archive, rules: Rules) -> Extracted:
    """Read one body from the archive and extract it; never raises for bad or missing bodies."""
    try:
        body = archive.get(job.sha)
    except FileNotFoundError:
        return Extracted(job, missing=True)
    try:
        docs = extract(body, url=job.url, kind=job.kind, rules=rules, event=job.event)
    except ExtractError as exc:
        return Extracted(job, error=str(exc))
    return Extracted(job, tuple(docs))


_worker: dict[str, object] = {}


def _init_worker(archive_root: str, rules_file: str) -> None:
    _worker["archive"] = Archive(Path(archive_root))
    _worker["rules"] = load_rules(Path(rules_file))


def _work(job: Job) -> Extracted:
    archive, rules = _worker["archive"], _worker["rules"]
    assert isinstance(archive, Archive) and isinstance(rules, Rules)
    return extract_one(job, archive, rules)


def extract_archived(
    jobs: Sequence[Job], *, archive: Archive, rules: Rules, rules_file: Path, workers: int
) -> Iterator[Extracted]:
    """Every job's result, in the jobs' order; on `workers` processes when there are enough jobs."""
    if workers <= 1 or len(jobs) < MIN_PARALLEL:
        for job in jobs:
            yield extract_one(job, archive, rules)
        return
    log.info("extracting %d archived bodies on %d worker processes", len(jobs), workers)
    delivered = 0
    try:
        for result in _on_workers(jobs, archive=archive, rules_file=rules_file, workers=workers):
            delivered += 1
            yield result
    except BrokenProcessPool as exc:
        # A worker died, or this program cannot start workers (a script without the
        # `if __name__ == "__main__":` guard that "spawn" needs): finish in this process.
        log.warning("worker processes failed (%s); extracting the remaining %d bodies here", exc, len(jobs) - delivered)
        for job in jobs[delivered:]:
            yield extract_one(job, archive, rules)


def _on_workers(jobs: Sequence[Job], *, archive: Archive, rules_file: Path, workers: int) -> Iterator[Extracted]:
    # spawn, not fork: a forked child would share the parent's database connections and threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(str(archive.root), str(rules_file))
    ) as pool:
        queued = iter(jobs)
        pending: deque[Future[Extracted]] = deque()
        for job in queued:
            pending.append(pool.submit(_work, job))
            if len(pending) >= workers * AHEAD_PER_WORKER:
                break
        while pending:
            done = pending.popleft().result()
            following = next(queued, None)
            if following is not None:
                pending.append(pool.submit(_work, following))
            yield done
