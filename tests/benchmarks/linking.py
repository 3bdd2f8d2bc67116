"""Benchmark of content linking: `python -m tests.benchmarks.linking [--announcements N] [--sessions M]`.

Synthetic, invented titles (word lists below): M sessions of one event (default 1,000, a
re:Invent listing) and N announcements (default 100,000, the store's size), a third of them of
that event and the rest of no event, as in a store full of What's New items. Prints the time to
build the token index, to link every announcement through it, the mean number of candidates
scored per announcement, and the all-pairs time on a sample for comparison.
"""

from __future__ import annotations

import argparse
import random
import time

from tracker.link import Candidate, SessionIndex, score_title_match

SERVICES = [
    f"Amazon {w}"
    for w in (
        "Widgets Gauges Ledgers Pipes Tables Queues Streams Vaults Lenses Beacons Forges Looms Kilns Anvils "
        "Harbors Quarries Orchards Bridges Lanterns Compasses"
    ).split()
]
WORDS = (
    "serverless data scale cost security agents generative ai migration modernize observability "
    "resilience streaming analytics vector search graph cache tier restore replay audit policy "
    "identity network edge hybrid edge batch realtime training inference spot capacity limitless "
    "express zone multi region tenant isolation bespoke turbo quantum instant cold warm"
).split()
EVENT = "aws-reinvent-2031"


def _title(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.sample(WORDS, rng.randint(lo, hi)))


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--announcements", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=1_000)
    parser.add_argument("--threshold", type=float, default=0.6)
    args = parser.parse_args()
    rng = random.Random(7)
    sessions = []
    for i in range(args.sessions):
        svc = rng.choice(SERVICES)
        sessions.append((i, Candidate(f"{_title(rng, 1, 3)} with {svc} {_title(rng, 1, 3)}", (), EVENT)))
    announcements = []
    for _ in range(args.announcements):
        svc = rng.choice(SERVICES)
        event = EVENT if rng.random() < 1 / 3 else None
        announcements.append(Candidate(f"{svc} {_title(rng, 1, 4)}", (svc,), event))

    start = time.perf_counter()
    index = SessionIndex(sessions)
    built = time.perf_counter() - start
    start = time.perf_counter()
    links = sum(len(index.links(ann, args.threshold)) for ann in announcements)
    linked = time.perf_counter() - start
    probed = [a for a in announcements if a.event][:2000]
    candidates = sum(len(index.candidates(ann, args.threshold)) for ann in probed)

    sample = [a for a in announcements if a.event][:200]
    weights = index.weights[EVENT]
    start = time.perf_counter()
    for ann in sample:
        for _, ses in sessions:
            score_title_match(ann, ses, weights, strict_event=True)
    pairs = (time.perf_counter() - start) / max(len(sample), 1)
    with_event = sum(1 for a in announcements if a.event)
    print(f"sessions {args.sessions}, announcements {args.announcements} ({with_event} of the event)")
    print(f"index build            {built * 1000:9.1f} ms")
    print(
        f"link all (index)       {linked:9.2f} s   ({links} links, "
        f"{candidates / max(len(probed), 1):.0f} candidates scored per announcement of the event)"
    )
    print(f"all pairs, no index    {pairs * with_event:9.2f} s   ({pairs * 1000:.1f} ms per announcement)")


if __name__ == "__main__":
    main()
