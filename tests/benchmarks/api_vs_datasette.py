"""`tracker serve` beside Datasette on the same page of the same SQLite file: `python -m tests.benchmarks.api_vs_datasette`.

Builds one SQLite file: the shipped taxonomy (every service with its aliases), the saved What's
New feed and re:Invent recap of ../shared/corpus imported when they are there (`tracker
import`), and N invented announcements (default 20,000) so that the busiest service has full
pages. Then, in the same run and one after the other, wrk asks `tracker serve` for the
by-service API page of 50 (`/api/announcements?service=S&limit=50&until=T`) and Datasette
(installed apart, not a project dependency: `--datasette PATH`, default `datasette` on PATH)
for the same 50 announcements of the same file through its JSON SQL API. Every request has
another `until` (one minute apart), so neither the API's micro-cache nor any other cache
answers. Before timing, one request to each checks that both pages hold the same ids.

`--workers N [N ...]` serves the tracker side with `tracker serve --workers N` (default 1), one
server per value, all running side by side; each round runs wrk once against each server
and Datasette, in an order that rotates from round to round.

Prints requests/s, mean and p99 latency of each with the load average (/proc/loadavg) before
and after, and the target per worker count: at least 500 requests/s and at least twice
Datasette's rate, both as the best runs and round by round. Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.benchmarks.serve import start_server, wrk

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
SAVED = ("whats-new/whats-new-feed-2025-02-22.xml", "recaps/2023-12-aws-reinvent-2023.md")
PAGE = 50
TARGET_RPS = 500.0
TARGET_RATIO = 2.0

# The rows of the API's page, with what each item shows that a query can give: the
# announcement, its event and its services' names.
DATASETTE_SQL = """
select a.id, a.key, a.title, a.summary, a.url, a.announced_at, a.updated_at, a.status,
  e.name as event, e.slug as event_slug,
  (select json_group_array(s.name) from announcement_services l2 join services s on s.id = l2.service_id
    where l2.announcement_id = a.id) as services
from announcement_services l join announcements a on a.id = l.announcement_id
  left join events e on e.id = a.event_id
where l.service_id = (select id from services where slug = :service) and l.sort_at < :until
order by l.sort_at desc, l.announcement_id desc
limit 50
""".strip()

# wrk's Lua (LuaJIT, Lua 5.1): each request the next minute back from `first`, in the format
# each server reads (ISO 8601 for the API; SQLite's stored text for Datasette's SQL).
LUA = """
counter = 0
first = {first}
request = function()
  counter = counter + 1
  local t = first - 60 * (counter % {span})
  return wrk.format("GET", "{path}" .. os.date("{date_format}", t))
