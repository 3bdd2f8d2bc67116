"""Publishing to object storage (output_dir = "s3://bucket/prefix") against a real S3 server.

moto's S3 server runs on 127.0.0.1 for this module; each test gets its own bucket with
versioning on, so every put and every delete leaves a version behind: "nothing was put" is
"no key has a new version", counted by the server itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest

pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from tracker import pipeline  # after the skips: boto3 and moto are the test extra's
from tracker.cli import main
from tracker.config import Settings, load_settings
from tracker.errors import PublishError
from tracker.publish.objectstore import CONTENT_TYPES
from tracker.publish.writer import FINGERPRINTS
from tracker.store.db import close_stores, open_store, unit_of_work
from tracker.store.queries import last_runs, query_announcements

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
AURORA_FEED = FIXTURES / "sources" / "feed.xml"  # one Aurora launch
WHATS_NEW = FIXTURES / "extract" / "whats-new-feed.xml"  # ElastiCache, Lambda and an unknown service
BASE_URL = "https://feeds.example.test/aws/"
PREFIX = "feeds"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port, for the module."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, endpoint: str) -> None:
    """The standard AWS environment pointing at moto, and nothing of the user's own AWS set-up."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask 169.254.169.254


@pytest.fixture
def s3(aws_env: None, endpoint: str) -> Any:
    """A client of the test's own (the tracker's is built from the same environment)."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    """A fresh bucket with versioning on, so that every put and delete is counted by the server."""
    name = f"feeds-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def make_settings(tmp_path: Path, output: str, database_url: str) -> Settings:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "tracker.toml").write_text(
        f'database_url = "{database_url}"\noutput_dir = "{output}"\n'
        f'archive_dir = "{tmp_path / "archive"}"\nbase_url = "{BASE_URL}"\n'
    )
    (config / "sources.toml").write_text("")
    return load_settings(config, environ={})


@pytest.fixture
def settings(tmp_path: Path, bucket: str, seeded_sqlite_url: str) -> Iterator[Settings]:
    """Settings publishing to s3://<bucket>/feeds, a SQLite store in tmp_path."""
    yield make_settings(tmp_path, f"s3://{bucket}/{PREFIX}", seeded_sqlite_url)
    close_stores()


def objects(s3: Any, bucket: str, prefix: str = PREFIX) -> dict[str, bytes]:
    """Every object under the prefix (the fingerprints left out), by path relative to it."""
    out: dict[str, bytes] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for item in page.get("Contents", ()):
            rel = item["Key"][len(prefix) + 1 :]
            if rel != FINGERPRINTS:
                out[rel] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return out


def versions(s3: Any, bucket: str) -> tuple[Counter[str], Counter[str]]:
    """How many times each key was put, and how many times deleted (delete markers)."""
    puts: Counter[str] = Counter()
    deletes: Counter[str] = Counter()
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", ()):
            puts[item["Key"]] += 1
        for item in page.get("DeleteMarkers", ()):
            deletes[item["Key"]] += 1
    return puts, deletes


