"""The StrEnums of statuses, kinds and provenance store and print the very strings they replaced."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum

import pytest
from sqlalchemy import text

from tracker.config import SOURCE_KINDS, SourceKind
from tracker.errors import FailureKind
from tracker.extract import Format
from tracker.items import DateSource, DocumentKind, LinkMethod, RunStatus, SessionKind, SourceStatus
from tracker.publish.feeds import FeedKind
from tracker.store.db import open_store, unit_of_work
from tracker.store.runs import finish_run, start_run
from tracker.store.sources import record_fetch_failure

ENUMS: tuple[type[StrEnum], ...] = (
    SourceKind,
    DocumentKind,
    SessionKind,
    LinkMethod,
    DateSource,
    RunStatus,
    SourceStatus,
    FailureKind,
    FeedKind,
    Format,
)
AT = datetime(2031, 12, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_each_member_is_its_string_in_comparisons_and_json(enum: type[StrEnum]) -> None:
    values = [member.value for member in enum]
    assert len(set(values)) == len(values)
    for member in enum:
        # Values read back from the database are plain strings: they must compare equal.
        assert member == str(member.value) and str(member) == member.value and f"{member}" == member.value
        assert json.dumps({"k": member}) == json.dumps({"k": member.value})
        assert member.value == member.value.lower() and " " not in member.value


def test_the_source_kinds_are_one_list() -> None:
    from tracker.extract import KINDS

    assert KINDS == SOURCE_KINDS == tuple(SourceKind)


def test_statuses_are_stored_as_their_plain_strings(database_url: str) -> None:
    factory = open_store(database_url)
    with unit_of_work(factory) as s:
        run_id = start_run(s, at=AT)
        record_fetch_failure(s, "blog", at=AT, kind=FailureKind.TIMEOUT, message="timed out")
    with unit_of_work(factory) as s:
        assert s.execute(text("SELECT status FROM runs")).scalar_one() == "running"
        finish_run(
            s,
            run_id,
            at=AT,
            status=RunStatus.FAILED,
            counts={},
            outcomes={"blog": {"status": SourceStatus.FAILED, "error_kind": FailureKind.TIMEOUT}},
        )
    with unit_of_work(factory) as s:
        status, outcomes = s.execute(text("SELECT status, outcomes FROM runs")).one()
        source = s.execute(text("SELECT last_status, last_error_kind FROM sources")).one()
    outcomes = json.loads(outcomes) if isinstance(outcomes, str) else outcomes
    assert (type(status), status) == (str, "failed")
    assert outcomes == {"blog": {"status": "failed", "error_kind": "timeout"}}
    assert tuple(source) == ("failed", "timeout")
