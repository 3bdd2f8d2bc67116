"""`json_response(plain=True)` writes with orjson the very bytes json.dumps writes, and falls back where they differ."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from tracker.store.db import unit_of_work
from tracker.store.models import AnnouncementSessionRow
from tracker.web import responses
from tracker.web.responses import json_response, plain_float

from .conftest import Site


def _stdlib(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode("utf-8")


# Text without lone surrogates (neither writer can encode those), any other code point included.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
PLAIN_FLOATS = st.floats(allow_nan=False, allow_infinity=False).filter(plain_float)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), PLAIN_FLOATS, TEXT)
PLAIN = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5))


@settings(max_examples=300, deadline=None)
@given(PLAIN)
def test_plain_data_gives_the_bytes_of_json_dumps(data: Any) -> None:
    assert json_response(data, plain=True).body == _stdlib(data)


def test_orjson_is_used_for_plain_data() -> None:
    # Guards the test above: the bytes are orjson's, not json.dumps' under another name.
    assert responses.orjson is not None
    data = {"items": [{"title": "caf\u00e9 \U0001f680", "score": 0.5}]}
    assert json_response(data, plain=True).body == responses.orjson.dumps(data) + b"\n" == _stdlib(data)


def test_what_orjson_refuses_is_written_by_json_dumps() -> None:
    for data in ({"n": 2**70}, {1: "a key that is not text"}):
        assert json_response(data, plain=True).body == _stdlib(data)
    assert not plain_float(1e-05) and not plain_float(math.inf) and not plain_float(math.nan)
    assert plain_float(0.0) and plain_float(1e-4) and plain_float(-0.6) and plain_float(1e300)


def test_a_page_whose_scores_orjson_would_write_otherwise_is_written_by_json_dumps(any_site: Site) -> None:
    # orjson writes 1e-05 as 0.00001: a page holding such a score is not plain, and its bytes are json.dumps'.
    with unit_of_work(any_site.factory) as s:
        s.execute(update(AnnouncementSessionRow).values(score=1e-05))
    for until in ("2031-12-31", "2031-12-30"):  # two pages the micro-cache has not seen
        status, _headers, body = any_site.request(f"/api/announcements?service=aws-lambda&limit=5&until={until}")
        assert status == 200
        page = json.loads(body)
        assert [link["score"] for item in page["items"] for link in item["sessions"]]
        assert body == _stdlib(page) and b"1e-05" in body
