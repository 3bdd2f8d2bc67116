"""Hostile API parameters (issue #14, finding 11) on SQLite and PostgreSQL: a 400 naming the parameter, never a 500.

Each case used to reach the store and end in a 500 with a traceback in the log: a date whose
end or UTC form is beyond datetime's range, digits that are not ASCII, ids beyond 64 bits,
NUL and other control characters (PostgreSQL refuses NUL in text), ids past PostgreSQL's
INTEGER, and forged cursors.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.web.api import _filters_digest

from .conftest import Site


def _forged_cursor(at: str | None, last_id: int, params: dict[str, str] | None = None) -> str:
    """A cursor in this API's format with any content (the format is not secret: only checked)."""
    payload = json.dumps([at, last_id, _filters_digest(params or {})], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


HOSTILE = [
    # (path and query, parameter named in the error, words of the message)
    ("/api/announcements?until=9999-12-31", "until", "9999-12-31T23:59:59Z"),
    ("/api/announcements?since=0001-01-01T00:00:00%2B14:00", "since", "between 0001-01-01 and 9999-12-31"),
    ("/api/announcements?until=9999-12-31T23:00:00-14:00", "until", "between 0001-01-01 and 9999-12-31"),
    ("/api/announcements?since=%D9%A2%D9%A0%D9%A3%D9%A1-01-01", "since", "ASCII"),
    ("/api/announcements?limit=%D9%A1%D9%A0", "limit", "whole number"),  # Arabic-Indic 10
    ("/api/announcements?limit=%C2%B2", "limit", "whole number"),  # superscript two: isdigit() but not int()
    ("/api/announcements?limit=%EF%BC%95", "limit", "whole number"),  # fullwidth 5
    ("/api/sessions?limit=%D9%A1", "limit", "whole number"),
    ("/api/announcements?service=%00", "service", "control character"),
    ("/api/announcements?service=amazon%00s3", "service", "control character"),
    ("/api/announcements?event=x%00", "event", "control character"),
    ("/api/announcements?session=%00KEY001", "session", "control character"),
    ("/api/announcements?q=vector%00", "q", "control character"),
    ("/api/announcements?q=%1B%5B2J", "q", "control character"),
    ("/api/sessions?event=%00", "event", "control character"),
    ("/api/announcements/99999999999999999999", "id", "2147483647"),
    ("/api/announcements/2147483648", "id", "2147483647"),  # past PostgreSQL's INTEGER
    ("/api/announcements?cursor=" + _forged_cursor(None, 2**31), "cursor", "not a cursor"),
    ("/api/announcements/%D9%A1%D9%A0", "id", "ASCII"),
    ("/api/announcements/launch%00", "id", "control character"),
    ("/api/announcements/%FF%FE", "id", "UTF-8"),
    ("/api/announcements/" + "k" * 201, "id", "longer than"),
    ("/api/announcements?cursor=" + _forged_cursor(None, 2**70), "cursor", "not a cursor"),
    ("/api/announcements?cursor=" + _forged_cursor(None, -1), "cursor", "not a cursor"),
    ("/api/announcements?cursor=" + _forged_cursor("0001-01-01T00:00:00+14:00", 5), "cursor", "not a cursor"),
    ("/api/announcements?cursor=" + _forged_cursor("9999-12-31T23:00:00-14:00", 5), "cursor", "not a cursor"),
    ("/api/announcements?cursor=" + _forged_cursor("2031-01-01T00:00:00\x00", 5), "cursor", "not a cursor"),
]


@pytest.mark.parametrize("path, parameter, words", HOSTILE)
def test_hostile_parameters_get_a_400_naming_the_parameter(
    any_site: Site, path: str, parameter: str, words: str, caplog: pytest.LogCaptureFixture
) -> None:
    site = any_site
    with caplog.at_level(logging.WARNING):
        status, headers, body = site.request(path)
    assert status == 400, (path, body[:300])
    assert headers["content-type"].startswith("application/json") and headers["cache-control"] == "no-store"
    error: dict[str, Any] = json.loads(body)["error"]
    assert error["status"] == 400 and error["parameter"] == parameter, error
    assert words in error["message"], error["message"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], caplog.text
    # the server is none the worse for it
    assert site.request("/api/announcements?limit=1")[0] == 200


def test_the_edges_of_the_date_range_are_answered(any_site: Site) -> None:
    site = any_site
    for query in (
        "until=9999-12-31T23:59:59Z",
        "until=9999-12-30",
        "since=0001-01-01",
        "since=0001-01-01T00:00:00Z",
        "since=0001-01-01T14:00:00%2B14:00",
        "since=9999-12-31",
    ):
        status, _, body = site.request("/api/announcements?" + query)
        assert status == 200, (query, body[:300])
    assert json.loads(site.request("/api/announcements?since=9999-12-31")[2])["items"] == []
    assert json.loads(site.request("/api/announcements?since=0001-01-01&limit=3")[2])["count"] == 3
    # the largest id there can be is looked up (and not found), not refused
    status, _, body = site.request("/api/announcements/2147483647")
    assert status == 404 and json.loads(body)["error"]["status"] == 404


PARAMETERS = ["service", "event", "session", "since", "until", "q", "limit", "cursor", "all"]
VALUES = st.one_of(
    st.text(max_size=40),
    st.from_regex(r"\A[0-9+\-:TZ.W ]{0,32}\Z"),  # date-like
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.sampled_from(
        [
            "9999-12-31",
            "0001-01-01",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "\u0661\u0660",
            "\u00b2",
            "\uff15",
            "\x00",
            "true",
        ]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    endpoint=st.sampled_from(["/api/announcements", "/api/sessions", "/api/services", "/api/events"]),
    params=st.dictionaries(st.sampled_from(PARAMETERS), VALUES, max_size=4),
    ident=st.one_of(st.text(max_size=30), st.integers(min_value=-(2**70), max_value=2**70).map(str)),
)
def test_no_parameter_value_is_a_server_error(
    shared_site: Site, endpoint: str, params: dict[str, str], ident: str
) -> None:
    site = shared_site
    status, _, body = site.request(endpoint + "?" + urlencode(params))
    assert status in (200, 400), (endpoint, params, body[:300])
    status, _, body = site.request("/api/announcements/" + quote(ident, safe="") if ident else "/api/announcements/x")
    assert status in (200, 400, 404), (ident, body[:300])
