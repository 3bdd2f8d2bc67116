"""Hostile sources against whole runs (issue 14): secrets in source URLs, terminal controls and
`javascript:` links in documents, full or read-only disks, signals mid-run.

Each test drives the real command line (in this process, or as a subprocess when a signal, a
file-size limit or the real stderr matters) against a loopback server and a real database,
then reads what leaves the process: the feeds (parsed with feedparser), `tracker status`, the
CLI's output and the store.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import select, text

from tests.faults.conftest import GOOD_ITEMS, World, whats_new_feed
from tests.faults.crash import check_feeds
from tracker.cli import main
from tracker.publish.writer import MARKER
from tracker.store.db import close_stores, open_store, unit_of_work
from tracker.store.models import AnnouncementRow, RunRow, SessionRow, SourceRow

REPO = Path(__file__).resolve().parents[2]
SECRETS = ("s3cretpw", "T0KEN123", "hunter2pw", "APIKEY999", "alice:", "bob:")


def _tracker(world: World, *args: str, timeout: float = 120, **popen: object) -> subprocess.CompletedProcess[str]:
    """`python -m tracker` in a subprocess: its real stderr (logs included) and exit code."""
    return subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(world.config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        **popen,  # type: ignore[call-overload]
    )


def _cli(world: World, *args: str) -> tuple[int, str, str]:
    """The command line in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--config", str(world.config), *args])
    return code, out.getvalue(), err.getvalue()


