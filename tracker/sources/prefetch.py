"""Fetching a run's sources ahead of the one being stored, one lane per host.

Sources on different hosts are fetched at the same time, each host's in the configured order
by its own thread, while the caller stores the sources already fetched; requests to one host
stay one at a time and paced (`Fetcher` is shared and paces per host). With fewer than two
hosts nothing runs ahead: a run over one site behaves exactly as without a prefetch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlsplit

from tracker.items import RawDocument

log = logging.getLogger(__name__)


def _host(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower()


def _by_host(sources: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    by_host: dict[str, list[str]] = {}
    for name, url in sources:
        host = _host(url)
        if host is not None:
            by_host.setdefault(host, []).append(name)
    return by_host


def runs_ahead(sources: Sequence[tuple[str, str]], *, lanes: int) -> bool:
    """Whether a `Prefetch` of these (name, url) sources would fetch anything ahead (two hosts or more)."""
    return lanes >= 2 and len(_by_host(sources)) >= 2


class Prefetch:
    """Runs `fetch(name)` for the named sources ahead of time, one thread per host."""

    def __init__(self, fetch: Callable[[str], RawDocument], sources: Sequence[tuple[str, str]], *, lanes: int) -> None:
        """`sources`: (name, url) in run order; `lanes`: at most this many hosts fetched at once."""
        self._futures: dict[str, Future[RawDocument]] = {}
        self._stopped = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        if not runs_ahead(sources, lanes=lanes):
            return  # one site (or one lane): fetched in turn by the caller, as before
        by_host = _by_host(sources)
        self._futures = {name: Future() for names in by_host.values() for name in names}
        self._pool = ThreadPoolExecutor(max_workers=min(lanes, len(by_host)), thread_name_prefix="tracker-fetch")
        log.info(
            "fetching %d sources on %d hosts, %d at a time", len(self._futures), len(by_host), min(lanes, len(by_host))
        )
        for names in by_host.values():
            self._pool.submit(self._lane, fetch, names)

    def _lane(self, fetch: Callable[[str], RawDocument], names: list[str]) -> None:
        for name in names:
            future = self._futures[name]
            if self._stopped.is_set() or not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fetch(name))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, who handles fetch errors
                future.set_exception(exc)

    def has(self, name: str) -> bool:
        """Whether this source is fetched here (else the caller fetches it itself)."""
        return name in self._futures

    def result(self, name: str) -> RawDocument:
        """The fetched document of a source, waiting for it; raises what the fetch raised."""
        return self._futures[name].result()

    def close(self) -> None:
        """Stop starting fetches and wait for those in flight (each is bounded by its timeouts)."""
        self._stopped.set()
        for future in self._futures.values():
            future.cancel()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
