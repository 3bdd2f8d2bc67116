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
        (
            "Live from AWS Summit Washington, DC 2031",
            "AWS Summit Washington, DC 2031",
            "aws-summit-washington-dc-2031",
            2031,
        ),
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


# --------------------------------------------------------------------------- declared events


def _declare(tmp_path, text: str):  # type: ignore[no-untyped-def]
    from tracker.normalize.events import load_declared_events

    path = tmp_path / "events.toml"
    path.write_text(text, encoding="utf-8")
    return load_declared_events(path)


def test_declared_event_is_recognised_by_alias(tmp_path) -> None:  # type: ignore[no-untyped-def]
    declared = _declare(
        tmp_path,
        '[[event]]\nname = "Acme Cloud Day 2031"\nstarts = 2031-03-04\nends = 2031-03-05\naliases = ["CloudDay31"]\n',
    )
    [acme] = declared
    assert acme.event == Event(slug="acme-cloud-day-2031", name="Acme Cloud Day 2031", year=2031)
    assert detect_event("Notes from CloudDay31, day two", declared=declared) == acme.event
    assert detect_event("acme cloud day 2031 keynote", declared=declared) == acme.event
    assert detect_event("CloudDay310 is not it", declared=declared) is None
    assert detect_event("CloudDay31") is None  # only when declared


def test_undated_name_takes_the_edition_around_its_date(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    declared = _declare(
        tmp_path,
        '[[event]]\nname = "re:Invent 2030"\nstarts = 2030-12-02\nends = 2030-12-06\n'
        '[[event]]\nname = "AWS re:Invent 2031"\nstarts = 2031-12-01\nends = 2031-12-05\n',
    )
    assert declared[0].event.name == "AWS re:Invent 2030"  # the pattern's canonical spelling
    text = "Top announcements of AWS re:Invent"
    assert detect_event(text, declared=declared, on=date(2031, 12, 3)).slug == "aws-reinvent-2031"  # type: ignore[union-attr]
    assert detect_event(text, declared=declared, on=date(2031, 1, 20)).slug == "aws-reinvent-2030"  # type: ignore[union-attr]
    assert detect_event(text, declared=declared, on=date(2031, 6, 1)).year is None  # type: ignore[union-attr]
    assert detect_event(text, on=date(2031, 12, 3)).year is None  # type: ignore[union-attr]
    # a year in the text always wins over the date
    assert detect_event("AWS re:Invent 2030 recap", declared=declared, on=date(2031, 12, 3)).year == 2030  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[[event]]\nname = "X 2031"\nstart = 2031-01-01\n', "event[1].start"),
        ("[[event]]\nstarts = 2031-01-01\n", "event[1].name"),
        ('[[event]]\nname = "X"\nstarts = "soon"\n', "event[1].starts"),
        ('[[event]]\nname = "X"\nstarts = 2031-02-01\nends = 2031-01-01\n', "event[1].ends"),
        ('[[events]]\nname = "X"\n', "events"),
    ],
)
def test_declared_event_errors_name_the_key(tmp_path, text: str, key: str) -> None:  # type: ignore[no-untyped-def]
    from tracker.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        _declare(tmp_path, text)
    assert key in str(exc.value) and "events.toml" in str(exc.value)
