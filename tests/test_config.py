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
