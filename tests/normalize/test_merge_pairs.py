"""Merges measured: hand-labelled pairs of announcements from the corpus, same launch or not.

tests/normalize/merge_pairs.json holds pairs of launch titles from the answer keys (different
documents, and one document listing a launch twice), labelled by reading them: positives, and
hard negatives (engines, Regions, instance families, versions, "for X" against "for Y", a
preview and its GA, the same words years apart). Each pair is decided the way the pipeline
decides: services from the taxonomy, the date the document gives (else its event's first day,
as dating.py does for a recap), `dedupe.same_announcement`. A wrong merge loses a launch, so
precision is pinned first. Pins sit at the measured figures: raise them, never lower them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tracker import meaning
from tracker.config import shipped_file
from tracker.items import Announcement, Service
from tracker.normalize import Taxonomy, dedupe, services_for
from tracker.normalize.dedupe import same_announcement
from tracker.normalize.events import load_declared_events

ROOT = Path(__file__).resolve().parents[2]
PAIRS = json.loads((Path(__file__).with_name("merge_pairs.json")).read_text(encoding="utf-8"))["pairs"]
# Per way of matching (tests/conftest.py `matching`): words alone, and words with meaning
# (tracker/meaning.py, the `semantic` extra), whose thresholds were fitted by cross-validation.
PIN_PRECISION = {"lexical": 1.0, "meaning": 1.0}
PIN_RECALL = {"lexical": 0.711, "meaning": 0.851}
# The meaning thresholds measured on pairs they were not fitted on: leave one event out.
PIN_HELD_OUT = (1.0, 0.769)


def _decide(before: Callable[[int], object] = lambda i: None) -> list[tuple[dict[str, Any], bool]]:
    taxonomy = Taxonomy.load()
    events = {e.event.name: e for e in load_declared_events(shipped_file("events.toml"))}

    def when(side: dict[str, str | None]) -> datetime | None:
        if side.get("date"):
            return datetime.fromisoformat(str(side["date"])).replace(tzinfo=UTC)
        declared = events.get(side.get("event") or "")
        if declared is not None and declared.starts is not None:
            return datetime(declared.starts.year, declared.starts.month, declared.starts.day, tzinfo=UTC)
        return None

    def services(side: dict[str, Any]) -> tuple[Service, ...]:
        # The key's services stand for the launch's context (its headings, its document): the
        # pipeline takes the services of a title that names none from there (services_for).
        return services_for(Announcement(title=side["title"], context=tuple(side.get("services") or ())), taxonomy)

    out = []
    for i, pair in enumerate(PAIRS):
        if pair["same"] is None:
            continue
        a, b = pair["a"], pair["b"]
        before(i)
        decided = same_announcement(
            a["title"], services(a), when(a), a.get("event"), b["title"], services(b), when(b), b.get("event")
        )
        out.append((pair, decided))
    return out


def test_the_pair_set_is_big_and_hard_enough() -> None:
    labelled = [p for p in PAIRS if p["same"] is not None]
    assert len(labelled) >= 300
    assert sum(1 for p in labelled if p["same"]) >= 100
    assert sum(1 for p in labelled if not p["same"] and p["kind"] != "other-negative") >= 80


def test_merge_precision_and_recall(matching: str) -> None:
    decided = _decide()
    tp = sum(1 for p, d in decided if d and p["same"])
    fp = [p for p, d in decided if d and not p["same"]]
    fn = sum(1 for p, d in decided if not d and p["same"])
    precision = tp / (tp + len(fp)) if tp + len(fp) else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"merge pairs ({matching}): {len(decided)} labelled, precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= PIN_PRECISION[matching], [(p["a"]["title"], p["b"]["title"]) for p in fp]
    assert round(recall, 3) >= PIN_RECALL[matching]


@dataclass
class _Held:
    """A labelled pair as the meaning step sees it: decided by the words, or left to meaning."""

    same: bool
    event: str
    by_words: bool
    score: float | None = None  # similarity, when the rules left the pair to meaning
    cjk: bool = False
    shared: int = 0


def _floor(value: float) -> float:
    """A threshold at three decimals that the value itself still reaches."""
    return math.floor(value * 1000) / 1000


def _fit(rows: list[_Held]) -> tuple[float, float, float]:
    """The lowest (alone, with two shared words, CJK) thresholds that merge no negative of these
    pairs, among those that merge the most positives."""
    asked = [r for r in rows if r.score is not None]

    def grid(kind: Callable[[_Held], bool]) -> list[float]:
        return sorted({_floor(r.score or 0.0) for r in asked if kind(r)} | {1.01})

    best: tuple[tuple[int, float], tuple[float, float, float]] | None = None
    for cjk in grid(lambda r: r.cjk):
        for alone in grid(lambda r: not r.cjk):
            for shared in [t for t in grid(lambda r: not r.cjk and r.shared >= 2) if t <= alone] + [alone]:
                chosen = (alone, shared, cjk)
                if any(_merges(r, chosen) and not r.same for r in asked):
                    continue
                key = (sum(1 for r in asked if r.same and _merges(r, chosen)), alone + shared + cjk)
                if best is None or key > best[0]:
                    best = (key, chosen)
    assert best is not None
    return best[1]


def _merges(row: _Held, thresholds: tuple[float, float, float]) -> bool:
    alone, shared, cjk = thresholds
    if row.by_words or row.score is None:
        return row.by_words
    if row.cjk:
        return row.score >= cjk
    return row.score >= alone or (row.shared >= dedupe.MIN_SHARED_WORDS and row.score >= shared)


def test_meaning_thresholds_hold_out_by_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """The thresholds of dedupe's meaning step, fitted on every event but one and measured on
    that one; fitted on every pair, they are the shipped constants."""
    if not meaning.available():
        pytest.skip("matching by meaning needs the `semantic` extra (pip install -e '.[semantic]')")
    asked: dict[int, tuple[float, bool, int]] = {}
    current = [0]

    def record(title: str, other_title: str, shared: int) -> bool:
        score = meaning.similarity(title, other_title) or 0.0
        asked[current[0]] = (score, bool(dedupe._CJK.search(title + other_title)), shared)
        return False

    def before(i: int) -> None:
        current[0] = i

    monkeypatch.setattr(dedupe, "_same_meaning", record)
    rows = []
    for pair, by_words in _decide(before):
        score, cjk, shared = asked.get(PAIRS.index(pair), (None, False, 0))
        event = pair["a"].get("event") or pair["b"].get("event") or "no event"
        rows.append(_Held(bool(pair["same"]), event, by_words, score, cjk, shared))
    assert _fit(rows) == (dedupe.SAME_MEANING, dedupe.SAME_MEANING_SHARED, dedupe.SAME_MEANING_CJK)
    tp = fp = fn = 0
    for event in sorted({r.event for r in rows}):
        thresholds = _fit([r for r in rows if r.event != event])
        for row in (r for r in rows if r.event == event):
            merged = _merges(row, thresholds)
            tp += merged and row.same
            fp += merged and not row.same
            fn += row.same and not merged
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"merge pairs, meaning thresholds held out by event: precision {precision:.3f}, recall {recall:.3f}")
    assert (round(precision, 3), round(recall, 3)) >= PIN_HELD_OUT
