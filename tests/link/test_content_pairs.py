"""Content links measured: hand-labelled (announcement, session) pairs of re:Invent 2021-2025.

tests/link/content_pairs.json pairs launches of the answer keys with sessions of the same year
(../shared/corpus/sessions: the YouTube listings and the 2025 catalogue), labelled by reading
them: the session is about the launch, or not (hard negatives: same service, other feature;
shared words, other subject; general overviews). Keynotes are linked by a recap's structure,
not by their titles, so pairs with a keynote are left out here. The linker runs as the
pipeline runs it across documents (`SessionIndex.links` at the default threshold), and each
pair counts as linked when its session is among the links. Pins sit at the measured figures.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tracker import meaning
from tracker.config import Settings
from tracker.extract import extract
from tracker.items import Announcement, ConferenceSession, SessionKind
from tracker.link import (
    MEANING_NEEDS_WORDS,
    SAME_MEANING,
    Candidate,
    SessionIndex,
    score_title_match,
)
from tracker.normalize import Taxonomy, detect_event, services_for

pytestmark = pytest.mark.corpus

PAIRS = json.loads(Path(__file__).with_name("content_pairs.json").read_text(encoding="utf-8"))["pairs"]
# Per way of matching (tests/conftest.py `matching`): words alone, and words with meaning
# (tracker/meaning.py, the `semantic` extra), whose thresholds were fitted by cross-validation.
PIN_PRECISION = {"lexical": 0.990, "meaning": 0.990}
PIN_RECALL = {"lexical": 0.707, "meaning": 0.729}
# The meaning thresholds measured on events they were not fitted on (leave one event out).
PIN_HELD_OUT = (0.980, 0.714)
_VIDEO = re.compile(r"v=([\w-]{11})")
LISTINGS = ("reinvent-youtube-sessions.csv", "reinvent-2025-catalog-manu-mishra.json")


def _slug(name: str | None) -> str | None:
    event = detect_event(name) if name else None
    return event.slug if event else None


def _sessions(corpus: Path) -> dict[tuple[str | None, str], ConferenceSession]:
    """The sessions as the pipeline stores them: read by the listing extractor (titles without
    event prefix, [TAGS] and code suffixes; kinds from titles, playlists and catalogue types),
    by (event slug, code and video id)."""
    out: dict[tuple[str | None, str], ConferenceSession] = {}
    for name in LISTINGS:
        path = corpus / "sessions" / name
        for doc in extract(path.read_bytes(), url=str(path)):
            for session in doc.sessions:
                event = _slug(session.event)
                video = _VIDEO.search(session.url or "")
                for key in (session.code, video.group(1) if video else None):
                    if key:
                        out.setdefault((event, key), session)
    return out


def test_the_pair_set_is_big_enough() -> None:
    labelled = [p for p in PAIRS if p["label"] is not None]
    assert len(labelled) >= 150
    assert len({p["event"] for p in labelled}) >= 3
    assert sum(1 for p in labelled if p["label"]) >= 50
    assert sum(1 for p in labelled if not p["label"]) >= 50


@dataclass(frozen=True)
class _Setting:
    """The sessions indexed as the pipeline indexes them, and each labelled pair's launch and session."""

    index: SessionIndex
    pairs: tuple[tuple[dict[str, Any], Candidate, ConferenceSession], ...]


@functools.cache
def _setting(corpus: Path) -> _Setting:
    sessions = _sessions(corpus)
    index = SessionIndex(
        (id(session), Candidate(title=session.title, event=_slug(session.event)))
        for session in {id(s): s for s in sessions.values()}.values()
    )
    taxonomy = Taxonomy.load()
    pairs = []
    for pair in PAIRS:
        event = _slug(pair["event"])
        video = _VIDEO.search(pair["session"].get("url") or "")
        found = [
            sessions.get((event, k)) for k in (pair["session"].get("code"), video.group(1) if video else None) if k
        ]
        session = next((s for s in found if s is not None), None)
        assert session is not None, pair["session"]
        if pair["label"] is None or session.kind == SessionKind.KEYNOTE:
            continue
        # The key's services stand for the launch's context (its headings, its document): the
        # pipeline takes the services of a title that names none from there (services_for).
        services = services_for(Announcement(title=pair["announcement"], context=tuple(pair["services"])), taxonomy)
        launch = Candidate(
            title=pair["announcement"],
            services=tuple(s.name for s in services),
            event=event,
            aliases=tuple(s.aliases for s in services),
        )
        pairs.append((pair, launch, session))
    return _Setting(index, tuple(pairs))


