"""Typed settings: defaults < config/*.toml < TRACKER_* environment < CLI flags.

An unknown key or a value of the wrong type is a `ConfigError` naming the file and the key.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tracker.errors import ConfigError
from tracker.redact import mask_url

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
SOURCE_KINDS = ("auto", "feed", "whats-new", "news-blog", "html", "markdown", "sessions", "youtube-playlist")

# Every setting of tracker.toml: dotted key -> (type, default). Tables in the file are the
# first part of the dotted key; environment variables are TRACKER_ + the key with dots as _.
SCHEMA: dict[str, tuple[type, Any]] = {
    "database_url": (str, "sqlite:///tracker.db"),
    "output_dir": (str, "feeds"),
    "archive_dir": (str, "archive"),
    "base_url": (str, "http://localhost:8000/"),
    "feeds.title": (str, "AWS announcements"),
    "feeds.author": (str, "tracker"),
    "feeds.limit": (int, 100),
    "schedule.cron": (str, "0 6 * * *"),
    "schedule.timezone": (str, "UTC"),
    "schedule.misfire_grace_seconds": (int, 3600),
    "schedule.takeover_seconds": (int, 60),
    "http.user_agent": (str, "tracker/0.1 (AWS announcement tracker; +https://github.com/aws-announcement-tracker)"),
    "http.timeout": (float, 30.0),
    "http.connect_timeout": (float, 10.0),
    "http.retries": (int, 2),
    "http.backoff": (float, 1.0),
    "http.max_bytes": (int, 20_000_000),
    "http.max_seconds": (float, 300.0),
    "http.max_retry_wait": (float, 60.0),
    "http.min_interval": (float, 1.0),
    "http.robots": (bool, True),
    "http.concurrency": (int, 4),
    "link.threshold": (float, 0.6),
    "push.hub": (str, ""),
    "push.retries": (int, 3),
    "push.timeout": (float, 10.0),
    # Only read when output_dir is an s3:// URL (tracker.publish.objectstore).
    "s3.endpoint_url": (str, ""),
    "s3.cache_control": (str, "public, max-age=300"),
    "s3.archive_cache_control": (str, "public, max-age=86400"),
}

SOURCE_SCHEMA: dict[str, tuple[type, Any]] = {
    "name": (str, None),
    "url": (str, None),
    "kind": (str, "auto"),
    "enabled": (bool, True),
    "fetch_pages": (bool, False),
    "event": (str, None),
}


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How the fetcher talks to the network."""

    user_agent: str
    timeout: float = 30.0
    connect_timeout: float = 10.0
    retries: int = 2
    backoff: float = 1.0
    max_bytes: int = 20_000_000
    max_seconds: float = 300.0  # one whole response, however slowly it trickles in
    max_retry_wait: float = 60.0  # a longer Retry-After is not waited for: the source fails this run
    min_interval: float = 1.0  # seconds between two requests to the same host
    robots: bool = True  # honour robots.txt
    concurrency: int = 4  # sources on this many hosts are fetched at once (one request at a time per host)


@dataclass(frozen=True, slots=True)
class ObjectStoreSettings:
    """Where and how feeds are put when `output_dir` is an s3:// URL."""

    url: str = ""  # s3://bucket/prefix, as configured (normalised: no trailing slash); "" = not used
    bucket: str = ""
    prefix: str = ""  # "" (the bucket's root) or a key prefix without leading or trailing "/"
    # "" = boto3's own lookup: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, the AWS config file, else AWS itself
    endpoint_url: str = ""
    cache_control: str = "public, max-age=300"  # feeds and indexes: readers poll, as `tracker serve` says
    archive_cache_control: str = "public, max-age=86400"  # archive pages hardly ever change


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One configured source: a feed, a page, a recap or a session listing."""

    name: str
    url: str
    kind: str = "auto"
    enabled: bool = True
    fetch_pages: bool = False  # for feeds: also fetch each item's page and extract from it
    event: str | None = None  # declare the event its documents belong to
    public_url: str | None = None  # the public address of a saved file (`tracker import --url`)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs, resolved from files, environment and flags."""

    config_dir: Path
    database_url: str = "sqlite:///tracker.db"
    output_dir: Path = Path("feeds")
    archive_dir: Path = Path("archive")
    base_url: str = "http://localhost:8000/"
    feed_title: str = "AWS announcements"
    feed_author: str = "tracker"
    feed_limit: int = 100
    schedule_cron: str = "0 6 * * *"
    schedule_timezone: str = "UTC"
    misfire_grace_seconds: int = 3600
    # How often `tracker schedule` checks for a slot no scheduler finished (another one died mid-run).
    takeover_seconds: int = 60
    link_threshold: float = 0.6
    push_hub: str = ""  # WebSub hub to ping after a publish ("" = none)
    push_retries: int = 3  # extra attempts of a hub ping or webhook delivery
    push_timeout: float = 10.0
    http: HttpSettings = field(default_factory=lambda: HttpSettings(user_agent=SCHEMA["http.user_agent"][1]))
    sources: tuple[SourceConfig, ...] = ()
    # Its url is set when output_dir is an s3:// URL: feeds go to that bucket and prefix, not to output_dir.
    s3: ObjectStoreSettings = field(default_factory=ObjectStoreSettings)

    @property
    def object_store(self) -> ObjectStoreSettings | None:
        """The bucket and prefix feeds are published to, or None when they go to output_dir."""
        return self.s3 if self.s3.url else None

    @property
    def output_location(self) -> str:
        """Where feeds are published, for messages: the s3:// URL or the folder."""
        return self.object_store.url if self.object_store else str(self.output_dir)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (CLI flags); an `output_dir` string may be an s3:// URL."""
        changes = {k: v for k, v in changes.items() if v is not None}
        output = changes.get("output_dir")
        if isinstance(output, str):
            if is_object_store_url(output):
                changes["s3"] = object_store_settings(output, self.s3, file="command line", key="--output")
                del changes["output_dir"]
            else:
                changes["output_dir"] = Path(output)
        if "output_dir" in changes:
            # A local folder given on the command line wins over a URL in tracker.toml.
            changes["s3"] = replace(self.s3, url="", bucket="", prefix="")
        return replace(self, **changes)


