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

import json
import re
from pathlib import Path

import pytest

from tracker.config import Settings
from tracker.extract import extract
from tracker.items import Announcement, ConferenceSession, SessionKind
from tracker.link import Candidate, SessionIndex
from tracker.normalize import Taxonomy, detect_event, services_for

pytestmark = pytest.mark.corpus

PAIRS = json.loads(Path(__file__).with_name("content_pairs.json").read_text(encoding="utf-8"))["pairs"]
# Per way of matching (tests/conftest.py `matching`): words alone, and words with meaning
# (tracker/meaning.py, the `semantic` extra), whose thresholds were fitted by cross-validation.
PIN_PRECISION = {"lexical": 0.903, "meaning": 0.915}
PIN_RECALL = {"lexical": 0.455, "meaning": 0.524}
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


def test_content_link_precision_and_recall(corpus: Path, matching: str) -> None:
    sessions = _sessions(corpus)
    index = SessionIndex(
        (id(session), Candidate(title=session.title, event=_slug(session.event)))
        for session in {id(s): s for s in sessions.values()}.values()
    )
    taxonomy = Taxonomy.load()
    threshold = Settings(config_dir=Path(".")).link_threshold
    tp = fn = 0
    wrong = []
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
        linked = id(session) in {match.session for match in index.links(launch, threshold)}
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
