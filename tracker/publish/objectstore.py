"""Publish feed files to object storage (S3 or any S3-compatible store): only changed files are put.

`output_dir = "s3://bucket/prefix"` sends the feeds here instead of to a folder, so a CDN in
front of the bucket serves them to any number of subscribers. `ObjectStoreWriter` has
`FeedWriter`'s interface (write, keep, finish) and keeps its promises:

* A file is put only when its bytes differ from the object already there: the MD5 of the new
  bytes is compared with the ETag the listing gives (a single-part upload's ETag is its MD5);
  when they differ, the SHA-256 the store kept at the last put decides (a store whose ETags are
  not MD5s, as with SSE-KMS). So an unchanged object keeps its ETag and Last-Modified, and the
  CDN's validators stay valid.
* Each put carries Content-Type (the one `tracker serve` sends), Cache-Control (`s3.cache_control`,
  `s3.archive_cache_control` for archive pages), Content-MD5 and a SHA-256 checksum: the store
  refuses an upload whose bytes were damaged on the way, and keeps the checksum.
* Pruning removes only keys under the prefix, in `PRUNABLE_DIRS`, with `PRUNABLE_SUFFIXES`, that
  were not produced: the rule of the local folder; an object a user put there is never deleted.
* The fingerprints (what each file was rendered from) live beside the feeds as the object
  `<prefix>/.tracker-fingerprints.json`. It is deleted before the first object changes and put
  again at the end, so a publish cut short renders everything next time; a publish that changes
  nothing neither deletes nor puts it.

boto3 is imported only here and only when an s3:// output is configured (`pip install
'aws-announcement-tracker[s3]'`). Endpoint, region and credentials come from the standard AWS
environment and config files (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_PROFILE...);
`s3.endpoint_url` in tracker.toml overrides the endpoint. Every failure is a `PublishError`
naming the bucket and prefix and what to fix; the database is never touched here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any, TypeVar

from tracker.config import ObjectStoreSettings
from tracker.errors import ConfigError, PublishError
from tracker.media import CONTENT_TYPES, DEFAULT_TYPE, content_type  # noqa: F401 - re-exported
from tracker.publish.writer import (
    FINGERPRINTS,
    PRUNABLE_DIRS,
    PRUNABLE_SUFFIXES,
    PublishReport,
    Sink,
    _checked_relative,
)
from tracker.redact import mask_url

log = logging.getLogger(__name__)

T = TypeVar("T")

FINGERPRINTS_TYPE = "application/json"
FINGERPRINTS_CACHE = "no-store"  # bookkeeping, not for readers: no CDN should keep a copy
# Connection errors and 5xx are retried by botocore itself, a few times with backoff.
MAX_ATTEMPTS = 3

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "TokenRefreshRequired",
    "InvalidClientTokenId",
    "AuthorizationHeaderMalformed",
}
_DENIED_CODES = {"AccessDenied", "AllAccessDisabled", "Forbidden", "403"}
_REGION_CODES = {"PermanentRedirect", "IllegalLocationConstraintException", "301"}
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}  # of an object (a bucket's own is NoSuchBucket, at the listing)


def _md5(data: bytes) -> bytes:
    return hashlib.md5(data, usedforsecurity=False).digest()


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def is_prunable(rel: str) -> bool:
    """Whether a key (relative to the prefix) is one a publish may delete: a feed file under a feed folder."""
    parts = PurePosixPath(rel).parts
    return len(parts) > 1 and parts[0] in PRUNABLE_DIRS and PurePosixPath(rel).suffix in PRUNABLE_SUFFIXES


def make_client(settings: ObjectStoreSettings, *, connect_timeout: float = 10.0, read_timeout: float = 30.0) -> Any:
    """A boto3 S3 client for the configured (or the environment's) endpoint; boto3 imported here only."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise ConfigError(
            f"output_dir is {settings.url} but boto3 is not installed: pip install 'aws-announcement-tracker[s3]' "
            "(or pip install boto3), or set output_dir to a folder",
            key="output_dir",
        ) from exc
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        user_agent_extra="tracker",
    )
    try:
        return boto3.session.Session().client("s3", endpoint_url=settings.endpoint_url or None, config=config)
    except ValueError as exc:  # botocore refuses a malformed endpoint URL with a ValueError
        raise ConfigError(
            f"not a valid endpoint URL {mask_url(settings.endpoint_url)!r}: {exc}", key="s3.endpoint_url"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any botocore failure (a broken ~/.aws/config) becomes a clear error
        raise PublishError(
            f"cannot set up the S3 client for {settings.url}: {exc}; check AWS_PROFILE, "
            "AWS_CONFIG_FILE and the AWS environment"
        ) from exc


def describe_failure(exc: BaseException, settings: ObjectStoreSettings, endpoint: str | None, doing: str) -> str:
    """A botocore failure in words: what happened to which bucket and prefix, and what to fix."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    where = f"{doing} {settings.url}"
    at = f" at {mask_url(endpoint)}" if endpoint else ""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            f"{where} failed: no AWS credentials found ({exc}); set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for the user running tracker"
        )
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError):
        return (
            f"{where} failed: cannot reach the object store{at}; check s3.endpoint_url or "
            "AWS_ENDPOINT_URL, and that the store is running and reachable"
        )
    if isinstance(exc, ReadTimeoutError):
        return f"{where} failed: the object store{at} did not answer in time; try again, or raise http.timeout"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return (
                f"{where} failed: the bucket {settings.bucket!r} does not exist{at}; create it, "
                "or fix the bucket in output_dir (and the endpoint in s3.endpoint_url or AWS_ENDPOINT_URL)"
            )
        if code in _CREDENTIAL_CODES:
            return (
                f"{where} failed: the object store{at} refused the credentials ({code}); check "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and AWS_REGION"
            )
        if code in _DENIED_CODES or status == 403:
            prefix = f"{settings.prefix}/*" if settings.prefix else "*"
            return (
                f"{where} failed: access denied ({code or status}); the credentials in use need "
                f"s3:ListBucket on {settings.bucket} and s3:GetObject, s3:PutObject and "
                f"s3:DeleteObject on {settings.bucket}/{prefix}"
            )
        if code in _REGION_CODES or status == 301:
            return (
                f"{where} failed: the bucket is in another region ({code or status}); set AWS_REGION "
                "(or AWS_DEFAULT_REGION) to the bucket's region"
            )
        message = " ".join(str(error.get("Message", "")).split())[:200]
        return f"{where} failed: the object store{at} answered {status} {code}: {message}"
    return f"{where} failed: {type(exc).__name__}: {exc}"


class ObjectStoreWriter(Sink):
    """`FeedWriter` for a bucket: puts each file only when its bytes changed, then prunes what is gone."""

    def __init__(
        self,
        settings: ObjectStoreSettings,
        *,
        client: Any | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.client = (
            client
            if client is not None
            else make_client(settings, connect_timeout=connect_timeout, read_timeout=read_timeout)
        )
        self._fingerprints_dropped = False
        # Every object under the prefix: path relative to the prefix -> ETag (quotes removed).
        self.listed: dict[str, str] = self._call("listing", self._list)

    # -- the FeedWriter interface -------------------------------------------------------

    def write(self, rel: str, data: bytes) -> None:
        """Put one file if its bytes differ from the object in the bucket."""
        _checked_relative(rel)
        self.produced.add(rel)
        if self._same(rel, data):
            self.report.unchanged += 1
            return
        self._drop_fingerprints()
        self._put(rel, data, content_type(rel), self._cache_control(rel))
        self.report.written.append(rel)
        log.debug("put %s (%d bytes)", self._key(rel), len(data))

    def finish(self, *, prune: bool = False) -> PublishReport:
        """Optionally delete the feed objects no longer produced; the report of everything done."""
        if prune:
            stale = sorted(rel for rel in self.listed if rel not in self.produced and is_prunable(rel))
            if stale:
                self._drop_fingerprints()
            for rel in stale:
                # One DeleteObject per key: DeleteObjects needs Content-MD5, which not every
                # S3-compatible store accepts in the form recent botocore sends; few feeds ever go.
                self._call(
                    "deleting a stale feed from",
                    self.client.delete_object,
                    Bucket=self.settings.bucket,
                    Key=self._key(rel),
                )
                del self.listed[rel]
                self.report.removed.append(rel)
                log.info("removed %s: no longer produced", self._key(rel))
        self.report.written.sort()
        log.info(
            "published to %s: %d put, %d unchanged, %d removed",
            self.settings.url,
            len(self.report.written),
            self.report.unchanged,
            len(self.report.removed),
        )
        return self.report

    # -- fingerprints, kept in the bucket beside the feeds --------------------------------

    def load_fingerprints(self) -> dict[str, str]:
        """The fingerprints of the last publish, for the objects still there; {} when unknown or unreadable."""
        if FINGERPRINTS not in self.listed:
            return {}
        try:
            body = self._call("reading the fingerprints from", self._get, FINGERPRINTS)
        except PublishError:
            log.warning("the fingerprints in %s could not be read: every feed is rendered again", self.settings.url)
            return {}
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        # An object deleted by hand (or never put) must be rendered again whatever its fingerprint.
        return {
            rel: value
            for rel, value in data.items()
            if isinstance(rel, str) and isinstance(value, str) and rel in self.listed
        }

    def save_fingerprints(self, fingerprints: Mapping[str, str]) -> None:
        """Record what each file was rendered from (after the files themselves are put); not put when the same."""
        data = json.dumps(dict(sorted(fingerprints.items())), separators=(",", ":")).encode()
        if self.listed.get(FINGERPRINTS) == _md5(data).hex():
            return
        self._put(FINGERPRINTS, data, FINGERPRINTS_TYPE, FINGERPRINTS_CACHE)

    # -- the store ----------------------------------------------------------------------

    def _key(self, rel: str) -> str:
        return f"{self.settings.prefix}/{rel}" if self.settings.prefix else rel

    def _cache_control(self, rel: str) -> str:
        if rel.startswith("archive/"):
            return self.settings.archive_cache_control
        return self.settings.cache_control

    def _call(self, doing: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """fn(*args, **kwargs), any botocore failure turned into a PublishError naming the bucket and the fix."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            endpoint = getattr(getattr(self.client, "meta", None), "endpoint_url", None)
            raise PublishError(describe_failure(exc, self.settings, endpoint, doing)) from exc

    def _list(self) -> dict[str, str]:
        start = f"{self.settings.prefix}/" if self.settings.prefix else ""
        listed: dict[str, str] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.settings.bucket, Prefix=start):
            for item in page.get("Contents", ()):
                rel = item["Key"][len(start) :]
                try:
                    _checked_relative(rel)
                except ValueError:
                    continue  # "a//b", "./x": not a name a publish writes, so never one it deletes
                listed[rel] = str(item.get("ETag", "")).strip('"').lower()
        return listed

    def _get(self, rel: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.settings.bucket, Key=self._key(rel))["Body"].read()
        return body

    def _same(self, rel: str, data: bytes) -> bool:
        """Whether the object at rel already holds exactly data."""
        etag = self.listed.get(rel)
        if etag is None:
            return False
        if etag == _md5(data).hex():
            return True
        # Not the MD5 of these bytes: changed, or a store whose ETags are not MD5s (SSE-KMS,
        # multipart). The SHA-256 kept at the last put tells them apart for one HEAD.
        from botocore.exceptions import ClientError

        try:
            head = self._call(
                "checking",
                self.client.head_object,
                Bucket=self.settings.bucket,
                Key=self._key(rel),
                ChecksumMode="ENABLED",
            )
        except PublishError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and str(cause.response.get("Error", {}).get("Code")) in _MISSING_CODES:
                return False  # deleted since the listing: put it again
            raise
        return bool(head.get("ChecksumSHA256") == _b64(hashlib.sha256(data).digest()))

    def _put(self, rel: str, data: bytes, kind: str, cache_control: str) -> None:
        md5 = _md5(data)
        # Content-MD5 (every S3-compatible store checks it) and a SHA-256 the store checks and
        # keeps: a body damaged on the way is refused, and the checksum stays with the object.
        self._call(
            "putting a feed into",
            self.client.put_object,
            Bucket=self.settings.bucket,
            Key=self._key(rel),
            Body=data,
            ContentType=kind,
            CacheControl=cache_control,
            ContentMD5=_b64(md5),
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(hashlib.sha256(data).digest()),
        )
        self.listed[rel] = md5.hex()

    def _drop_fingerprints(self) -> None:
        """Before the first object changes: delete the fingerprints, so a publish cut short renders everything."""
        if self._fingerprints_dropped:
            return
        self._fingerprints_dropped = True
        if FINGERPRINTS in self.listed:
            self._call(
                "deleting the fingerprints from",
                self.client.delete_object,
                Bucket=self.settings.bucket,
                Key=self._key(FINGERPRINTS),
            )
            del self.listed[FINGERPRINTS]


def feeds_present(settings: ObjectStoreSettings, *, connect_timeout: float = 10.0, read_timeout: float = 30.0) -> bool:
    """Whether index.opml is in the bucket (the sign of a finished publish); False when it cannot be told."""
    try:
        client = make_client(settings, connect_timeout=connect_timeout, read_timeout=read_timeout)
        key = f"{settings.prefix}/index.opml" if settings.prefix else "index.opml"
        client.head_object(Bucket=settings.bucket, Key=key)
    except Exception as exc:  # noqa: BLE001 - then the run publishes, and a real failure is reported there
        log.debug("index.opml not found in %s: %s", settings.url, exc)
        return False
    return True
