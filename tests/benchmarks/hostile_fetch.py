"""Hostile servers against the fetcher: `python -m tests.benchmarks.hostile_fetch [--max-bytes N] [--max-seconds S]`.

Serves, on 127.0.0.1 (tests/support/http.py), compression bombs (1 GiB of zeros as gzip, as
deflate, and compressed twice under ``Content-Encoding: gzip, gzip``), a body and a header
block dripping one byte a second, and an honest body of almost `max_bytes` for comparison.
Each fetch runs in its own process, which reports its peak resident memory (ru_maxrss) and how
long the fetch took (peak: VmHWM, as ru_maxrss survives exec); a process that only imports
tracker gives the baseline. Checks the issue
#14 targets: peak memory <= max_bytes x 2 + 100 MB, every response ended within max_seconds + 5 s.
Prints a table; --json writes the figures. Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

from tests.support.http import FixtureServer

REPO = Path(__file__).resolve().parents[2]
GIB = 1 << 30


def _zeros_compressed(total: int, packer: Any) -> bytes:
    """`total` zero bytes through a zlib compressobj, 1 MiB at a time (the zeros never all in memory)."""
    block = bytes(1 << 20)
    out = bytearray()
    for _ in range(total // len(block)):
        out += packer.compress(block)
    out += packer.flush()
    return bytes(out)


def child(url: str, max_bytes: int, max_seconds: float) -> None:
    """Fetch one URL (or nothing, for the baseline) and print outcome, seconds and peak RSS as JSON."""
    from tracker.config import HttpSettings
    from tracker.errors import FetchError
    from tracker.sources import Fetcher

    result: dict[str, Any] = {"outcome": "baseline"}
    if url != "-":
        settings = HttpSettings(
            user_agent="tracker-bench",
            retries=0,
            robots=False,
            min_interval=0.0,
            max_bytes=max_bytes,
            max_seconds=max_seconds,
            timeout=30.0,
        )
        started = time.monotonic()
        with Fetcher(settings, allowed_hosts={"127.0.0.1"}) as fetcher:
            try:
                raw = fetcher.fetch(url, source="bench")
                result = {"outcome": f"ok, {len(raw.body)} bytes"}
            except FetchError as exc:
                result = {"outcome": f"{exc.kind}: {exc.message[:70]}"}
            except MemoryError:
                result = {"outcome": "MemoryError"}
        result["seconds"] = round(time.monotonic() - started, 2)
    result["peak_rss_mb"] = round(_peak_rss_kib() / 1024, 1)
    print(json.dumps(result))


def _peak_rss_kib() -> int:
    """This process's peak resident memory in KiB: VmHWM (Linux), else ru_maxrss.

    ru_maxrss is not used on Linux: it survives exec, so a child started by a big parent would
    report the parent's peak; VmHWM belongs to the new program only.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _run_child(url: str, max_bytes: int, max_seconds: float) -> dict[str, Any]:
    cmd = [
        sys.executable,
        "-m",
        "tests.benchmarks.hostile_fetch",
        "--child",
        url,
        "--max-bytes",
        str(max_bytes),
        "--max-seconds",
        str(max_seconds),
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=max_seconds + 600)
    if proc.returncode != 0:
        return {
            "outcome": f"process died (exit {proc.returncode}): {proc.stderr.strip()[-200:]}",
            "peak_rss_mb": float("nan"),
            "seconds": float("nan"),
        }
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    """Serve the scenarios, fetch each in a child process, print the table and the verdict."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-bytes", type=int, default=20_000_000, help="http.max_bytes (default: the default)")
    parser.add_argument("--max-seconds", type=float, default=5.0, help="http.max_seconds (default 5)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.max_bytes, args.max_seconds)
        return 0

    print("building the bombs (1 GiB of zeros each) ...", flush=True)
    gzip_bomb = _zeros_compressed(GIB, zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS))
    deflate_bomb = _zeros_compressed(GIB, zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS))
    double_bomb = gzip.compress(gzip_bomb, compresslevel=9)
    honest = (b"<p>an honest page of text</p>\n" * (args.max_bytes // 30))[: args.max_bytes - 1000]
    scenarios = [
        ("gzip bomb, 1 GiB (gzip)", "/gzip-bomb", gzip_bomb, {"headers": {"Content-Encoding": "gzip"}}),
        ("deflate bomb, 1 GiB (deflate)", "/deflate-bomb", deflate_bomb, {"headers": {"Content-Encoding": "deflate"}}),
        (
            "stacked bomb, 1 GiB (gzip, gzip)",
            "/double-bomb",
            double_bomb,
            {"headers": {"Content-Encoding": "gzip, gzip"}},
        ),
        ("stacked bomb sent as one gzip", "/double-as-one", double_bomb, {"headers": {"Content-Encoding": "gzip"}}),
        ("body dripping 1 byte/s", "/drip-body", b"x" * 10_000, {"chunk_size": 1, "trickle": 1.0}),
        ("headers dripping 1 byte/s", "/drip-head", b"x", {"headers": {"X-Pad": "p" * 10_000}, "header_drip": 1.0}),
        ("honest body of max_bytes - 1000", "/honest", honest, {}),
        ("honest body, gzip", "/honest-gz", gzip.compress(honest), {"headers": {"Content-Encoding": "gzip"}}),
    ]
    memory_target = args.max_bytes * 2 / 1e6 + 100
    time_target = args.max_seconds + 5
    rows: list[dict[str, Any]] = []
    with FixtureServer() as server:
        for _name, path, body, options in scenarios:
            server.route(path, body, **options)
        baseline = _run_child("-", args.max_bytes, args.max_seconds)
        for name, path, body, _options in scenarios:
            figures = _run_child(server.url(path), args.max_bytes, args.max_seconds)
            rows.append({"scenario": name, "wire_bytes": len(body), **figures})
            print(f"  {name}: done", flush=True)
    print(
        f"\nhttp.max_bytes = {args.max_bytes:,}, http.max_seconds = {args.max_seconds:g}; "
        f"targets: peak RSS <= {memory_target:.0f} MB, every response ends within {time_target:g} s; "
        f"baseline (interpreter + tracker imported): {baseline['peak_rss_mb']} MB\n"
    )
    print(f"{'scenario':36} {'body bytes':>12} {'seconds':>8} {'peak RSS MB':>12}  outcome")
    ok = True
    for row in rows:
        within = row["peak_rss_mb"] <= memory_target and row["seconds"] <= time_target
        ok = ok and within
        print(
            f"{row['scenario']:36} {row['wire_bytes']:>12,} {row['seconds']:>8} {row['peak_rss_mb']:>12}  "
            f"{row['outcome']}{'' if within else '   <-- MISSES THE TARGET'}"
        )
    print(f"\n{'all within the targets' if ok else 'TARGET MISSED'}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "max_bytes": args.max_bytes,
                    "max_seconds": args.max_seconds,
                    "baseline": baseline,
                    "rows": rows,
                    "ok": ok,
                },
                indent=2,
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