S3_SCHEME = "s3://"
# Bucket names as S3 and the S3-compatible stores accept them (the legacy upper case and "_" too).
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")


def is_object_store_url(value: str) -> bool:
    """Whether an output setting names object storage (s3://bucket/prefix) rather than a folder."""
    return value[: len(S3_SCHEME)].lower() == S3_SCHEME


def object_store_settings(url: str, base: ObjectStoreSettings, *, file: str, key: str) -> ObjectStoreSettings:
    """The bucket and prefix of an s3://bucket/prefix URL (with base's other settings), else a ConfigError."""
    rest = url[len(S3_SCHEME) :]
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if "@" in bucket or ":" in bucket:
        # Credentials never go in the URL (they would be logged): the AWS environment carries them.
        raise ConfigError(
            "an s3:// URL takes no credentials or port: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and s3.endpoint_url for another store",
            file=file,
            key=key,
        )
    if not _BUCKET.fullmatch(bucket):
        raise ConfigError(f"{mask_url(url)!r} does not name a bucket: expected s3://bucket/prefix", file=file, key=key)
    parts = prefix.split("/") if prefix else []
    if (
        any(part in ("", ".", "..") for part in parts)
        or any(ch in prefix for ch in "\\?#\x00")
        or not prefix.isprintable()
    ):
        raise ConfigError(
            f"{mask_url(url)!r}: the prefix must be a plain path (no empty, '.' or '..' parts, no '\\', '?' or '#')",
            file=file,
            key=key,
        )
    normalised = f"{S3_SCHEME}{bucket}/{prefix}" if prefix else f"{S3_SCHEME}{bucket}"
    return replace(base, url=normalised, bucket=bucket, prefix=prefix)


def default_config_dir() -> Path:
    """The config folder of the user's overrides: $TRACKER_CONFIG_DIR, else ./config, else the checkout's."""
    env = os.environ.get("TRACKER_CONFIG_DIR")
    if env:
        return Path(env)
    local = Path.cwd() / "config"
    if (local / "tracker.toml").is_file() or (local / "sources.toml").is_file():
        return local
    return PACKAGE_ROOT / "config"


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables ({} when the file does not exist); bad TOML is a ConfigError naming the file."""
    # Imported here, not at the top: `tracker --help` reads no file.
    import tomllib

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from exc


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and dotted not in SCHEMA:
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _coerce(value: Any, expected: type, *, file: str, key: str) -> Any:
    """Check a value's type; strings from the environment are converted."""
    if isinstance(value, str) and expected is not str:
        try:
            if expected is bool:
                lowered = value.strip().lower()
                if lowered in {"1", "true", "yes", "on"}:
                    return True
                if lowered in {"0", "false", "no", "off"}:
                    return False
                raise ValueError(value)
            return expected(value)
        except ValueError:
            raise ConfigError(f"expected {expected.__name__}, got {value!r}", file=file, key=key) from None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(f"expected {expected.__name__}, got {type(value).__name__} {value!r}", file=file, key=key)
    return value


