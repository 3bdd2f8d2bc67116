"""Pytest fixtures over tests.support; load with `pytest_plugins = ["tests.support.fixtures"]`."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.support.http import FixtureServer

log = logging.getLogger(__name__)


@pytest.fixture
def http_server() -> Iterator[FixtureServer]:
    """A started loopback HTTP server for one test; set `.root` to also serve a folder."""
    with FixtureServer() as server:
        yield server
