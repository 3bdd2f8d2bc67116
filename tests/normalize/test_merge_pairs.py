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
from datetime import UTC, datetime
from pathlib import Path

from tracker.config import shipped_file
from tracker.items import Announcement
from tracker.normalize import Taxonomy, services_for
from tracker.normalize.dedupe import same_announcement
from tracker.normalize.events import load_declared_events

ROOT = Path(__file__).resolve().parents[2]
PAIRS = json.loads((Path(__file__).with_name("merge_pairs.json")).read_text(encoding="utf-8"))["pairs"]
# Per way of matching (tests/conftest.py `matching`): words alone, and words with meaning
# (tracker/meaning.py, the `semantic` extra), whose thresholds were fitted by cross-validation.
PIN_PRECISION = {"lexical": 1.0, "meaning": 1.0}
PIN_RECALL = {"lexical": 0.579, "meaning": 0.715}


def _decide() -> list[tuple[dict[str, object], bool]]:
    taxonomy = Taxonomy.load()
    events = {e.event.name: e for e in load_declared_events(shipped_file("events.toml"))}

    def when(side: dict[str, str | None]) -> datetime | None:
        if side.get("date"):
            return datetime.fromisoformat(str(side["date"])).replace(tzinfo=UTC)
        declared = events.get(side.get("event") or "")
        if declared is not None and declared.starts is not None:
            return datetime(declared.starts.year, declared.starts.month, declared.starts.day, tzinfo=UTC)
        return None

    out = []
    for pair in PAIRS:
        if pair["same"] is None:
            continue
        a, b = pair["a"], pair["b"]
        decided = same_announcement(
            a["title"],
            services_for(Announcement(title=a["title"]), taxonomy),
            when(a),
            a.get("event"),
            b["title"],
            services_for(Announcement(title=b["title"]), taxonomy),
            when(b),
            b.get("event"),
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
