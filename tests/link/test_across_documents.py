"""Linking across documents scores again only what changed since the last pass, and ends where a
pass over everything would (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker import pipeline
from tracker.config import load_settings
from tracker.items import Announcement, ConferenceSession, NormalizedAnnouncement, Service
from tracker.store import sessions as store_sessions
from tracker.store.announcements import get_or_create_event, upsert_announcement
from tracker.store.db import close_stores, unit_of_work
from tracker.store.queries import query_announcements
from tracker.store.sessions import upsert_session

NOW = datetime(2031, 12, 2, tzinfo=UTC)
S3 = Service("amazon-s3", "Amazon S3")
LAMBDA = Service("aws-lambda", "AWS Lambda")
EVENT = "aws-reinvent-2031"


@pytest.fixture
def ctx(database_url: str, tmp_path: Path) -> Iterator[pipeline.Context]:
    """A context on an empty store, with an event and a few launches and sessions."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "sources.toml").write_text("")
    settings = load_settings(config, environ={}).with_overrides(database_url=database_url, output_dir=tmp_path / "f")
    try:
        yield pipeline.Context(settings, now=NOW)
    finally:
        close_stores()


def launch(ctx: pipeline.Context, key: str, title: str, service: Service, *, event: bool = True) -> None:
    url = f"https://aws.example.test/new/{key}/"
    na = NormalizedAnnouncement(
        key=key,
        announcement=Announcement(title=title, url=url, rule="t"),
        services=(service,),
        url=url,
        announced_at=NOW,
    )
    with unit_of_work(ctx.factory) as session:
        event_id = get_or_create_event(session, EVENT, "AWS re:Invent 2031", 2031) if event else None
        upsert_announcement(session, na, now=NOW, event_id=event_id, document_url=url)


def talk(ctx: pipeline.Context, code: str, title: str) -> None:
    with unit_of_work(ctx.factory) as session:
        event_id = get_or_create_event(session, EVENT, "AWS re:Invent 2031", 2031)
        upsert_session(
            session, ConferenceSession(key=code, title=title, code=code), event_id=event_id, event_slug=EVENT
        )


def links(ctx: pipeline.Context) -> dict[str, set[str]]:
    with unit_of_work(ctx.factory) as session:
        return {r.key: {s.session.code or "" for s in r.sessions} for r in query_announcements(session)}


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of the announcements each linking pass reads to score, from now on."""
    read: list[int] = []
    original = store_sessions.announcements_for_linking

    def counting(*args: object, **kwargs: object) -> list[store_sessions.LinkableAnnouncement]:
        found = original(*args, **kwargs)  # type: ignore[arg-type]
        read.extend(a.id for a in found)
        return found

    monkeypatch.setattr(pipeline.links, "announcements_for_linking", counting)
    return read


def settled(ctx: pipeline.Context) -> bool:
    """Whether a pass over everything would change nothing: the incremental passes missed nothing."""
    return pipeline.link_across_documents(ctx, full=True) == 0


def test_a_pass_scores_only_what_changed_and_misses_nothing(ctx: pipeline.Context, scored: list[int]) -> None:
    talk(ctx, "STG301", "Deep dive into Amazon S3 Quantum Buckets")
    for n, (title, service) in enumerate(
        [
            ("Amazon S3 Quantum Buckets", S3),
            ("AWS Lambda adds tenant isolation", LAMBDA),
            ("Amazon S3 raises bucket quotas", S3),
        ]
    ):
        launch(ctx, f"launch-{n}", title, service)
    launch(ctx, "elsewhere", "Amazon S3 Quantum Buckets in more Regions", S3, event=False)
    assert pipeline.link_across_documents(ctx) >= 1  # the first pass reads everything
    assert "STG301" in links(ctx)["launch-0"]
    assert len(scored) == 3  # the event's launches only

    scored.clear()
    assert pipeline.link_across_documents(ctx) == 0
    assert scored == []  # nothing changed: nothing read

    launch(ctx, "launch-new", "AWS Lambda tenant isolation for Java", LAMBDA)
    talk(ctx, "SVS401", "Building with AWS Lambda tenant isolation")  # a new session: its event again
    scored.clear()
    pipeline.link_across_documents(ctx)
    assert len(set(scored)) == 4  # the event's four launches, its sessions having changed
    assert "SVS401" in links(ctx)["launch-1"] and "SVS401" in links(ctx)["launch-new"]
    assert settled(ctx)

    launch(ctx, "launch-late", "Amazon S3 Quantum Buckets for archives", S3)  # a launch, no session
    scored.clear()
    pipeline.link_across_documents(ctx)
    assert len(scored) == 1 and "STG301" in links(ctx)["launch-late"]
    assert settled(ctx)


def test_a_new_threshold_scores_everything_again(ctx: pipeline.Context, scored: list[int]) -> None:
    talk(ctx, "STG301", "Deep dive into Amazon S3 Quantum Buckets")
    launch(ctx, "launch-0", "Amazon S3 Quantum Buckets", S3)
    pipeline.link_across_documents(ctx)
    assert "STG301" in links(ctx)["launch-0"]
    stricter = pipeline.Context(ctx.settings.with_overrides(link_threshold=1.01))
    scored.clear()
    assert pipeline.link_across_documents(stricter) == 1  # the title link no longer holds
    assert len(scored) == 1 and links(ctx)["launch-0"] == set()
