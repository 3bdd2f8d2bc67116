"""The error tree: every error a user can meet carries the source or URL it is about.

TrackerError
├── ConfigError   a setting is unknown, missing or of the wrong type (carries file and key)
├── FetchError    a source could not be fetched (carries source and URL)
├── ExtractError  a document could not be read (carries source and URL)
├── StoreError    the database refused or is unreachable (carries the database URL, password masked)
└── PublishError  object storage refused the feeds or is unreachable (carries the s3:// URL)
"""

from __future__ import annotations

from enum import StrEnum


class TrackerError(Exception):
    """Base of every error `tracker` raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, source: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.url = url

    def __str__(self) -> str:
        where = ", ".join(part for part in (self.source, self.url) if part)
        return f"{where}: {self.message}" if where else self.message


class ConfigError(TrackerError):
    """A configuration file or value is wrong; names the file and the key."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        super().__init__(message, source=file, url=None)
        self.file = file
        self.key = key

    def __str__(self) -> str:
        where = " ".join(part for part in (self.file, f"[{self.key}]" if self.key else None) if part)
        return f"{where}: {self.message}" if where else self.message


class FailureKind(StrEnum):
    """Why a source failed (FetchError.kind; stored as sources.last_error_kind, shown by `tracker status`)."""

    FETCH = "fetch"  # nothing more specific
    NOT_FOUND = "not-found"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    HTTP = "http"
    REDIRECT = "redirect"
    ROBOTS = "robots"
    FORBIDDEN_HOST = "forbidden-host"
    TOO_LARGE = "too-large"
    CONTENT = "content"  # the body is not what the source's kind promises
    HOSTILE = "hostile"  # XML built to exhaust the parser
    MALFORMED = "malformed"
    EXTRACT = "extract"  # fetched, but its documents could not be read
    ERROR = "error"  # an error without a kind of its own


class FetchError(TrackerError):
    """A source could not be fetched (network, HTTP status, size limit, missing file)."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        url: str | None = None,
        status: int | None = None,
        kind: str = FailureKind.FETCH,
    ) -> None:
        super().__init__(message, source=source, url=url)
        self.status = status
        self.kind = kind


class ExtractError(TrackerError):
    """A document's bytes could not be parsed into items."""


class StoreError(TrackerError):
    """The database could not be reached or refused a write."""


class PublishError(TrackerError):
    """Object storage (output_dir = "s3://...") refused the feeds or could not be reached.

    Exit code 69 (EX_UNAVAILABLE): the store is committed, only the feeds are behind; the
    message names the bucket and prefix and what to fix, and the next run publishes again.
    """

    exit_code = 69
