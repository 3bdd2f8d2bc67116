"""A run collects the young generation less often, and leaves the collector as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tracker.pipeline.runs import GC_YOUNG_THRESHOLD, fewer_collections


@pytest.fixture
def default_collector() -> Iterator[None]:
    """The collector at Python's default thresholds for the test, as it was after it."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*before)


@pytest.mark.usefixtures("default_collector")
def test_fewer_collections_raises_the_young_threshold_and_restores_it() -> None:
    with fewer_collections():
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.usefixtures("default_collector")
def test_fewer_collections_restores_the_threshold_after_an_error() -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a failed run")
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.usefixtures("default_collector")
def test_fewer_collections_keeps_a_higher_threshold() -> None:
    gc.set_threshold(GC_YOUNG_THRESHOLD * 3, 10, 10)
    with fewer_collections():
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD * 3
