"""The service taxonomy: loading, lookups, and finding services in free text (invented sentences)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import tracker.normalize.taxonomy as taxonomy_module
from tracker.config import shipped_file
from tracker.errors import ConfigError
from tracker.items import Announcement, Service
from tracker.normalize import Taxonomy, services_for

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"


@pytest.fixture(scope="module")
def tx() -> Taxonomy:
    return Taxonomy.load(CONFIG)


def names(tx: Taxonomy, text: str) -> list[str]:
    return [s.name for s in tx.find(text)]


# --- loading ----------------------------------------------------------------------------------


def test_load_is_cached() -> None:
    taxonomy_module._CACHE.clear()
    first = Taxonomy.load(CONFIG)
    assert Taxonomy.load(CONFIG) is first


def test_services_are_unique_and_well_formed(tx: Taxonomy) -> None:
    slugs = [s.slug for s in tx.services]
    assert len(slugs) == len(set(slugs))
    assert len(tx.services) > 150
    for service in tx.services:
        assert isinstance(service, Service)
        assert service.name and service.slug
        assert service.name not in service.aliases


@pytest.mark.parametrize(
    "name",
    [
        "Amazon S3",
        "Amazon EC2",
        "Amazon RDS",
        "Amazon ElastiCache",
        "Amazon Redshift",
        "Amazon Aurora",
        "Amazon DynamoDB",
        "Amazon OpenSearch Service",
        "Amazon Bedrock",
        "Amazon Q",
        "Amazon DataZone",
        "Amazon CloudWatch",
        "Amazon SageMaker",
        "AWS Application Composer",
        "AWS Management Console",
        "AWS Lambda",
        "AWS Graviton",
        "AWS Trainium",
        "AWS Inferentia",
        "AWS Nitro System",
    ],
)
def test_canonical_display_names(tx: Taxonomy, name: str) -> None:
    assert name in {s.name for s in tx.services}


@pytest.mark.parametrize(
    ("product", "parts"),
    [
        ("Amazon SageMaker", ["sagemaker-runtime", "sagemaker-geospatial"]),
        ("Amazon Bedrock", ["bedrock-agent", "bedrock-runtime"]),
        ("Amazon RDS", ["rds-data"]),
        ("Amazon Redshift", ["redshift-serverless", "redshift-data"]),
        ("Amazon OpenSearch Service", ["opensearchserverless"]),
        ("Amazon Q", ["qbusiness", "qapps", "qconnect"]),
        ("Amazon S3", ["s3control", "s3outposts", "s3vectors"]),
    ],
)
def test_sdk_clients_merge_into_one_product(tx: Taxonomy, product: str, parts: list[str]) -> None:
    for sdk_id in parts:
        service = tx.by_name(sdk_id)
        assert service is not None and service.name == product, sdk_id
    assert sum(1 for s in tx.services if s.name == product) == 1


def test_unclaimed_part_clients_merge_into_their_base(tx: Taxonomy) -> None:
    # No curated table names these: the -runtime / -data suffix rule does.
    runtime = tx.by_name("personalize-runtime")
    assert runtime is not None and runtime == tx.by_name("personalize")
    iot_events = tx.by_name("iotevents-data")
    assert iot_events is not None and iot_events == tx.by_name("iotevents")


def test_categories_come_from_curation_or_tags(tx: Taxonomy) -> None:
    s3 = tx.get("amazon-s3")
    assert s3 is not None and s3.category == "storage"


# --- get / by_name / from_tag -------------------------------------------------------------------


def test_get(tx: Taxonomy) -> None:
    service = tx.get("amazon-elasticache")
    assert service is not None and service.name == "Amazon ElastiCache"
    assert tx.get("no-such-service") is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Amazon ElastiCache", "Amazon ElastiCache"),
        ("amazon elasticache", "Amazon ElastiCache"),
        ("AWS  Elasti-Cache", "Amazon ElastiCache"),
        ("elasticache", "Amazon ElastiCache"),
        ("Amazon Simple Storage Service", "Amazon S3"),
        ("es", "Amazon OpenSearch Service"),
        ("ce", "AWS Cost Explorer"),
        ("mq", "Amazon MQ"),
        ("Redshift Serverless", "Amazon Redshift"),
        ("S3 Express One Zone", "Amazon S3"),
    ],
)
def test_by_name(tx: Taxonomy, name: str, expected: str) -> None:
    service = tx.by_name(name)
    assert service is not None and service.name == expected


@pytest.mark.parametrize("name", ["AWS", "Amazon", "Kuiper", "NVIDIA", "PostgreSQL", "", "Zebra Stripes"])
def test_by_name_none(tx: Taxonomy, name: str) -> None:
    assert tx.by_name(name) is None


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("general:products/amazon-elasticache", "Amazon ElastiCache"),
        ("amazon-elasticache", "Amazon ElastiCache"),
        ("  general:products/amazon-rds-for-postgresql ", "Amazon RDS"),
        ("general:products/amazon-fsx-for-windows-file-server", "Amazon FSx"),
        ("general:products/aws-iam-identity-center", "AWS IAM Identity Center"),
        ("Amazon Aurora", "Amazon Aurora"),
        ("Amazon Simple Storage Service (S3)", "Amazon S3"),
        ("AWS Identity and Access Management (IAM)", "AWS IAM"),
        ("Amazon Bedrock Knowledge Bases", "Amazon Bedrock"),
    ],
)
def test_from_tag(tx: Taxonomy, tag: str, expected: str) -> None:
    service = tx.from_tag(tag)
    assert service is not None and service.name == expected


@pytest.mark.parametrize(
    "tag",
    [
        "marketing:marchitecture/databases",
        "marketing:marchitecture/artificial-intelligence",
        "Launch",
        "News",
        "Announcements",
        "Generative AI",
        "Compute",
        "Security, Identity, & Compliance",
        "AWS re:Invent",
        "",
    ],
)
def test_from_tag_topics_are_not_services(tx: Taxonomy, tag: str) -> None:
    assert tx.from_tag(tag) is None


# --- find ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the brief's cases
        (
            "Aurora PostgresSQL, RDS MySQL, DynamoDB zero ETL integrations with Redshift",
            ["Amazon Aurora", "Amazon RDS", "Amazon DynamoDB", "Amazon Redshift"],
        ),
        ("DynamoDB zero ETL integration with OpenSearch", ["Amazon DynamoDB", "Amazon OpenSearch Service"]),
        ("AWS S3 Express One Zone", ["Amazon S3"]),
        ("Guardrails for Bedrock", ["Amazon Bedrock"]),
        ("DGX cloud on AWS", []),
        ("Kuiper Private Connectivity Services", []),
        ("availability of three new GPUs on AWS", ["Amazon EC2"]),
        ("AWS Management Console myApplications", ["AWS Management Console"]),
        ("AWS CloudWatch Application Signals", ["Amazon CloudWatch"]),
        ("Amazon SageMaker Studio Code Editor", ["Amazon SageMaker"]),
        ("AWS Application Composer in VS Code", ["AWS Application Composer"]),
        ("Amazon Redshift Serverless", ["Amazon Redshift"]),
        # splits, joins, hyphens, case and prefix
        (
            "Data Zone meets Elasticache and Open Search",
            ["Amazon DataZone", "Amazon ElastiCache", "Amazon OpenSearch Service"],
        ),
        ("dynamodb and Dynamo-DB and AMAZON DYNAMODB", ["Amazon DynamoDB"]),
        ("Cloud Watch alarms for Route53", ["Amazon CloudWatch", "Amazon Route 53"]),
        # typos of long names
        ("AWS Lamda gets a pretend runtime", ["AWS Lambda"]),
        ("Amazon Sagemkaer notebooks", ["Amazon SageMaker"]),
        ("Elasticashe for Valkey", ["Amazon ElastiCache"]),
        # engines are not services unless a database service qualifies them
        ("PostgreSQL 17 and MySQL 9 are out", []),
        ("Redit 7 and Memcached 1.6 compatible", []),
        ("RDS for PostgreSQL and Aurora MySQL", ["Amazon RDS", "Amazon Aurora"]),
        # abbreviations
        (
            "S3, EC2, RDS, EKS, ECS, SQS, SNS, IAM, VPC, EMR and MSK",
            [
                "Amazon S3",
                "Amazon EC2",
                "Amazon RDS",
                "Amazon EKS",
                "Amazon ECS",
                "Amazon SQS",
                "Amazon SNS",
                "AWS IAM",
                "Amazon VPC",
                "Amazon EMR",
                "Amazon MSK",
            ],
        ),
        ("Trigger STEP from a pretend queue", ["AWS Step Functions"]),
        ("one step at a time", []),
        ("eks and rds in lower case are words, not acronyms", []),
        ("ML models and an MQ broker", []),
        # sub-products and instance families
        ("Graviton4 and Graviton 4 and Trainium2", ["AWS Graviton", "AWS Trainium"]),
        ("New R9gd and X9z-flex instances for pretend workloads", ["Amazon EC2"]),
        ("ElastiCache Serverless and Aurora Limitless Database", ["Amazon ElastiCache", "Amazon Aurora"]),
        # brands and words that are not services
        ("NVIDIA and Salesforce on AWS", []),
        ("your AWS account", []),
        ("AWS", []),
        ("Amazon", []),
    ],
)
def test_find(tx: Taxonomy, text: str, expected: list[str]) -> None:
    assert names(tx, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Connect your app to a pretend queue", []),
        ("Amazon Connect adds pretend routing", ["Amazon Connect"]),
        ("New features for Batch processing", []),
        ("AWS Batch supports pretend schedulers", ["AWS Batch"]),
        ("Use Glue to move data", []),
        ("Pretend tables are now readable from Glue.", ["AWS Glue"]),
        ("Works with Batch and Fargate", ["AWS Batch", "AWS Fargate"]),
        ("Backup Payment Methods for pretend invoices", []),
        ("We shield our users", []),
        ("AWS Shield adds pretend rules", ["AWS Shield"]),
        ("Config files in YAML", []),
        ("AWS Config adds pretend rules", ["AWS Config"]),
        ("Q&A with the team", []),
        ("Amazon Q answers pretend questions", ["Amazon Q"]),
        ("Q Developer writes pretend tests", ["Amazon Q"]),
        ("The Console Gets A New Look", []),  # Title Case: capitals say nothing
        ("step functions in prose", []),
        ("Orchestrate pretend jobs with Step Functions", ["AWS Step Functions"]),
        ("Scaling Pretend Verification With Machine Learning", []),
    ],
)
def test_find_common_words(tx: Taxonomy, text: str, expected: list[str]) -> None:
    assert names(tx, text) == expected


def test_find_order_and_duplicates(tx: Taxonomy) -> None:
    assert names(tx, "Lambda, then S3, then Lambda again and Amazon S3") == ["AWS Lambda", "Amazon S3"]


# --- services_for ----------------------------------------------------------------------------------


def test_services_for_title_first(tx: Taxonomy) -> None:
    ann = Announcement(title="Amazon Zebra Stripes for DynamoDB", context=("AWS Lambda",))
    assert [s.name for s in services_for(ann, tx)] == ["Amazon DynamoDB"]


def test_services_for_product_tags_are_authoritative(tx: Taxonomy) -> None:
    # What's New puts its own product categories on each item: other services the headline
    # mentions ("CodePipeline adds EKS deployment") are not what the launch is about.
    ann = Announcement(
        title="AWS CodePipeline adds native Amazon EKS deployment support",
        service_tags=("general:products/aws-codepipeline", "marketing:marchitecture/developer-tools"),
        context=("AWS Lambda",),
    )
    assert [s.name for s in services_for(ann, tx)] == ["AWS CodePipeline"]


def test_services_for_title_and_subject_tag(tx: Taxonomy) -> None:
    # A roundup bullet "**Amazon ECR** introduces [AWS PrivateLink for FIPS endpoints](...)":
    # the bold subject and what the title names are both the launch's services, title first.
    ann = Announcement(title="AWS PrivateLink for FIPS Endpoints", service_tags=("Amazon ECR",), rule="roundup:link")
    assert [s.name for s in services_for(ann, tx)] == ["AWS PrivateLink", "Amazon ECR"]
    signing = Announcement(title="managed image signing", service_tags=("Amazon ECR",), rule="roundup:link")
    assert [s.name for s in services_for(signing, tx)] == ["Amazon ECR"]
    # A blog post's categories are broader than its launch: they only count when the title names nothing.
    post = Announcement(title="AWS PrivateLink for FIPS Endpoints", service_tags=("Amazon ECR",), rule="post:title")
    assert [s.name for s in services_for(post, tx)] == ["AWS PrivateLink"]


def test_services_for_tags_when_title_names_none(tx: Taxonomy) -> None:
    ann = Announcement(
        title="Pretend stripes are generally available",
        service_tags=("general:products/amazon-s3", "marketing:marchitecture/storage", "general:products/amazon-efs"),
        context=("AWS Lambda",),
    )
    assert [s.name for s in services_for(ann, tx)] == ["Amazon S3", "Amazon EFS"]


def test_services_for_context_innermost_first(tx: Taxonomy) -> None:
    ann = Announcement(
        title="Next-generation pretend scaling",
        context=("Why it matters", "AWS Redshift Serverless", "Amazon DynamoDB and Aurora"),
    )
    assert [s.name for s in services_for(ann, tx)] == ["Amazon Redshift"]
    assert services_for(Announcement(title="Pretend", context=("nothing", "here")), tx) == ()


# --- curated configuration ----------------------------------------------------------------------------


def test_curated_file_is_data(tmp_path: Path) -> None:
    text = (shipped_file("services.toml")).read_text(encoding="utf-8")
    text += '\n[[service]]\nname = "Amazon Zebra"\naliases = ["Zebra Stripes", "Zebra"]\ncategory = "analytics"\n'
    (tmp_path / "services.toml").write_text(text, encoding="utf-8")
    custom = Taxonomy.load(tmp_path)
    assert names(custom, "Pretend Zebra Stripes for Amazon S3") == ["Amazon Zebra", "Amazon S3"]
    zebra = custom.by_name("AWS Zebra")
    assert zebra is not None and zebra.slug == "amazon-zebra" and zebra.category == "analytics"


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ("[text]\nunknown_rule = []\n", "text.unknown_rule"),
        ('[[service]]\nname = "Amazon Zebra"\ncolour = "striped"\n', "service[0].colour"),
        ('[[service]]\naliases = ["Zebra"]\n', "service[0].name"),
        ('[[service]]\nname = "Amazon Zebra"\naliases = "Zebra"\n', "service[0].aliases"),
        ("[surprise]\n", "surprise"),
    ],
)
def test_bad_configuration_names_the_key(tmp_path: Path, content: str, key: str) -> None:
    (tmp_path / "services.toml").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Taxonomy.load(tmp_path)
    assert info.value.key == key
    assert str(tmp_path / "services.toml") in str(info.value)


def test_missing_config_dir_falls_back_to_shipped_file(tmp_path: Path) -> None:
    empty = tmp_path / "config"
    empty.mkdir()
    fallback = Taxonomy.load(empty)
    assert fallback.by_name("Amazon Aurora") is not None  # curated, so the shipped file was read


def test_edit_of_the_curated_file_is_picked_up(tmp_path: Path) -> None:
    shutil.copy(shipped_file("services.toml"), tmp_path / "services.toml")
    before = Taxonomy.load(tmp_path)
    assert before.by_name("Zebra") is None
    with (tmp_path / "services.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[[service]]\nname = "Amazon Zebra"\n')
    import os

    stat = (tmp_path / "services.toml").stat()
    os.utime(tmp_path / "services.toml", (stat.st_atime, stat.st_mtime + 5))
    after = Taxonomy.load(tmp_path)
    assert after is not before and after.by_name("Zebra") is not None


def test_region_tags_and_names_are_regions_not_services(tx: Taxonomy) -> None:
    from tracker.normalize import regions_for

    tagged = Announcement(
        title="Amazon EC2 C9 instances now available in AWS GovCloud (US-West)",
        service_tags=("general:products/amazon-ec2", "general:products/aws-govcloud-us"),
    )
    assert [s.name for s in services_for(tagged, tx)] == ["Amazon EC2"]
    assert [s.name for s in regions_for(tagged, tx)] == ["AWS GovCloud (US)"]
    named = Announcement(title="Amazon Kelp DB is now available in the AWS China (Ningxia) Region")
    assert [s.name for s in regions_for(named, tx)] == ["AWS China (Ningxia) Region"]
    assert all(not s.region for s in services_for(named, tx))
    assert regions_for(Announcement(title="Amazon S3 adds a storage class"), tx) == ()


def test_a_retired_category_does_not_win_over_the_title(tx: Taxonomy) -> None:
    bedrock = Announcement(
        title="Amazon Bedrock adds a model from Kelp AI",
        service_tags=("general:products/amazon-bedrock", "general:products/amazon-machine-learning"),
    )
    assert [s.name for s in services_for(bedrock, tx)] == ["Amazon Bedrock"]
    only_retired = Announcement(
        title="Amazon Bedrock adds a model", service_tags=("general:products/amazon-machine-learning",)
    )
    assert [s.name for s in services_for(only_retired, tx)] == ["Amazon Bedrock"]
    untitled = Announcement(title="A new way to label data", service_tags=("general:products/amazon-machine-learning",))
    assert [s.name for s in services_for(untitled, tx)] == ["Amazon SageMaker"]
    # An item about the retired product itself keeps it.
    itself = Announcement(
        title="Delete many objects in the Amazon ML console", service_tags=("general:products/amazon-machine-learning",)
    )
    assert [s.name for s in services_for(itself, tx)] == ["Amazon Machine Learning"]


def test_a_title_that_is_only_a_service_name_names_that_service(tx: Taxonomy) -> None:
    # Alone, "Outposts" could start a sentence; as a whole title it is the service's name.
    [service] = services_for(Announcement(title="Outposts"), tx)
    assert service.name == "AWS Outposts"
    assert services_for(Announcement(title="Outposts of progress everywhere"), tx) == ()


def test_an_ignored_acronym_still_names_its_service_after_the_prefix(tx: Taxonomy) -> None:
    assert [s.name for s in tx.find("AWS SSO supports MFA with apps")] == ["AWS IAM Identity Center"]
    assert tx.find("SSO supports MFA with apps") == []


def test_a_typo_after_the_prefix_finds_the_short_name(tx: Taxonomy) -> None:
    assert [s.name for s in tx.find("AWS licence Manager finds more licences")] == ["AWS License Manager"]


def test_the_typo_index_finds_exactly_the_keys_one_edit_away() -> None:
    # Against a brute-force scan: every one-edit variant (insertion, deletion, substitution,
    # neighbours swapped, at every position) of invented keys, and words no key is near.
    keys = ["lambdaq", "kelpdbx", "pebblestore", "zetastreams", "zetastream", "abcdef", "abcdeg", "bacdef"]
    index = taxonomy_module._NearIndex(keys)
    letters = "abdekqxz"
    texts: set[str] = {"quillsz", "orbitcache", "zzzzzzz", "lamb", "abcdefgh"}
    for key in keys:
        for i in range(len(key) + 1):
            texts.update(key[:i] + c + key[i:] for c in letters)
            if i < len(key):
                texts.add(key[:i] + key[i + 1 :])
                texts.update(key[:i] + c + key[i + 1 :] for c in letters)
            if i + 1 < len(key):
                texts.add(key[:i] + key[i + 1] + key[i] + key[i + 2 :])
    texts = {t for t in texts if len(t) >= 5}
    for text in sorted(texts):
        expected = sorted(
            k for k in keys if k != text and k[0] == text[0] and taxonomy_module._within_one_edit(text, k)
        )
        assert list(index.near(text)) == expected, text


def test_an_instance_size_names_ec2_on_its_own() -> None:
    taxonomy = Taxonomy.load()
    for text in ("P9dn.48xlarge", "the new q9g.metal size", "m9.large"):
        assert "Amazon EC2" in [s.name for s in taxonomy.find(text)], text
    assert not [s.name for s in taxonomy.find("the config file name.large")]


def test_an_ml_instance_size_names_sagemaker_not_ec2() -> None:
    taxonomy = Taxonomy.load()
    for text in ("ml.p9dn.48xlarge", "new ml.q9g.2xlarge instances for endpoints"):
        assert [s.name for s in taxonomy.find(text)] == ["Amazon SageMaker"], text


def _one_edit_variants(word: str) -> set[str]:
    """Every spelling one edit from `word`: a letter changed, dropped, added, two neighbours swapped."""
    out = {word}
    for i in range(len(word) + 1):
        out.add(word[:i] + "x" + word[i:])
        if i < len(word):
            out.add(word[:i] + word[i + 1 :])
            out.add(word[:i] + "x" + word[i + 1 :])
        if i + 1 < len(word):
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    return out


def test_regions_in_gives_what_a_full_scan_finds(tx: Taxonomy) -> None:
    # regions_in skips the scan of a text where no Region can be named: for every spelling of
    # every Region alias and every one-edit typo of it, in a sentence (as a summary has it, too
    # long to be memoised), it must give exactly the Regions the full scan gives.
    regions = [s for s in tx.services if s.region]
    assert regions
    spellings = {alias for s in regions for alias in (s.name, *s.aliases) if alias}
    filler = "Customers can now use it from the console and the CLI with CloudWatch metrics. " * 4
    checked = 0
    for spelling in sorted(spellings):
        words = spelling.split()
        for w, word in enumerate(words):
            for variant in sorted(_one_edit_variants(word)):
                phrase = " ".join([*words[:w], variant, *words[w + 1 :]])
                for text in (f"{filler}Now in {phrase}. {filler}", f"{phrase} {filler}", f"{filler}{phrase}"):
                    assert len(text) > taxonomy_module.FIND_MEMO_TEXT  # scanned, not memoised
                    full = [s for s in tx.find(text) if s.region]
                    assert tx.regions_in(text) == full, text
                    checked += bool(full)
    assert checked > 50  # the typos the scan takes for a Region were among them
    assert tx.regions_in(filler) == [] and tx.regions_in("") == []
    # The point: a text naming no Region is not scanned, though its words hold "cloud".
    assert not tx._may_name_region(filler)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Retired services that botocore no longer lists are services of their own, not their family's.
        ("AWS IoT Analytics adds SQL functions", ["AWS IoT Analytics"]),
        ("Amazon Lookout for Vision is now available", ["Amazon Lookout for Vision"]),
        ("Bottlerocket adds FIPS images", ["Bottlerocket"]),
        ("AWS Security Agent is generally available", ["AWS Security Agent"]),
        # A name that others use too needs the brand: GitHub's Copilot is not AWS Copilot.
        ("GitHub Copilot writes code", []),
        ("AWS Copilot CLI 2.0", ["AWS Copilot"]),
        # A service's name at its announcement is its current service's.
        ("Amazon Managed Apache Cassandra Service (preview)", ["Amazon Keyspaces"]),
        ("CloudShell opens in the console", ["AWS CloudShell"]),
        # Japanese writes its particles against the names: they part the names, never join them.
        ("ECSがVPC Latticeと統合", ["Amazon ECS", "Amazon VPC Lattice"]),
        ("LambdaがCloudWatch経由でのAPMに対応", ["AWS Lambda", "Amazon CloudWatch"]),
    ],
)
def test_retired_and_unlisted_services_are_found(tx: Taxonomy, text: str, expected: list[str]) -> None:
    assert [s.name for s in tx.find(text)] == expected
