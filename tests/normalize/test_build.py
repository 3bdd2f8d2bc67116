"""The seed generator: botocore metadata and What's New tags into plain data the taxonomy loads."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from tracker.normalize import Taxonomy
from tracker.normalize.build_taxonomy import build_seed, default_botocore_dir, main, read_whats_new_tags
from tracker.normalize.taxonomy import SEED_PATH

CONFIG = Path(__file__).resolve().parents[2] / "config"


def _client(root: Path, sdk_id: str, version: str, metadata: dict[str, str], *, gz: bool = False) -> None:
    folder = root / sdk_id / version
    folder.mkdir(parents=True)
    body = json.dumps({"metadata": metadata, "operations": {}}).encode()
    if gz:
        (folder / "service-2.json.gz").write_bytes(gzip.compress(body))
    else:
        (folder / "service-2.json").write_bytes(body)


@pytest.fixture
def botocore_dir(tmp_path: Path) -> Path:
    root = tmp_path / "botocore" / "data"
    _client(root, "zebra", "2030-01-01", {"serviceFullName": "Amazon Zebra Old", "serviceId": "Zebra"})
    _client(
        root,
        "zebra",
        "2031-01-01",
        {"serviceFullName": "Amazon Zebra Service", "serviceId": "Zebra", "endpointPrefix": "zb"},
        gz=True,
    )
    _client(
        root,
        "zebra-runtime",
        "2031-01-01",
        {"serviceFullName": "Amazon Zebra Runtime", "serviceId": "Zebra Runtime", "endpointPrefix": "runtime.zb"},
    )
    _client(
        root,
        "elasticache",
        "2015-02-02",
        {"serviceFullName": "Amazon ElastiCache", "serviceId": "ElastiCache", "endpointPrefix": "elasticache"},
    )
    _client(
        root,
        "okapi",
        "2031-01-01",
        {"serviceFullName": "AWSOkapiFrontendService", "serviceId": "okapi", "endpointPrefix": "okapi"},
    )
    (root / "_retry.json").write_text("{}", encoding="utf-8")
    (root.parent / "__init__.py").write_text("__version__ = '9.9.9'\n", encoding="utf-8")
    return root


def test_read_whats_new_tags(fixtures: Path) -> None:
    tags = read_whats_new_tags([fixtures / "normalize" / "whats-new-tags.xml"])
    assert tags == {
        "amazon-elasticache": {"databases": 1},
        "amazon-gazelle-herds": {"training-and-certification": 1},
        "amazon-s3": {"analytics": 1},  # counted per item: both category elements belong to it
        "amazon-zebra-stripes": {"analytics": 2},
    }


def test_build_seed_uses_newest_api_version(botocore_dir: Path, fixtures: Path) -> None:
    seed = build_seed(botocore_dir, [fixtures / "normalize" / "whats-new-tags.xml"])
    assert seed["botocore_version"] == "9.9.9"
    by_id = {r["id"]: r for r in seed["sdk"]}
    assert sorted(by_id) == ["elasticache", "okapi", "zebra", "zebra-runtime"]
    assert by_id["zebra"]["full_name"] == "Amazon Zebra Service"  # 2031, the gzipped one
    assert by_id["zebra"]["endpoint_prefix"] == "zb"
    assert set(seed["whats_new_tags"]) == {
        "amazon-elasticache",
        "amazon-gazelle-herds",
        "amazon-s3",
        "amazon-zebra-stripes",
    }


def test_cli_writes_a_seed_the_taxonomy_loads(botocore_dir: Path, fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "seed.json"
    feed = fixtures / "normalize" / "whats-new-tags.xml"
    assert main(["--botocore", str(botocore_dir), "--whats-new", str(feed), "--out", str(out)]) == 0
    first = out.read_bytes()
    assert json.loads(first)["sdk"]
    # Regenerating from the same input changes nothing; tags already collected are kept.
    assert main(["--botocore", str(botocore_dir), "--out", str(out)]) == 0
    assert out.read_bytes() == first

    tx = Taxonomy.load(CONFIG, seed=out)
    zebra = tx.by_name("zebra-runtime")
    assert zebra is not None and zebra == tx.by_name("Amazon Zebra")  # -runtime merged into its base
    assert zebra.name == "Amazon Zebra"  # "Service" dropped: not part of the serviceId
    assert tx.by_name("zb") == zebra  # endpoint prefix: an identifier alias
    assert [s.name for s in tx.find("Pretend launch for Amazon Zebra")] == ["Amazon Zebra"]
    assert tx.find("the zb endpoint") == []  # identifiers never match free text
    okapi = tx.by_name("okapi")
    assert okapi is not None and okapi.name == "AWS OkapiFrontendService"
    # A tag whose words name a service belongs to it; an unknown one is a service of its own.
    stripes = tx.from_tag("general:products/amazon-zebra-stripes")
    assert stripes == zebra
    herds = tx.from_tag("general:products/amazon-gazelle-herds")
    assert herds is not None and herds.name == "Amazon Gazelle Herds" and herds.category == "training-and-certification"
    assert [s.name for s in tx.find("Pretend Gazelle Herds for Amazon Zebra")] == [
        "Amazon Gazelle Herds",
        "Amazon Zebra",
    ]
    cache = tx.from_tag("general:products/amazon-elasticache")
    assert cache is not None and cache.name == "Amazon ElastiCache" and "elasticache" in cache.aliases


def test_cli_without_botocore_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--botocore", str(tmp_path / "missing"), "--out", str(tmp_path / "seed.json")]) == 2
    assert "botocore" in capsys.readouterr().err
    assert not (tmp_path / "seed.json").exists()


def test_committed_seed_is_plain_data() -> None:
    seed = json.loads(SEED_PATH.read_text(encoding="utf-8"))
    assert set(seed) == {"about", "botocore_version", "sdk", "whats_new_tags"}
    assert len(seed["sdk"]) > 300
    for record in seed["sdk"]:
        assert set(record) == {"id", "full_name", "abbreviation", "service_id", "endpoint_prefix"}
    assert "amazon-elasticache" in seed["whats_new_tags"] or "amazon-ec2" in seed["whats_new_tags"]


def test_committed_seed_matches_installed_botocore(tmp_path: Path) -> None:
    data = default_botocore_dir()
    if data is None or not data.is_dir():
        pytest.skip("botocore is not installed in any Python here")
    out = tmp_path / "seed.json"
    shutil.copy(SEED_PATH, out)
    assert main(["--botocore", str(data), "--out", str(out)]) == 0
    fresh = json.loads(out.read_text(encoding="utf-8"))
    committed = json.loads(SEED_PATH.read_text(encoding="utf-8"))
    if fresh["botocore_version"] != committed["botocore_version"]:
        pytest.skip(f"installed botocore {fresh['botocore_version']} differs from the seed's")
    assert fresh == committed
