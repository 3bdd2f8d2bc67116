"""Runs: their start and end with counts and outcomes, scheduled slots, abandoned runs.

Functions take a session first and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tracker.items import PreviousRun, RunStatus
from tracker.redact import mask_text, strip_controls
from tracker.store.models import RunRow
from tracker.store.queries import _utc
from tracker.store.queries import masked_outcomes as _masked_outcomes


def start_run(session: Session, *, at: datetime, slot: datetime | None = None) -> int:
    """Record the start of a run (of a scheduled slot, or by hand); returns its id."""
    row = RunRow(started_at=_utc(at), status=RunStatus.RUNNING, counts={}, outcomes={}, slot=_utc(slot))
    session.add(row)
    session.flush()
    return row.id


def finish_run(
    session: Session,
    run_id: int,
    *,
    at: datetime,
    status: str,
    counts: dict[str, int],
    outcomes: dict[str, dict[str, object]],
    error: str | None = None,
) -> None:
    """Record the end of a run with its counts, per-source outcomes and, when it ended early, why."""
    row = session.get(RunRow, run_id)
    if row is None:
        raise LookupError(f"no run with id {run_id}")
    row.finished_at = _utc(at)
    row.status = status
    # JSON columns: plain dicts only (a Counter or defaultdict would not compare equal on reload).
    row.counts = {str(k): int(v) for k, v in counts.items()}
    row.outcomes = json.loads(json.dumps(_masked_outcomes(outcomes), default=str))
    row.error = mask_text(strip_controls(error)) if error else None


def slot_done(session: Session, slot: datetime) -> bool:
    """Whether a run of this scheduled slot finished (ok or failed); an interrupted or abandoned one did not."""
    found = session.scalar(
        select(RunRow.id)
        .where(
            RunRow.slot == _utc(slot),
            RunRow.finished_at.is_not(None),
            RunRow.status.in_((RunStatus.OK, RunStatus.FAILED)),
        )
        .limit(1)
    )
    return found is not None


def abandon_slot_runs(session: Session, slot: datetime, *, at: datetime, reason: str) -> int:
    """Mark the slot's runs left "running" as "abandoned", with the reason; returns how many.

    Only for a caller holding the run lock: every run takes it, so a run of the slot still
    "running" then is one whose process died without recording its end (SIGKILL, power loss).
    """
    result = session.execute(
        update(RunRow)
        .where(RunRow.slot == _utc(slot), RunRow.finished_at.is_(None))
        .values(status=RunStatus.ABANDONED, finished_at=_utc(at), error=mask_text(reason))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def previous_run(session: Session, run_id: int) -> PreviousRun | None:
    """How the run recorded just before this one ended, or None."""
    row = session.scalars(select(RunRow).where(RunRow.id < run_id).order_by(RunRow.id.desc()).limit(1)).first()
    if row is None:
        return None
    return PreviousRun(status=row.status, counts=dict(row.counts or {}), finished=row.finished_at is not None)
