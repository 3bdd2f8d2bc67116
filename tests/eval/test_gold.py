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

from tests.conftest import full_lane
from tracker import pipeline
from tracker.config import load_settings

pytestmark = pytest.mark.corpus

REPO = Path(__file__).resolve().parents[2]
OWN_KEYS = REPO / "tests" / "gold"
LARGE_DOCUMENT = 100_000  # bytes; larger documents are scored in the full lane only
CONFIG = REPO / "config"

# key file name -> minimum (announcement F1, service accuracy, link F1)
PINNED: dict[str, tuple[float, float, float]] = {
    # Figures of the shipped rules and model on documents they were built from: a regression
    # gate, not a measure of generalisation (that is tests/eval/test_loso.py).
    "2021-03-30_troubleshoot-boot-and-networking-issues-with-new-ec2-serial-console.json": (1.0, 1.0, 1.0),
    "2021-05-10_resolve-it-incidents-faster-with-incident-manager-a-new-capability-of-aws-systems-manager.json": (
        1.0,
        1.0,
        1.0,
    ),
    "2021-06-09_amazon-sagemaker-named-as-the-outright-leader-in-enterprise-mlops-platforms.json": (1.0, 1.0, 1.0),
    "2021-07-15_paging-doctor-cloud-amazon-healthlake-is-now-generally-available.json": (1.0, 1.0, 1.0),
    "2021-08-04_extract-insights-from-customer-conversations-with-amazon-transcribe-call-analytics.json": (
        1.0,
        1.0,
        1.0,
    ),
    "2021-09-03_decoding-the-social-effects-of-media-with-machine-learning.json": (1.0, 1.0, 1.0),
    "2021-09-22_scaling-ad-verification-with-machine-learning-and-aws-inferentia.json": (1.0, 1.0, 1.0),
    "2023-01-03-aws-reinvent-2022-keynote-adam-selipsky.json": (1.0, 1.0, 1.0),
    "2023-01-08-aws-reinvent-2022-keynote-werner-vogels.json": (1.0, 1.0, 1.0),
    "2023-01-16-aws-reinvent-2022-keynote-swami-sivasubramanian.json": (1.0, 1.0, 1.0),
    "2023-02-05-aws-reinvent-2022-keynote-peter-desantis.json": (1.0, 1.0, 1.0),
    "2023-12-aws-reinvent-2023.json": (1.0, 1.0, 1.0),
    "2024-12-08-aws-reinvent-2024-keynote-peter-desantis.json": (1.0, 1.0, 1.0),
    "accelerate_large_scale_ai_applications_with_the_new_amazon_ec2_p6_b300_instances_c9724223.json": (1.0, 1.0, 1.0),
    "amazon_aurora_dsql_is_now_generally_available_8fd034d7.json": (1.0, 1.0, 1.0),
    "amazon_q_developer_in_github_now_in_preview_with_code_generation_review_and_legacy_transformation_capabilities_4ee669d0.json": (
        1.0,
        1.0,
        1.0,
    ),
    "announcing-amazon-eks-capabilities-for-workload-orchestration-and-cloud-resource-management.json": (1.0, 1.0, 1.0),
    "announcing_the_new_aws_asia_pacific_thailand_region_0949b106.json": (1.0, 1.0, 1.0),
    "aws-blog-atom-2009-01-feedjira.json": (1.0, 1.0, 1.0),
    "aws-clean-rooms-launches-privacy-enhancing-synthetic-dataset-generation-for-ml-model-training.json": (
        1.0,
        1.0,
        1.0,
    ),
    "aws-partner-central-now-available-in-aws-management-console.json": (1.0, 1.0, 1.0),
    "aws-transform-announces-full-stack-windows-modernization-capabilities.json": (1.0, 1.0, 1.0),
    "aws-transform-for-mainframe-introduces-reimagine-capabilities-and-automated-testing-functionality.json": (
        1.0,
        1.0,
        1.0,
    ),
    "aws_named_as_a_leader_in_2025_gartner_magic_quadrant_for_strategic_cloud_platform_services_for_15_years_in_a_row_8a55d74d.json": (
        1.0,
        1.0,
        1.0,
    ),
    "aws_weekly_roundup_amazon_s3_amazon_ec2_and_more_november_10_2025_213aa788.json": (1.0, 1.0, 1.0),
    "aws_weekly_roundup_how_to_join_aws_reinvent_2025_plus_kiro_ga_and_lots_of_launches_nov_24_2025_b7d401cf.json": (
        1.0,
        0.976,
        1.0,
    ),
    "introducing-aws-lambda-managed-instances-serverless-simplicity-with-ec2-flexibility.json": (1.0, 1.0, 1.0),
    "introducing-aws-transform-custom-crush-tech-debt-with-ai-powered-code-modernization.json": (1.0, 1.0, 1.0),
    "introducing_amazon_bedrock_agentcore_securely_deploy_and_operate_ai_agents_at_any_scale_2a935bb7.json": (
        1.0,
        1.0,
        1.0,
    ),
    "introducing_amazon_s3_vectors_first_cloud_storage_with_native_vector_support_at_scale_3a61e1da.json": (
        1.0,
        1.0,
        1.0,
    ),
    "introducing_claude_sonnet_4_5_in_amazon_bedrock_anthropics_most_intelligent_model_best_for_coding_and_complex_agents_817067d6.json": (
        1.0,
        1.0,
        1.0,
    ),
    "introducing_our_final_aws_heroes_of_2025_ce3ad3a9.json": (1.0, 1.0, 1.0),
    "reinvent-2021.json": (1.0, 1.0, 1.0),
    "simplify-iam-policy-creation-with-iam-policy-autopilot-a-new-open-source-mcp-server-for-builders.json": (
        1.0,
        1.0,
        1.0,
    ),
    "top_announcements_of_the_aws_summit_in_new_york_2025_6ed3c9ca.json": (1.0, 1.0, 1.0),
    "unify_your_security_with_the_new_aws_security_hub_for_risk_prioritization_and_response_at_scale_preview_4888997b.json": (
        1.0,
        1.0,
        1.0,
    ),
    "up_to_85_price_reductions_for_amazon_s3_express_one_zone_9c1bb970.json": (1.0, 1.0, 1.0),
    "whats-new-feed-2016-07-21.json": (1.0, 0.958, 1.0),
    "whats-new-feed-2025-02-22.json": (1.0, 1.0, 1.0),
    "whats-new-page-2019-12.json": (1.0, 0.978, 1.0),
}


