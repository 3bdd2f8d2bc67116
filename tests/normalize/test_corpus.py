"""The taxonomy against the real corpus: the seed recap's answer key and What's New product tags."""

from __future__ import annotations

import importlib.util
import json
import re
import tempfile
from pathlib import Path
from types import ModuleType

import feedparser
import pytest

from tracker.items import Announcement
from tracker.normalize import Taxonomy, services_for
from tracker.normalize.taxonomy import SEED_PATH

pytestmark = pytest.mark.corpus

CONFIG = Path(__file__).resolve().parents[2] / "config"


def _scorer(corpus: Path) -> ModuleType:
    path = corpus.parent / "tools" / "score_extraction.py"
    spec = importlib.util.spec_from_file_location("score_extraction", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _recap_context(markdown: str, title: str) -> tuple[str, ...]:
    """The enclosing bullets and headings of the line naming `title`, innermost first: what a
    recap extractor gives as an announcement's context."""
    lines = markdown.splitlines()
    index = next(i for i, line in enumerate(lines) if title in line)
    indent = len(lines[index]) - len(lines[index].lstrip())
    context: list[str] = []
    for line in reversed(lines[:index]):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            context.append(stripped.lstrip("#").strip())
            indent = -1
            continue
        this = len(line) - len(line.lstrip())
        if re.match(r"^[*+-]\s", stripped) and this < indent:
            context.append(re.sub(r"^[*+-]\s+", "", stripped))
            indent = this
    return tuple(context)


def test_gold_services_of_the_seed_recap(corpus: Path) -> None:
    gold = json.loads((corpus / "gold" / "2023-12-aws-reinvent-2023.json").read_text(encoding="utf-8"))
    recap = (corpus / gold["document"]).read_text(encoding="utf-8")
    norm = _scorer(corpus).norm_service
    tx = Taxonomy.load(CONFIG)
    scored = 0
    wrong: list[str] = []
    for item in gold["announcements"]:
        if item["services"] is None:
            continue
        scored += 1
        ann = Announcement(title=item["title"], context=_recap_context(recap, item["title"]))
        predicted = [norm(s.name) for s in services_for(ann, tx)]
        groups = [{norm(name) for name in group} for group in item["services"]]
        unmatched = list(predicted)
        ok = True
        for group in groups:
            hit = next((p for p in unmatched if p in group), None)
            if hit is None:
                ok = False
                break
            unmatched.remove(hit)
        if not ok or unmatched:
            wrong.append(f"{item['title']!r}: predicted {predicted}, gold {item['services']}")
    assert scored >= 15
    assert not wrong, "\n".join(wrong)


def test_gold_titles_alone_except_context_dependent(corpus: Path) -> None:
    """Titles that name their service must resolve from the title alone (find)."""
    gold = json.loads((corpus / "gold" / "2023-12-aws-reinvent-2023.json").read_text(encoding="utf-8"))
    norm = _scorer(corpus).norm_service
    tx = Taxonomy.load(CONFIG)
    for item in gold["announcements"]:
        found = [norm(s.name) for s in tx.find(item["title"])]
        if item["services"] is None:
            assert found == [], item["title"]
        elif found:
            assert len(found) == len(item["services"]), item["title"]
            for name, group in zip(found, item["services"], strict=True):
                assert name in {norm(g) for g in group}, item["title"]


def _feed_tags(corpus: Path) -> list[str]:
    tags: set[str] = set()
    for feed in sorted((corpus / "whats-new").glob("*.xml")):
        parsed = feedparser.parse(feed.read_bytes())
        for entry in parsed.entries:
            for tag in entry.get("tags", []):
                for term in (tag.get("term") or "").split(","):
                    term = term.strip()
                    if term.startswith("general:products/"):
                        tags.add(term)
    return sorted(tags)


def test_whats_new_product_tags_resolve(corpus: Path) -> None:
    tags = _feed_tags(corpus)
    assert len(tags) > 50
    full = Taxonomy.load(CONFIG)
    unresolved = [t for t in tags if full.from_tag(t) is None]
    assert not unresolved, unresolved

    # Without the tags the seed collected from these very feeds, the SDK names and the
    # curated file must still resolve almost every tag: this is what happens to a new tag.
    seed = json.loads(SEED_PATH.read_text(encoding="utf-8"))
    seed["whats_new_tags"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        bare_seed = Path(tmp) / "seed.json"
        bare_seed.write_text(json.dumps(seed), encoding="utf-8")
        bare = Taxonomy.load(CONFIG, seed=bare_seed)
        resolved = [t for t in tags if bare.from_tag(t) is not None]
    coverage = len(resolved) / len(tags)
    print(f"What's New product tags resolved without seeded tags: {len(resolved)}/{len(tags)} = {coverage:.1%}")
    assert coverage >= 0.98
    for tag in tags:  # both ways agree on every tag the bare taxonomy resolves
        bare_service = bare.from_tag(tag)
        if bare_service is not None:
            full_service = full.from_tag(tag)
            assert full_service is not None and full_service.slug == bare_service.slug, tag


def test_whats_new_titles_agree_with_their_tags(corpus: Path) -> None:
    """Where a title names services and the item has product tags, they mostly agree."""
    tx = Taxonomy.load(CONFIG)
    agree = total = 0
    for feed in sorted((corpus / "whats-new").glob("*.xml")):
        for entry in feedparser.parse(feed.read_bytes()).entries:
            terms = [t.strip() for tag in entry.get("tags", []) for t in (tag.get("term") or "").split(",")]
            tagged = {s.slug for t in terms if (s := tx.from_tag(t)) is not None}
            found = {s.slug for s in tx.find(" ".join(entry.title.split()))}
            if tagged and found:
                total += 1
                agree += bool(tagged & found)
    print(f"What's New titles agreeing with their tags: {agree}/{total}")
    assert total > 80
    assert agree / total >= 0.95
