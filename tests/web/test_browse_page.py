"""The browse page in headless Chromium (Debian's `chromium`, driven by playwright-core).

A person opens /browse, pages through, searches, filters by service and event, and finds
the feed for what they filtered; hostile input is shown as text, never run. On CI
(CI=true) a missing Chromium or driver is a failure; elsewhere the test skips.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ON_CI

from .conftest import EVENT_SLUG, Site

JS_DIR = Path(__file__).resolve().parent.parent / "js"


def _browser() -> tuple[str, Path]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    problems = []
    if chromium is None:
        problems.append("Debian's chromium is not installed (apt-get install -y chromium)")
    if shutil.which("node") is None or not (JS_DIR / "node_modules" / "playwright-core").is_dir():
        problems.append(f"playwright-core is not installed (npm ci --prefix {JS_DIR})")
    if problems:
        reason = "; ".join(problems)
        if ON_CI:
            pytest.fail(reason + " (CI=true: .ci/run installs them)")
        pytest.skip(reason)
    assert chromium is not None
    return chromium, JS_DIR / "browse_check.mjs"


def api(site: Site, query: str) -> dict[str, Any]:
    status, _, body = site.request("/api/announcements?" + query)
    assert status == 200
    return json.loads(body)  # type: ignore[no-any-return]


def months(site: Site, query: str) -> dict[str, Any]:
    status, _, body = site.request("/api/months?" + query)
    assert status == 200
    return json.loads(body)  # type: ignore[no-any-return]


def chart_of(site: Site, query: str) -> tuple[list[str], list[int]]:
    """The months and counts the chart must show for the query: /api/months's answer."""
    answer = months(site, query)
    return [m["month"] for m in answer["months"]], [m["announcements"] for m in answer["months"]]


def test_a_person_searches_filters_and_finds_the_feed(site: Site) -> None:
    chromium, script = _browser()
    base = f"http://127.0.0.1:{site.port}/"
    result = subprocess.run(["node", str(script), base, chromium], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    steps = out["steps"]
    assert out["errors"] == [] and out["dialogs"] == []

    initial = steps["initial"]
    assert initial["titles"] == [i["title"] for i in api(site, "")["items"]]
    assert initial["more"] and initial["feed"] == ["/all.atom", "/all.rss", "/all.json"]
    assert initial["links"][0].startswith("https://aws.example.test/new/")
    assert set(steps["services"]) == {"", "aws-lambda", "amazon-s3", "amazon-aurora"}
    assert steps["events"] == ["", EVENT_SLUG]

    assert len(steps["more"]["titles"]) == 30 and not steps["more"]["more"]

    search = steps["search"]
    assert search["titles"] == [i["title"] for i in api(site, "q=vector")["items"]] and search["titles"]
    assert "q=vector" in search["url"]

    both = steps["searchAndService"]
    assert both["titles"] == [i["title"] for i in api(site, "q=vector&service=amazon-s3")["items"]]
    assert all(t.startswith("Amazon S3") for t in both["titles"])
    assert both["feed"] == ["/services/amazon-s3.atom", "/services/amazon-s3.rss", "/services/amazon-s3.json"]

    assert steps["service"]["titles"] == [i["title"] for i in api(site, "service=amazon-s3")["items"]]

    narrowed = steps["serviceAndEvent"]
    expected = api(site, f"service=amazon-s3&event={EVENT_SLUG}")
    assert narrowed["titles"] == [i["title"] for i in expected["items"]] and narrowed["titles"]
    stem = f"/events/{EVENT_SLUG}/services/amazon-s3"
    assert narrowed["feed"] == [stem + ".atom", stem + ".rss", stem + ".json"]
    # the feed the page offers is served and holds what the page showed
    status, _, body = site.request(narrowed["feed"][0])
    assert status == 200 and all(title.encode() in body for title in narrowed["titles"])

    hostile = steps["hostile"]
    assert hostile["titles"] == [] and hostile["status"] == "No announcement matches."

    shared = steps["shared"]
    assert steps["sharedInputs"] == {"q": "durable", "service": "aws-lambda"}
    assert shared["titles"] == [i["title"] for i in api(site, "service=aws-lambda&q=durable")["items"]]
    assert shared["titles"] and all("durable" in t for t in shared["titles"])

    # The chart of launches per month follows every filter: search, service, event, a shared link.
    queries = {
        "initial": "",
        "search": "q=vector",
        "searchAndService": "q=vector&service=amazon-s3",
        "service": "service=amazon-s3",
        "serviceAndEvent": f"service=amazon-s3&event={EVENT_SLUG}",
        "hostile": "q=%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E&service=amazon-s3&event=" + EVENT_SLUG,
        "shared": "q=durable&service=aws-lambda",
    }
    for name, query in queries.items():
        chart = steps[name]["chart"]
        assert (chart["months"], chart["counts"]) == chart_of(site, query), name
        assert chart["undated"] == months(site, query)["undated"]
        assert chart["canvases"] == 1 and not chart["hidden"], name
        # bars are drawn for a query with launches (the canvas has pixels in the bars' colour)
        assert (chart["barPixels"] > 0) == (sum(chart["counts"]) > 0), (name, chart["barPixels"])
    initial, service = steps["initial"]["chart"], steps["service"]["chart"]
    assert sum(initial["counts"]) == 30 and len(initial["months"]) >= 2
    assert sum(service["counts"]) == 10 and service["counts"] != initial["counts"]
    assert (
        steps["hostile"]["chart"]["months"] == [] and steps["hostile"]["chart"]["caption"] == "No dated launch matches."
    )
