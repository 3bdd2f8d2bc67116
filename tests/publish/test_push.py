"""WebSub hub pings and webhooks, against a real local receiver (tests/support/http.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
import tracemalloc
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest

from tests.support.http import FixtureServer, Reply
from tracker import pipeline
from tracker.config import load_settings
from tracker.errors import ConfigError
from tracker.items import Announcement, AnnouncementRecord, NormalizedAnnouncement, Service
from tracker.publish import FeedContext, build_feed_files
from tracker.sources.push import Pusher, Webhook, load_webhooks, push, signature
from tracker.store.announcements import upsert_announcement
from tracker.store.db import close_stores, unit_of_work

from .conftest import BASE_URL, EVENT, EVENT_SLUG, LAMBDA, S3
from .feedcheck import check_feed


def no_sleep(_seconds: float) -> None:
    """Retries in tests do not wait."""


def pusher(retries: int = 2) -> Pusher:
    return Pusher(user_agent="tracker-test", timeout=5, retries=retries, backoff=0.01, sleep=no_sleep)


def test_webhook_filters(records: list[AnnouncementRecord]) -> None:
    by_key = {r.key: r for r in records}
    everything = Webhook(url="https://hooks.example.test/")
    s3_only = Webhook(url="https://hooks.example.test/", services=frozenset({"amazon-s3"}))
    by_name = Webhook(url="https://hooks.example.test/", services=frozenset({"aws lambda"}))
    at_event = Webhook(url="https://hooks.example.test/", events=frozenset({EVENT_SLUG}))
    s3_at_event = Webhook(
        url="https://hooks.example.test/", services=frozenset({"amazon-s3"}), events=frozenset({EVENT.lower()})
    )
    assert all(everything.wants(r) for r in records)
    assert {r.key for r in records if s3_only.wants(r)} == {"s3-vector-tables", "s3-bucket-quotas"}
    assert {r.key for r in records if by_name.wants(r)} == {"lambda-tenant-isolation", "lambda-undated"}
    assert {r.key for r in records if at_event.wants(r)} == {"s3-vector-tables", "aurora-redshift-zero-etl"}
    assert {r.key for r in records if s3_at_event.wants(r)} == {"s3-vector-tables"}
    assert not s3_at_event.wants(by_key["s3-bucket-quotas"])


def test_load_webhooks(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.toml"
    assert load_webhooks(path) == ()
    path.write_text(
        '[[webhook]]\nurl = "https://hooks.example.test/a"\nservices = ["Amazon S3"]\n'
        'events = ["aws-reinvent-2031"]\nsecret = "s3cret"\n\n[[webhook]]\nurl = "http://127.0.0.1:9/b"\n'
    )
    first, second = load_webhooks(path)
    assert first == Webhook(
        "https://hooks.example.test/a", frozenset({"amazon s3"}), frozenset({"aws-reinvent-2031"}), "s3cret"
    )
    assert second.services == frozenset() and second.secret is None
    for bad, key in (
        ('[[webhook]]\nurl = "ftp://x"\n', "webhook[0].url"),
        ('[[webhook]]\nurl = "https://x.test/"\ncolour = 1\n', "webhook[0].colour"),
        ('[[webhook]]\nurl = "https://x.test/"\nservices = "S3"\n', "webhook[0].services"),
        ("hook = 1\n", "hook"),
    ):
        path.write_text(bad)
        with pytest.raises(ConfigError) as exc:
            load_webhooks(path)
        assert key in str(exc.value)


def test_a_webhook_delivery_is_retried_signed_and_deduplicable(
    http_server: FixtureServer, records: list[AnnouncementRecord]
) -> None:
    http_server.script("/hook", [Reply(status=503), Reply(status=429, headers={"Retry-After": "0"}), Reply(status=204)])
    hook = Webhook(url=http_server.url("/hook"), secret="s3cret")
    record = next(r for r in records if r.key == "s3-vector-tables")
    with pusher() as p:
        delivery = p.send(hook, record)
    assert delivery.ok and delivery.attempts == 3 and delivery.status == 204
    sent = http_server.requests_to("/hook")
    assert len(sent) == 3
    assert len({r.headers["x-tracker-delivery"] for r in sent}) == 1  # one delivery id for every retry
    body = sent[-1].body
    delivery, stamp = sent[-1].headers["x-tracker-delivery"], sent[-1].headers["x-tracker-timestamp"]
    signed = f"{delivery}.{stamp}.".encode() + body
    expected = "sha256=" + hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
    assert (
        sent[-1].headers["x-tracker-signature"]
        == expected
        == signature("s3cret", body, delivery_id=delivery, timestamp=int(stamp))
    )
    assert sent[-1].headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert payload["type"] == "announcement.created"
    assert payload["announcement"]["key"] == "s3-vector-tables"
    assert payload["announcement"]["services"] == ["Amazon S3"]
    assert payload["announcement"]["sessions"][0]["url"] == "https://www.youtube.com/watch?v=KEYNOTE0001"


def test_a_refused_delivery_is_not_retried_and_failures_never_raise(
    http_server: FixtureServer, records: list[AnnouncementRecord]
) -> None:
    http_server.route("/gone", "no such hook", status=410)
    with pusher() as p:
        refused = p.send(Webhook(url=http_server.url("/gone")), records[0])
    assert not refused.ok and refused.attempts == 1 and refused.status == 410
    assert len(http_server.requests_to("/gone")) == 1
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pusher(retries=2) as p:
        down = p.send(Webhook(url=f"http://127.0.0.1:{port}/hook"), records[0])
    assert not down.ok and down.attempts == 3 and down.status is None and "connect" in (down.error or "")


def test_push_pings_the_hub_once_and_sends_each_new_announcement_where_it_is_wanted(
    http_server: FixtureServer, records: list[AnnouncementRecord]
) -> None:
    http_server.route("/hub", "", status=204)
    http_server.route("/all", "", status=200)
    http_server.route("/s3", "", status=200)
    hooks = [
        Webhook(url=http_server.url("/all")),
        Webhook(url=http_server.url("/s3"), services=frozenset({"amazon-s3"})),
    ]
    topics = [BASE_URL + "services/amazon-s3.atom", BASE_URL + "all.atom", BASE_URL + "all.atom"]
    with pusher() as p:
        report = push(p, hub=http_server.url("/hub"), changed_feeds=topics, webhooks=hooks, new_announcements=records)
    assert report.failed == []
    (ping,) = http_server.requests_to("/hub")
    form = parse_qs(ping.body.decode())
    assert form == {"hub.mode": ["publish"], "hub.url": [BASE_URL + "all.atom", BASE_URL + "services/amazon-s3.atom"]}
    assert ping.headers["content-type"] == "application/x-www-form-urlencoded"
    assert len(http_server.requests_to("/all")) == len(records)
    s3_keys = {json.loads(r.body)["announcement"]["key"] for r in http_server.requests_to("/s3")}
    assert s3_keys == {"s3-vector-tables", "s3-bucket-quotas"}
    with pusher() as p:
        quiet = push(p, hub=http_server.url("/hub"), changed_feeds=[], webhooks=[], new_announcements=[])
    assert quiet.hub is None and len(http_server.requests_to("/hub")) == 1  # nothing changed: no ping


def test_feeds_advertise_the_hub(records: list[AnnouncementRecord]) -> None:
    ctx = FeedContext(base_url=BASE_URL, author="Tracker Bot", hub="https://hub.example.test/")
    files = build_feed_files(records, ctx, title="AWS announcements", limit=2)
    for path in ("all.atom", "all.rss", "archive/all/1.atom"):
        links = feedparser.parse(files[path]).feed.links
        assert [ln.href for ln in links if ln.rel == "hub"] == ["https://hub.example.test/"], path
    assert json.loads(files["all.json"])["hubs"] == [{"type": "WebSub", "url": "https://hub.example.test/"}]
    assert [
        p
        for path, data in files.items()
        if path.endswith((".atom", ".rss", ".json"))
        for p in check_feed(path, data, BASE_URL)
    ] == []
    plain = build_feed_files(records, FeedContext(base_url=BASE_URL, author="x"), title="t", limit=2)
    assert b'rel="hub"' not in plain["all.atom"] and "hubs" not in json.loads(plain["all.json"])


def test_a_run_pushes_its_changes(http_server: FixtureServer, tmp_path: Path, seeded_sqlite_url: str) -> None:
    """pipeline.publish + push_changes: the hub hears of changed feeds, webhooks of new announcements."""
    http_server.route("/hub", "", status=204)
    http_server.route("/hook", "", status=200)
    config = tmp_path / "config"
    config.mkdir()
    (config / "tracker.toml").write_text(f'[push]\nhub = "{http_server.url("/hub")}"\n')
    (config / "webhooks.toml").write_text(
        f'[[webhook]]\nurl = "{http_server.url("/hook")}"\nservices = ["amazon-s3"]\n'
    )
    (config / "sources.toml").write_text("")
    settings = load_settings(config, environ={}).with_overrides(
        database_url=seeded_sqlite_url, output_dir=tmp_path / "feeds", base_url=BASE_URL
    )
    first_run = datetime(2031, 12, 5, tzinfo=UTC)

    def store(ctx: pipeline.Context, key: str, service: Service) -> None:
        ann = Announcement(
            title=f"{service.name} {key}", url=f"https://aws.example.test/{key}", published_at=ctx.now, rule="test"
        )
        na = NormalizedAnnouncement(key=key, announcement=ann, services=(service,), url=ann.url, announced_at=ctx.now)
        with unit_of_work(ctx.factory) as session:
            upsert_announcement(session, na, now=ctx.now, event_id=None)

    try:
        ctx = pipeline.Context(settings, now=first_run)
        store(ctx, "first-s3", S3)
        store(ctx, "first-lambda", LAMBDA)
        published = pipeline.publish(ctx)
        report = pipeline.push_changes(ctx, published)
        assert report.failed == [] and report.hub is not None
        topics = parse_qs(http_server.requests_to("/hub")[0].body.decode())["hub.url"]
        assert BASE_URL + "all.atom" in topics and BASE_URL + "services/amazon-s3.rss" in topics
        assert not any("archive/" in t or t.endswith(".opml") for t in topics)
        assert [json.loads(r.body)["announcement"]["key"] for r in http_server.requests_to("/hook")] == ["first-s3"]
        assert b'rel="hub"' in (tmp_path / "feeds" / "all.atom").read_bytes()

        # Nothing new: no ping, no webhook.
        again = pipeline.Context(settings, now=first_run + timedelta(days=1))
        report = pipeline.push_changes(again, pipeline.publish(again))
        assert report.hub is None and report.webhooks == []
        # A later run with one more S3 launch: only that one is sent.
        later = pipeline.Context(settings, now=first_run + timedelta(days=2))
        store(later, "second-s3", S3)
        pipeline.push_changes(later, pipeline.publish(later))
        assert [json.loads(r.body)["announcement"]["key"] for r in http_server.requests_to("/hook")] == [
            "first-s3",
            "second-s3",
        ]
        assert len(http_server.requests_to("/hub")) == 2
    finally:
        close_stores()


# -- signed, timestamped deliveries; no secret in the log ------------------------------------


REPLAY_WINDOW = 300  # seconds: what the README tells receivers to accept


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, *, now: float) -> str:
    """A receiver's check, as the README describes it: 'ok' or why the delivery is refused."""
    delivery, stamp = headers["x-tracker-delivery"], headers["x-tracker-timestamp"]
    signed = f"{delivery}.{stamp}.".encode() + body
    expected = "sha256=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, headers.get("x-tracker-signature", "")):
        return "bad signature"
    if abs(now - int(stamp)) > REPLAY_WINDOW:
        return "too old"
    return "ok"


