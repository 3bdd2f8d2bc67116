"""HTTP responses with validators: ETag, Last-Modified, 304, gzip and cache headers.

Pure functions over bytes and header values; no sockets here, so the rules are easy to
test and the server stays small.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

try:  # a project dependency (wheels for the common platforms); json.dumps does without it
    import orjson
except ImportError:  # pragma: no cover - only where orjson could not be installed
    orjson = None  # type: ignore[assignment]

GZIP_MIN_BYTES = 256  # below this the gzip header costs more than it saves
COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/feed+json",
    "application/atom+xml",
    "application/rss+xml",
    "application/xml",
    "application/javascript",
    "text/x-opml",
)
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


@dataclass
class Response:
    """What the server sends: status, headers and body (ETag etc. are added by `finalize`)."""

    status: int
    body: bytes = b""
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    cache_control: str = "no-store"
    last_modified: datetime | None = None
    etag: str | None = None  # strong validator of the identity body; computed when None
    gzipped: bytes | None = None  # precomputed gzip body, when the caller caches it


def strong_etag(body: bytes) -> str:
    """A strong ETag from the body's SHA-256."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def gzip_etag(etag: str) -> str:
    """The ETag of the gzip representation: another representation needs another strong tag."""
    return etag[:-1] + '-gzip"'


def compress(body: bytes) -> bytes:
    """gzip with a fixed mtime, so the same body always gives the same bytes."""
    return gzip.compress(body, compresslevel=6, mtime=0)


def http_date(value: datetime) -> str:
    """An IMF-fixdate (RFC 9110), e.g. 'Wed, 04 Dec 2030 10:00:00 GMT'."""
    return format_datetime(value.astimezone(UTC).replace(microsecond=0), usegmt=True)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether Accept-Encoding allows gzip (q > 0), directly or through '*'."""
    if not accept_encoding:
        return False
    allowed: dict[str, float] = {}
    for part in accept_encoding.split(","):
        pieces = [p.strip() for p in part.split(";")]
        coding = pieces[0].lower()
        if not coding:
            continue
        q = 1.0
        for param in pieces[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        allowed[coding] = q
    if "gzip" in allowed:
        return allowed["gzip"] > 0
    if "x-gzip" in allowed:
        return allowed["x-gzip"] > 0
    return allowed.get("*", 0.0) > 0


def entity_tags(header: str) -> set[str]:
    """The opaque tags ('"..."', without W/) of an entity-tag list, read in one pass.

    A scanner, not a regular expression: the one it replaces backtracked over runs of spaces
    (30 KB of them took 30-40 s holding the interpreter lock). Each step moves forward with
    str.find, so the work is linear in the header's length. Malformed members are skipped up
    to the next comma outside a quoted tag.
    """
    tags: set[str] = set()
    i, n = 0, len(header)
    while i < n:
        char = header[i]
        if char in " \t,":
            i += 1
            continue
        if header.startswith("W/", i):
            i += 2
        if i < n and header[i] == '"':
            close = header.find('"', i + 1)
            if close < 0:
                break  # an unterminated tag ends the list
            after = close + 1
            while after < n and header[after] in " \t":
                after += 1
            if after == n or header[after] == ",":  # a tag is a whole member, as RFC 9110 writes it
                tags.add(header[i : close + 1])
                i = after
                continue
            i = after
        comma = header.find(",", i)  # not a tag: skip this member
        if comma < 0:
            break
        i = comma + 1
    return tags


def etag_matches(if_none_match: str, candidates: tuple[str, ...]) -> bool:
    """Weak comparison of If-None-Match against our tags (RFC 9110 13.1.2); '*' matches anything."""
    if if_none_match.strip() == "*":
        return True
    tags = entity_tags(if_none_match)
    return any(c in tags for c in candidates)


def not_modified_since(if_modified_since: str, last_modified: datetime) -> bool:
    """True when the resource has not changed since the given HTTP date (unparseable: False)."""
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False
    if since is None:
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= since


def finalize(response: Response, request_headers: dict[str, str], method: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body to send: validators, 304, gzip, cache headers, HEAD."""
    headers = {**SECURITY_HEADERS, **response.headers}
    headers["Content-Type"] = response.content_type
    headers["Cache-Control"] = response.cache_control
    cacheable = response.status == 200 and method in ("GET", "HEAD")
    compressible = response.content_type.startswith(COMPRESSIBLE) and len(response.body) >= GZIP_MIN_BYTES
    if not cacheable:
        body = response.body
        if compressible and accepts_gzip(request_headers.get("accept-encoding")):
            body = compress(body)
            headers["Content-Encoding"] = "gzip"
            headers["Vary"] = "Accept-Encoding"
        headers["Content-Length"] = str(len(body))
        return response.status, headers, b"" if method == "HEAD" else body
    etag = response.etag or strong_etag(response.body)
    use_gzip = compressible and accepts_gzip(request_headers.get("accept-encoding"))
    if compressible:
        headers["Vary"] = "Accept-Encoding"
    headers["ETag"] = gzip_etag(etag) if use_gzip else etag
    if response.last_modified is not None:
        headers["Last-Modified"] = http_date(response.last_modified)
    inm = request_headers.get("if-none-match")
    ims = request_headers.get("if-modified-since")
    unchanged = False
    if inm is not None:
        # If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
        unchanged = etag_matches(inm, (etag, gzip_etag(etag)))
    elif ims is not None and response.last_modified is not None:
        unchanged = not_modified_since(ims, response.last_modified)
    if unchanged:
        # 304: the validators and cache headers again, never a body or a Content-Length.
        keep = ("ETag", "Last-Modified", "Cache-Control", "Vary", *SECURITY_HEADERS)
        return 304, {k: v for k, v in headers.items() if k in keep}, b""
    body = response.body
    if use_gzip:
        body = response.gzipped if response.gzipped is not None else compress(body)
        headers["Content-Encoding"] = "gzip"
    headers["Content-Length"] = str(len(body))
    return 200, headers, b"" if method == "HEAD" else body


def json_response(
    data: Any, *, status: int = 200, cache_control: str = "public, max-age=60", plain: bool = False
) -> Response:
    """A JSON response (errors are never cached).

    `plain` says that `data` holds only dicts with str keys, lists, str, int, bool, None and
    floats that are finite and 0 or at least 1e-4 in magnitude: orjson then writes the bytes
    json.dumps writes (it differs only on the floats left out: 1e-05 is 0.00001 there, NaN null)
    ten times faster; anything it refuses is written by json.dumps.
    """
    body = None
    if plain and orjson is not None:
        try:
            body = orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:
            body = None
    if body is None:
        # Compact: without `indent`, the json module encodes in C, several times faster than its
        # Python encoder on a page of 50 announcements (a viewer or `jq` indents it for a person).
        body = (json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode("utf-8")
    return Response(
        status=status,
        body=body,
        content_type="application/json; charset=utf-8",
        cache_control=cache_control if status == 200 else "no-store",
    )


def plain_float(value: float) -> bool:
    """Whether json.dumps and orjson write this float alike (see `json_response`)."""
    return value == 0 or 1e-4 <= abs(value) < float("inf")


def json_error(status: int, message: str, **details: Any) -> Response:
    """A JSON error: {"error": {"status", "message", ...details}}."""
    return json_response({"error": {"status": status, "message": message, **details}}, status=status)
