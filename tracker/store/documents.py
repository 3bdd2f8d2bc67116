"""Documents: get-or-create by URL, whether a stored one is current, and the archived bodies to re-extract.

Functions take a session first and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Integer, String, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from tracker.redact import strip_controls
from tracker.store._common import table_of
from tracker.store.ids import IdCache, source_id
from tracker.store.models import DocumentRow, SourceRow
from tracker.store.queries import _utc

DOCUMENTS = table_of(DocumentRow)
_BY_URL = select(DOCUMENTS.c.id, DOCUMENTS.c.content_hash, DOCUMENTS.c.extractor_version, DOCUMENTS.c.source_id).where(
    DOCUMENTS.c.url == bindparam("url")
)
_INSERT = insert(DOCUMENTS).returning(DOCUMENTS.c.id)
_UPDATE = (
    update(DOCUMENTS)
    .where(DOCUMENTS.c.id == bindparam("doc_id"))
    .values(
        title=bindparam("title"),
        author=bindparam("author"),
        published_at=bindparam("published_at"),
        content_hash=bindparam("content_hash"),
        extractor_version=bindparam("extractor_version"),
        kind=bindparam("kind"),
        fetched_at=bindparam("fetched_at"),
        archive_sha=func.coalesce(bindparam("new_archive_sha", type_=String), DOCUMENTS.c.archive_sha),
        source_id=func.coalesce(DOCUMENTS.c.source_id, bindparam("new_source_id", type_=Integer)),
    )
)


@dataclass(frozen=True, slots=True)
class UpsertedDocument:
    """A stored document's id, and whether storing it changed it (new, other content or extractor)."""

    id: int
    changed: bool
    # Inserted now (no mention of it can be stored yet); not part of equality.
    created: bool = field(default=False, compare=False)


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
    ids: IdCache | None = None,
) -> UpsertedDocument:
    """Insert or refresh a document by URL; changed = new, or its content or extractor differ.

    Two statements at most (Core, no ORM flush): the look-up by URL, then the INSERT or UPDATE;
    an unchanged document costs the look-up only. `ids` caches the source's id across documents.
    """
    conn = session.connection()  # Core statements need none of the ORM's execution steps
    row = conn.execute(_BY_URL, {"url": url}).first()
    if row is not None and row.content_hash == content_hash and row.extractor_version == extractor_version:
        # Nothing new: leave the row (and its fetched_at) alone so a re-run writes nothing.
        return UpsertedDocument(row.id, changed=False)
    values: dict[str, object] = {
        "title": strip_controls(title or ""),
        "author": strip_controls(author) if author else author,
        "published_at": _utc(published_at),
        "content_hash": content_hash,
        "extractor_version": extractor_version,
        "kind": kind,
        "fetched_at": _utc(fetched_at),
    }
    if row is None:
        # Looked up only when written: an unchanged document costs one query, not two.
        values.update(
            url=url,
            archive_sha=archive_sha,
            source_id=source_id(session, source_name, ids) if source_name else None,
        )
        return UpsertedDocument(int(conn.execute(_INSERT, values).scalar_one()), changed=True, created=True)
    values.update(
        doc_id=row.id,
        # A new archive sha replaces the stored one; a source is only filled in.
        new_archive_sha=archive_sha or None,
        new_source_id=source_id(session, source_name, ids) if source_name and row.source_id is None else None,
    )
    conn.execute(_UPDATE, values)
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
