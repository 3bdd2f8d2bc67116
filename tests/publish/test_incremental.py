"""Publishing renders only the feed documents whose inputs changed, and the result is what a full build gives."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

import tracker.publish.feeds as feeds
from tracker.items import AnnouncementRecord
from tracker.publish import (
    FeedContext,
    FeedWriter,
    PublishReport,
    build_feed_files,
    build_feeds,
    forget_fingerprints,
    load_fingerprints,
    save_fingerprints,
    write_files,
)
from tracker.publish.writer import FINGERPRINTS

TITLE = "AWS announcements"
LIMIT = 2  # small pages, so that the five records fill archive pages too


def publish(out: Path, records: list[AnnouncementRecord], ctx: FeedContext) -> tuple[PublishReport, set[str]]:
    """What `tracker.pipeline.publish` does; returns its report and the documents rendered."""
    build = build_feeds(records, ctx, title=TITLE, limit=LIMIT, known=load_fingerprints(out))
    forget_fingerprints(out)
    report = write_files(out, build.files, prune=True, keep=build.kept)
    save_fingerprints(out, build.fingerprints)
    return report, set(build.rendered)


def contents(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def full_build(tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext) -> dict[str, bytes]:
    fresh = tmp_path / "fresh"
    write_files(fresh, build_feed_files(records, ctx, title=TITLE, limit=LIMIT), prune=True)
    return contents(fresh)


def test_an_unchanged_store_renders_only_the_indexes(
    tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    out = tmp_path / "feeds"
    _, first = publish(out, records, ctx)
    assert len(first) > 20
    report, second = publish(out, records, ctx)
    assert second == {"index.opml", "index.html"}
    assert report.written == [] and report.removed == []
    assert report.unchanged == len(first)
    assert contents(out) == full_build(tmp_path, records, ctx)


def test_one_edited_announcement_renders_only_the_feeds_that_hold_it(
    tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    out = tmp_path / "feeds"
    publish(out, records, ctx)
    edited = [
        dataclasses.replace(r, summary="Edited upstream.", updated_at=datetime(2032, 1, 5, tzinfo=UTC))
        if r.key == "lambda-tenant-isolation"
        else r
        for r in records
    ]
    report, rendered = publish(out, edited, ctx)
    feeds_rendered = {path.rsplit(".", 1)[0] for path in rendered} - {"index"}
    # The Lambda launch is in the all feed and the Lambda feed (or their archive pages), nowhere else.
    assert feeds_rendered
    assert all("lambda" in path or path.startswith(("all", "archive/all")) for path in feeds_rendered)
    assert not any("s3" in path or "event" in path for path in feeds_rendered)
    assert report.written
    assert contents(out) == full_build(tmp_path, edited, ctx)


def test_a_new_older_announcement_shifts_archive_pages_correctly(
    tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    out = tmp_path / "feeds"
    publish(out, records, ctx)
    backfilled = dataclasses.replace(
        records[-1],
        id=99,
        key="s3-backfilled",
        title="Amazon S3 adds an old feature",
        announced_at=datetime(2029, 1, 1, tzinfo=UTC),  # older than every other record
    )
    grown = [*records, backfilled]
    publish(out, grown, ctx)
    assert contents(out) == full_build(tmp_path, grown, ctx)


def test_a_file_deleted_by_hand_is_rendered_again(
    tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    out = tmp_path / "feeds"
    publish(out, records, ctx)
    (out / "all.atom").unlink()
    report, rendered = publish(out, records, ctx)
    assert "all.atom" in rendered and report.written == ["all.atom"]


@pytest.mark.parametrize("damage", ["garbage {", "[1, 2]", ""])
def test_unreadable_fingerprints_mean_a_full_render(
    tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext, damage: str
) -> None:
    out = tmp_path / "feeds"
    _, first = publish(out, records, ctx)
    (out / FINGERPRINTS).write_text(damage)
    report, rendered = publish(out, records, ctx)
    assert rendered == first and report.written == []


def test_a_new_renderer_version_renders_everything(
    tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "feeds"
    _, first = publish(out, records, ctx)
    monkeypatch.setattr(feeds, "RENDER_VERSION", feeds.RENDER_VERSION + ".next")
    _, rendered = publish(out, records, ctx)
    assert rendered == first


def test_the_fingerprints_file_is_never_pruned(
    tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    out = tmp_path / "feeds"
    publish(out, records, ctx)
    assert (out / FINGERPRINTS).is_file()
    publish(out, records[:2], ctx)  # feeds pruned, the fingerprints file stays
    assert (out / FINGERPRINTS).is_file()
    assert contents(out) == full_build(tmp_path, records[:2], ctx)


def test_a_sink_gets_each_file_as_it_is_rendered(
    tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    out = tmp_path / "feeds"
    writer = FeedWriter(out)
    build = build_feeds(records, ctx, title=TITLE, limit=LIMIT, sink=writer.write)
    report = writer.finish(prune=True)
    assert build.files == {}  # nothing collected in memory
    assert sorted(report.written) == sorted(build.rendered)
    assert contents(out) == full_build(tmp_path, records, ctx)