def test_a_receiver_verifies_the_signature_and_detects_a_replay(
    http_server: FixtureServer, records: list[AnnouncementRecord]
) -> None:
    http_server.route("/hook", "", status=204)
    hook = Webhook(url=http_server.url("/hook"), secret="s3cret")
    with pusher() as p:
        assert p.send(hook, records[0]).ok
    (delivery,) = http_server.requests_to("/hook")
    now = time.time()
    assert abs(now - int(delivery.headers["x-tracker-timestamp"])) < 60
    assert verify(b"s3cret", delivery.headers, delivery.body, now=now) == "ok"
    assert verify(b"other", delivery.headers, delivery.body, now=now) == "bad signature"
    assert verify(b"s3cret", delivery.headers, delivery.body + b" ", now=now) == "bad signature"
    # The captured delivery replayed an hour later: its signed timestamp gives it away ...
    assert verify(b"s3cret", delivery.headers, delivery.body, now=now + 3600) == "too old"
    # ... and the attacker cannot refresh the timestamp without breaking the signature.
    refreshed = dict(delivery.headers.items()) | {"x-tracker-timestamp": str(int(now + 3600))}
    refreshed = {k.lower(): v for k, v in refreshed.items()}
    assert verify(b"s3cret", refreshed, delivery.body, now=now + 3600) == "bad signature"


