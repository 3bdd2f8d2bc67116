"""The fitting of the candidate model: what each source weighs."""

from __future__ import annotations

import pytest

from tracker.extract import learn


def _examples(source: str, n: int, label: int) -> list[learn.Example]:
    return [learn.Example(source, {"f": 1.0, f"s={source}": 1.0}, label) for _ in range(n)]


def test_source_weights_average_one_and_fall_with_the_size_of_the_source() -> None:
    data = _examples("big", 100, 0) + _examples("small", 4, 1)
    weights = learn.source_weights(data, power=0.5)
    assert sum(weights) / len(weights) == pytest.approx(1.0)
    # Per candidate, a source 25 times larger weighs 5 times less (power 0.5)...
    assert weights[0] * 5 == pytest.approx(weights[-1])
    # ...so in all it counts 5 times more, not 25.
    assert sum(weights[:100]) / sum(weights[100:]) == pytest.approx(5.0)
    assert learn.source_weights(data, power=0.0) == pytest.approx([1.0] * len(data))


def test_a_small_source_is_not_drowned_by_a_large_one() -> None:
    # One shared feature "f": the large source says it is no launch, the small one that it is.
    data = _examples("big", 400, 0) + _examples("small", 16, 1)
    equal = learn.fit(data, power=0.0)
    weighed = learn.fit(data, power=0.5)
    # What the shared evidence alone scores (bias and "f" together: the penalty may move weight
    # between them, never the sum's direction).
    assert weighed.score({"f": 1.0}) > equal.score({"f": 1.0}) + 0.05
