"""Extraction time grows linearly with the input, on adversarial shapes written here.

Each shape is extracted at two sizes, n and 2n; the best of three runs of each is compared.
A quadratic step (a pattern searched over a growing prefix, a pairwise comparison of blocks)
makes the ratio about 4; linear work keeps it near 2. The bound, 3, leaves room for noise.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tracker.extract import extract
from tracker.extract.rules import load_rules

RULES = load_rules()


def _letters_then_marker(n: int) -> str:
    return "a" * n + " Announcing **Amazon Kelp DB**\n"


def _many_bullets(n: int) -> str:
    line = "* Announcing **Amazon Kelp DB** for widgets, and New **AWS Pebble Store** [x](https://example.org/x)\n"
    return "# Recap\n\n" + line * (n // len(line))


def _many_headings(n: int) -> str:
    block = "## Amazon Zeta Streams: faster widgets\n\nSome prose about it.\n\n"
    return block * (n // len(block))


def _one_long_paragraph(n: int) -> str:
    sentence = "Today we are announcing the new Amazon Kelp DB for everyone. "
    return sentence * (n // len(sentence))


def _bold_soup(n: int) -> str:
    return "**a** " * (n // 6)


def _one_line_of_marked_launches(n: int) -> str:
    # One block with a marked launch every few words: each launch's status, summary and
    # sentence must be read near it, not from the whole block.
    part = "Announcing **Amazon Kelp DB** and "
    return part * (n // len(part))


def _best_of_three(text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        extract(text, url="https://example.org/doc.md", rules=RULES)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(
    "shape",
    [
        _letters_then_marker,
        _many_bullets,
        _many_headings,
        _one_long_paragraph,
        _bold_soup,
        _one_line_of_marked_launches,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_time_grows_linearly(shape: Callable[[int], str]) -> None:
    extract(shape(2_000), url="https://example.org/doc.md", rules=RULES)  # warm-up
    small, large = _best_of_three(shape(30_000)), _best_of_three(shape(60_000))
    print(f"{shape.__name__}: {small * 1000:.1f} ms -> {large * 1000:.1f} ms")
    if not large < 3.0 * small + 0.05:
        # Measured once more before failing: in a loaded full suite one pair of timings came out
        # 3.7x apart where alone they are 2.0x; a quadratic step is over the bound both times.
        small, large = _best_of_three(shape(30_000)), _best_of_three(shape(60_000))
        print(f"{shape.__name__}, again: {small * 1000:.1f} ms -> {large * 1000:.1f} ms")
    assert large < 3.0 * small + 0.05, (small, large)


def _instance_families(n: int) -> str:
    # A long context naming many instance families: each match of the taxonomy's patterns
    # must find its words without scanning every word of the text.
    part = "new M7g instances and "
    return part * (n // len(part))


def test_finding_services_in_a_long_text_grows_linearly() -> None:
    from tracker.normalize.taxonomy import Taxonomy

    taxonomy = Taxonomy.load()
    taxonomy.find(_instance_families(2_000))  # warm-up

    def best(text: str) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            found = taxonomy.find(text)
            times.append(time.perf_counter() - start)
            assert found, "the instance families name a service"
        return min(times)

    small, large = best(_instance_families(30_000)), best(_instance_families(60_000))
    print(f"instance families: {small * 1000:.1f} ms -> {large * 1000:.1f} ms")
    assert large < 3.0 * small + 0.05, (small, large)
