"""Real documents of ../shared/corpus end to end (`tracker extract` without a database): what
must be found, with which services, and what must not be mistaken for a launch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracker import pipeline
from tracker.config import load_settings

pytestmark = pytest.mark.corpus

CONFIG = Path(__file__).resolve().parents[2] / "config"
KEYNOTES = "other-recaps/abhishek-pradhan-keynotes/"
BLOG = "aws-news-blog/real/walkley-2025-fullpage-md/"
SKIP_NAMES = {"SOURCES.md", "STRUCTURE.md"}


def _run(corpus: Path, name: str) -> dict[str, dict]:  # type: ignore[type-arg]
    result = pipeline.extract_location(load_settings(CONFIG, environ={}), str(corpus / name))
    return {str(a["title"]): a for a in result["announcements"]}


def _services(anns: dict[str, dict], title: str) -> list[str]:  # type: ignore[type-arg]
    assert title in anns, sorted(anns)
    return list(anns[title]["services"])


def test_keynote_recap_context_and_precision(corpus: Path) -> None:
    anns = _run(corpus, KEYNOTES + "2023-01-03-aws-reinvent-2022-keynote-adam-selipsky.md")
    assert _services(anns, "Inf2") == ["Amazon EC2"]  # "New **Inf2** EC2 instance"
    assert _services(anns, "ML powered forecasting with Q") == ["Amazon QuickSight"]  # "New Quicksight's **...**"
    assert _services(anns, "Amazon Omics") == ["AWS HealthOmics"]  # renamed service
    assert _services(anns, "Amazon Aurora zero-ETL integration with Redshift") == ["Amazon Aurora", "Amazon Redshift"]
    for not_a_launch in ("Powering AWS operations", "Open Cybersecurity Schema Framework (OCSF)"):
        assert not_a_launch not in anns
    assert all(a["rule"] and a["sessions"] for a in anns.values())


def test_keynote_recap_claims_are_not_launches(corpus: Path) -> None:
    anns = _run(corpus, KEYNOTES + "2023-01-08-aws-reinvent-2022-keynote-werner-vogels.md")
    assert {"Nature is Asynchronous", "Asynchrony", "Decompose", "blueprint"}.isdisjoint(anns)
    assert _services(anns, "Amazon Code Catalyst") == ["Amazon CodeCatalyst"]  # word split
    assert _services(anns, "AWS Step Functions Distributed Map") == ["AWS Step Functions"]


def test_keynote_recap_features_with_launch_wording(corpus: Path) -> None:
    anns = _run(corpus, KEYNOTES + "2023-01-16-aws-reinvent-2022-keynote-swami-sivasubramanian.md")
    assert _services(anns, "Amazon SageMaker now supports Geospatial ML") == ["Amazon SageMaker"]
    assert _services(anns, "Amazon Redshift Multi-AZ") == ["Amazon Redshift"]
    assert "Amazon GuardDuty" in _services(anns, "Amazon Guard Duty RDS protection")
    assert set(_services(anns, "Trusted Language Extensions for PostgreSQL")) <= {"Amazon RDS", "Amazon Aurora"}
    for not_a_launch in (
        "150+ courses",
        "AWS AI & ML Scholarship Program",
        "AWS Glue Data Quality",
        "open-source project",
    ):
        assert not_a_launch not in anns


def test_keynote_recap_section_labels_are_not_launches(corpus: Path) -> None:
    anns = _run(corpus, KEYNOTES + "2024-12-08-aws-reinvent-2024-keynote-peter-desantis.md")
    assert "Trainium2" in anns
    assert _services(anns, "Latency-optimized Inference option for Amazon Bedrock") == ["Amazon Bedrock"]
    labels = {
        t
        for t in anns
        if re.search(r"(?i)graviton journey|redefining|scaling laws|claude|rainier|advanced packaging", t)
    }
    assert not labels


def test_keynote_recap_coming_soon_instance(corpus: Path) -> None:
    anns = _run(corpus, KEYNOTES + "2023-02-05-aws-reinvent-2022-keynote-peter-desantis.md")
    assert set(_services(anns, "Trn1n")) <= {"Amazon EC2", "AWS Trainium"} and _services(anns, "Trn1n")
    assert {"SRD", "Stochastic Rounding"}.isdisjoint(anns)


def test_seed_recap_multi_service_and_misspellings(corpus: Path) -> None:
    anns = _run(corpus, "recaps/2023-12-aws-reinvent-2023.md")
    zero_etl = "Aurora PostgresSQL, RDS MySQL, DynamoDB zero ETL integrations with Redshift"
    assert _services(anns, zero_etl) == ["Amazon Aurora", "Amazon RDS", "Amazon DynamoDB", "Amazon Redshift"]
    assert _services(anns, "Next-generation AI based scaling") == ["Amazon Redshift"]  # enclosing bullet
    assert _services(anns, "AWS S3 Express One Zone") == ["Amazon S3"]
    assert _services(anns, "Kuiper Private Connectivity Services") == []  # not an AWS service
    assert _services(anns, "DGX cloud on AWS") == []


def test_launch_post_is_one_launch(corpus: Path) -> None:
    for name in (
        "unify_your_security_with_the_new_aws_security_hub_for_risk_prioritization_and_response_at_scale_preview_4888997b.md",
        "introducing_claude_sonnet_4_5_in_amazon_bedrock_anthropics_most_intelligent_model_best_for_coding_and_complex_agents_817067d6.md",
        "accelerate_large_scale_ai_applications_with_the_new_amazon_ec2_p6_b300_instances_c9724223.md",
    ):
        anns = _run(corpus, BLOG + name)
        assert len(anns) == 1, (name, sorted(anns))
        [ann] = anns.values()
        assert ann["rule"].startswith("post:") and ann["services"] and ann["summary"]


def test_non_launch_posts_have_no_launch(corpus: Path) -> None:
    for name in (
        "introducing_our_final_aws_heroes_of_2025_ce3ad3a9.md",
        "aws_named_as_a_leader_in_2025_gartner_magic_quadrant_for_strategic_cloud_platform_services_for_15_years_in_a_row_8a55d74d.md",
    ):
        assert _run(corpus, BLOG + name) == {}


def test_weekly_roundup_bundled_features(corpus: Path) -> None:
    anns = _run(
        corpus,
        BLOG
        + "aws_weekly_roundup_how_to_join_aws_reinvent_2025_plus_kiro_ga_and_lots_of_launches_nov_24_2025_b7d401cf.md",
    )
    assert _services(anns, "statement-level cost estimates") == ["Amazon Aurora DSQL"]  # link text glued to "s"
    assert _services(anns, "AWS PrivateLink for FIPS Endpoints") == ["AWS PrivateLink", "Amazon ECR"]
    assert _services(anns, "managed container image signing") == ["Amazon ECR"]
    assert _services(anns, "Simplified developer access to AWS with ‘aws login’") == ["AWS CLI"]
    assert not any(re.search(r"(?i)weekly roundup|re:invent|agenda|session catalog", t) for t in anns)
    assert all(a["url"] for a in anns.values() if a["rule"] == "roundup:link")


@pytest.mark.slow  # a 250 KB feed of 100 items: seconds, so the full lane
def test_whats_new_services_are_the_item_categories(corpus: Path) -> None:
    anns = _run(corpus, "whats-new/whats-new-feed-2025-02-22.xml")
    assert len(anns) == 100
    assert _services(anns, "AWS CodePipeline adds native Amazon EKS deployment support") == ["AWS CodePipeline"]
    inspector = _services(anns, "Amazon Inspector enhances the security engine for container images scanning")
    assert inspector[0] == "Amazon Inspector" and "Amazon ECR" in inspector  # both product categories
    # An item without categories falls back to its title.
    assert _services(anns, "AWS HealthScribe now supports GIRPP note template for behavioral health") == [
        "AWS HealthScribe"
    ]
    assert all(a["summary"] and "&nbsp;" not in a["summary"] for a in anns.values())


def test_link_list_recap_services(corpus: Path) -> None:
    anns = _run(corpus, "other-recaps/zoph-awscon-onepager/reinvent-2021.md")
    assert len(anns) == 66
    assert _services(anns, "AWS SDK for Rust") == ["AWS SDKs"]
    assert _services(anns, "Local zone expansion") == ["AWS Local Zones"]
    assert _services(anns, "WS Private 5G (Preview)") == ["AWS Private 5G"]
    assert not any(re.search(r"(?i)keynotes|playlists|youtube|tech predictions|recap", t) for t in anns)


def _documents(corpus: Path) -> list[Path]:
    return sorted(
        p
        for p in corpus.rglob("*")
        # external/ holds the locally kept documents of tests/gold/ext (see test_loso.py)
        if p.is_file()
        and p.relative_to(corpus).parts[0] != "external"
        and p.name not in SKIP_NAMES
        and not p.name.startswith("LICENSE")
        and "gold" not in p.parts
        and "gmarchand-playlists" not in p.parts  # 96 listings of one format, covered in tests/extract
    )


@pytest.mark.slow  # the whole corpus, document by document: the full lane
def test_every_document_extracts_and_is_not_empty_where_expected(corpus: Path) -> None:
    settings = load_settings(CONFIG, environ={})
    docs = _documents(corpus)
    assert len(docs) >= 40
    launch_title = re.compile(r"(?i)\b(?:new|introduc\w*|announc\w*|now (?:generally )?available|launch\w*)\b")
    not_launch = re.compile(r"(?i)\bheroes?\b|\bgartner\b|\bnamed as\b|\bleader\b")
    for path in docs:
        name = str(path.relative_to(corpus))
        result = pipeline.extract_location(settings, str(path))  # must not raise
        anns = result["announcements"]
        if name.startswith(("recaps/", "candid-startup-recaps/", "other-recaps/")):
            assert anns, name
            assert all(a["title"] and a["rule"] for a in anns), name
        elif name.startswith("whats-new/"):
            assert len(anns) >= 25 and all(a["url"] for a in anns), name
        elif name.startswith("sessions/"):
            assert result["sessions"], name
        elif name.startswith("aws-news-blog/") and not name.endswith("first-entry-content-feedjira.xml"):
            title = path.read_text(errors="replace")[:3000]
            heading = re.search(r"(?m)^# (.+)$|<h1[^>]*>\s*(.+?)\s*</h1>", title)
            head = (heading.group(1) or heading.group(2)) if heading else ""
            if not_launch.search(head):
                assert not anns, name
            elif launch_title.search(head) or name.endswith(".xml"):
                assert anns, name
