"""Extraction speed: `python -m tests.benchmarks.extraction [--size KB] [--repeat N]`.

Extracts a synthetic recap of about `--size` KB (headings per keynote, bold and plain launch
bullets, link lists, prose paragraphs, written here from a fixed seed) with the shipped rules
and candidate model, and prints the median time of `--repeat` runs beside the target (a 50 KB
recap in under 200 ms). Also doubles the document twice to show how time grows with size.
Not part of the pytest run (tests/benchmarks is in norecursedirs).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from tracker.extract import candidates, extract
from tracker.extract.rules import load_rules
from tracker.normalize import taxonomy

TARGET_MS = 200.0
WORDS = (
    "stream widget ledger pebble kelp quill zeta orbit cache vector lake mesh relay beacon harbor "
    "lattice prism summit canyon delta falcon glacier meadow nimbus quartz raven sierra tundra"
).split()


def recap(size_kb: int, seed: int = 7) -> str:
    """A synthetic re:Invent recap of about size_kb kilobytes."""
    rng = random.Random(seed)
    parts = ["---\ntitle: My AWS re:Invent 2031 notes\ndate: 2031-12-06\n---\n\n# AWS re:Invent 2031\n"]
    n = 0
    while sum(len(p) for p in parts) < size_kb * 1024:
        n += 1
        name = " ".join(w.capitalize() for w in rng.sample(WORDS, 2))
        parts.append(
            f"\n## Keynote {n} with Speaker {n} - VP\n\n[YouTube](https://www.youtube.com/watch?v=Vid{n:08d})\n\n"
        )
        for k in range(6):
            launch = f"Amazon {name} {rng.choice(WORDS).capitalize()} {k}"
            form = k % 3
            if form == 0:
                parts.append(f"* Announcing **{launch}**, {' '.join(rng.sample(WORDS, 8))}\n")
            elif form == 1:
                parts.append(
                    f"* [{launch}](https://aws.amazon.com/about-aws/whats-new/2031/12/x{n}-{k}/) - "
                    f"{' '.join(rng.sample(WORDS, 10))}\n"
                )
            else:
                parts.append(f"* {launch}: {' '.join(rng.sample(WORDS, 12))}\n")
        parts.append("\n" + " ".join(rng.choice(WORDS) for _ in range(120)) + ".\n")
    return "".join(parts)


def _median_ms(text: str, repeat: int) -> tuple[float, float]:
    """The median wall time and the median CPU time of the process, in ms."""
    rules = load_rules()
    extract(text, url="https://example.org/recap.md", rules=rules)  # warm-up: rules, taxonomy
    times: list[float] = []
    cpu: list[float] = []
    for _ in range(repeat):
        # Cold title look-ups each run: a document is extracted once in a real run. The
        # taxonomy is rebuilt too (outside the timing), so that its typo memo starts empty.
        taxonomy._CACHE.clear()
        candidates._default_services_in.cache_clear()
        candidates._default_services_in()
        start, start_cpu = time.perf_counter(), time.process_time()
        extract(text, url="https://example.org/recap.md", rules=rules)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(times), statistics.median(cpu)


def main() -> None:
    """Print the extraction times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=50, help="recap size in KB (default 50)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    for factor in (1, 2, 4):
        text = recap(args.size * factor)
        ms, cpu_ms = _median_ms(text, args.repeat)
        note = f"  (target < {TARGET_MS:.0f} ms)" if factor == 1 else ""
        # On a machine other jobs share, wall time stretches with their load; CPU time does not.
        load = os.getloadavg()[0]
        print(
            f"extract {len(text) / 1024:6.1f} KB recap: median {ms:7.1f} ms, CPU {cpu_ms:7.1f} ms"
            f" (load {load:.1f}){note}"
        )


if __name__ == "__main__":
    main()
