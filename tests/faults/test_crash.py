"""Crash safety: `tracker run` killed with SIGKILL at random moments leaves nothing broken.

A modest campaign runs here; tests/benchmarks/crash_kills.py runs hundreds of kills and
prints the figures.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from tests.faults.conftest import World
from tests.faults.crash import campaign, setup_world

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


@pytest.mark.parametrize(("backend", "kills"), [("sqlite", 10), ("postgresql", 6)])
def test_random_sigkills_lose_and_duplicate_nothing(
    backend: str, kills: int, make_world: Callable[[str], World]
) -> None:
    world = make_world(backend)
    setup_world(world)
    result = campaign(world, kills, seed=20261129)
    print(
        f"{backend}: {result.rounds} rounds, {result.killed} killed mid-run "
        f"({result.runs_started} after starting to write), {result.finished} finished"
    )
    assert result.problems == []
    assert result.rounds == kills
    # The kills must actually land inside runs, some after writing began, or this proves nothing.
    assert result.killed >= kills // 2
    assert result.runs_started >= 1