def _published(output: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(output.rglob("*")):
        if path.is_file():
            yield path, path.read_text(encoding="utf-8", errors="replace")


def _feed_links(output: Path) -> list[str]:
    """Every link and id of every published Atom/RSS entry and feed, and every URL of the JSON feeds."""
    found: list[str] = []
    for path in sorted(output.rglob("*")):
        if path.suffix in (".atom", ".rss"):
            parsed = feedparser.parse(path.read_bytes())
            assert not parsed.bozo, (path, parsed.get("bozo_exception"))
            found += [link.get("href", "") for link in parsed.feed.get("links", [])]
            for entry in parsed.entries:
                found += [entry.get("id", ""), entry.get("link", "")]
                found += [link.get("href", "") for link in entry.get("links", [])]
        elif path.suffix == ".json":
            feed = json.loads(path.read_bytes())
            for item in feed.get("items", []):
                found += [item.get("url") or "", *item["_tracker"]["sources"]]
                found += [s.get("url") or "" for s in item["_tracker"]["sessions"]]
    return found


# ------------------------------------------------------------------ finding 5: secrets in source URLs


RECAP = """# AWS re:Invent 2030 recap

## Storage

- Announcing **Amazon S3 Vectors** for storing embeddings at scale.
- Announcing **Amazon DynamoDB global tables with strong consistency** for every Region.
"""


def test_source_credentials_and_tokens_never_leave(world: World) -> None:
    good = world.server.url("/good/recap.md").replace("http://", "http://alice:s3cretpw@") + "?token=T0KEN123&x=1"
    bad = world.server.url("/bad/feed.xml").replace("http://", "http://bob:hunter2pw@") + "?api_key=APIKEY999"
    (world.config / "sources.toml").write_text(
        f'[[source]]\nname = "good"\nkind = "markdown"\nurl = "{good}"\n\n'
        f'[[source]]\nname = "bad"\nkind = "whats-new"\nurl = "{bad}"\n',
        encoding="utf-8",
    )
    world.server.route("/good/recap.md", RECAP, content_type="text/markdown")
    world.server.route("/bad/feed.xml", "down", status=500)

    done = _tracker(world, "run")  # progress and log lines on the real stderr
    assert done.returncode == 1, done.stderr
    assert "error: source bad" in done.stderr
    code, status_table, _ = _cli(world, "status")
    assert code == 0 and "failed" in status_table
    code, status_json, _ = _cli(world, "status", "--format", "json")
    assert code == 0
    shows = [_cli(world, "show", str(n))[1] for n in (1, 2)]
    assert all("mentioned in: http://***@" in shown for shown in shows)
    with unit_of_work(open_store(world.database_url)) as session:
        stored = [str(v) for v in session.scalars(select(SourceRow.last_error))]
        stored += [json.dumps(v) for v in session.scalars(select(RunRow.outcomes))]
    links = _feed_links(world.output)
    assert any("/good/recap.md?x=1" in link for link in links)  # the source is linked, without its secrets

    for where, text_ in [
        ("stderr", done.stderr),
        ("status", status_table),
        ("status json", status_json),
        ("stored errors", "\n".join(stored)),
        ("show", "\n".join(shows)),
        ("feed links", "\n".join(links)),
    ] + [(str(p), t) for p, t in _published(world.output)]:
        leaked = [s for s in SECRETS if s in text_]
        assert not leaked, f"{where} shows {leaked}"
    close_stores()


# ------------------------------------------------------------------ finding 7: terminal controls

EVIL = "\x1b[2J\x1b]0;owned\x07\x07\u202e"  # clear screen, set the window title, bell, right-to-left override
CONTROLS = ("\x1b", "\x07", "\u202e", "[2J", "]0;", "\x9b")


def _recap_with_controls(tmp_path: Path) -> Path:
    path = tmp_path / "recap-2030.md"
    path.write_text(
        "# AWS re:Invent 2030 recap\n\n## Storage\n\n"
        f"- Announcing **Amazon S3 {EVIL}Vectors** for storing{EVIL} embeddings at scale.\n"
        f"- Announcing **AWS Lambda durable \x9b2Jtimers** for workflows{EVIL} that wait.\n",
        encoding="utf-8",
    )
    return path


def _assert_clean(where: str, value: str) -> None:
    found = [c for c in CONTROLS if c in value]
    assert not found, f"{where} holds {found!r}: {value[:200]!r}"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_terminal_controls_are_removed_from_store_cli_and_feeds(
    make_world: Callable[[str], World], tmp_path: Path, backend: str
) -> None:
    world = make_world(backend)
    world.sources()
    code, _, err = _cli(world, "-q", "import", str(_recap_with_controls(tmp_path)), "--event", "AWS re:Invent 2030")
    assert code == 0, err
    with unit_of_work(open_store(world.database_url)) as session:
        rows = session.execute(select(AnnouncementRow.title, AnnouncementRow.summary)).all()
    titles = sorted(r.title for r in rows)
    assert titles == ["AWS Lambda durable timers", "Amazon S3 Vectors"], titles
    for title, summary in rows:
        _assert_clean("stored title", title)
        _assert_clean("stored summary", summary)
    # Rows stored before text was cleaned: the CLI and the feeds strip them on the way out.
    with unit_of_work(open_store(world.database_url)) as session:
        session.execute(text("UPDATE announcements SET summary = :s"), {"s": f"old{EVIL} summary\x1b]2;x\x1b\\"})
    for args in (
        ["announcements"],
        ["announcements", "--format", "json"],
        ["announcements", "--format", "csv"],
        ["show", "1"],
        ["show", "2"],
        ["services", "--unmatched"],
        ["status"],
    ):
        code, out, err = _cli(world, *args)
        assert code == 0, (args, err)
        _assert_clean(" ".join(args), out + err)
    assert _cli(world, "-q", "publish")[0] == 0
    for path, content in _published(world.output):
        _assert_clean(str(path), content)
    parsed = feedparser.parse((world.output / "all.atom").read_bytes())
    assert sorted(e.title for e in parsed.entries) == titles
    close_stores()


# ------------------------------------------------------------------ finding 10: javascript: links


def _feed_with_hostile_links() -> str:
    items = []
    for n, (link, title) in enumerate(
        [
            ("javascript:alert(document.cookie)", "Amazon EC2 launches memory-optimized instances"),
            ("data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;", "AWS Glue adds streaming connectors"),
            ("JaVaScRiPt:alert(2)", "Amazon SQS raises message retention"),
        ]
    ):
        items.append(
            f'<item><guid isPermaLink="false">hostile-{n}</guid><title>{title}</title>'
            f"<description>{title}.</description><pubDate>Wed, 20 Nov 2030 1{n}:00:00 GMT</pubDate>"
            f"<link>{link}</link></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>x</title>'
        "<link>https://aws.amazon.com/about-aws/whats-new/recent/</link>" + "".join(items) + "</channel></rss>"
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_javascript_links_are_neither_stored_nor_published(make_world: Callable[[str], World], backend: str) -> None:
    world = make_world(backend)
    world.sources()
    world.server.route("/good/feed.xml", _feed_with_hostile_links(), content_type="application/rss+xml")
    world.server.route("/bad/feed.xml", whats_new_feed(GOOD_ITEMS), content_type="application/rss+xml")
    assert world.run() == 0
    with unit_of_work(open_store(world.database_url)) as session:
        urls = list(session.scalars(select(AnnouncementRow.url)))
        videos = list(session.scalars(select(SessionRow.video_url)))
    assert len(urls) == 6
    assert all(u is None or u.startswith("https://") for u in urls + videos), urls + videos
    code, out, _ = _cli(world, "announcements", "--format", "json")
    assert code == 0
    api = json.loads(out)
    for record in api:
        for url in [record["url"], *record["sources"], *(s["url"] for s in record["sessions"])]:
            assert url is None or url.startswith(("http://", "https://")), url
    links = [link for link in _feed_links(world.output) if link]
    assert links and not [link for link in links if not link.startswith(("http://", "https://", "tag:"))]
    for path, content in _published(world.output):
        assert "javascript:" not in content.lower() and "data:text" not in content, path
    close_stores()


# ------------------------------------------------------------------ finding 8: disk errors


def _run_status(world: World) -> dict[str, object]:
    runs = world.status()["runs"]
    assert isinstance(runs, list) and runs
    return runs[0]  # type: ignore[no-any-return]


def test_output_folder_that_cannot_be_created_exits_74(make_world: Callable[[str], World], tmp_path: Path) -> None:
    world = make_world("sqlite")
    world.sources()
    world.server.route("/good/feed.xml", whats_new_feed(GOOD_ITEMS), content_type="application/rss+xml")
    world.server.route("/bad/feed.xml", whats_new_feed(GOOD_ITEMS[:1]), content_type="application/rss+xml")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a regular file where the output folder's parent should be\n")
    # Root ignores permission bits; a file in the way of a folder (ENOTDIR) fails for root too.
    done = _tracker(world, "-q", "--output", str(blocker / "feeds"), "run")
    assert done.returncode == 74, done.stderr
    assert "Traceback" not in done.stderr
    assert str(blocker) in done.stderr and "output_dir" in done.stderr
    run = _run_status(world)
    assert run["status"] == "failed" and "disk error" in str(run["error"]) and str(blocker) in str(run["error"])
    code, table, _ = _cli(world, "status")
    assert code == 0 and "running" not in table and "disk error" in table
    assert world.run() == 0  # nothing was left half-done: the next run into a good folder succeeds


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        # SIGXFSZ would kill the process outright; ignored, a write past the limit fails with EFBIG.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_full_disk_while_archiving_exits_74_and_fails_the_run(make_world: Callable[[str], World], backend: str) -> None:
    world = make_world(backend)
    world.write_settings(max_bytes=20_000_000)
    world.sources()
    big = whats_new_feed(GOOD_ITEMS, extra="padding " * 600_000)  # about 14 MB
    world.server.route("/good/feed.xml", big, content_type="application/rss+xml")
    world.server.route("/bad/feed.xml", whats_new_feed(GOOD_ITEMS[:1]), content_type="application/rss+xml")
    db_size = (world.root / "tracker.db").stat().st_size if backend == "sqlite" else 0
    # Room for the database to grow, none for a 14 MB body: the archive write is the one that fails.
    limit = db_size + 6_000_000
    done = _tracker(world, "-q", "run", preexec_fn=_file_size_limit(limit))
    assert done.returncode == 74, done.stderr
    assert "Traceback" not in done.stderr
    assert str(world.root / "archive") in done.stderr and "archive_dir" in done.stderr
    run = _run_status(world)
    assert run["status"] == "failed" and run["finished_at"] is not None
    assert "archiving" in str(run["error"])
    assert not list((world.root / "archive").rglob("*.tmp"))  # the partial body was removed
    close_stores()


def test_full_disk_under_the_sqlite_database_exits_74(make_world: Callable[[str], World]) -> None:
    world = make_world("sqlite")
    world.sources()
    world.server.route("/good/feed.xml", whats_new_feed(GOOD_ITEMS), content_type="application/rss+xml")
    world.server.route("/bad/feed.xml", whats_new_feed(GOOD_ITEMS[:1]), content_type="application/rss+xml")
    # Room for the lock file's note, not for one page of the database's write-ahead log.
    done = _tracker(world, "-q", "run", preexec_fn=_file_size_limit(1024))
    assert done.returncode == 74, done.stderr
    assert "Traceback" not in done.stderr
    assert "database" in done.stderr and "database_url" in done.stderr
    # The lock file's note is the first thing written: with no room at all, it names that file.
    done = _tracker(world, "-q", "run", preexec_fn=_file_size_limit(0))
    assert done.returncode == 74, done.stderr
    assert "tracker.db.lock" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------ any exception: the run is failed, never "running"


def _run_until_slow_source(world: World, *, trickle: float, chunk_size: int) -> subprocess.Popen[str]:
    """`tracker run` in a subprocess, returned once it is fetching the second source, which the
    server sends `chunk_size` bytes every `trickle` seconds."""
    world.write_settings(timeout=30, max_seconds=60)
    world.sources()
    world.server.route("/good/feed.xml", whats_new_feed(GOOD_ITEMS), content_type="application/rss+xml")
    world.server.route(
        "/bad/feed.xml",
        whats_new_feed(GOOD_ITEMS[:1]),
        content_type="application/rss+xml",
        trickle=trickle,
        chunk_size=chunk_size,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", str(world.config), "-q", "run"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not world.server.requests_to("/bad/feed.xml") and time.monotonic() < deadline:
        time.sleep(0.05)
    if not world.server.requests_to("/bad/feed.xml"):
        process.kill()
        process.wait()
        raise AssertionError("the run never reached the slow source")
    return process


@pytest.mark.parametrize(
    ("sig", "exit_code", "reason"),
    [
        (signal.SIGTERM, 143, "SIGTERM"),
        (signal.SIGINT, 130, "SIGINT"),
    ],
)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_second_signal_mid_run_stops_at_once_and_marks_the_run_failed(
    make_world: Callable[[str], World], backend: str, sig: signal.Signals, exit_code: int, reason: str
) -> None:
    world = make_world(backend)
    # The second source drips its body: the run is mid-fetch when the signal comes.
    process = _run_until_slow_source(world, trickle=1.0, chunk_size=16)
    try:
        time.sleep(0.3)
        process.send_signal(sig)  # the first asks to stop after the document in hand (a slow one)
        time.sleep(0.3)
        process.send_signal(sig)  # the second stops the run now
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == exit_code, err
    assert "Traceback" not in err
    run = _run_status(world)
    assert run["status"] == "failed", run
    assert reason in str(run["error"]) and run["finished_at"] is not None
    code, table, _ = _cli(world, "status")
    assert code == 0 and "running" not in table
    close_stores()


@pytest.mark.parametrize(("sig", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_first_signal_finishes_the_document_in_hand_and_marks_the_run_interrupted(
    make_world: Callable[[str], World], sig: signal.Signals, exit_code: int
) -> None:
    world = make_world("sqlite")
    # The second source is slow, not stuck: its fetch ends a few seconds after the signal.
    process = _run_until_slow_source(world, trickle=0.02, chunk_size=8)
    try:
        process.send_signal(sig)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == exit_code, err
    assert "Traceback" not in err and "stopping after the document in hand" in err
    run = _run_status(world)
    assert run["status"] == "interrupted" and run["finished_at"] is not None, run
    # The source done before the signal stays stored; the one in hand is fetched again next time.
    assert world.source_state("good")["last_status"] == "ok"
    assert world.source_state("bad")["last_status"] != "ok"
    code, table, _ = _cli(world, "status")
    assert code == 0 and "running" not in table
    close_stores()


def test_any_exception_in_a_run_is_recorded(make_world: Callable[[str], World]) -> None:
    from tracker.config import load_settings
    from tracker.pipeline import Context, RunReport, recorded_failure
    from tracker.store.runs import start_run

    world = make_world("sqlite")
    ctx = Context(load_settings(world.config))
    for error, reason in [
        (MemoryError(), "out of memory"),
        (KeyboardInterrupt(), "SIGINT"),
        (SystemExit(143), "SIGTERM"),
        (RuntimeError("http://u:hunter2pw@h/x broke"), "RuntimeError"),
    ]:
        with unit_of_work(ctx.factory) as session:
            run_id = start_run(session, at=ctx.now)
        with pytest.raises(type(error)), recorded_failure(ctx, run_id, RunReport()):
            raise error
        with unit_of_work(ctx.factory) as session:
            row = session.get(RunRow, run_id)
            assert row is not None and row.status == "failed" and reason in (row.error or "")
            assert "hunter2pw" not in (row.error or "")
    close_stores()


# ------------------------------------------------------------------ finding 16: publish temp files


def _many_records(world: World, count: int) -> None:
    """A store with `count` announcements over many services: a publish that takes a while."""
    from datetime import UTC, datetime, timedelta

    from tracker.config import load_settings
    from tracker.items import Announcement, NormalizedAnnouncement
    from tracker.pipeline import Context
    from tracker.store.announcements import upsert_announcement

    ctx = Context(load_settings(world.config))
    services = list(ctx.taxonomy.services)[:60]
    with unit_of_work(ctx.factory) as session:
        for n in range(count):
            ann = Announcement(
                title=f"{services[n % len(services)].name} launch number {n}", summary="x " * 40, rule="t"
            )
            na = NormalizedAnnouncement(
                key=f"bulk{n}",
                announcement=ann,
                services=(services[n % len(services)],),
                url=f"https://aws.amazon.com/about-aws/whats-new/2030/{n}/",
                announced_at=datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=n),
            )
            upsert_announcement(session, na, now=ctx.now, event_id=None)
    close_stores()


def _temp_files(output: Path) -> list[Path]:
    return [p for p in output.rglob("*") if p.is_file() and p.name.startswith(".") and p.name.endswith(".tmp")]


def _retitle(world: World, title: str) -> None:
    """A new feed title: every published file changes, so a publish rewrites (and temp-writes) them all."""
    world.write_settings()
    with (world.config / "tracker.toml").open("a", encoding="utf-8") as handle:
        handle.write(f'\n[feeds]\ntitle = "{title}"\n')


def _publish_process(world: World, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "tracker", "--config", str(world.config), "-q", "publish"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def test_publish_removes_temp_files_a_killed_publish_left(make_world: Callable[[str], World]) -> None:
    world = make_world("sqlite")
    world.sources()
    _many_records(world, 400)
    began = time.monotonic()
    assert _tracker(world, "-q", "publish").returncode == 0
    calibration = time.monotonic() - began
    rng = __import__("random").Random(14)
    left_behind = 0
    for round_no in range(4):
        _retitle(world, f"Launches, round {round_no}")
        process = _publish_process(world)
        time.sleep(rng.uniform(0.3, 0.9) * calibration)
        process.send_signal(signal.SIGKILL)  # cannot be caught: whatever temp file is open stays
        process.communicate()
        left_behind += len(_temp_files(world.output))
        assert not check_feeds(world.output)  # every published file is still whole
    # One planted as a killed publish leaves it, deep in the tree, and a user's hidden file that stays.
    # A killed publish has deleted the folder's marker before its first write (so the next
    # publish is a full one, which sweeps): the same here, should the last round have finished.
    (world.output / MARKER).unlink(missing_ok=True)
    planted = world.output / "services" / ".amazon-s3.atom.ab12cd34.tmp"
    planted.write_bytes(b"<feed>half a feed")
    os.utime(planted, (time.time() - 86400, time.time() - 86400))
    (world.output / ".htaccess").write_text("Options -Indexes\n")
    done = _tracker(world, "-q", "publish")
    assert done.returncode == 0, done.stderr
    assert _temp_files(world.output) == []
    assert (world.output / ".htaccess").exists()
    assert not check_feeds(world.output)
    print(f"{left_behind} temp files left by 4 SIGKILLs were swept")


def test_sigterm_mid_publish_leaves_no_temp_file(make_world: Callable[[str], World]) -> None:
    world = make_world("sqlite")
    world.sources()
    _many_records(world, 400)
    began = time.monotonic()
    assert _tracker(world, "-q", "publish").returncode == 0
    calibration = time.monotonic() - began
    for round_no, share in enumerate((0.3, 0.5, 0.7, 0.9)):
        _retitle(world, f"Launches, SIGTERM round {round_no}")
        process = _publish_process(world)
        time.sleep(share * calibration)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        # 143: stopped mid-publish; 0: finished first; -15: before or after main() handled SIGTERM.
        assert process.returncode in (0, 143, -signal.SIGTERM), err
        assert "Traceback" not in err
        # SIGTERM is caught: the file being written is removed before the process ends.
        assert _temp_files(world.output) == []
        assert not check_feeds(world.output)