def test_content_link_precision_and_recall(corpus: Path, matching: str) -> None:
    setting = _setting(corpus)
    threshold = Settings(config_dir=Path(".")).link_threshold
    tp = fn = 0
    wrong = []
    for pair, launch, session in setting.pairs:
        linked = id(session) in {match.session for match in setting.index.links(launch, threshold)}
        if linked and pair["label"]:
            tp += 1
        elif linked:
            wrong.append((pair["announcement"], session.title))
        elif pair["label"]:
            fn += 1
    precision = tp / (tp + len(wrong)) if tp + len(wrong) else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(
        f"content links ({matching}): precision {precision:.3f}, recall {recall:.3f} ({tp} right, {len(wrong)} wrong, {fn} missed)"
    )
    assert round(precision, 3) >= PIN_PRECISION[matching], wrong
    assert round(recall, 3) >= PIN_RECALL[matching]


@dataclass
class _Held:
    """A labelled pair as the meaning step sees it."""

    label: bool
    event: str | None
    by_words: bool  # linked by words alone
    asked: bool  # a candidate that meaning is asked about when the words fall short
    title_score: float
    score: float  # similarity


# A link is worth making when it is right at least 95% of the time: a wrong one costs 19 right ones.
COST_OF_A_WRONG_LINK = 0.95 / 0.05


def _links(row: _Held, fitted: tuple[float, float]) -> bool:
    needs_words, same_meaning = fitted
    return row.by_words or (row.asked and row.title_score >= needs_words and row.score >= same_meaning)


def _floor(value: float) -> float:
    """A threshold at three decimals that the value itself still reaches."""
    return math.floor(value * 1000) / 1000


def _fit(rows: list[_Held]) -> tuple[float, float]:
    """The meaning thresholds that make the links worth most on these pairs (a wrong one costs
    COST_OF_A_WRONG_LINK right ones); on a tie, the most cautious."""
    best: tuple[tuple[float, ...], tuple[float, float]] | None = None
    asked = [r for r in rows if r.asked and r.label and not r.by_words]
    for needs_words in sorted({_floor(r.title_score) for r in asked} | {0.0}):
        for same_meaning in sorted({_floor(r.score) for r in asked} | {1.01}):
            made = [r.label for r in rows if _links(r, (needs_words, same_meaning))]
            worth = sum(made) - COST_OF_A_WRONG_LINK * (len(made) - sum(made))
            key = (worth, same_meaning, needs_words)
            if best is None or key > best[0]:
                best = (key, (needs_words, same_meaning))
    assert best is not None
    return best[1]


def test_meaning_thresholds_hold_out_by_event(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The meaning thresholds, fitted on every event but one and measured on that one; fitted
    on every pair, they are the shipped constants. (Words alone fit nothing here: their figures
    above are already those of unseen pairs.)"""
    if not meaning.available():
        pytest.skip("matching by meaning needs the `semantic` extra (pip install -e '.[semantic]')")
    setting = _setting(corpus)
    threshold = Settings(config_dir=Path(".")).link_threshold
    scores = [meaning.similarity(launch.title, session.title) or 0.0 for _, launch, session in setting.pairs]
    monkeypatch.setenv(meaning.ENV, "off")
    rows = []
    for (pair, launch, session), score in zip(setting.pairs, scores, strict=True):
        link = score_title_match(
            launch, Candidate(session.title, (), launch.event), setting.index.weights.get(launch.event)
        )
        rows.append(
            _Held(
                bool(pair["label"]),
                launch.event,
                id(session) in {m.session for m in setting.index.links(launch, threshold)},
                id(session) in setting.index.candidates(launch, 0.0),
                link.score if link else 0.0,
                score,
            )
        )
    assert _fit(rows) == (MEANING_NEEDS_WORDS, SAME_MEANING)
    made = []
    for event in sorted({r.event or "" for r in rows}):
        fitted = _fit([r for r in rows if r.event != event])
        made += [(r.label, _links(r, fitted)) for r in rows if r.event == event]
    tp = sum(1 for label, linked in made if label and linked)
    fp = sum(1 for label, linked in made if linked and not label)
    fn = sum(1 for label, linked in made if label and not linked)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"content links, meaning thresholds held out by event: precision {precision:.3f}, recall {recall:.3f}")
    assert (round(precision, 3), round(recall, 3)) >= PIN_HELD_OUT