def local_feeds(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_a_publish_puts_every_feed_with_its_type_cache_control_and_checksum(
    settings: Settings, s3: Any, bucket: str, tmp_path: Path
) -> None:
    report = pipeline.import_documents(settings, [str(AURORA_FEED)])
    assert not report.failed and report.published is not None
    published = objects(s3, bucket)
    assert sorted(report.published.written) == sorted(published)
    assert {"all.atom", "all.rss", "all.json", "index.opml", "index.html", "services/amazon-aurora.atom"} <= set(
        published
    )

    # The same bytes as a publish of the same store to a local folder.
    local = tmp_path / "local"
    pipeline.publish(pipeline.Context(settings.with_overrides(output_dir=local)))
    assert published == local_feeds(local)

    for rel, body in published.items():
        head = s3.head_object(Bucket=bucket, Key=f"{PREFIX}/{rel}", ChecksumMode="ENABLED")
        assert head["ContentType"] == CONTENT_TYPES[Path(rel).suffix]
        assert head["CacheControl"] == "public, max-age=300"
        assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
        assert head["ETag"].strip('"') == hashlib.md5(body).hexdigest()

    title = "Amazon Aurora now supports automatic storage tiering"
    for rel in ("all.atom", "all.rss", "services/amazon-aurora.atom", "services/amazon-aurora.rss"):
        parsed = feedparser.parse(published[rel])
        assert not parsed.bozo, (rel, parsed.get("bozo_exception"))
        assert [e.title for e in parsed.entries] == [title]
    # feedparser reads no JSON Feed: its own fields, then.
    assert [item["title"] for item in json.loads(published["all.json"])["items"]] == [title]
    fingerprints = s3.head_object(Bucket=bucket, Key=f"{PREFIX}/{FINGERPRINTS}")
    assert fingerprints["CacheControl"] == "no-store"


def test_a_publish_with_no_change_puts_nothing(settings: Settings, s3: Any, bucket: str) -> None:
    pipeline.import_documents(settings, [str(AURORA_FEED)])
    before = versions(s3, bucket)
    modified = {k: s3.head_object(Bucket=bucket, Key=k)["LastModified"] for k in before[0]}

    report = pipeline.publish(pipeline.Context(settings))
    assert report.written == [] and report.removed == []
    assert report.unchanged == len(objects(s3, bucket))
    # `tracker publish`, the command: the same.
    assert main(["--config", str(settings.config_dir), "-q", "publish"]) == 0

    assert versions(s3, bucket) == before  # not one put or delete, the fingerprints' included
    assert {k: s3.head_object(Bucket=bucket, Key=k)["LastModified"] for k in before[0]} == modified


def test_a_change_puts_only_the_changed_files(settings: Settings, s3: Any, bucket: str) -> None:
    pipeline.import_documents(settings, [str(AURORA_FEED)])
    puts_before, _ = versions(s3, bucket)

    report = pipeline.import_documents(settings, [str(WHATS_NEW)])
    assert report.published is not None
    written = set(report.published.written)
    assert {"services/aws-lambda.atom", "all.atom", "index.opml"} <= written
    puts_after, deletes = versions(s3, bucket)
    grown = {key[len(PREFIX) + 1 :] for key in puts_after if puts_after[key] > puts_before[key]}
    # What the report says was put is exactly what the server received (and the fingerprints).
    assert grown == written | {FINGERPRINTS}
    assert puts_after[f"{PREFIX}/services/amazon-aurora.atom"] == 1  # the Aurora feed did not change
    assert "services/amazon-aurora.atom" not in written
    assert set(deletes) <= {f"{PREFIX}/{FINGERPRINTS}"}  # dropped before the first put, put again at the end
    titles = [e.title for e in feedparser.parse(objects(s3, bucket)["all.atom"]).entries]
    assert "Amazon Aurora now supports automatic storage tiering" in titles
    assert "AWS Lambda adds a new runtime" in titles


def test_a_feed_no_longer_published_is_deleted_and_a_stray_object_kept(
    settings: Settings, s3: Any, bucket: str
) -> None:
    pipeline.import_documents(settings, [str(AURORA_FEED)])
    stale = ["services/amazon-retired.atom", "archive/all/9.rss", "events/gone/services/x.json"]
    strays = [
        f"{PREFIX}/services/notes.txt",
        f"{PREFIX}/mine/list.atom",
        f"{PREFIX}/custom.atom",
        "elsewhere/services/amazon-retired.atom",
        f"{PREFIX}services/outside.atom",
    ]
    for rel in stale:
        s3.put_object(Bucket=bucket, Key=f"{PREFIX}/{rel}", Body=b"<feed/>")
    for key in strays:
        s3.put_object(Bucket=bucket, Key=key, Body=b"the user's own")

    report = pipeline.publish(pipeline.Context(settings))
    assert report.removed == sorted(stale)
    assert report.written == []
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert not {f"{PREFIX}/{rel}" for rel in stale} & keys
    assert set(strays) <= keys
    assert f"{PREFIX}/services/amazon-aurora.atom" in keys


def test_a_missing_bucket_is_a_clear_error_and_the_store_is_kept(
    tmp_path: Path, s3: Any, seeded_sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    settings = make_settings(tmp_path, f"s3://{missing}/{PREFIX}", seeded_sqlite_url)
    try:
        code = main(["--config", str(settings.config_dir), "-q", "import", str(AURORA_FEED)])
        err = capsys.readouterr().err
        assert code == 69
        assert f"s3://{missing}/{PREFIX}" in err and "does not exist" in err and "create it" in err
        assert "Traceback" not in err
        # The import itself is stored: only the feeds are behind.
        with unit_of_work(open_store(settings.database_url)) as session:
            titles = [r.title for r in query_announcements(session)]
            run = last_runs(session, 1)[0]
        assert titles == ["Amazon Aurora now supports automatic storage tiering"]
        # The run says why it failed (`tracker status`), so the next one publishes again.
        assert run.status == "failed" and "does not exist" in str(run.error)

        # Once the bucket exists, publishing (here to a URL given on the command line) catches up.
        s3.create_bucket(Bucket=missing)
        assert main(["--config", str(settings.config_dir), "--output", f"s3://{missing}/other/", "-q", "publish"]) == 0
        assert "all.atom" in objects(s3, missing, "other")
    finally:
        close_stores()


def test_an_unreachable_endpoint_is_a_clear_error(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline.import_documents(settings, [str(AURORA_FEED)])
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(PublishError) as exc:
        pipeline.publish(pipeline.Context(settings))
    message = str(exc.value)
    assert settings.output_location in message
    assert f"127.0.0.1:{port}" in message and "AWS_ENDPOINT_URL" in message
    assert time.monotonic() - started < 60  # a few retries with backoff, not a hang


def test_missing_credentials_are_a_clear_error(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(PublishError) as exc:
        pipeline.publish(pipeline.Context(settings))
    assert settings.output_location in str(exc.value)
    assert "no AWS credentials" in str(exc.value) and "AWS_ACCESS_KEY_ID" in str(exc.value)


def test_s3_endpoint_url_in_tracker_toml_wins(
    tmp_path: Path, bucket: str, s3: Any, endpoint: str, seeded_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # without it boto3 would go to AWS itself
    settings = make_settings(tmp_path, f"s3://{bucket}", seeded_sqlite_url)
    toml = settings.config_dir / "tracker.toml"
    toml.write_text(toml.read_text() + f'[s3]\nendpoint_url = "{endpoint}"\ncache_control = "public, max-age=60"\n')
    settings = load_settings(settings.config_dir, environ={})
    try:
        pipeline.import_documents(settings, [str(AURORA_FEED)])
    finally:
        close_stores()
    head = s3.head_object(Bucket=bucket, Key="all.atom")  # no prefix: the bucket's root
    assert head["CacheControl"] == "public, max-age=60"


def test_content_types_are_those_tracker_serve_sends() -> None:
    from tracker.web.server import CONTENT_TYPES as SERVED

    assert {suffix: SERVED[suffix] for suffix in CONTENT_TYPES} == CONTENT_TYPES


def test_local_publishing_does_not_import_boto3() -> None:
    code = (
        "import sys, tracker.cli, tracker.pipeline, tracker.publish; "
        "sys.exit(1 if 'boto3' in sys.modules or 'botocore' in sys.modules else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_a_quiet_run_asks_the_bucket_and_republishes_what_was_emptied(settings: Settings, s3: Any, bucket: str) -> None:
    pipeline.import_documents(settings, [str(AURORA_FEED)])
    before = versions(s3, bucket)
    quiet = pipeline.run(settings, sources=[])  # nothing fetched, nothing changed
    assert quiet.published is not None and quiet.published.written == []
    assert versions(s3, bucket) == before

    # Someone empties the prefix: index.opml is gone, so the next quiet run publishes everything again.
    for rel in objects(s3, bucket):
        s3.delete_object(Bucket=bucket, Key=f"{PREFIX}/{rel}")
    again = pipeline.run(settings, sources=[])
    assert again.published is not None
    assert sorted(again.published.written) == sorted(objects(s3, bucket))
    assert "index.opml" in again.published.written
