"""Typed settings: defaults < config/*.toml < TRACKER_* environment < CLI flags.

One model: the frozen dataclasses below are the settings of tracker.toml and sources.toml. Each
setting is a dataclass field written once, with its default, its key in the file (a table's
name then the field's, `http.timeout`) and any check; the loader reads the keys, types and
defaults from the fields, so nothing is listed twice. An unknown key or a wrong value is a
`ConfigError` naming where the value came from (the file and key, or the environment variable).

Chosen over pydantic-settings: the model is small and flat, every error must read as this
project's (file, key, "must be a number (got 'abc')"), and `tracker --help` and the queries
must not pay for importing pydantic (tests/test_startup.py holds them to what they import).

webhooks.toml is read with the same loader (`load_tables`) into tracker.sources.push.Webhook.
events.toml, services.toml and extract.toml are data, not settings: curated knowledge (events
and their dates, the service taxonomy, extraction rules) with their own loaders and checks in
the stage that uses them, overridable per config folder through `data_file`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tracker.errors import ConfigError
from tracker.redact import mask_url

log = logging.getLogger(__name__)

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
USER_AGENT = "tracker/0.1 (AWS announcement tracker; +https://github.com/aws-announcement-tracker)"
ENV_PREFIX = "TRACKER_"


class SourceKind(StrEnum):
    """How a configured source is read (sources.toml `kind`)."""

    AUTO = "auto"
    FEED = "feed"
    WHATS_NEW = "whats-new"
    NEWS_BLOG = "news-blog"
    HTML = "html"
    MARKDOWN = "markdown"
    SESSIONS = "sessions"
    YOUTUBE_PLAYLIST = "youtube-playlist"


SOURCE_KINDS = tuple(SourceKind)

Check = Callable[[Any], "str | None"]
T = typing.TypeVar("T")


def setting(default: Any = dataclasses.MISSING, *, key: str | None = None, check: Check | None = None) -> Any:
    """A field read from a settings file: its one default, its key (default: the field's name) and a check."""
    return field(default=default, metadata={"key": key, "check": check})


def derived(default: Any = dataclasses.MISSING) -> Any:
    """A field that no file sets (worked out from other settings or given by a command)."""
    return field(default=default, metadata={"file": False})


def section(cls: type, name: str) -> Any:
    """A field holding a table of the file (`[http]`): its settings' keys start with `name.`."""
    return field(default_factory=cls, metadata={"section": name})


def _positive(value: Any) -> str | None:
    return None if value > 0 else f"must be positive (got {value!r})"


MAX_SERVE_WORKERS = 64  # `tracker serve --workers`: processes, each with its threads and connections


def _serve_workers(value: Any) -> str | None:
    if 1 <= value <= MAX_SERVE_WORKERS:
        return None
    return f"must be a whole number from 1 to {MAX_SERVE_WORKERS} (got {value!r})"


def http_url(value: Any) -> str | None:
    """A check: an absolute http(s) URL."""
    parts = urlsplit(value)
    return None if parts.scheme in ("http", "https") and parts.netloc else f"must be an http(s) URL (got {value!r})"


def non_empty(value: Any) -> str | None:
    """A check for an optional string: absent, or not empty."""
    return None if value is None or value != "" else "must not be empty"


def _source_kind(value: Any) -> str | None:
    return None if value in SOURCE_KINDS else f"unknown kind {value!r} (known: {', '.join(SOURCE_KINDS)})"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How the fetcher talks to the network (`[http]`)."""

    user_agent: str = setting(USER_AGENT)
    timeout: float = setting(30.0)
    connect_timeout: float = setting(10.0)
    retries: int = setting(2)
    backoff: float = setting(1.0)
    max_bytes: int = setting(20_000_000, check=_positive)
    max_seconds: float = setting(300.0)  # one whole response, however slowly it trickles in
    max_retry_wait: float = setting(60.0)  # a longer Retry-After is not waited for: the source fails this run
    min_interval: float = setting(1.0)  # seconds between two requests to the same host
    robots: bool = setting(True)  # honour robots.txt
    # sources on this many hosts are fetched at once (one request at a time per host)
    concurrency: int = setting(4, check=_positive)


@dataclass(frozen=True, slots=True)
class ObjectStoreSettings:
    """Where and how feeds are put when `output_dir` is an s3:// URL (`[s3]`)."""

    url: str = derived("")  # s3://bucket/prefix, as configured (normalised: no trailing slash); "" = not used
    bucket: str = derived("")
    prefix: str = derived("")  # "" (the bucket's root) or a key prefix without leading or trailing "/"
    # "" = boto3's own lookup: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, the AWS config file, else AWS itself
    endpoint_url: str = setting("")
    cache_control: str = setting("public, max-age=300")  # feeds and indexes: readers poll, as `tracker serve` says
    archive_cache_control: str = setting("public, max-age=86400")  # archive pages hardly ever change


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One configured source (a `[[source]]` table of sources.toml): a feed, a page, a recap or a session listing."""

    name: str = setting()
    url: str = setting()
    kind: str = setting(SourceKind.AUTO, check=_source_kind)
    enabled: bool = setting(True)
    fetch_pages: bool = setting(False)  # for feeds: also fetch each item's page and extract from it
    event: str | None = setting(None)  # declare the event its documents belong to
    public_url: str | None = derived(None)  # the public address of a saved file (`tracker import --url`)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a run needs, resolved from files, environment and flags (tracker.toml's model)."""

    config_dir: Path = derived()
    database_url: str = setting("sqlite:///tracker.db")
    # A string in the file: a folder, or an s3:// URL that sets `s3` instead (see load_settings).
    output_dir: Path = setting(Path("feeds"))
    archive_dir: Path = setting(Path("archive"))
    base_url: str = setting("http://localhost:8000/")  # feed self links are built from it; ends in "/"
    feed_title: str = setting("AWS announcements", key="feeds.title")
    feed_author: str = setting("tracker", key="feeds.author")
    feed_limit: int = setting(100, key="feeds.limit", check=_positive)
    schedule_cron: str = setting("0 6 * * *", key="schedule.cron")
    schedule_timezone: str = setting("UTC", key="schedule.timezone")
    misfire_grace_seconds: int = setting(3600, key="schedule.misfire_grace_seconds")
    # How often `tracker schedule` checks for a slot no scheduler finished (another one died mid-run).
    takeover_seconds: int = setting(60, key="schedule.takeover_seconds", check=_positive)
    # `tracker serve` processes answering on one address (Linux SO_REUSEPORT); 1 = the server in one process.
    serve_workers: int = setting(1, key="serve.workers", check=_serve_workers)
    link_threshold: float = setting(0.6, key="link.threshold")
    push_hub: str = setting("", key="push.hub")  # WebSub hub to ping after a publish ("" = none)
    push_retries: int = setting(3, key="push.retries")  # extra attempts of a hub ping or webhook delivery
    push_timeout: float = setting(10.0, key="push.timeout")
    http: HttpSettings = section(HttpSettings, "http")
    sources: tuple[SourceConfig, ...] = derived(())  # from sources.toml
    # Its url is set when output_dir is an s3:// URL: feeds go to that bucket and prefix, not to output_dir.
    s3: ObjectStoreSettings = section(ObjectStoreSettings, "s3")

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


# --------------------------------------------------------------------------- the model, read from the fields


@dataclass(frozen=True, slots=True)
class Spec:
    """One setting as the loader sees it: where it lives in the file and in the model."""

    key: str  # dotted key in the file: "feeds.limit", "http.timeout"
    type: type  # str, int, float, bool or Path (a string in the file)
    default: Any  # dataclasses.MISSING when the setting is required
    path: tuple[str, ...]  # attribute path in the model: ("feed_limit",), ("http", "timeout")
    check: Check | None = None

    @property
    def env(self) -> str:
        """The environment variable that sets it: TRACKER_ + the key with dots as underscores."""
        return ENV_PREFIX + self.key.replace(".", "_").upper()

    @property
    def required(self) -> bool:
        """Whether the file must give it (no default)."""
        return self.default is dataclasses.MISSING


def _plain_type(hint: Any) -> type:
    """str for `str | None`, frozenset for `frozenset[str]`; the type itself otherwise."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        (only,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _plain_type(only)
    return typing.cast(type, typing.get_origin(hint) or hint)


def specs(model: type, prefix: str = "", path: tuple[str, ...] = ()) -> tuple[Spec, ...]:
    """Every file setting of a settings dataclass, its sections' included, in field order."""
    hints = typing.get_type_hints(model)
    out: list[Spec] = []
    for f in dataclasses.fields(model):
        if f.metadata.get("file") is False:
            continue
        if "section" in f.metadata:
            out.extend(specs(hints[f.name], f"{prefix}{f.metadata['section']}.", (*path, f.name)))
            continue
        out.append(
            Spec(
                key=f.metadata.get("key") or f"{prefix}{f.name}",
                type=_plain_type(hints[f.name]),
                default=f.default,
                path=(*path, f.name),
                check=f.metadata.get("check"),
            )
        )
    return tuple(out)


_DESCRIBED = {
    str: "text",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    Path: "text",
    frozenset: "a list of non-empty strings",
}


def _coerce(spec: Spec, value: Any, *, file: str, key: str) -> Any:
    """The value as the setting's type; strings from the environment are converted. Else a ConfigError."""
    expected = str if spec.type is Path else spec.type
    wrong = ConfigError(f"must be {_DESCRIBED[spec.type]} (got {value!r})", file=file, key=key)
    if expected is frozenset:
        # A set of names (services, events) compared without regard to case or surrounding spaces.
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise wrong
        return frozenset(v.strip().lower() for v in value)
    if isinstance(value, str) and expected is not str:
        if expected is bool:
            lowered = value.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise wrong
        try:
            return expected(value.strip())
        except ValueError:
            raise wrong from None
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise wrong
    return value


def _flatten(data: Mapping[str, Any], known: Mapping[str, Spec], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and dotted not in known:
            out.update(_flatten(value, known, dotted + "."))
        else:
            out[dotted] = value
    return out


def _read(
    specs_: tuple[Spec, ...],
    table: Mapping[str, Any],
    *,
    file: str,
    where: str = "",
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Checked values by key: the table's over the defaults, the environment's (when given) over both."""
    environ = environ or {}
    known = {spec.key: spec for spec in specs_}
    values: dict[str, Any] = {}
    origins: dict[str, tuple[str, str]] = {}
    for key, raw in _flatten(table, known).items():
        spec = known.get(key)
        if spec is None:
            raise ConfigError(f"unknown setting (known: {', '.join(sorted(known))})", file=file, key=where + key)
        values[key] = _coerce(spec, raw, file=file, key=where + key)
        origins[key] = (file, where + key)
    for spec in specs_:
        if spec.env in environ:
            values[spec.key] = _coerce(spec, environ[spec.env], file="environment", key=spec.env)
            origins[spec.key] = ("environment", spec.env)
    for spec in specs_:
        if spec.key not in values:
            if spec.required:
                raise ConfigError("missing", file=file, key=where + spec.key)
            values[spec.key] = spec.default
        elif spec.required and values[spec.key] == "":
            raise ConfigError("missing", file=origins[spec.key][0], key=origins[spec.key][1])
        problem = spec.check(values[spec.key]) if spec.check is not None else None
        if problem is not None:
            source, key = origins.get(spec.key, (file, where + spec.key))
            raise ConfigError(problem, file=source, key=key)
    return values


def _build(model: type, specs_: tuple[Spec, ...], values: Mapping[str, Any], **extra: Any) -> Any:
    """An instance of the model from checked values (sections built from theirs)."""
    top: dict[str, Any] = dict(extra)
    sections: dict[str, dict[str, Any]] = {}
    for spec in specs_:
        value = Path(values[spec.key]) if spec.type is Path else values[spec.key]
        if len(spec.path) == 1:
            top[spec.path[0]] = value
        else:
            sections.setdefault(spec.path[0], {})[spec.path[1]] = value
    hints = typing.get_type_hints(model)
    for name, fields_ in sections.items():
        top[name] = hints[name](**fields_)
    return model(**top)


SETTINGS_SPECS = specs(Settings)
SOURCE_SPECS = specs(SourceConfig)
DEFAULTS: Mapping[str, Any] = {spec.key: spec.default for spec in SETTINGS_SPECS}  # tracker.toml's, by key


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


def load_tables(path: Path, name: str, model: type[T]) -> list[T]:
    """The `[[name]]` tables of a TOML file as instances of a settings dataclass (none when the file does not exist)."""
    data = read_toml(path)
    for key in data:
        if key != name:
            raise ConfigError(f"unknown key; expected [[{name}]] tables", file=str(path), key=key)
    raw = data.get(name, [])
    if not isinstance(raw, list):
        raise ConfigError(f"expected a list of [[{name}]] tables", file=str(path), key=name)
    model_specs = specs(model)
    out: list[T] = []
    for index, table in enumerate(raw):
        where = f"{name}[{index}]"
        if not isinstance(table, dict):
            raise ConfigError("expected a table", file=str(path), key=where)
        out.append(_build(model, model_specs, _read(model_specs, table, file=str(path), where=f"{where}.")))
    return out


def load_sources(path: Path) -> tuple[SourceConfig, ...]:
    """Read sources.toml: a list of [[source]] tables, their names unique."""
    sources = load_tables(path, "source", SourceConfig)
    seen: set[str] = set()
    for index, source in enumerate(sources):
        if source.name in seen:
            raise ConfigError(f"duplicate source name {source.name!r}", file=str(path), key=f"source[{index}].name")
        seen.add(source.name)
    return tuple(sources)


def load_settings(config_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve settings from defaults, config_dir/*.toml and the TRACKER_* environment."""
    config_dir = config_dir or default_config_dir()
    environ = os.environ if environ is None else environ
    path = config_dir / "tracker.toml"
    values = _read(SETTINGS_SPECS, read_toml(path), file=str(path), environ=environ)
    output = str(values["output_dir"])
    if not values["base_url"].endswith("/"):
        values["base_url"] += "/"
    if is_object_store_url(output):
        # Path() would fold "s3://b/p" into "s3:/b/p": the URL is kept whole, output_dir stays the default.
        values["output_dir"] = DEFAULTS["output_dir"]
    settings: Settings = _build(
        Settings,
        SETTINGS_SPECS,
        values,
        config_dir=config_dir,
        sources=load_sources(Path(environ.get("TRACKER_SOURCES_FILE", _sources_file(config_dir)))),
    )
    if is_object_store_url(output):
        origin = ("environment", "TRACKER_OUTPUT_DIR") if "TRACKER_OUTPUT_DIR" in environ else (str(path), "output_dir")
        settings = replace(settings, s3=object_store_settings(output, settings.s3, file=origin[0], key=origin[1]))
    return settings


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
