"""Content-Encoding decoded step by step under the byte cap, so a compression bomb stays small.

httpx decodes each received chunk whole: 2 KB of ``gzip, gzip`` on the wire becomes a gigabyte
in memory before any size check runs. `BodyDecoder` instead asks zlib for at most the bytes
still allowed (``max_length``) and keeps the rest of the input for later, so memory never holds
more than the cap plus one network read.

Only one content coding is accepted: identity, gzip (x-gzip) or deflate, the ones the fetcher
advertises in Accept-Encoding. Stacked codings (``gzip, gzip``) have no use on a feed and are
the shape of a decompression bomb; they are refused, as are codings we cannot bound (br, zstd,
compress, anything unknown).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable

log = logging.getLogger(__name__)

ACCEPT_ENCODING = "gzip, deflate"
_GZIP_MAGIC = b"\x1f\x8b"


class DecodeError(Exception):
    """The body cannot be decoded: a refused Content-Encoding or broken compressed data."""


def coding_of(values: Iterable[str]) -> str:
    """The single content coding named by the Content-Encoding header values (identity when none).

    Raises `DecodeError` for stacked or unsupported codings.
    """
    codings = [c.strip().lower() for value in values for c in value.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > 1:
        raise DecodeError(
            f"the response is compressed {len(codings)} times (Content-Encoding: {', '.join(codings)}); "
            "stacked content codings are refused (a decompression bomb has this shape)"
        )
    if not codings:
        return "identity"
    coding = {"x-gzip": "gzip"}.get(codings[0], codings[0])
    if coding not in ("gzip", "deflate"):
        raise DecodeError(
            f"the response uses Content-Encoding {codings[0]!r}, which tracker does not accept "
            f"(it asks for {ACCEPT_ENCODING} only)"
        )
    return coding


class BodyDecoder:
    """Decodes one response body chunk by chunk, never producing more than it is allowed to."""

    def __init__(self, coding: str) -> None:
        """`coding`: identity, gzip or deflate (see `coding_of`)."""
        self.coding = coding
        self._zlib: zlib._Decompress | None = None
        self._head = b""  # bytes held back: deflate's first two, or half of a gzip member's magic
        self._between = False  # a gzip member (or the deflate stream) ended; another member may follow
        self._done = False  # the compressed data ended; later bytes are ignored

    def decode(self, data: bytes, room: int) -> bytes:
        """The decoded bytes of `data`: at most `room + 1` (one more than fits shows the cap is passed)."""
        if self.coding == "identity":
            return data[: room + 1]
        if self._done or not data:
            return b""
        if self._zlib is None:
            if self.coding == "gzip":
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                self._head += data
                if len(self._head) < 2:
                    return b""
                data, self._head = self._head, b""
                # RFC 9110 "deflate" is zlib-wrapped, but some servers send raw deflate.
                wrapped = (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
                self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        out = bytearray()
        pending = data
        while pending and len(out) <= room:
            if self._between:
                pending, self._head = self._head + pending, b""
                if self.coding == "gzip" and len(pending) < len(_GZIP_MAGIC) and _GZIP_MAGIC.startswith(pending):
                    self._head = pending  # the next member's magic is split between two reads
                    break
                if self.coding == "gzip" and pending.startswith(_GZIP_MAGIC):
                    # A multi-member gzip file: members are concatenated, not nested.
                    self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    self._between = False
                else:
                    log.debug("ignoring %d bytes after the end of the %s data", len(pending), self.coding)
                    self._done = True
                    break
            try:
                # max_length bounds what this call may produce; the input not yet used waits in
                # unconsumed_tail. It is always >= 1 here (0 would mean "unlimited").
                out += self._zlib.decompress(pending, room + 1 - len(out))
            except zlib.error as exc:
                raise DecodeError(f"the {self.coding} data is broken ({exc})") from None
            pending = self._zlib.unconsumed_tail
            if self._zlib.eof:
                self._between = True
                pending = self._zlib.unused_data
        return bytes(out)

    def finish(self) -> None:
        """Check the end of the body: compressed data that stops before its end is an error."""
        if self.coding == "identity" or self._done or self._between:
            return
        if self._zlib is None and not self._head:
            return  # an empty body
        raise DecodeError(f"the {self.coding} data ends before its end (a truncated body)")
