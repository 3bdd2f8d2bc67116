"""The evaluation gate: every answer key is scored by ../shared/tools/score_extraction.py.

Keys come from ../shared/corpus/gold/ (shared) and tests/gold/ (labelled by this project, see
tests/gold/README.md). For each key, the document it names is extracted the way `tracker
extract DOC --format json` does, the output is written to a file, and the shared scorer is run
on it as a separate program, exactly as a user would. A figure below its pin fails the test.
Pins sit at the figures measured when the key was added: raise them when extraction improves,
never lower them to let a change through.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tracker import pipeline
from tracker.config import load_settings

pytestmark = pytest.mark.corpus

REPO = Path(__file__).resolve().parents[2]
OWN_KEYS = REPO / "tests" / "gold"
CONFIG = REPO / "config"

# key file name -> minimum (announcement F1, service accuracy, link F1)
PINNED: dict[str, tuple[float, float, float]] = {
    # shared keys
    "2023-12-aws-reinvent-2023.json": (1.0, 1.0, 1.0),
    # keynote recaps ("New **X**" bullets), re:Invent 2022 and 2024
    "2023-01-03-aws-reinvent-2022-keynote-adam-selipsky.json": (1.0, 1.0, 1.0),
    "2023-01-08-aws-reinvent-2022-keynote-werner-vogels.json": (1.0, 1.0, 1.0),
    "2023-01-16-aws-reinvent-2022-keynote-swami-sivasubramanian.json": (1.0, 1.0, 1.0),
    "2023-02-05-aws-reinvent-2022-keynote-peter-desantis.json": (1.0, 1.0, 1.0),
    "2024-12-08-aws-reinvent-2024-keynote-peter-desantis.json": (1.0, 1.0, 1.0),
    # link-list recap (one emoji bullet per launch), re:Invent 2021
    "reinvent-2021.json": (1.0, 1.0, 1.0),
    # What's New feed, its product categories as the service key
    "whats-new-feed-2025-02-22.json": (1.0, 1.0, 1.0),
    # News Blog: launch posts and weekly roundups
    "accelerate_large_scale_ai_applications_with_the_new_amazon_ec2_p6_b300_instances_c9724223.json": (1.0, 1.0, 1.0),
    "introducing-aws-lambda-managed-instances-serverless-simplicity-with-ec2-flexibility.json": (1.0, 1.0, 1.0),
    "aws_weekly_roundup_amazon_s3_amazon_ec2_and_more_november_10_2025_213aa788.json": (1.0, 1.0, 1.0),
    # one launch names no service in its text (CloudFront flat-rate pricing): 40/41
    "aws_weekly_roundup_how_to_join_aws_reinvent_2025_plus_kiro_ga_and_lots_of_launches_nov_24_2025_b7d401cf.json": (
        1.0,
        0.975,
        1.0,
    ),
}


def _keys(corpus: Path) -> list[Path]:
    return sorted((corpus / "gold").glob("*.json")) + sorted(OWN_KEYS.glob("*.json"))


def _score(corpus: Path, gold: Path, predicted: Path) -> dict[str, float]:
    """Run the shared scorer as a program and read its `name: value` lines."""
    scorer = corpus.parent / "tools" / "score_extraction.py"
    done = subprocess.run(
        [sys.executable, str(scorer), str(gold), str(predicted)], capture_output=True, text=True, timeout=120, check=False
    )
    figures: dict[str, float] = {}
    for line in done.stdout.splitlines():
        name, sep, value = line.partition(": ")
        if sep and name.replace("_", "").isalnum():
            try:
                figures[name] = float(value)
            except ValueError:
                continue
    assert "announcement_f1" in figures, done.stdout + done.stderr
    return figures


def test_every_key_is_pinned(corpus: Path) -> None:
    names = {p.name for p in _keys(corpus)}
    assert len(names) >= 12
    assert names == set(PINNED), f"unpinned: {sorted(names - set(PINNED))}, stale pins: {sorted(set(PINNED) - names)}"


def test_own_keys_name_corpus_documents(corpus: Path) -> None:
    for key in sorted(OWN_KEYS.glob("*.json")):
        gold = json.loads(key.read_text())
        assert (corpus / gold["document"]).is_file(), key.name
        assert gold["announcements"], key.name
        for ann in gold["announcements"]:
            assert set(ann) <= {"title", "services", "optional_services", "sessions", "optional"}, (key.name, ann)
            known = {s["key"] for s in gold.get("sessions", [])}
            assert set(ann.get("sessions", [])) <= known, (key.name, ann["title"])


@pytest.mark.parametrize("name", sorted(PINNED))
def test_key_scores_at_least_pinned(name: str, corpus: Path, tmp_path: Path) -> None:
    gold = corpus / "gold" / name if (corpus / "gold" / name).is_file() else OWN_KEYS / name
    if not gold.is_file():
        pytest.fail(f"answer key {name} is pinned but missing")
    document = corpus / json.loads(gold.read_text())["document"]
    settings = load_settings(CONFIG, environ={})
    result = pipeline.extract_location(settings, str(document))
    predicted = tmp_path / "predicted.json"
    predicted.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    figures = _score(corpus, gold, predicted)
    f1, service_acc, link_f1 = PINNED[name]
    print(f"{name}: f1={figures['announcement_f1']} service_acc={figures['service_accuracy']} link_f1={figures['link_f1']}")
    assert figures["announcement_f1"] >= f1, figures
    assert figures["service_accuracy"] >= service_acc, figures
    assert figures["link_f1"] >= link_f1, figures
