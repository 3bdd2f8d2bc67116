"""Settings: defaults < files < environment, with errors that name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.config import load_settings
from tracker.errors import ConfigError

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config"


def test_repository_config_loads_with_real_sources() -> None:
    settings = load_settings(REPO_CONFIG, environ={})
    assert settings.database_url.startswith("sqlite:///")
    urls = {s.url for s in settings.sources}
    assert "https://aws.amazon.com/blogs/aws/feed/" in urls
    assert "https://aws.amazon.com/about-aws/whats-new/recent/feed/" in urls


def test_environment_overrides_file(tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text('database_url = "sqlite:///a.db"\n[feeds]\nlimit = 5\n')
    settings = load_settings(tmp_path, environ={"TRACKER_DATABASE_URL": "sqlite:///b.db", "TRACKER_FEEDS_LIMIT": "7"})
    assert settings.database_url == "sqlite:///b.db"
    assert settings.feed_limit == 7


def test_bad_environment_value_names_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path, environ={"TRACKER_HTTP_TIMEOUT": "soon"})
    assert "TRACKER_HTTP_TIMEOUT" in str(exc.value)


def test_source_with_unknown_key(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text('[[source]]\nname = "x"\nurl = "a.md"\nfetch_page = true\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path, environ={})
    assert "sources.toml" in str(exc.value) and "source[0].fetch_page" in str(exc.value)


def test_source_kind_is_checked(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text('[[source]]\nname = "x"\nurl = "a.md"\nkind = "podcast"\n')
    with pytest.raises(ConfigError, match="podcast"):
        load_settings(tmp_path, environ={})


def test_duplicate_source_names_rejected(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text('[[source]]\nname = "x"\nurl = "a"\n[[source]]\nname = "x"\nurl = "b"\n')
    with pytest.raises(ConfigError, match="duplicate"):
        load_settings(tmp_path, environ={})


def test_invalid_toml_names_file(tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text("database_url = \n")
    with pytest.raises(ConfigError, match="tracker.toml"):
        load_settings(tmp_path, environ={})


def test_an_s3_output_dir_is_kept_as_a_url(tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text(
        'output_dir = "s3://my-feeds/aws/launches/"\n[s3]\nendpoint_url = "http://127.0.0.1:9000"\n'
        'cache_control = "public, max-age=60"\n'
    )
    settings = load_settings(tmp_path, environ={})
    store = settings.object_store
    assert store is not None
    # Not Path("s3://...") folded into "s3:/...": the bucket and prefix, as written.
    assert (store.url, store.bucket, store.prefix) == ("s3://my-feeds/aws/launches", "my-feeds", "aws/launches")
    assert store.endpoint_url == "http://127.0.0.1:9000" and store.cache_control == "public, max-age=60"
    assert store.archive_cache_control == "public, max-age=86400"
    assert settings.output_location == "s3://my-feeds/aws/launches"
    assert settings.output_dir == Path("feeds")  # unused, never written
    # From the environment too, at the bucket's root.
    root = load_settings(tmp_path, environ={"TRACKER_OUTPUT_DIR": "s3://other-bucket"}).object_store
    assert root is not None and (root.bucket, root.prefix) == ("other-bucket", "")


def test_a_local_output_dir_has_no_object_store(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"TRACKER_OUTPUT_DIR": "public/feeds"})
    assert settings.object_store is None and settings.output_dir == Path("public/feeds")
    assert settings.output_location == "public/feeds"


def test_output_override_switches_between_folder_and_bucket(tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text('[s3]\nendpoint_url = "http://127.0.0.1:9000"\n')
    local = load_settings(tmp_path, environ={})
    to_bucket = local.with_overrides(output_dir="s3://cli-bucket/feeds")  # --output is a string
    assert to_bucket.object_store is not None and to_bucket.object_store.bucket == "cli-bucket"
    assert to_bucket.object_store.endpoint_url == "http://127.0.0.1:9000"  # the file's s3.* settings kept
    back = to_bucket.with_overrides(output_dir=tmp_path / "out")
    assert back.object_store is None and back.output_dir == tmp_path / "out"
    assert to_bucket.with_overrides(output_dir="out").output_dir == Path("out")


@pytest.mark.parametrize(
    "url",
    [
        "s3://",
        "s3:///prefix",
        "s3://b",
        "s3://key:secret@bucket/feeds",
        "s3://bucket:9000/feeds",
        "s3://bucket/a/../b",
        "s3://bucket/a//b",
        "s3://bucket/a?x=1",
        "s3://bucket/a\\b",
    ],
)
def test_a_bad_s3_url_is_a_config_error(tmp_path: Path, url: str) -> None:
    (tmp_path / "tracker.toml").write_text(f"output_dir = '{url}'\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path, environ={})
    assert "output_dir" in str(exc.value)
    assert "secret" not in str(exc.value)
