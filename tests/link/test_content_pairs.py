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

import csv
import json
import re
from pathlib import Path

import pytest

from tracker.config import Settings
from tracker.items import Announcement
from tracker.link import Candidate, SessionIndex
from tracker.normalize import Taxonomy, detect_event, services_for

pytestmark = pytest.mark.corpus

PAIRS = json.loads(Path(__file__).with_name("content_pairs.json").read_text(encoding="utf-8"))["pairs"]
# Per way of matching (tests/conftest.py `matching`): words alone, and words with meaning
# (tracker/meaning.py, the `semantic` extra), whose thresholds were fitted by cross-validation.
PIN_PRECISION = {"lexical": 0.903, "meaning": 0.915}
PIN_RECALL = {"lexical": 0.455, "meaning": 0.524}
_CODE = re.compile(r"\s*\((?:[A-Z]{2,5}\d{2,4})(?:-[A-Z0-9]{1,4})?\)\s*$")
_VIDEO = re.compile(r"v=([\w-]{11})")


def _clean(title: str) -> str:
    title = re.sub(r"^\s*AWS re:\s?Invent \d{4}\s*[-–—|:]\s*", "", title)
    title = re.sub(r"\s*\|\s*AWS Events\s*$", "", title)
    return " ".join(_CODE.sub("", title).split())


def _slug(name: str) -> str | None:
    event = detect_event(name)
    return event.slug if event else None


def _sessions(corpus: Path) -> dict[tuple[str | None, str], str]:
    folder = corpus / "sessions"
    out: dict[tuple[str | None, str], str] = {}
    with (folder / "reinvent-youtube-sessions.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["year"]:
                out[(_slug(f"AWS re:Invent {row['year']}"), row["youtube_id"])] = _clean(row["video_title"])
    for item in json.loads((folder / "reinvent-2025-catalog-manu-mishra.json").read_text(encoding="utf-8")):
        out[(_slug("AWS re:Invent 2025"), item["code"])] = item["title"]
    return out


def test_the_pair_set_is_big_enough() -> None:
    labelled = [p for p in PAIRS if p["label"] is not None]
    assert len(labelled) >= 150
    assert len({p["event"] for p in labelled}) >= 3
    assert sum(1 for p in labelled if p["label"]) >= 50
    assert sum(1 for p in labelled if not p["label"]) >= 50


def test_content_link_precision_and_recall(corpus: Path, matching: str) -> None:
    sessions = _sessions(corpus)
    index = SessionIndex((key, Candidate(title=title, event=event)) for (event, key), title in sessions.items())
    taxonomy = Taxonomy.load()
    threshold = Settings(config_dir=Path(".")).link_threshold
    tp = fn = 0
    wrong = []
    for pair in PAIRS:
        session = pair["session"]
        if pair["label"] is None or (not session.get("code") and "keynote" in session["title"].lower()):
            continue
        event = _slug(pair["event"])
        video = _VIDEO.search(session.get("url") or "")
        keys = {
            key
            for (ev, key), title in sessions.items()
            if ev == event
            and (key in {video.group(1) if video else None, session.get("code")} or title == session["title"])
        }
        services = services_for(Announcement(title=pair["announcement"]), taxonomy)
        launch = Candidate(
            title=pair["announcement"],
            services=tuple(s.name for s in services),
            event=event,
            aliases=tuple(s.aliases for s in services),
        )
        linked = bool(keys & {match.session for match in index.links(launch, threshold)})
        if linked and pair["label"]:
            tp += 1
        elif linked:
            wrong.append((pair["announcement"], session["title"]))
        elif pair["label"]:
            fn += 1
    precision = tp / (tp + len(wrong)) if tp + len(wrong) else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(
        f"content links ({matching}): precision {precision:.3f}, recall {recall:.3f} ({tp} right, {len(wrong)} wrong, {fn} missed)"
    )
    assert round(precision, 3) >= PIN_PRECISION[matching], wrong
    assert round(recall, 3) >= PIN_RECALL[matching]
