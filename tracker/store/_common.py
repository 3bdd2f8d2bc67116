"""Private helpers the store's write modules share: assign-if-different and the source row of a name."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.store import changes as changes  # noqa: F401 - registers the revision marking on every ORM session
from tracker.store.models import SourceRow

log = logging.getLogger(__name__)


def _set(row: object, attr: str, value: Any) -> bool:
    """Assign only when different, so an unchanged row is never dirtied."""
    if getattr(row, attr) == value:
        return False
    setattr(row, attr, value)
    return True


def _source(session: Session, name: str) -> SourceRow | None:
    return session.scalar(select(SourceRow).where(SourceRow.name == name))


def _source_or_placeholder(session: Session, name: str) -> SourceRow:
    row = _source(session, name)
    if row is None:
        # Callers register sources first; a placeholder keeps a stray call from failing a run.
        log.warning("source %r was not registered; recording it with an unknown kind", name)
        row = SourceRow(name=name, kind="unknown", url="", consecutive_failures=0)
        session.add(row)
        session.flush()
    return row
