"""Adversarial documents of 1 MB: `python -m tests.benchmarks.hostile_extract [--size KB]`.

Issue #14's target: a 1 MB adversarial document extracts in under 2 s. Each shape (the ones
tests/extract/test_linear_time.py doubles, imported from there, plus HTML and feed forms) is built at `--size` KB and
extracted once cold and then twice more; the best time is printed beside the target. Not part
of the pytest run (tests/benchmarks is in norecursedirs).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from tests.extract.test_linear_time import (
    _bold_soup,
    _letters_then_marker,
    _many_bullets,
    _many_headings,
    _one_line_of_marked_launches,
    _one_long_paragraph,
)
from tracker.errors import ExtractError
from tracker.extract import extract
from tracker.extract.rules import load_rules

TARGET_S = 2.0


def _unclosed_emphasis(n: int) -> str:
    return "Announcing **" + "Amazon " * (n // 7)


def _deep_nesting(n: int) -> str:
    line = "".join("  " * d + "* Announcing **Amazon Kelp DB**\n" for d in range(40))
    return line * (n // len(line))


def _html_tags(n: int) -> str:
    return "<html><body>" + "<div><b>Announcing <a href='https://aws.amazon.com/x'>Amazon Kelp DB</a></b>" * (n // 80)


def _feed_items(n: int) -> str:
    item = (
        "<item><title>Amazon Kelp DB is now available</title><link>https://aws.amazon.com/about-aws/whats-new/"
        "2031/01/kelp/</link><description>&lt;p&gt;Kelp&lt;/p&gt;</description></item>"
    )
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>What's New</title>"
        + item * (n // len(item))
        + "</channel></rss>"
    )


SHAPES: tuple[tuple[str, Callable[[int], str], str], ...] = (
    ("letters then a marker", _letters_then_marker, "doc.md"),
    ("many launch bullets", _many_bullets, "doc.md"),
    ("many headings", _many_headings, "doc.md"),
    ("one long paragraph of launch sentences", _one_long_paragraph, "doc.md"),
    ("bold soup", _bold_soup, "doc.md"),
    ("one line of marked launches", _one_line_of_marked_launches, "doc.md"),
    ("unclosed emphasis", _unclosed_emphasis, "doc.md"),
    ("40-deep nested lists", _deep_nesting, "doc.md"),
    ("unclosed HTML tags", _html_tags, "doc.html"),
    ("feed of many items", _feed_items, "feed.xml"),
)


def main() -> None:
    """Print each shape's extraction time at the given size beside the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="document size in KB (default 1024)")
    args = parser.parse_args()
    rules = load_rules()
    extract("# warm-up\n\n* Announcing **Amazon Kelp DB**\n", url="https://example.org/w.md", rules=rules)
    print(f"{'shape':42} {'bytes':>10} {'best s':>8} launches found")
    worst = 0.0
    for name, shape, file in SHAPES:
        text = shape(args.size * 1024)
        best, found = float("inf"), ""
        for _ in range(3):
            start = time.perf_counter()
            try:
                docs = extract(text, url=f"https://example.org/{file}", rules=rules)
                found = str(sum(len(d.announcements) for d in docs))
            except ExtractError as exc:  # a clear refusal is an answer too
                found = f"refused: {exc.args[0] if exc.args else exc}"
            best = min(best, time.perf_counter() - start)
        worst = max(worst, best)
        print(f"{name:42} {len(text.encode()):>10,} {best:>8.2f} {found}")
    verdict = "holds" if worst < TARGET_S else "MISSED"
    print(
        f"target: a {args.size} KB adversarial document extracts in < {TARGET_S:g} s: slowest {worst:.2f} s: {verdict}"
    )


if __name__ == "__main__":
    main()
