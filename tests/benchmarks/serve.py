"""Load benchmark of `tracker serve`: `python -m tests.benchmarks.serve [--duration S] [--announcements N]`.

Stores N invented announcements in a SQLite file (and optionally PostgreSQL), publishes the
feeds, starts `tracker serve` in its own process on 127.0.0.1 and measures it with wrk
(Debian package `wrk`) over keep-alive connections: a full feed, the same gzipped, a
conditional request answered 304, the JSON API (a page, a filtered full-text query, a
conditional request, and requests that all differ so the API micro-cache never answers).
Prints requests per second and latency per scenario; --json writes
them. Not part of the pytest run (tests/benchmarks is in norecursedirs).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tracker.items import Announcement, NormalizedAnnouncement, Service
from tracker.publish import FeedContext, build_feed_files, write_files
from tracker.store.announcements import get_or_create_event, sync_services, upsert_announcement
from tracker.store.db import close_stores, open_store, unit_of_work
from tracker.store.queries import query_announcements

WORDS = [
    "vector",
    "serverless",
    "streaming",
    "durable",
    "graph",
    "quantum",
    "zero-ETL",
    "inference",
    "replication",
    "analytics",
    "encryption",
    "observability",
]


def populate(database_url: str, count: int) -> dict[str, bytes]:
    """Store `count` invented announcements over 40 services; returns the feed files to publish."""
    services = [Service(f"service-{i:02d}", f"Amazon Service {i:02d}", (), "Category " + str(i % 6)) for i in range(40)]
    start = datetime(2031, 12, 1, tzinfo=UTC)
    factory = open_store(database_url)
    with unit_of_work(factory) as s:
        sync_services(s, services)
        event_id = get_or_create_event(s, "aws-reinvent-2031", "AWS re:Invent 2031", 2031)
        for n in range(count):
            word = WORDS[n % len(WORDS)]
            service = services[n % len(services)]
            ann = Announcement(
                title=f"{service.name} adds {word} support ({n})",
                summary=f"Launch {n}: {service.name} now offers {word} capabilities in every region. " * 3,
                url=f"https://aws.example.test/new/{n}/",
                published_at=start - timedelta(hours=n * 5),
                rule="bench",
            )
            na = NormalizedAnnouncement(
                key=f"bench-{n}", announcement=ann, services=(service,), url=ann.url, announced_at=ann.published_at
            )
            upsert_announcement(s, na, now=start, event_id=event_id if n % 7 == 0 else None)
    with unit_of_work(factory) as s:
        records = query_announcements(s)
    return build_feed_files(
        records, FeedContext(base_url="http://127.0.0.1/", author="bench"), title="AWS announcements", limit=100
    )


def start_server(database_url: str, output: Path, workers: int = 1) -> tuple[subprocess.Popen[str], str]:
    """`tracker serve --port 0 --workers N` in its own process(es); returns the (parent) process and its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tracker",
            "--database",
            database_url,
            "--output",
            str(output),
            "serve",
            "--port",
            "0",
            "--workers",
            str(workers),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if " on " not in line:
        proc.kill()
        raise SystemExit(f"tracker serve did not start: {line}")
    return proc, line.split(" on ", 1)[1].split(" ", 1)[0]


# Every request another `until` (minute by minute): defeats the server's API micro-cache.
# wrk runs LuaJIT (Lua 5.1): no // operator.
DISTINCT_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local minute = counter % 500000
  local path = string.format("/api/announcements?limit=20&until=2031-11-%02dT%02d:%02d:00Z",
                             1 + math.floor(minute / 1440) % 28, math.floor(minute / 60) % 24, minute % 60)
  return wrk.format("GET", path)
end
"""


def wrk(
    url: str, *, duration: int, connections: int, threads: int, headers: dict[str, str], script: Path | None = None
) -> dict[str, Any]:
    """One wrk run: requests/s, mean and p99 latency (ms), non-2xx/3xx count, transfer/s."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    done = subprocess.run([*cmd, url], capture_output=True, text=True, check=True)
    if done.stderr.strip():
        # wrk reports a broken script on stderr and then carries on without it: refuse the figures.
        raise SystemExit(f"wrk: {done.stderr.strip()}")
    out = done.stdout

    def ms(text: str) -> float:
        found = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
        if found is None:
            raise SystemExit(f"wrk printed a latency this cannot read ({text!r}):\n{out}")
        value, unit = found.groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    mean = ms(re.search(r"Latency\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    transfer = re.search(r"Transfer/sec:\s+(\S+)", out)
    return {
        "requests_per_second": rps,
        "latency_mean_ms": round(mean, 3),
        "latency_p99_ms": round(p99, 3),
        "non_2xx_3xx": int(errors.group(1)) if errors else 0,
        "transfer_per_second": transfer.group(1) if transfer else "",
    }


def probe(url: str, headers: dict[str, str]) -> tuple[int, int]:
    """Status and body size of one request (to show what each scenario sends)."""
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, len(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, len(exc.read())


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per scenario (default 5)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--announcements", type=int, default=2000)
    parser.add_argument("--database", help="database URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="tracker-bench-serve-") as tmp:
        folder = Path(tmp)
        database_url = args.database or f"sqlite:///{folder / 'tracker.db'}"
        output = folder / "feeds"
        began = time.perf_counter()
        files = populate(database_url, args.announcements)
        write_files(output, files, prune=True)
        close_stores()
        print(
            f"stored and published {args.announcements} announcements in {time.perf_counter() - began:.1f}s "
            f"({len(files)} files)",
            file=sys.stderr,
        )
        proc, base = start_server(database_url, output)
        try:
            etag_feed = urllib.request.urlopen(base + "all.atom", timeout=10).headers["ETag"]
            api_page = base + "api/announcements?limit=20"
            etag_api = urllib.request.urlopen(api_page, timeout=10).headers["ETag"]
            distinct = folder / "distinct.lua"
            distinct.write_text(DISTINCT_LUA)
            scenarios: list[tuple[str, str, dict[str, str], Path | None]] = [
                ("feed all.atom, 200", base + "all.atom", {}, None),
                ("feed all.atom, gzip", base + "all.atom", {"Accept-Encoding": "gzip"}, None),
                ("feed all.atom, 304", base + "all.atom", {"If-None-Match": etag_feed}, None),
                ("api page of 20", api_page, {}, None),
                (
                    "api q=vector&service=, 20",
                    base + "api/announcements?q=vector&service=service-00&limit=20",
                    {},
                    None,
                ),
                ("api page of 20, 304", api_page, {"If-None-Match": etag_api}, None),
                ("api page of 20, never cached", api_page, {}, distinct),
            ]
            results = []
            for name, url, headers, script in scenarios:
                status, size = probe(url, headers)
                figures = wrk(
                    url,
                    duration=args.duration,
                    connections=args.connections,
                    threads=args.threads,
                    headers=headers,
                    script=script,
                )
                results.append({"scenario": name, "status": status, "body_bytes": size, **figures})
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(
        f"\ntracker serve on {os.cpu_count()} CPUs, wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
        f"{args.announcements} announcements, {database_url.split(':')[0]}"
    )
    print(f"{'scenario':32} {'status':>6} {'bytes':>8} {'req/s':>9} {'mean ms':>8} {'p99 ms':>8} {'errors':>6}")
    for r in results:
        print(
            f"{r['scenario']:32} {r['status']:>6} {r['body_bytes']:>8} {r['requests_per_second']:>9.0f} "
            f"{r['latency_mean_ms']:>8.2f} {r['latency_p99_ms']:>8.2f} {r['non_2xx_3xx']:>6}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
