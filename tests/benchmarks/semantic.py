"""Cost of matching by meaning: `python -m tests.benchmarks.semantic [--titles N]`.

Prints the time to load the model (tracker/meaning.py, the `semantic` extra) in a fresh
process, the time to embed N distinct launch-like titles one by one as the linker and dedupe
ask for them (reported per 1000 titles), and the time of N similarities once every title is
cached. The titles are generated here from word lists. Embedding runs on one thread (see
tracker/meaning.py), so the figure is per core; another busy process on the core slows it.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import time

SERVICES = ("Amazon S3", "AWS Lambda", "Amazon Aurora", "Amazon Redshift", "Amazon Bedrock", "Amazon EKS")
VERBS = ("launches", "adds", "now supports", "introduces", "announces")
FEATURES = (
    "point-in-time recovery",
    "zero-downtime patching",
    "cross-Region replication",
    "fine-grained access control",
    "automatic table compression",
    "natural language queries",
    "cost allocation tags",
    "faster cold starts",
)
TARGETS = ("for global tables", "for serverless workloads", "in all commercial Regions", "for agents", "with IPv6")


def titles(count: int, seed: int = 7) -> list[str]:
    """Distinct launch-like titles, shuffled reproducibly."""
    every = [f"{s} {v} {f} {t}" for s, v, f, t in itertools.product(SERVICES, VERBS, FEATURES, TARGETS)]
    random.Random(seed).shuffle(every)
    if count > len(every):
        every += [f"{title} (part {i})" for i, title in enumerate(every * (count // len(every)))]
    return every[:count]


def main(argv: list[str] | None = None) -> int:
    """Measure and print the model's load time and embedding cost per 1000 titles."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=1000)
    args = parser.parse_args(argv)
    from tracker import meaning

    if os.environ.get(meaning.ENV):
        print(f"note: {meaning.ENV}={os.environ[meaning.ENV]}")
    start = time.perf_counter()
    if not meaning.available():
        print("matching by meaning is not available (pip install -e '.[semantic]'); nothing to measure")
        return 1
    load = time.perf_counter() - start
    sample = titles(args.titles)
    start = time.perf_counter()
    for title in sample:
        meaning.similarity(title, sample[0])
    embed = time.perf_counter() - start
    start = time.perf_counter()
    for a, b in zip(sample, reversed(sample), strict=True):
        meaning.similarity(a, b)
    cached = time.perf_counter() - start
    print(f"model load: {load:.2f} s")
    print(f"embedding {len(sample)} titles: {embed:.1f} s = {embed * 1000 / len(sample):.1f} s per 1000 titles")
    print(f"{len(sample)} similarities of cached titles: {cached * 1000:.1f} ms")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