def _keys(corpus: Path) -> list[Path]:
    return sorted((corpus / "gold").glob("*.json")) + sorted(OWN_KEYS.glob("*.json"))


def _score(corpus: Path, gold: Path, predicted: Path) -> dict[str, float]:
    """Run the shared scorer as a program and read its `name: value` lines."""
    scorer = corpus.parent / "tools" / "score_extraction.py"
    done = subprocess.run(
        [sys.executable, str(scorer), str(gold), str(predicted)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
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
    assert len(names) >= 40
    assert names == set(PINNED), f"unpinned: {sorted(names - set(PINNED))}, stale pins: {sorted(set(PINNED) - names)}"


def test_own_keys_name_corpus_documents(corpus: Path) -> None:
    for key in sorted(OWN_KEYS.glob("*.json")):
        gold = json.loads(key.read_text())
        assert (corpus / gold["document"]).is_file(), key.name
        # A document with no launch (a report, a customer story) is a key too: it measures
        # precision. Its notes must say why it has none.
        assert gold["announcements"] or gold.get("notes"), key.name
        for ann in gold["announcements"]:
            assert set(ann) <= {"title", "services", "optional_services", "sessions", "optional"}, (key.name, ann)
            known = {s["key"] for s in gold.get("sessions", [])}
            assert set(ann.get("sessions", [])) <= known, (key.name, ann["title"])


@pytest.mark.parametrize("name", sorted(PINNED))
def test_key_scores_at_least_pinned(name: str, corpus: Path, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    gold = corpus / "gold" / name if (corpus / "gold" / name).is_file() else OWN_KEYS / name
    if not gold.is_file():
        pytest.fail(f"answer key {name} is pinned but missing")
    document = corpus / json.loads(gold.read_text())["document"]
    if document.is_file() and document.stat().st_size > LARGE_DOCUMENT and not full_lane(request.config):
        # Extracting a document of hundreds of kilobytes takes seconds: its gate runs in the full lane.
        pytest.skip(f"full lane only: {document.stat().st_size} bytes (run `pytest --runslow`)")
    settings = load_settings(CONFIG, environ={})
    result = pipeline.extract_location(settings, str(document))
    predicted = tmp_path / "predicted.json"
    predicted.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    figures = _score(corpus, gold, predicted)
    required = [a for a in json.loads(gold.read_text())["announcements"] if not a.get("optional")]
    if not required:
        # The scorer has no precision to give when nothing is asked: count what was extracted.
        optional = len(json.loads(gold.read_text())["announcements"])
        figures["announcement_f1"] = 1.0 if len(result["announcements"]) <= optional else 0.0
    f1, service_acc, link_f1 = PINNED[name]
    print(
        f"{name}: f1={figures['announcement_f1']} service_acc={figures['service_accuracy']} link_f1={figures['link_f1']}"
    )
    assert figures["announcement_f1"] >= f1, figures
    assert figures["service_accuracy"] >= service_acc, figures
    assert figures["link_f1"] >= link_f1, figures


def test_external_keys_are_well_formed_and_sourced() -> None:
    """Keys of documents kept outside the repository: the same shape, a source, a provenance row."""
    sources = (OWN_KEYS / "ext" / "SOURCES.md").read_text(encoding="utf-8")
    keys = sorted((OWN_KEYS / "ext").glob("*.json"))
    assert len(keys) >= 40
    for key in keys:
        gold = json.loads(key.read_text(encoding="utf-8"))
        assert gold["document"].startswith("external/") and f"| {gold['document']} |" in sources, key.name
        assert gold.get("source") and (gold["announcements"] or gold.get("notes")), key.name
        known = {s["key"] for s in gold.get("sessions", [])}
        for ann in gold["announcements"]:
            assert set(ann) <= {"title", "services", "optional_services", "sessions", "optional"}, (key.name, ann)
            assert set(ann.get("sessions", [])) <= known, (key.name, ann["title"])
