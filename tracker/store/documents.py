"""Documents: get-or-create by URL, whether a stored one is current, and the archived bodies to re-extract.

Functions take a session first and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tracker.redact import strip_controls
from tracker.store._common import _set, _source_or_placeholder
from tracker.store.models import DocumentRow, SourceRow
from tracker.store.queries import _utc


@dataclass(frozen=True, slots=True)
class UpsertedDocument:
    """A stored document's id, and whether storing it changed it (new, other content or extractor)."""

    id: int
    changed: bool


@dataclass(frozen=True, slots=True)
class DocumentState:
    """What a stored document was extracted from and by: whether re-extraction changes it."""

    content_hash: str
    extractor_version: str


@dataclass(frozen=True, slots=True)
class ArchivedBody:
    """An archived body to re-extract, with the source it came from."""

    sha: str  # its key in the raw archive
    source: str  # the source's name
    kind: str  # the source's kind (a config.SourceKind)
    url: str  # the document's URL when the body holds one document, else the source's
    documents: int  # how many stored documents came from it


def upsert_document(
    session: Session,
    *,
    url: str,
    title: str,
    author: str | None,
    published_at: datetime | None,
    content_hash: str,
    extractor_version: str,
    archive_sha: str | None,
    source_name: str | None,
    kind: str,
    fetched_at: datetime,
) -> UpsertedDocument:
    """Insert or refresh a document by URL; changed = new, or its content or extractor differ."""
    row = session.scalar(select(DocumentRow).where(DocumentRow.url == url))

    def source_id() -> int | None:
        # Looked up only when written: an unchanged document costs one query, not two.
        return _source_or_placeholder(session, source_name).id if source_name else None

    title = strip_controls(title or "")
    author = strip_controls(author) if author else author
    if row is None:
        row = DocumentRow(
            url=url,
            title=title or "",
            author=author,
            published_at=_utc(published_at),
            content_hash=content_hash,
            extractor_version=extractor_version,
            archive_sha=archive_sha,
            source_id=source_id(),
            kind=kind,
            fetched_at=_utc(fetched_at),
        )
        session.add(row)
        session.flush()
        return UpsertedDocument(row.id, changed=True)
    if row.content_hash == content_hash and row.extractor_version == extractor_version:
        # Nothing new: leave the row (and its fetched_at) alone so a re-run writes nothing.
        return UpsertedDocument(row.id, changed=False)
    _set(row, "title", title or "")
    _set(row, "author", author)
    _set(row, "published_at", _utc(published_at))
    _set(row, "content_hash", content_hash)
    _set(row, "extractor_version", extractor_version)
    if archive_sha:
        _set(row, "archive_sha", archive_sha)
    if row.source_id is None:
        row.source_id = source_id()
    _set(row, "kind", kind)
    _set(row, "fetched_at", _utc(fetched_at))
    return UpsertedDocument(row.id, changed=True)


def document_states(session: Session) -> dict[str, DocumentState]:
    """Every stored document's URL -> its content hash and extractor version, in one query."""
    return {
        url: DocumentState(content_hash, version)
        for url, content_hash, version in session.execute(
            select(DocumentRow.url, DocumentRow.content_hash, DocumentRow.extractor_version)
        )
    }


def document_is_current(session: Session, url: str, content_hash: str, extractor_version: str) -> bool:
    """Whether a document is stored with this content hash and extractor version."""
    row = session.execute(
        select(DocumentRow.content_hash, DocumentRow.extractor_version).where(DocumentRow.url == url)
    ).first()
    return row is not None and row[0] == content_hash and row[1] == extractor_version


def archived_bodies(session: Session, sources: Sequence[str] | None = None) -> list[ArchivedBody]:
    """Every archived body with its source, oldest first.

    One row per body and source, not per document: a feed's items share their feed's body,
    which is extracted once. The URL is the document's when the body holds one document
    (a page), else the source's (a feed).
    """
    stmt = (
        select(
            DocumentRow.archive_sha,
            SourceRow.name,
            SourceRow.kind,
            SourceRow.url,
            func.count(),
            func.min(DocumentRow.id),
            func.min(DocumentRow.url),
        )
        .join(SourceRow, SourceRow.id == DocumentRow.source_id)
        .where(DocumentRow.archive_sha.is_not(None))
        .group_by(DocumentRow.archive_sha, SourceRow.name, SourceRow.kind, SourceRow.url)
    )
    if sources:
        stmt = stmt.where(SourceRow.name.in_(list(sources)))
    rows = sorted(session.execute(stmt).all(), key=lambda r: r[5])
    return [ArchivedBody(str(r[0]), r[1], r[2], r[6] if r[4] == 1 else (r[3] or r[6]), int(r[4])) for r in rows]
