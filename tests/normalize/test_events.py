"""Event detection: display names and slugs from titles, headings and declared names."""

from __future__ import annotations

import pytest

from tracker.normalize.events import EVENT_PATTERNS, Event, detect_event


@pytest.mark.parametrize(
    ("text", "name", "slug", "year"),
    [
        ("AWS re:Invent 2023", "AWS re:Invent 2023", "aws-reinvent-2023", 2023),
        ("re:Invent 2023", "AWS re:Invent 2023", "aws-reinvent-2023", 2023),
        ("Top launches of reInvent 2023", "AWS re:Invent 2023", "aws-reinvent-2023", 2023),
        ("re:Invent '31 keynote", "AWS re:Invent 2031", "aws-reinvent-2031", 2031),
        ("notes from reinvent31", "AWS re:Invent 2031", "aws-reinvent-2031", 2031),
        ("The 2031 AWS re:Invent recap", "AWS re:Invent 2031", "aws-reinvent-2031", 2031),
        ("AWS Summit New York 2025", "AWS Summit New York 2025", "aws-summit-new-york-2025", 2025),
        ("Live from AWS Summit Washington, DC 2031", "AWS Summit Washington, DC 2031", "aws-summit-washington-dc-2031", 2031),
        ("re:Inforce 2024", "AWS re:Inforce 2024", "aws-reinforce-2024", 2024),
        ("pre:Invent 2021", "AWS pre:Invent 2021", "aws-preinvent-2021", 2021),
        ("AWS pre:Invent 2031 launches", "AWS pre:Invent 2031", "aws-preinvent-2031", 2031),
        ("Top announcements of AWS re:Invent", "AWS re:Invent", "aws-reinvent", None),
    ],
)
def test_detect_event(text: str, name: str, slug: str, year: int | None) -> None:
    assert detect_event(text) == Event(slug=slug, name=name, year=year)


@pytest.mark.parametrize(
    "text",
    ["", "Amazon Zebra Stripes is now generally available", "re:Invented wheels", "the AWS Summit in London"],
)
def test_no_event(text: str) -> None:
    assert detect_event(text) is None


def test_spaced_two_digit_number_is_not_a_year() -> None:
    event = detect_event("re:Invent 25 sessions to watch")
    assert event is not None and event.year is None


def test_texts_in_priority_order_and_dated_beats_undated() -> None:
    assert detect_event(None, "", "re:Inforce 2031", "re:Invent 2030") == detect_event("AWS re:Inforce 2031")
    dated = detect_event("AWS re:Invent", "Recap of re:Invent 2031")
    assert dated is not None and dated.name == "AWS re:Invent 2031"
    undated = detect_event("AWS re:Invent", "no event here")
    assert undated is not None and undated.year is None


def test_patterns_are_data() -> None:
    # The table is the single place event families are declared.
    assert len(EVENT_PATTERNS) >= 5
    assert all(isinstance(p, str) and isinstance(t, str) for p, t in EVENT_PATTERNS)
