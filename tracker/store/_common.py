"""Private helpers the store's write modules share: assign-if-different, a model's table, which link wins."""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import Table

from tracker.store import changes as changes  # noqa: F401 - registers the revision marking on every ORM session

log = logging.getLogger(__name__)


def table_of(model: type[Any]) -> Table:
    """The Core table of a model, for the bulk statements that write without the ORM."""
    return cast(Table, model.__table__)


def _set(row: object, attr: str, value: Any) -> bool:
    """Assign only when different, so an unchanged row is never dirtied."""
    if getattr(row, attr) == value:
        return False
    setattr(row, attr, value)
    return True


def _link_wins(method: str, score: float, stored_method: str, stored_score: float) -> bool:
    """Whether a link replaces the stored one of the same pair: the same method's new verdict or a
    higher score, never a weaker link of another method (a title match does not undo a structural link)."""
    return method == stored_method or score > stored_score