end
"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build(folder: Path, announcements: int, corpus: Path) -> tuple[Path, list[str]]:
    """The SQLite file: the taxonomy, the saved documents (when found) and `announcements` invented ones."""
    from tests.benchmarks.phases import scale
    from tracker.normalize.taxonomy import Taxonomy
    from tracker.store.announcements import sync_services
    from tracker.store.db import close_stores, open_store, unit_of_work

    db = folder / "tracker.db"
    url = f"sqlite:///{db}"
    with unit_of_work(open_store(url)) as session:
        sync_services(session, Taxonomy.load().services)
    close_stores()
    saved = [str(corpus / name) for name in SAVED if (corpus / name).is_file()]
    if saved:
        subprocess.run(
            [sys.executable, "-m", "tracker", "--database", url, "--output", str(folder / "feeds"), "import", *saved],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    config = folder / "config"
    config.mkdir(exist_ok=True)
    (config / "tracker.toml").write_text(f'database_url = "{url}"\n')
    scale({"config": str(config), "target": announcements})
    close_stores()
    return db, saved


def busiest_service(db: Path) -> tuple[str, datetime, datetime]:
    """The slug of the service with the most announcements, and the span of `until` that gives full pages."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        slug, service_id = conn.execute(
            "SELECT s.slug, s.id FROM announcement_services l JOIN services s ON s.id = l.service_id "
            "GROUP BY s.id ORDER BY count(*) DESC, s.slug LIMIT 1"
        ).fetchone()
        dates = [
            r[0]
            for r in conn.execute(
                "SELECT sort_at FROM announcement_services WHERE service_id = ? ORDER BY sort_at", (service_id,)
            )
        ]
    newest = datetime.fromisoformat(dates[-1]).replace(tzinfo=UTC)
    full_from = datetime.fromisoformat(dates[min(len(dates) - 1, PAGE + 1)]).replace(tzinfo=UTC)
    return slug, full_from, newest


def start_datasette(executable: str, db: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`datasette serve FILE` on a free port; returns it and its base URL once it answers."""
    port = free_port()
    proc = subprocess.Popen(
        [executable, "serve", str(db), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "-/versions.json", timeout=2).read()
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("datasette did not start")


def page_ids(url: str) -> list[int]:
    """The announcement ids of one page (the API's items, or Datasette's rows)."""
    with urllib.request.urlopen(url, timeout=30) as response:
        body = json.loads(response.read())
    rows = body["items"] if isinstance(body, dict) else body
    return [int(r["id"]) for r in rows]


def measure(
    name: str, url_prefix: str, date_format: str, newest: datetime, span: int, folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """One wrk run with a distinct `until` per request; figures with the load average before and after."""
    script = folder / f"{name}.lua"
    parts = urllib.parse.urlsplit(url_prefix)
    path = parts.path + "?" + parts.query
    script.write_text(
        LUA.format(first=int(newest.timestamp()), span=span, path=path.replace('"', '\\"'), date_format=date_format)
    )
    base = f"{parts.scheme}://{parts.netloc}/"
    before = load_average()
    figures = wrk(
        base, duration=args.duration, connections=args.connections, threads=args.threads, headers={}, script=script
    )
    return {"server": name, **figures, "load_before": before, "load_after": load_average()}


def load_average() -> tuple[float, float, float]:
    """The 1-, 5- and 15-minute load averages from /proc/loadavg (os.getloadavg() where there is none)."""
    try:
        one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return os.getloadavg()
    return float(one), float(five), float(fifteen)


def tracker_name(workers: int) -> str:
    """The tracker server's name in the figures: "tracker" for one process, "tracker-w2" for two."""
    return "tracker" if workers == 1 else f"tracker-w{workers}"


def main(argv: list[str] | None = None) -> int:
    """Build the file, check both pages agree, run wrk on each in turn, print the figures and the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--announcements", type=int, default=20_000, help="invented announcements (default 20000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="wrk runs of each server, alternating (default 2)")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        metavar="N",
        help="tracker serve --workers N; several values start one server each, measured in the same rounds",
    )
    parser.add_argument("--datasette", default=shutil.which("datasette"), help="the datasette executable")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the shared corpus (saved documents to import)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 1
    if not args.datasette:
        print(
            "datasette not found: install it apart (python -m venv V && V/bin/pip install datasette)", file=sys.stderr
        )
        return 1
    with tempfile.TemporaryDirectory(prefix="tracker-bench-api-") as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        db, saved = build(folder, args.announcements, args.corpus)
        slug, full_from, newest = busiest_service(db)
        span = max(1, int((newest - full_from) / timedelta(minutes=1)) - 1)
        print(
            f"built {db.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - began:.0f}s "
            f"({len(saved)} saved documents imported); service {slug}",
            file=sys.stderr,
        )
        servers: dict[str, tuple[subprocess.Popen[Any], str]] = {}
        try:
            for workers in dict.fromkeys(args.workers):
                servers[tracker_name(workers)] = start_server(f"sqlite:///{db}", folder / "feeds", workers)
            servers["datasette"] = start_datasette(args.datasette, db)
            sql = (
                servers["datasette"][1]
                + "tracker.json?"
                + urllib.parse.urlencode({"sql": DATASETTE_SQL, "service": slug, "_shape": "array"})
            )
            sql += "&until="
            sample = newest - timedelta(minutes=span // 2)
            theirs = page_ids(sql + urllib.parse.quote(sample.strftime("%Y-%m-%d %H:%M:00")))
            urls = {"datasette": (sql, "!%Y-%m-%d%%20%H:%M:00")}
            for name, (_, base) in servers.items():
                if name == "datasette":
                    continue
                api = base + f"api/announcements?service={slug}&limit={PAGE}&until="
                ours = page_ids(api + sample.strftime("%Y-%m-%dT%H:%M:00Z"))
                if ours != theirs or len(ours) != PAGE:
                    raise SystemExit(f"the pages differ: {name} {ours[:5]}... ({len(ours)}), datasette {theirs[:5]}...")
                urls[name] = (api, "!%Y-%m-%dT%H:%M:00Z")
            names = list(urls)
            results = []
            for round_ in range(args.rounds):
                order = names[round_ % len(names) :] + names[: round_ % len(names)]
                for name in order:
                    url, date_format = urls[name]
                    results.append({**measure(name, url, date_format, newest, span, folder, args), "round": round_})
        finally:
            for proc, _ in servers.values():
                proc.terminate()
                proc.wait(timeout=30)
    print(
        f"\nby-service API page of {PAGE}, never cached: wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s, {args.announcements} invented announcements + {len(saved)} saved documents, "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"{'round':>5} {'server':11} {'req/s':>8} {'mean ms':>8} {'p99 ms':>8} {'errors':>6}  "
        "load average (/proc/loadavg) before -> after"
    )
    for r in results:
        load = " ".join(f"{x:.2f}" for x in r["load_before"]) + " -> " + " ".join(f"{x:.2f}" for x in r["load_after"])
        print(
            f"{r['round'] + 1:>5} {r['server']:11} {r['requests_per_second']:>8.0f} {r['latency_mean_ms']:>8.2f} "
            f"{r['latency_p99_ms']:>8.2f} {r['non_2xx_3xx']:>6}  {load}"
        )
    rates = {name: [r["requests_per_second"] for r in results if r["server"] == name] for name in names}
    theirs_best = max(rates["datasette"])
    for name in names:
        if name == "datasette":
            continue
        ours_best = max(rates[name])
        ratio = ours_best / theirs_best if theirs_best else float("inf")
        per_round = [
            ours / theirs if theirs else float("inf")
            for ours, theirs in zip(rates[name], rates["datasette"], strict=True)
        ]
        met = ours_best >= TARGET_RPS and ratio >= TARGET_RATIO
        print(
            f"{name}: best {ours_best:.0f} req/s (rounds {', '.join(f'{x:.0f}' for x in rates[name])}), "
            f"datasette best {theirs_best:.0f} ({', '.join(f'{x:.0f}' for x in rates['datasette'])}), ratio of the "
            f"bests {ratio:.1f}, round by round {', '.join(f'{x:.1f}' for x in per_round)}; target >= "
            f"{TARGET_RPS:.0f} req/s and >= {TARGET_RATIO:.0f}x datasette: {'met' if met else 'missed'}"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