def test_each_retry_is_signed_with_its_own_time(http_server: FixtureServer, records: list[AnnouncementRecord]) -> None:
    http_server.script("/hook", [Reply(status=503), Reply(status=204)])
    clock = iter([1_900_000_000.0, 1_900_000_120.0])
    hook = Webhook(url=http_server.url("/hook"), secret="s3cret")
    with Pusher(user_agent="t", timeout=5, retries=1, backoff=0.01, sleep=no_sleep, clock=lambda: next(clock)) as p:
        assert p.send(hook, records[0]).ok
    first, second = http_server.requests_to("/hook")
    stamps = [first.headers["x-tracker-timestamp"], second.headers["x-tracker-timestamp"]]
    assert stamps == ["1900000000", "1900000120"]
    assert first.headers["x-tracker-delivery"] == second.headers["x-tracker-delivery"]
    for sent in (first, second):
        assert verify(b"s3cret", sent.headers, sent.body, now=int(sent.headers["x-tracker-timestamp"])) == "ok"


def test_a_webhook_without_a_secret_is_sent_unsigned_with_one_warning(
    http_server: FixtureServer, records: list[AnnouncementRecord], caplog: pytest.LogCaptureFixture
) -> None:
    http_server.route("/open", "", status=200)
    hook = Webhook(url=http_server.url("/open"))
    with caplog.at_level(logging.WARNING, logger="tracker.sources.push"), pusher() as p:
        for record in records[:3]:
            assert p.send(hook, record).ok
    warnings = [r for r in caplog.records if "no secret" in r.getMessage()]
    assert len(warnings) == 1 and "webhooks.toml" in warnings[0].getMessage()
    sent = http_server.requests_to("/open")
    assert len(sent) == 3 and all("x-tracker-signature" not in r.headers for r in sent)
    assert all("x-tracker-timestamp" in r.headers for r in sent)


