"""Settings: defaults < files < environment, with errors that name the file and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracker.config import (
    DEFAULTS,
    SETTINGS_SPECS,
    HttpSettings,
    ObjectStoreSettings,
    SourceConfig,
    load_settings,
)
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


def test_a_wrong_value_names_the_file_the_key_and_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text('[http]\ntimeout = "abc"\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path, environ={})
    assert str(exc.value) == f"{tmp_path / 'tracker.toml'} [http.timeout]: must be a number (got 'abc')"
    (tmp_path / "tracker.toml").write_text("[feeds]\nlimit = 2.5\n")
    with pytest.raises(ConfigError, match=r"\[feeds.limit\]: must be a whole number \(got 2.5\)"):
        load_settings(tmp_path, environ={})
    (tmp_path / "tracker.toml").write_text('[http]\nrobots = "maybe"\n')
    with pytest.raises(ConfigError, match=r"\[http.robots\]: must be true or false"):
        load_settings(tmp_path, environ={})


def test_a_check_names_where_the_value_came_from(tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text("[feeds]\nlimit = 0\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path, environ={})
    assert "tracker.toml [feeds.limit]: must be positive (got 0)" in str(exc.value)
    # The same bad value from the environment names the variable, not the file.
    (tmp_path / "tracker.toml").write_text("[feeds]\nlimit = 5\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path, environ={"TRACKER_HTTP_CONCURRENCY": "-1"})
    assert str(exc.value) == "environment [TRACKER_HTTP_CONCURRENCY]: must be positive (got -1)"


def test_precedence_is_environment_then_file_then_default(tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text("[http]\nretries = 5\nrobots = false\n")
    settings = load_settings(tmp_path, environ={"TRACKER_HTTP_ROBOTS": "yes"})
    assert settings.http.retries == 5  # file over default
    assert settings.http.robots is True  # environment over file
    assert settings.http.timeout == HttpSettings().timeout  # default
    assert settings.with_overrides(database_url="sqlite:///cli.db").database_url == "sqlite:///cli.db"  # CLI over all


def test_every_setting_has_one_default_an_environment_variable_and_a_documented_line() -> None:
    """The model is the one list: each key reads from its variable, and the shipped tracker.toml shows its default."""
    import tomllib

    defaults = load_settings(Path("/nonexistent-config"), environ={})
    assert defaults.http == HttpSettings() and defaults.s3 == ObjectStoreSettings()
    keys = {spec.key for spec in SETTINGS_SPECS}
    assert (
        len(keys) == len(SETTINGS_SPECS) and {"database_url", "feeds.limit", "http.timeout", "s3.endpoint_url"} <= keys
    )
    for spec in SETTINGS_SPECS:
        assert spec.env == "TRACKER_" + spec.key.replace(".", "_").upper()
    # Uncommented, the shipped file's lines are settings of the model, each at the model's default.
    lines = (REPO_CONFIG / "tracker.toml").read_text().splitlines()
    shown = tomllib.loads(
        "\n".join(re.sub(r"^# (?=[a-z_]+ = )", "", line) for line in lines if re.match(r"^(\[|# [a-z_]+ = )", line))
    )
    flat = {f"{table}.{k}": v for table, t in shown.items() if isinstance(t, dict) for k, v in t.items()}
    flat.update({k: v for k, v in shown.items() if not isinstance(v, dict)})
    assert flat and set(flat) <= keys
    for key, value in flat.items():
        assert str(value) == str(DEFAULTS[key]), key


def test_sources_are_read_from_the_same_model(tmp_path: Path) -> None:
    (tmp_path / "sources.toml").write_text(
        '[[source]]\nname = "x"\nurl = "a.md"\n[[source]]\nname = "y"\nurl = "b"\nenabled = "perhaps"\n'
    )
    with pytest.raises(ConfigError) as exc:
        load_settings(tmp_path, environ={})
    assert str(exc.value) == f"{tmp_path / 'sources.toml'} [source[1].enabled]: must be true or false (got 'perhaps')"
    (tmp_path / "sources.toml").write_text('[[source]]\nname = "x"\nurl = ""\n')
    with pytest.raises(ConfigError, match=r"\[source\[0\].url\]: missing"):
        load_settings(tmp_path, environ={})
    (tmp_path / "sources.toml").write_text('[[source]]\nname = "x"\nurl = "a.md"\n')
    (source,) = load_settings(tmp_path, environ={}).sources
    assert source == SourceConfig(name="x", url="a.md")  # every other field at its one default


def _readme_rows() -> list[tuple[list[str], list[str]]]:
    """(keys, defaults) of each row of the README's tracker.toml tables, each cell split at ' / '."""
    rows = []
    for line in (REPO_CONFIG.parent / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            keys = re.findall(r"`([a-z_.0-9]+)`", cells[0])
            if keys and all(re.fullmatch(r"[a-z_0-9]+(\.[a-z_]+)?", k) for k in keys):
                rows.append((keys, re.findall(r"`([^`]*)`", cells[-2])))
    return rows


def test_the_readme_tables_list_every_setting_with_its_default() -> None:
    keys = {spec.key for spec in SETTINGS_SPECS}
    rows = [(k, d) for k, d in _readme_rows() if set(k) <= keys]
    documented = {key for row_keys, _ in rows for key in row_keys}
    assert documented == keys, f"undocumented: {sorted(keys - documented)}"
    checked = 0
    for row_keys, defaults in rows:
        if len(defaults) != len(row_keys) or any("..." in d for d in defaults):
            continue  # a shortened or grouped cell
        for key, shown in zip(row_keys, defaults, strict=True):
            value = DEFAULTS[key]
            shown = shown.strip('"')
            if isinstance(value, bool):
                assert shown == str(value).lower(), key
            elif isinstance(value, int | float):
                assert float(shown) == value, key
            else:
                assert shown == str(value), key
            checked += 1
    assert checked >= len(keys) // 2
