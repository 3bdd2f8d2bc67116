"""The JSON API on SQLite and PostgreSQL: filters, full-text `q`, cursors, 400s, OpenAPI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import feedparser
import pytest

from tracker.web.api import MAX_LIMIT

from .conftest import EVENT_NAME, EVENT_SLUG, NOW, Site


def get(site: Site, path: str, status: int = 200) -> Any:
    got, headers, body = site.request(path)
    assert got == status, (path, body[:300])
    assert headers["content-type"].startswith("application/json")
    return json.loads(body)


def all_pages(site: Site, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    url: str | None = path
    for _ in range(50):
        if url is None:
            return items
        page = get(site, url)
        items += page["items"]
        url = page["next"]
    raise AssertionError("pagination does not end")


def test_announcements_filters(any_site: Site) -> None:
    site = any_site
    page = get(site, "/api/announcements")
    assert page["limit"] == 20 and page["count"] == 20 and len(page["items"]) == 20
    dates = [datetime.fromisoformat(i["announced_at"]) for i in page["items"]]
    assert dates == sorted(dates, reverse=True) and dates[0] == NOW
    first = page["items"][0]
    assert {
        "id",
        "key",
        "title",
        "summary",
        "url",
        "announced_at",
        "event",
        "services",
        "sessions",
        "sources",
    } <= first.keys()
    s3 = all_pages(site, "/api/announcements?service=amazon-s3")
    assert len(s3) == 10 and all(i["services"] == ["Amazon S3"] for i in s3)
    assert [
        i["id"] for i in all_pages(site, "/api/announcements?service=" + quote("Amazon Simple Storage Service"))
    ] == [i["id"] for i in s3]  # an alias
    at_event = all_pages(site, f"/api/announcements?event={EVENT_SLUG}")
    assert len(at_event) == 15 and all(i["event"] == EVENT_NAME for i in at_event)
    assert len(all_pages(site, "/api/announcements?event=" + quote(EVENT_NAME))) == 15
    keynote = all_pages(site, "/api/announcements?session=key001")
    assert {i["id"] for i in keynote} == {i["id"] for i in at_event}
    assert keynote[0]["sessions"][0]["url"] == "https://www.youtube.com/watch?v=KEYNOTE0001"
    window = all_pages(site, "/api/announcements?since=2031-12-01&until=2031-12-04")
    assert [i["key"] for i in window] == ["launch-01", "launch-02", "launch-03", "launch-04"]
    assert len(all_pages(site, "/api/announcements?since=2031-12-05T12:00:00Z")) == 1
    # An unknown name is a 400 naming the parameter, not an empty page (issue 15).
    error = get(site, "/api/announcements?service=no-such-service", 400)["error"]
    assert error["parameter"] == "service" and "unknown service 'no-such-service'" in error["message"]


def test_full_text_search(any_site: Site) -> None:
    site = any_site
    vector = all_pages(site, "/api/announcements?q=vectors")  # stemmed: titles say "vector"
    assert len(vector) == 5 and all("vector" in i["title"] for i in vector)
    both_words = {i["key"] for i in all_pages(site, "/api/announcements?q=" + quote("aurora stream"))}
    assert both_words and both_words == {
        i["key"] for i in all_pages(site, "/api/announcements?service=amazon-aurora") if "streaming" in i["title"]
    }
    prefix = all_pages(site, "/api/announcements?q=serverl")
    assert prefix and all("serverless" in i["title"] for i in prefix)
    # Three letters are a prefix; one or two a whole word (not "vector", "vectors"...).
    assert {i["key"] for i in all_pages(site, "/api/announcements?q=vec")} == {i["key"] for i in vector}
    assert get(site, "/api/announcements?q=ve")["items"] == []
    combined = all_pages(site, f"/api/announcements?q=vector&event={EVENT_SLUG}")
    assert combined and all("vector" in i["title"] and i["event"] == EVENT_NAME for i in combined)
    assert get(site, "/api/announcements?q=" + quote('"NEAR(* OR'))["items"] == []


def test_cursor_pagination_covers_everything_once(any_site: Site) -> None:
    site = any_site
    seen = all_pages(site, "/api/announcements?limit=7")
    assert len(seen) == 30 and len({i["id"] for i in seen}) == 30
    assert [i["key"] for i in seen] == [f"launch-{n:02d}" for n in range(30)]
    status, headers, body = site.request("/api/announcements?limit=7&service=aws-lambda")
    page = json.loads(body)
    assert headers["link"] == f'<{page["next"]}>; rel="next"'
    assert parse_qs(urlsplit(page["next"]).query)["service"] == ["aws-lambda"]  # filters are kept
    last = get(site, "/api/announcements?limit=30")
    assert last["next_cursor"] is None and last["next"] is None


def test_the_response_names_the_feed_of_the_filter(any_site: Site) -> None:
    site = any_site
    cases = {
        "": "/all",
        "?service=amazon-s3": "/services/amazon-s3",
        "?service=S3&q=vector": "/services/amazon-s3",
        f"?event={EVENT_SLUG}": f"/events/{EVENT_SLUG}",
        f"?event={EVENT_SLUG}&service=aws-lambda": f"/events/{EVENT_SLUG}/services/aws-lambda",
    }
    for query, stem in cases.items():
        feed = get(site, "/api/announcements" + query)["feed"]
        assert feed == {"atom": stem + ".atom", "rss": stem + ".rss", "json": stem + ".json"}, query
        status, _, body = site.request(feed["atom"])
        assert status == 200 and feedparser.parse(body).bozo == 0
    assert get(site, "/api/announcements?service=nothing", 400)["error"]["parameter"] == "service"


@pytest.mark.parametrize(
    "query, parameter, words",
    [
        ("colour=blue", "colour", "unknown parameter"),
        ("servce=amazon-s3", "servce", "accepts: service"),
        ("service=a&service=b", "service", "2 times"),
        ("since=yesterday", "since", "YYYY-MM-DD"),
        ("until=2031-13-45", "until", "not a date"),
        ("since=2031-12-05&until=2031-12-01", "since", "before"),
        ("limit=0", "limit", "between 1 and"),
        (f"limit={MAX_LIMIT + 1}", "limit", "between 1 and"),
        ("limit=10000000000000000000000", "limit", "between 1 and"),
        ("limit=ten", "limit", "whole number"),
        ("limit=-5", "limit", "whole number"),
        ("q=" + "x" * 201, "q", "longer than"),
        ("q=", "q", "empty"),
        ("cursor=not-a-cursor", "cursor", "not a cursor"),
    ],
)
def test_bad_requests_get_a_400_that_says_what_to_fix(
    shared_site: Site, query: str, parameter: str, words: str
) -> None:
    site = shared_site
    status, headers, body = site.request("/api/announcements?" + query)
    assert status == 400
    assert headers["cache-control"] == "no-store"
    error = json.loads(body)["error"]
    assert error["status"] == 400 and error["parameter"] == parameter
    assert words in error["message"], error["message"]


def test_a_cursor_only_works_with_its_own_filters(shared_site: Site) -> None:
    site = shared_site
    cursor = get(site, "/api/announcements?limit=5&service=amazon-s3")["next_cursor"]
    assert cursor
    error = get(site, f"/api/announcements?limit=5&service=aws-lambda&cursor={cursor}", 400)["error"]
    assert error["parameter"] == "cursor" and "other filters" in error["message"]
    # a different page size is fine
    assert get(site, f"/api/announcements?limit=3&service=amazon-s3&cursor={cursor}")["count"] == 3


def test_one_announcement(any_site: Site) -> None:
    site = any_site
    listed = get(site, "/api/announcements?limit=1")["items"][0]
    assert get(site, f"/api/announcements/{listed['id']}") == listed
    assert get(site, f"/api/announcements/{listed['key']}") == listed
    error = get(site, "/api/announcements/999999", 404)["error"]
    assert "999999" in error["message"]
    assert get(site, f"/api/announcements/{listed['id']}?verbose=1", 400)["error"]["parameter"] == "verbose"


def test_services_events_sessions(any_site: Site) -> None:
    site = any_site
    services = get(site, "/api/services")["items"]
    assert {s["slug"]: s["announcements"] for s in services} == {"aws-lambda": 10, "amazon-s3": 10, "amazon-aurora": 10}
    s3 = next(s for s in services if s["slug"] == "amazon-s3")
    assert s3["category"] == "Storage" and s3["feed"]["rss"] == "/services/amazon-s3.rss"
    assert get(site, "/api/services?all=maybe", 400)["error"]["parameter"] == "all"
    events = get(site, "/api/events")["items"]
    assert events == [
        {
            "slug": EVENT_SLUG,
            "name": EVENT_NAME,
            "announcements": 15,
            "feed": {
                "atom": f"/events/{EVENT_SLUG}.atom",
                "rss": f"/events/{EVENT_SLUG}.rss",
                "json": f"/events/{EVENT_SLUG}.json",
            },
        }
    ]
    sessions = get(site, f"/api/sessions?event={EVENT_SLUG}")
    assert [s["code"] for s in sessions["items"]] == ["KEY001"] and sessions["total"] == 1
    error = get(site, "/api/sessions?event=nothing", 400)["error"]
    assert error["parameter"] == "event" and "unknown event 'nothing'" in error["message"]
    assert get(site, "/api/sessions?limit=1001", 400)["error"]["parameter"] == "limit"
    assert get(site, "/api/events?x=1", 400)["error"]["parameter"] == "x"


def test_api_responses_are_cacheable(shared_site: Site) -> None:
    site = shared_site
    status, headers, body = site.request("/api/announcements?service=amazon-s3")
    assert status == 200 and headers["cache-control"] == "public, max-age=60"
    status, again, empty = site.request("/api/announcements?service=amazon-s3", {"If-None-Match": headers["etag"]})
    assert status == 304 and empty == b""


def test_openapi_documents_every_endpoint_and_parameter(shared_site: Site) -> None:
    site = shared_site
    doc = get(site, "/api/openapi.json")
    assert doc["openapi"].startswith("3.1") and doc["info"]["title"]
    assert set(doc["paths"]) == {
        "/api/announcements",
        "/api/announcements/{id}",
        "/api/services",
        "/api/events",
        "/api/sessions",
        "/api/months",
    }
    samples = {
        "service": "amazon-s3",
        "region": "GovCloud",
        "event": EVENT_SLUG,
        "session": "KEY001",
        "since": "2031-01-01",
        "until": "2032-01-01",
        "q": "vector",
        "limit": "5",
        "all": "true",
    }
    for path, item in doc["paths"].items():
        operation = item["get"]
        assert operation["operationId"] and "200" in operation["responses"] and "400" in operation["responses"]
        concrete = path.replace("{id}", "launch-00")
        for param in operation["parameters"]:
            if param["in"] != "query" or param["name"] == "cursor":
                continue
            # every documented parameter is accepted...
            got = get(site, concrete + "?" + urlencode({param["name"]: samples[param["name"]]}))
            assert "error" not in got, (path, param["name"])
        # ...and nothing undocumented is
        get(site, concrete + "?undocumented=1", 400)
    refs = json.dumps(doc)
    for name in doc["components"]["schemas"]:
        assert f"#/components/schemas/{name}" in refs or name == "Error"


# --------------------------------------------------------------------------- one resolver, one date range (issue 15)


def test_cli_and_api_give_the_same_rows_for_one_day(any_site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    """`since=D until=D` is that whole day in both (the CLI used to read a bare --until as midnight: nothing)."""
    from tracker.cli import main

    site = any_site
    day = (NOW - timedelta(days=2)).date().isoformat()  # launch-02 is at noon that day
    api = [i["id"] for i in all_pages(site, f"/api/announcements?since={day}&until={day}")]
    capsys.readouterr()
    assert (
        main(["--database", any_site.database_url, "announcements", "--since", day, "--until", day, "--format", "json"])
        == 0
    )
    cli = [row["id"] for row in json.loads(capsys.readouterr().out)]
    assert api and cli == api
    assert [i["key"] for i in all_pages(site, f"/api/announcements?since={day}&until={day}")] == ["launch-02"]
    # A date-time is exact in both: up to noon excludes the launch at noon.
    until = f"{day}T12:00:00Z"
    assert all_pages(site, f"/api/announcements?since={day}&until={until}") == []
    assert (
        main(
            ["--database", any_site.database_url, "announcements", "--since", day, "--until", until, "--format", "json"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == []
    # An empty range is refused by both.
    assert (
        get(site, f"/api/announcements?since={day}T13:00:00Z&until={day}T12:00:00Z", 400)["error"]["parameter"]
        == "since"
    )
    assert (
        main(
            [
                "--database",
                any_site.database_url,
                "announcements",
                "--since",
                f"{day}T13:00:00Z",
                "--until",
                f"{day}T12:00:00Z",
            ]
        )
        == 2
    )


@pytest.mark.parametrize(
    ("query", "slug"),
    [
        ("service=" + quote("AWS S3"), "amazon-s3"),
        ("service=S3", "amazon-s3"),
        ("service=" + quote("Amazon Lambda"), "aws-lambda"),
        ("event=" + quote("reinvent 2031"), None),
        ("event=" + quote("re:Invent 2031"), None),
    ],
)
def test_the_api_resolves_the_spellings_people_write(any_site: Site, query: str, slug: str | None) -> None:
    page = get(any_site, "/api/announcements?limit=100&" + query)
    if slug is None:
        assert page["count"] == 15 and all(i["event"] == EVENT_NAME for i in page["items"])
        assert page["feed"]["atom"] == f"/events/{EVENT_SLUG}.atom"  # the feed of the same, resolved name
    else:
        assert page["count"] == 10 and page["feed"]["atom"] == f"/services/{slug}.atom"


@pytest.mark.parametrize(
    ("path", "parameter", "suggested"),
    [
        ("/api/announcements?service=Lamda", "service", "AWS Lambda"),
        ("/api/announcements?service=" + quote("Amazon Auroa"), "service", "Amazon Aurora"),
        ("/api/announcements?event=" + quote("reinvnt 2031"), "event", EVENT_NAME),
        ("/api/sessions?event=" + quote("re:Invent 2030"), "event", EVENT_NAME),
    ],
)
def test_an_unknown_name_is_a_400_with_suggestions(any_site: Site, path: str, parameter: str, suggested: str) -> None:
    error = get(any_site, path, 400)["error"]
    assert error["parameter"] == parameter and suggested in error["suggestions"]
    assert f"unknown {parameter}" in error["message"] and "did you mean" in error["message"]


def test_the_cli_exits_2_with_suggestions_for_an_unknown_name(
    any_site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    from tracker.cli import main

    capsys.readouterr()
    assert main(["--database", any_site.database_url, "announcements", "--service", "Lamda"]) == 2
    err = capsys.readouterr().err
    assert "unknown service 'Lamda'; did you mean: AWS Lambda" in err and "0 announcements" not in err
    assert main(["--database", any_site.database_url, "sessions", "--event", "reinvnt 2031"]) == 2
    assert "unknown event 'reinvnt 2031'; did you mean: AWS re:Invent 2031" in capsys.readouterr().err
    for spelling in ("AWS S3", "S3", "Amazon S3"):
        assert (
            main(["--database", any_site.database_url, "announcements", "--service", spelling, "--format", "json"]) == 0
        )
        assert len(json.loads(capsys.readouterr().out)) == 10, spelling
    assert main(["--database", any_site.database_url, "sessions", "--event", "reinvent 2031", "--format", "json"]) == 0
    assert [s["code"] for s in json.loads(capsys.readouterr().out)] == ["KEY001"]


# --------------------------------------------------------------------------- launches per month (issue 15)


@pytest.mark.parametrize(
    "query",
    ["", "service=amazon-s3", f"event={EVENT_SLUG}", "q=vector", "service=aws-lambda&q=durable", "since=2031-12-01"],
)
def test_months_count_what_the_announcements_endpoint_lists(any_site: Site, query: str) -> None:
    site = any_site
    listed = all_pages(site, "/api/announcements?" + query)
    counted = get(site, "/api/months?" + query)
    expected: dict[str, int] = {}
    for item in listed:
        month = item["announced_at"][:7]
        expected[month] = expected.get(month, 0) + 1
    assert {m["month"]: m["announcements"] for m in counted["months"] if m["announcements"]} == expected
    assert counted["total"] == len(listed) and counted["undated"] == 0
    months = [m["month"] for m in counted["months"]]
    assert months == sorted(months)


def test_months_take_the_filters_of_announcements_and_refuse_the_rest(shared_site: Site) -> None:
    site = shared_site
    assert get(site, "/api/months?q=the")["months"] == []  # stop words only: nothing searchable
    error = get(site, "/api/months?service=no-such-service", 400)["error"]
    assert error["parameter"] == "service" and error["suggestions"] is not None
    assert get(site, "/api/months?limit=5", 400)["error"]["parameter"] == "limit"
    assert get(site, "/api/months?since=2031-12-02&until=2031-11-01", 400)["error"]["parameter"] == "since"


def test_every_month_fills_the_holes_between_the_first_and_the_last() -> None:
    from tracker.items import MonthCount
    from tracker.web.api import MAX_MONTHS, _every_month

    assert _every_month([MonthCount("2030-11", 2), MonthCount("2031-02", 1)]) == [
        MonthCount("2030-11", 2),
        MonthCount("2030-12", 0),
        MonthCount("2031-01", 0),
        MonthCount("2031-02", 1),
    ]
    assert _every_month([]) == []
    far = [MonthCount("1900-01", 1), MonthCount(f"{1900 + MAX_MONTHS // 12}-01", 1)]
    assert _every_month(far) == far  # a stray date a century away is not a thousand empty bars
