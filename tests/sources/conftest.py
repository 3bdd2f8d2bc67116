"""Fixtures for the source tests: the loopback server and fetch settings that never wait."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator

import pytest

from tests.support.fixtures import http_server  # noqa: F401 - until tests/conftest.py loads the plugin
from tracker.config import HttpSettings
from tracker.sources import Fetcher

USER_AGENT = "tracker-tests/0.1 (AWS announcement tracker)"
# The loopback server's host names: the hosts of the "configured sources" of these tests.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})


class Sleeps(list[float]):
    """Records the backoff delays a Fetcher asks for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    """The injected sleep: a list of requested delays."""
    return Sleeps()


@pytest.fixture
def make_fetcher(sleeps: Sleeps) -> Iterator[Callable[..., Fetcher]]:
    """Build Fetchers with short timeouts and the recording sleep; all closed after the test."""
    made: list[Fetcher] = []

    def make(*, allowed_hosts: Collection[str] = LOOPBACK_HOSTS, **settings: object) -> Fetcher:
        values: dict[str, object] = {
            "user_agent": USER_AGENT,
            "timeout": 2.0,
            "connect_timeout": 2.0,
            "retries": 2,
            "backoff": 1.0,
            "max_bytes": 100_000,
            "robots": False,
            "min_interval": 0.0,
        }
        values.update(settings)
        fetcher = Fetcher(HttpSettings(**values), allowed_hosts=allowed_hosts, sleep=sleeps)  # type: ignore[arg-type]
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()
