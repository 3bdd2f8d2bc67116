"""Documents: get-or-create by URL, whether a stored one is current, and the archived bodies to re-extract.

Functions take a session first and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
_BY_URLS = select(
    DOCUMENTS.c.id, DOCUMENTS.c.url, DOCUMENTS.c.content_hash, DOCUMENTS.c.extractor_version, DOCUMENTS.c.source_id
).where(DOCUMENTS.c.url.in_(bindparam("urls", expanding=True)))
_INSERT_RETURNING_URL = insert(DOCUMENTS).returning(DOCUMENTS.c.url, DOCUMENTS.c.id)
_URLS_PER_STATEMENT = 500  # bound parameters of one IN list, well under every database's limit
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


@dataclass(frozen=True, slots=True)
class DocumentInput:
    """A document as `upsert_documents` stores it (the arguments of `upsert_document`)."""

    url: str
    title: str
    author: str | None
    published_at: datetime | None
    content_hash: str
    extractor_version: str
    archive_sha: str | None
    source_name: str | None
    kind: str
    fetched_at: datetime


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
    doc = DocumentInput(
        url, title, author, published_at, content_hash, extractor_version, archive_sha, source_name, kind, fetched_at
    )
    conn = session.connection()  # Core statements need none of the ORM's execution steps
    row = conn.execute(_BY_URL, {"url": url}).first()
    if row is not None and row.content_hash == content_hash and row.extractor_version == extractor_version:
        # Nothing new: leave the row (and its fetched_at) alone so a re-run writes nothing.
        return UpsertedDocument(row.id, changed=False)
    if row is None:
        # Looked up only when written: an unchanged document costs one query, not two.
        return UpsertedDocument(
            int(conn.execute(_INSERT, _insert_values(session, doc, ids)).scalar_one()), changed=True, created=True
        )
    conn.execute(_UPDATE, _update_values(session, doc, row, ids))
    return UpsertedDocument(row.id, changed=True)


def upsert_documents(
    session: Session, docs: Sequence[DocumentInput], *, ids: IdCache | None = None
) -> list[UpsertedDocument]:
    """`upsert_document` for each of these documents (their URLs distinct), in three statements at
    most whatever their number: the look-up of their URLs, an INSERT of the new ones, an UPDATE of
    the changed ones. Returns what storing each did, in their order."""
    urls = [d.url for d in docs]
    if len(set(urls)) != len(urls):
        raise ValueError("upsert_documents stores each URL once")
    conn = session.connection()
    stored: dict[str, Any] = {}
    for start in range(0, len(urls), _URLS_PER_STATEMENT):
        for row in conn.execute(_BY_URLS, {"urls": urls[start : start + _URLS_PER_STATEMENT]}):
            stored[row.url] = row
    new = [d for d in docs if d.url not in stored]
    made: dict[str, int] = {}
    if new:
        rows = conn.execute(_INSERT_RETURNING_URL, [_insert_values(session, d, ids) for d in new]).all()
        made = {url: int(doc_id) for url, doc_id in rows}

    def current(d: DocumentInput) -> bool:
        row = stored[d.url]
        return bool(row.content_hash == d.content_hash and row.extractor_version == d.extractor_version)

    changed = [d for d in docs if d.url in stored and not current(d)]
    if changed:
        conn.execute(_UPDATE, [_update_values(session, d, stored[d.url], ids) for d in changed])
    return [
        UpsertedDocument(stored[d.url].id, changed=not current(d))
        if d.url in stored
        else UpsertedDocument(made[d.url], changed=True, created=True)
        for d in docs
    ]


def _common_values(doc: DocumentInput) -> dict[str, object]:
    return {
        "title": strip_controls(doc.title or ""),
        "author": strip_controls(doc.author) if doc.author else doc.author,
        "published_at": _utc(doc.published_at),
        "content_hash": doc.content_hash,
        "extractor_version": doc.extractor_version,
        "kind": doc.kind,
        "fetched_at": _utc(doc.fetched_at),
    }


def _insert_values(session: Session, doc: DocumentInput, ids: IdCache | None) -> dict[str, object]:
    values = _common_values(doc)
    values.update(
        url=doc.url,
        archive_sha=doc.archive_sha,
        source_id=source_id(session, doc.source_name, ids) if doc.source_name else None,
    )
    return values


def _update_values(session: Session, doc: DocumentInput, row: Any, ids: IdCache | None) -> dict[str, object]:
    values = _common_values(doc)
    values.update(
        doc_id=row.id,
        # A new archive sha replaces the stored one; a source is only filled in.
        new_archive_sha=doc.archive_sha or None,
        new_source_id=source_id(session, doc.source_name, ids) if doc.source_name and row.source_id is None else None,
    )
    return values


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
