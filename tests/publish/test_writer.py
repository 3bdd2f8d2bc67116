"""write_files on a real folder: atomic, only when changed, pruning only stale feeds, never outside."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import feedparser
import pytest

from tracker.items import AnnouncementRecord
from tracker.publish import FeedContext, PublishReport, build_feed_files, write_files

TITLE = "AWS announcements"
OLD = 1_000_000_000  # an mtime far in the past, so an untouched file is unmistakable


def build(records: list[AnnouncementRecord], ctx: FeedContext) -> dict[str, bytes]:
    return build_feed_files(records, ctx, title=TITLE, limit=50)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (mtime_ns, inode) of every file."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.stat().st_ino)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def age(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (OLD, OLD))


def test_first_write_creates_every_file(tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    out = tmp_path / "public" / "feeds"  # parents do not exist yet
    files = build(records, ctx)
    report = write_files(out, files)
    assert isinstance(report, PublishReport)
    assert report.written == sorted(files)
    assert report.unchanged == 0 and report.removed == []
    for rel, data in files.items():
        path = out / rel
        assert path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert feedparser.parse((out / "services" / "amazon-s3.atom").read_bytes()).bozo == 0
    assert not [p for p in out.rglob("*.tmp")]  # no temporary file left behind


def test_identical_input_writes_nothing(tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    write_files(tmp_path, build(records, ctx))
    age(tmp_path)
    before = snapshot(tmp_path)
    report = write_files(tmp_path, build(list(reversed(records)), ctx), prune=True)
    assert report.written == []
    assert report.removed == []
    assert report.unchanged == len(before)
    assert snapshot(tmp_path) == before  # mtimes and inodes untouched


def test_one_changed_record_rewrites_only_its_files(
    tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    old = build(records, ctx)
    write_files(tmp_path, old)
    age(tmp_path)
    changed = [
        dataclasses.replace(r, title="AWS Lambda adds per-tenant isolation for every runtime")
        if r.key == "lambda-tenant-isolation"
        else r
        for r in records
    ]
    new = build(changed, ctx)
    differing = sorted(p for p in new if new[p] != old.get(p))
    stems = ("all", "services/aws-lambda")
    assert set(differing) == {f"{stem}.{ext}" for stem in stems for ext in ("atom", "rss", "json")}
    before = snapshot(tmp_path)
    report = write_files(tmp_path, new, prune=True)
    assert report.written == differing
    assert report.unchanged == len(new) - len(differing)
    after = snapshot(tmp_path)
    for rel in new:
        if rel in differing:
            assert after[rel][0] != OLD * 10**9, rel
            assert (tmp_path / rel).read_bytes() == new[rel]
        else:
            assert after[rel] == before[rel], rel
    assert b"for every runtime" in (tmp_path / "services" / "aws-lambda.rss").read_bytes()


def test_prune_removes_only_stale_feed_files(
    tmp_path: Path, records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    write_files(tmp_path, build(records, ctx))
    (tmp_path / "services" / "notes.txt").write_text("keep me")
    (tmp_path / "custom.json").write_text("{}")
    (tmp_path / "events" / "old").mkdir()
    (tmp_path / "events" / "old" / "stale.atom").write_text("<feed/>")
    without_lambda = [r for r in records if "aws-lambda" not in {s.slug for s in r.services}]
    files = build(without_lambda, ctx)

    kept = write_files(tmp_path, files)  # prune=False: nothing is removed
    assert kept.removed == []
    assert (tmp_path / "services" / "aws-lambda.atom").exists()

    report = write_files(tmp_path, files, prune=True)
    assert report.removed == sorted(
        [
            "events/old/stale.atom",
            "services/aws-lambda.atom",
            "services/aws-lambda.json",
            "services/aws-lambda.rss",
        ]
    )
    assert not (tmp_path / "services" / "aws-lambda.rss").exists()
    assert (tmp_path / "services" / "notes.txt").read_text() == "keep me"
    assert (tmp_path / "custom.json").exists()
    assert all((tmp_path / rel).exists() for rel in files)


@pytest.mark.parametrize("bad", ["../evil.atom", "/tmp/evil.atom", "services/../../evil.atom", "a\\..\\b.rss", ""])
def test_paths_outside_the_folder_are_refused(tmp_path: Path, bad: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValueError):
        write_files(out, {"all.atom": b"x", bad: b"evil"})
    assert not (tmp_path / "evil.atom").exists()
    assert not Path("/tmp/evil.atom").exists() or Path("/tmp/evil.atom").read_bytes() != b"evil"
    assert not (out / "all.atom").exists()  # validated before anything is written


def test_symlinked_folder_leading_outside_is_refused(tmp_path: Path) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "x.atom").write_bytes(b"precious")
    (out / "services").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError):
        write_files(out, {"services/x.atom": b"evil"})
    assert (outside / "x.atom").read_bytes() == b"precious"
    report = write_files(out, {"all.atom": b"feed"}, prune=True)  # prune must not walk the link
    assert report.removed == []
    assert (outside / "x.atom").read_bytes() == b"precious"


def test_symlinked_file_is_replaced_not_followed(tmp_path: Path) -> None:
    out, outside = tmp_path / "out", tmp_path / "secret.atom"
    out.mkdir()
    outside.write_bytes(b"same")
    (out / "all.atom").symlink_to(outside)
    report = write_files(out, {"all.atom": b"same"})
    assert report.written == ["all.atom"]  # a link is never read as "unchanged"
    assert not (out / "all.atom").is_symlink()
    assert (out / "all.atom").read_bytes() == b"same"
    assert outside.read_bytes() == b"same"


def test_temp_files_of_a_killed_publish_are_swept(tmp_path: Path) -> None:
    import os
    import time

    from tracker.publish.writer import FeedWriter, sweep_temp_files

    out = tmp_path / "feeds"
    (out / "services").mkdir(parents=True)
    stale = [out / ".all.atom.k2j3h4g5.tmp", out / "services" / ".amazon-s3.rss.a_b9c8d7.tmp"]
    fresh = out / ".all.json.zz99yy88.tmp"
    keep = [out / ".htaccess", out / ".well-known.tmp", out / "notes.abcdefgh.tmp"]
    for path in stale + keep + [fresh]:
        path.write_text("x")
    for path in stale:
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    # Without the run lock: only temp files older than an hour are someone's leftovers.
    assert sorted(sweep_temp_files(out)) == [".all.atom.k2j3h4g5.tmp", "services/.amazon-s3.rss.a_b9c8d7.tmp"]
    assert fresh.exists() and all(p.exists() for p in keep)
    # Under the run lock (what the pipeline does): any temp file is a leftover.
    writer = FeedWriter(out, stale_temp_after=0)
    assert writer.swept == [".all.json.zz99yy88.tmp"]
    assert all(p.exists() for p in keep)
