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

import itertools
import json
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
# (tracker/meaning.py, the `semantic` extra). The meaning pin was 0.851 with thresholds that
# merged the written calibration pairs' distinct launches (meaning_calibration.json: 214 of
# 280 with the old Japanese threshold 0.812, "X adds variables to workflows" and "X adds a
# local test mode for workflows" at 0.948 with 0.933): fitted with them, it is 0.781, and the
# figure held out by event, the honest one, stays 0.769; "max" read as "maximum": 0.785, 0.773.
PIN_PRECISION = {"lexical": 1.0, "meaning": 1.0}
PIN_RECALL = {"lexical": 0.715, "meaning": 0.785}
# The meaning thresholds measured on pairs they were not fitted on: leave one event out.
PIN_HELD_OUT = (1.0, 0.773)
# Translations of the written calibration launches that meaning merges (36 of 42).
PIN_TRANSLATIONS = 0.857


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


CALIBRATION = json.loads((Path(__file__).with_name("meaning_calibration.json")).read_text(encoding="utf-8"))


@dataclass
class _Held:
    """A labelled pair as the meaning step sees it: decided by the words, or left to meaning."""

    same: bool
    event: str
    by_words: bool
    score: float | None = None  # similarity, when the rules left the pair to meaning
    cross: bool = False  # Japanese (Chinese, Korean) on one side only
    shared: int = 0


def _calibration_pairs() -> list[tuple[str, str, str, bool]]:
    """The pairs written in meaning_calibration.json: (service, title, title, same launch)."""
    out = []
    for group in CALIBRATION["services"]:
        titles = [(k, launch[lang]) for k, launch in enumerate(group["launches"]) for lang in ("en", "ja")]
        for (k, a), (j, b) in itertools.combinations(titles, 2):
            out.append((group["service"], a, b, k == j))
    return out


def _decide_calibration(before: Callable[[int], object] = lambda k: None) -> list[tuple[bool, bool]]:
    """(same launch, merged) for every written calibration pair, as the pipeline decides it."""
    taxonomy = Taxonomy.load()
    day = datetime(2031, 12, 1, tzinfo=UTC)
    out = []
    for k, (service, a, b, same) in enumerate(_calibration_pairs()):
        before(k)
        mine = services_for(Announcement(title=a, context=(service,)), taxonomy)
        theirs = services_for(Announcement(title=b, context=(service,)), taxonomy)
        out.append((same, same_announcement(a, mine, day, "Calibration", b, theirs, day, "Calibration")))
    return out


def _gaps(scores: list[float]) -> list[float]:
    """Candidate thresholds: midway between consecutive scores, and past either end."""
    xs = sorted(set(scores))
    if not xs:
        return [1.01]
    return sorted({round((a + b) / 2, 4) for a, b in itertools.pairwise(xs)} | {round(xs[0] - 0.001, 4), 1.01})


def _fit(rows: list[_Held]) -> tuple[float, float, float]:
    """The (alone, with two shared words, across languages) thresholds that merge no negative of
    these pairs and the most positives, each midway between the scores around it, the lowest such."""
    asked = [r for r in rows if r.score is not None and not r.by_words]
    one = [r for r in asked if not r.cross]
    cross = [r for r in asked if r.cross]

    def best(candidates: list[tuple[float, float, float]], among: list[_Held]) -> tuple[float, float, float]:
        chosen: tuple[tuple[int, float], tuple[float, float, float]] | None = None
        for c in candidates:
            if any(_merges(r, c) and not r.same for r in among):
                continue
            key = (sum(1 for r in among if r.same and _merges(r, c)), -sum(c))
            if chosen is None or key > chosen[0]:
                chosen = (key, c)
        assert chosen is not None
        return chosen[1]

    alone_grid = _gaps([r.score or 0.0 for r in one])
    shared_grid = _gaps([r.score or 0.0 for r in one if r.shared >= dedupe.MIN_SHARED_WORDS])
    alone, shared, _ = best([(a, s, 1.01) for a in alone_grid for s in [*(v for v in shared_grid if v <= a), a]], one)
    return best([(alone, shared, c) for c in _gaps([r.score or 0.0 for r in cross])], cross)


def _merges(row: _Held, thresholds: tuple[float, float, float]) -> bool:
    alone, shared, cross = thresholds
    if row.by_words or row.score is None:
        return row.by_words
    if row.cross:
        return row.score >= cross
    return row.score >= alone or (row.shared >= dedupe.MIN_SHARED_WORDS and row.score >= shared)


