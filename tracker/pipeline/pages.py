"""The publishing step: feeds rebuilt from the store into a folder or a bucket, then WebSub pings and webhooks."""

from __future__ import annotations

from tracker.items import AnnouncementRecord
from tracker.pipeline.context import Context
from tracker.pipeline.folder import publish_folder
from tracker.publish import FeedContext, PublishReport, build_feeds
from tracker.publish.objectstore import ObjectStoreWriter
from tracker.sources import push
from tracker.store.announcements import announcements_created_since
from tracker.store.db import disk_error, unit_of_work
from tracker.store.queries import query_announcements


def publish(ctx: Context, *, full: bool = False) -> PublishReport:
    """Publish the feeds from the store: to a folder, only what changed since the last publish
    (everything with `full`, or when the published state cannot be used; `tracker.pipeline.folder`).
    Only changed files are written (a disk that refuses them is a `DiskError`, exit 74, naming the
    file; a bucket that does, a `PublishError`, exit 69)."""
    try:
        return _publish(ctx, full=full)
    except OSError as exc:
        raise disk_error(exc, ctx.settings.output_dir, "writing the feeds", "output_dir (--output)") from exc


def _publish(ctx: Context, *, full: bool) -> PublishReport:
    feed_ctx = FeedContext(
        base_url=ctx.settings.base_url, author=ctx.settings.feed_author, hub=ctx.settings.push_hub or None
    )
    if ctx.settings.object_store is not None:
        return _publish_to_bucket(ctx, feed_ctx)
    return publish_folder(ctx, feed_ctx, full=full)


def _publish_to_bucket(ctx: Context, feed_ctx: FeedContext) -> PublishReport:
    """The same publish into object storage (output_dir = "s3://bucket/prefix"): only changed objects are put.

    Every announcement is read and every feed document fingerprinted (its files put only when
    changed): the published state that lets a folder's publish read only the changes is kept
    for one folder, not for a bucket.
    """
    assert ctx.settings.object_store is not None
    with unit_of_work(ctx.factory) as session:
        records = query_announcements(session)
    # The bucket's own listing and fingerprints say what is there; the writer drops the
    # fingerprints itself before the first object changes (none when nothing does).
    writer = ObjectStoreWriter(
        ctx.settings.object_store,
        connect_timeout=ctx.settings.http.connect_timeout,
        read_timeout=ctx.settings.http.timeout,
    )
    build = build_feeds(
        records,
        feed_ctx,
        title=ctx.settings.feed_title,
        limit=ctx.settings.feed_limit,
        known=writer.load_fingerprints(),
        sink=writer.write,
    )
    writer.keep(build.kept)
    report = writer.finish(prune=True)
    writer.save_fingerprints(build.fingerprints)
    return report


def push_changes(ctx: Context, published: PublishReport) -> push.PushReport:
    """After a publish: ping the WebSub hub about changed feeds, send this run's new announcements to webhooks."""
    webhooks = push.load_webhooks(ctx.settings.config_dir / "webhooks.toml")
    hub = ctx.settings.push_hub or None
    # Subscription feeds only: archive pages and the indexes are not WebSub topics.
    changed = [
        ctx.settings.base_url + path
        for path in published.written
        if path.endswith((".atom", ".rss", ".json")) and not path.startswith("archive/")
    ]
    if not webhooks and not (hub and changed):
        return push.PushReport()
    new: list[AnnouncementRecord] = []
    if webhooks:
        with unit_of_work(ctx.factory) as session:
            new = announcements_created_since(session, ctx.now)
    with push.Pusher(
        user_agent=ctx.settings.http.user_agent, timeout=ctx.settings.push_timeout, retries=ctx.settings.push_retries
    ) as pusher:
        return push.push(pusher, hub=hub, changed_feeds=changed, webhooks=webhooks, new_announcements=new)
