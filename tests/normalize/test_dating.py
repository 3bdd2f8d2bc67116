"""Dates with provenance and public links, on documents written here."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tracker.config import shipped_file
from tracker.extract import extract
from tracker.normalize import Taxonomy, normalize
from tracker.normalize.events import DeclaredEvent, Event, Keynote, load_declared_events
from tracker.normalize.text import public_url

REINVENT_2031 = DeclaredEvent(
    Event(slug="aws-reinvent-2031", name="AWS re:Invent 2031", year=2031),
    starts=date(2031, 12, 1),
    ends=date(2031, 12, 5),
    keynotes=(Keynote("Riley Ceo", date(2031, 12, 2)), Keynote("Sam Cto", date(2031, 12, 4))),
)

RECAP = """# My AWS re:Invent 2031 notes

* Announcing **Amazon Zeta Streams** before the show

## Keynotes

### Riley Ceo - CEO AWS

[YouTube](https://www.youtube.com/watch?v=RiLeYcEo002)

* Announcing **Amazon Kelp DB**, a graph database

### Sam Cto - CTO

[YouTube](https://www.youtube.com/watch?v=SaMcTo00003)

* Announcing **AWS Pebble Store**
"""


def _normalized(text: str, url: str, events: tuple[DeclaredEvent, ...] = (REINVENT_2031,)) -> dict[str, object]:
    [doc] = extract(text, url=url)
    return {na.announcement.title: na for na in normalize(doc, Taxonomy.load(), events=events)}


def test_launch_in_a_keynote_section_takes_the_keynote_day() -> None:
    got = _normalized(RECAP, "/home/someone/recap.md")
    kelp, pebble, zeta = got["Amazon Kelp DB"], got["AWS Pebble Store"], got["Amazon Zeta Streams"]
    assert (kelp.announced_at, kelp.date_source) == (datetime(2031, 12, 2, tzinfo=UTC), "keynote")
    assert (pebble.announced_at, pebble.date_source) == (datetime(2031, 12, 4, tzinfo=UTC), "keynote")
    # Before any keynote: the event's first day, and it says so.
    assert (zeta.announced_at, zeta.date_source) == (datetime(2031, 12, 1, tzinfo=UTC), "event")


def test_a_local_file_is_never_a_launch_link() -> None:
    got = _normalized(RECAP, "/home/someone/recap.md")
    assert all(na.url is None for na in got.values())
    got = _normalized(RECAP, "file:///home/someone/recap.md")
    assert all(na.url is None for na in got.values())


def test_front_matter_date_and_canonical_url() -> None:
    text = (
        "---\ntitle: Launch notes\npublish_date: 2031-07-15\ncanonical_url: https://blog.example.org/launch-notes/\n---\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n"
    )
    [na] = _normalized(text, "/tmp/notes.md", events=()).values()
    assert (na.announced_at, na.date_source) == (datetime(2031, 7, 15, tzinfo=UTC), "document:front-matter")
    assert na.url == "https://blog.example.org/launch-notes/"


def test_file_name_date() -> None:
    [na] = _normalized("* Announcing **Amazon Kelp DB**\n", "/posts/2031-07-16-notes.md", events=()).values()
    assert (na.announced_at, na.date_source) == (datetime(2031, 7, 16, tzinfo=UTC), "document:file-name")


def test_a_recap_dated_inside_the_event_keeps_its_own_date() -> None:
    text = "---\ndate: 2031-12-03\n---\n# re:Invent 2031 day 3\n\n* Announcing **Amazon Kelp DB**\n"
    [na] = _normalized(text, "/tmp/day3.md").values()
    assert (na.announced_at, na.date_source) == (datetime(2031, 12, 3, tzinfo=UTC), "document:front-matter")


def test_no_date_says_so() -> None:
    [na] = _normalized("* Announcing **Amazon Kelp DB**\n", "/tmp/undated.md", events=()).values()
    assert na.announced_at is None and na.date_source is None


def test_html_time_and_canonical() -> None:
    page = (
        '<html><head><link rel="canonical" href="https://notes.example.org/kelp/"></head><body><main>'
        '<h1>Kelp</h1><time datetime="2031-08-01T10:00:00Z">1 Aug</time>'
        "<ul><li>Announcing <strong>Amazon Kelp DB</strong></li><li>Announcing <strong>AWS Pebble Store</strong></li></ul>"
        "</main></body></html>"
    )
    got = _normalized(page, "/saved/kelp.html", events=())
    assert {na.url for na in got.values()} == {"https://notes.example.org/kelp/"}
    assert {(na.announced_at, na.date_source) for na in got.values()} == {
        (datetime(2031, 8, 1, 10, tzinfo=UTC), "document:time")
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://user:secret@example.org/x?token=abc&a=1", "https://example.org/x?a=1"),
        ("/home/someone/recap.md", None),
        ("file:///home/someone/recap.md", None),
        ("javascript:alert(1)", None),
        ("mailto:someone@example.org", None),
        ("https://example.org/catalog?search=CMP346", "https://example.org/catalog?search=CMP346"),
        ("https://example.org/a b", None),
    ],
)
def test_public_url(raw: str, expected: str | None) -> None:
    assert public_url(raw) == expected


def test_shipped_events_list_keynotes_within_their_days() -> None:
    events = load_declared_events(shipped_file("events.toml"))
    with_keynotes = [e for e in events if e.keynotes]
    assert len(with_keynotes) >= 4
    for event in with_keynotes:
        assert event.starts is not None
        assert all(event.starts <= k.day <= (event.ends or event.starts) for k in event.keynotes)


def test_a_day_heading_dates_its_launches() -> None:
    text = (
        "# AWS re:Invent 2031 launches\n\n"
        "## Tuesday, December 2nd\n\n* Announcing **Amazon Kelp DB**\n\n"
        "## Dec 4\n\n* Announcing **AWS Pebble Store**\n\n"
        "## Earlier\n\n* Announcing **Amazon Zeta Streams**\n"
    )
    got = _normalized(text, "/tmp/list.md")
    assert (got["Amazon Kelp DB"].announced_at, got["Amazon Kelp DB"].date_source) == (
        datetime(2031, 12, 2, tzinfo=UTC),
        "heading",
    )
    assert got["AWS Pebble Store"].announced_at == datetime(2031, 12, 4, tzinfo=UTC)
    assert got["Amazon Zeta Streams"].date_source == "event"