def _held_rows(monkeypatch: pytest.MonkeyPatch) -> tuple[list[_Held], list[_Held]]:
    """The labelled corpus pairs and the written calibration pairs, with the meaning step's score."""
    asked: dict[object, tuple[float, bool, int]] = {}
    current: list[object] = [0]

    def record(title: str, other_title: str, shared: int) -> bool:
        score = meaning.similarity(title, other_title) or 0.0
        cross = bool(dedupe._CJK.search(title)) != bool(dedupe._CJK.search(other_title))
        asked[current[0]] = (score, cross, shared)
        return False

    monkeypatch.setattr(dedupe, "_same_meaning", record)
    rows = []
    for pair, by_words in _decide(lambda i: current.__setitem__(0, i)):
        score, cross, shared = asked.get(PAIRS.index(pair), (None, False, 0))
        event = pair["a"].get("event") or pair["b"].get("event") or "no event"
        rows.append(_Held(bool(pair["same"]), event, by_words, score, cross, shared))
    calibration = []
    for k, (same, by_words) in enumerate(_decide_calibration(lambda k: current.__setitem__(0, ("calibration", k)))):
        score, cross, shared = asked.get(("calibration", k), (None, False, 0))
        calibration.append(_Held(same, "calibration", by_words, score, cross, shared))
    return rows, calibration


def test_written_launches_of_one_service_stay_apart(matching: str) -> None:
    """Two launches of one service, neighbours in topic, in English or Japanese, are never merged;
    with meaning, most translations are."""
    decided = _decide_calibration()
    wrong = [p[1:3] for p, (same, merged) in zip(_calibration_pairs(), decided, strict=True) if merged and not same]
    assert not wrong
    translations = [merged for same, merged in decided if same]
    if matching == "meaning":
        assert sum(translations) / len(translations) >= PIN_TRANSLATIONS


def test_meaning_thresholds_hold_out_by_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """The thresholds of dedupe's meaning step, fitted on every event but one (and the written
    calibration pairs, of no event) and measured on that one; fitted on every pair, they are the
    shipped constants."""
    if not meaning.available():
        pytest.skip("matching by meaning needs the `semantic` extra (pip install -e '.[semantic]')")
    rows, calibration = _held_rows(monkeypatch)
    fitted = _fit(rows + calibration)
    shipped = (dedupe.SAME_MEANING, dedupe.SAME_MEANING_SHARED, dedupe.SAME_MEANING_CROSS)
    # The model's engine computes the last digits of a similarity differently on different CPUs
    # (0.9478 fitted on one machine where another fitted 0.9481, a positive scoring between):
    # the shipped constants must merge no negative here either and lie within a hair of the
    # fitted ones; what they merge is pinned by test_merge_precision_and_recall.
    assert not [r for r in rows + calibration if _merges(r, shipped) and not r.same]
    assert all(abs(a - b) <= 0.002 for a, b in zip(fitted, shipped, strict=True)), (fitted, shipped)
    tp = fp = fn = 0
    for event in sorted({r.event for r in rows}):
        thresholds = _fit([r for r in rows if r.event != event] + calibration)
        for row in (r for r in rows if r.event == event):
            merged = _merges(row, thresholds)
            tp += merged and row.same
            fp += merged and not row.same
            fn += row.same and not merged
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"merge pairs, meaning thresholds held out by event: precision {precision:.3f}, recall {recall:.3f}")
    assert (round(precision, 3), round(recall, 3)) >= PIN_HELD_OUT


def test_the_fast_path_of_find_duplicate_decides_as_same_announcement_does() -> None:
    """find_duplicate decides most pairs on what it derived once per title (`_decide_sides`):
    wherever that path answers, its answer is `same_announcement`'s, on every labelled pair in
    both orders, at one event, across events and with no event, dated and a month apart."""
    taxonomy = Taxonomy.load()
    day = datetime(2031, 3, 4, tzinfo=UTC)
    answered = 0
    for pair in PAIRS:
        a, b = pair["a"], pair["b"]
        sides = [
            (
                side["title"],
                services_for(Announcement(title=side["title"], context=tuple(side.get("services") or ())), taxonomy),
            )
            for side in (a, b)
        ]
        for (title, services), (other, other_services) in (sides, sides[::-1]):
            for event, other_event in (("E1", "E1"), ("E1", "E2"), (None, None), ("E1", None)):
                for other_day in (day, day.replace(day=30), None):
                    fast = dedupe._decide_sides(
                        dedupe._side(title, tuple(services)),
                        day,
                        event,
                        dedupe._side(other, tuple(other_services)),
                        other_day,
                        other_event,
                    )
                    if fast is None:
                        continue
                    answered += 1
                    slow = same_announcement(title, services, day, event, other, other_services, other_day, other_event)
                    assert fast == slow, (title, other, event, other_event, other_day)
    assert answered > len(PAIRS)  # the fast path answers most of them