def test_hub_and_webhook_secrets_never_reach_the_log(
    http_server: FixtureServer, records: list[AnnouncementRecord], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "pa55-T0KEN-x"
    http_server.route("/hook", "", status=500)
    http_server.route("/hub", "", status=204)
    hook_url = http_server.url(f"/hook?token={secret}").replace("http://", f"http://bot:{secret}@")
    hub_url = http_server.url(f"/hub?hub.secret={secret}").replace("http://", f"http://bot:{secret}@")
    caplog.set_level(logging.DEBUG)
    with pusher(retries=1) as p:
        report = push(
            p,
            hub=hub_url,
            changed_feeds=[BASE_URL + "all.atom"],
            webhooks=[Webhook(url=hook_url)],
            new_announcements=records[:1],
        )
    assert report.hub is not None and report.hub.ok and len(report.failed) == 1
    for delivery in (report.hub, *report.webhooks):
        assert secret not in delivery.target and "***" in delivery.target
        assert secret not in (delivery.error or "")
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("tests."))
    assert "httpx" in {r.name for r in caplog.records} and "push to" in logged
    assert secret not in logged
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pusher(retries=0) as p:
        down = p.send(Webhook(url=f"http://bot:{secret}@127.0.0.1:{port}/h?token={secret}"), records[0])
    assert not down.ok and secret not in (down.error or "") + down.target


def test_a_hostile_receiver_cannot_hold_or_flood_a_push(
    http_server: FixtureServer, records: list[AnnouncementRecord]
) -> None:
    """A receiver dripping its answer is cut at push.timeout; its body (here a gzip bomb) is never read."""
    import gzip

    http_server.route("/drip", b"ok" * 500, header_drip=0.1)  # ~15 s of headers
    http_server.route("/bomb", gzip.compress(bytes(200_000_000)), status=200, headers={"Content-Encoding": "gzip"})
    with Pusher(user_agent="t", timeout=1.0, retries=0, sleep=no_sleep) as p:
        started = time.monotonic()
        slow = p.send(Webhook(url=http_server.url("/drip")), records[0])
        assert time.monotonic() - started < 1.0 + 5.0
        assert not slow.ok and "timeout" in (slow.error or "")
        tracemalloc.start()
        try:
            bomb = p.send(Webhook(url=http_server.url("/bomb")), records[0])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert bomb.ok and peak < 10_000_000, f"peak {peak} bytes"