def _settings_values(config_dir: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    values = {key: default for key, (_, default) in SCHEMA.items()}
    path = config_dir / "tracker.toml"
    for key, value in _flatten(read_toml(path)).items():
        if key not in SCHEMA:
            raise ConfigError(f"unknown setting (known: {', '.join(sorted(SCHEMA))})", file=str(path), key=key)
        values[key] = _coerce(value, SCHEMA[key][0], file=str(path), key=key)
    for key, (expected, _) in SCHEMA.items():
        env_name = "TRACKER_" + key.replace(".", "_").upper()
        if env_name in environ:
            values[key] = _coerce(environ[env_name], expected, file="environment", key=env_name)
    return values


def load_sources(path: Path) -> tuple[SourceConfig, ...]:
    """Read sources.toml: a list of [[source]] tables."""
    data = read_toml(path)
    for key in data:
        if key != "source":
            raise ConfigError("unknown key; sources are [[source]] tables", file=str(path), key=key)
    raw = data.get("source", [])
    if not isinstance(raw, list):
        raise ConfigError("expected a list of [[source]] tables", file=str(path), key="source")
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    for index, table in enumerate(raw):
        where = f"source[{index}]"
        if not isinstance(table, dict):
            raise ConfigError("expected a table", file=str(path), key=where)
        values: dict[str, Any] = {}
        for key, value in table.items():
            if key not in SOURCE_SCHEMA:
                raise ConfigError(
                    f"unknown key (known: {', '.join(SOURCE_SCHEMA)})", file=str(path), key=f"{where}.{key}"
                )
            values[key] = _coerce(value, SOURCE_SCHEMA[key][0], file=str(path), key=f"{where}.{key}")
        for required in ("name", "url"):
            if not values.get(required):
                raise ConfigError("missing", file=str(path), key=f"{where}.{required}")
        if values.get("kind", "auto") not in SOURCE_KINDS:
            raise ConfigError(
                f"unknown kind {values['kind']!r} (known: {', '.join(SOURCE_KINDS)})",
                file=str(path),
                key=f"{where}.kind",
            )
        if values["name"] in seen:
            raise ConfigError(f"duplicate source name {values['name']!r}", file=str(path), key=f"{where}.name")
        seen.add(values["name"])
        sources.append(SourceConfig(**values))
    return tuple(sources)


def load_settings(config_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve settings from defaults, config_dir/*.toml and the TRACKER_* environment."""
    config_dir = config_dir or default_config_dir()
    environ = os.environ if environ is None else environ
    v = _settings_values(config_dir, environ)
    sources_path = Path(environ.get("TRACKER_SOURCES_FILE", _sources_file(config_dir)))
    http = HttpSettings(
        user_agent=v["http.user_agent"],
        timeout=v["http.timeout"],
        connect_timeout=v["http.connect_timeout"],
        retries=v["http.retries"],
        backoff=v["http.backoff"],
        max_bytes=v["http.max_bytes"],
        max_seconds=v["http.max_seconds"],
        max_retry_wait=v["http.max_retry_wait"],
        min_interval=v["http.min_interval"],
        concurrency=v["http.concurrency"],
        robots=v["http.robots"],
    )
    for key in ("feeds.limit", "http.max_bytes", "http.concurrency", "schedule.takeover_seconds"):
        if v[key] <= 0:
            raise ConfigError("must be positive", file=str(config_dir / "tracker.toml"), key=key)
    s3 = ObjectStoreSettings(
        endpoint_url=v["s3.endpoint_url"],
        cache_control=v["s3.cache_control"],
        archive_cache_control=v["s3.archive_cache_control"],
    )
    to_bucket = is_object_store_url(v["output_dir"])
    if to_bucket:
        # Path() would fold "s3://b/p" into "s3:/b/p": the URL is kept whole, output_dir stays the default.
        s3 = object_store_settings(v["output_dir"], s3, file=str(config_dir / "tracker.toml"), key="output_dir")
    return Settings(
        config_dir=config_dir,
        database_url=v["database_url"],
        output_dir=Path(SCHEMA["output_dir"][1] if to_bucket else v["output_dir"]),
        s3=s3,
        archive_dir=Path(v["archive_dir"]),
        base_url=v["base_url"] if v["base_url"].endswith("/") else v["base_url"] + "/",
        feed_title=v["feeds.title"],
        feed_author=v["feeds.author"],
        feed_limit=v["feeds.limit"],
        schedule_cron=v["schedule.cron"],
        schedule_timezone=v["schedule.timezone"],
        misfire_grace_seconds=v["schedule.misfire_grace_seconds"],
        takeover_seconds=v["schedule.takeover_seconds"],
        link_threshold=v["link.threshold"],
        push_hub=v["push.hub"],
        push_retries=v["push.retries"],
        push_timeout=v["push.timeout"],
        http=http,
        sources=load_sources(sources_path),
    )


def _sources_file(config_dir: Path) -> Path:
    # A folder with any configuration of its own means what it says (no sources.toml: no
    # sources); without one (a fresh install run from any folder) the shipped defaults apply.
    own = config_dir / "sources.toml"
    if own.is_file() or (config_dir / "tracker.toml").is_file():
        return own
    return shipped_file("sources.toml")


def shipped_file(name: str) -> Path:
    """A data file shipped inside the package (tracker/data): rules, model, taxonomy, events, default sources."""
    # Imported here, not at the top: most commands never need a shipped file.
    from importlib import resources

    # A regular (unzipped) install, editable or from a wheel, gives a real path.
    return Path(str(resources.files("tracker") / "data" / name))


def data_file(config_dir: Path, name: str) -> Path:
    """A data file (extract.toml, services.toml, events.toml): the config folder's override, else the shipped one."""
    own = config_dir / name
    return own if own.is_file() else shipped_file(name)
