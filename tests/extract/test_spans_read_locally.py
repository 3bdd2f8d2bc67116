"""The helpers that let each marked span of a long block read near itself (announce.py) give
what a reading of the whole block gives (texts written here)."""

from __future__ import annotations

import re

from tracker.extract import announce
from tracker.extract.text import collapse

TEXTS = [
    "",
    "No stop at all here",
    "One. Two! Three? Four",
    "Ends with a stop.",
    "a.b.c. d!e ?f",
    "Spaces   after a stop.    Then more.\n\nAnd a line.\n",
    "Stop right before.X and after",
    "…. ! ?  .",
]


def _sentence_by_regex(text: str, s: int, e: int) -> str:
    # The definition: after the last stop in text[:s] and its white space, up to the first
    # stop at or after e.
    begin = 0
    for stop in re.finditer(r"[.!?](?:\s+|$)", text[:s]):
        begin = stop.end()
    after = re.search(r"[.!?](?:\s|$)", text[e:])
    end = e + after.start() if after else len(text)
    return text[begin:end].strip()


def test_the_sentence_of_every_span_is_the_one_a_full_scan_finds() -> None:
    for text in TEXTS:
        sentences = announce._Sentences(text)
        for s in range(len(text) + 1):
            for e in range(s, len(text) + 1):
                assert sentences.around(s, e) == _sentence_by_regex(text, s, e), (text, s, e)


def test_a_summary_head_is_the_cleaned_rest_or_enough_of_it() -> None:
    limit = 20
    texts = [
        *TEXTS,
        " - : " + "word " * 30,
        "x" + " " * 200 + "y" * 30,
        "\u200b" * 150 + "short; ",
        "a; " * 60 + ":;",
        "tail ends in separators" + " :;" * 40,
    ]
    for text in texts:
        for start in range(0, len(text) + 1, 3):
            full = collapse(text[start:]).lstrip(" -–—:.,;)").strip().rstrip(" :;")
            head = announce._summary_head(text, start, limit)
            assert full.startswith(head), (text, start)
            assert head == full or len(head) > limit + 1, (text, start)
