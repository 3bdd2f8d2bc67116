"""Matching by meaning (tracker/meaning.py, the `semantic` extra) and the lexical method without it.

The titles are written here: paraphrases and a Japanese twin of one launch, and other launches
of the same service. With TRACKER_SEMANTIC=off every caller must decide as it does without the
extra installed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracker import meaning
from tracker.items import Service
from tracker.link import SAME_MEANING, Candidate, SessionIndex
from tracker.normalize.dedupe import same_announcement

THRESHOLD = 0.6
EVENT = "Example Summit 2031"
DAY = datetime(2031, 6, 3, tzinfo=UTC)
REDSHIFT = Service(slug="amazon-redshift", name="Amazon Redshift", aliases=("Redshift",))
DYNAMODB = Service(slug="amazon-dynamodb", name="Amazon DynamoDB", aliases=("DynamoDB",))


def _same(a: str, b: str, service: Service, *, event_b: str | None = EVENT) -> bool:
    return same_announcement(a, [service], DAY, EVENT, b, [service], DAY, event_b)


def test_similarity_tells_paraphrases_and_translations_from_other_launches(matching: str) -> None:
    if matching == "lexical":
        assert meaning.similarity("a", "b") is None and not meaning.available()
        return
    launch = "Amazon DynamoDB launches point-in-time recovery for global tables"
    same = meaning.similarity(launch, "Amazon DynamoDB global tables can now be restored to any point in time")
    other = meaning.similarity(launch, "Amazon DynamoDB adds warm throughput for on-demand tables")
    assert same is not None and other is not None and same > other
    english = "Amazon Redshift now supports automatic table compression"
    japanese = meaning.similarity(english, "Amazon Redshift が自動テーブル圧縮をサポートしました")
    unrelated = meaning.similarity(english, "Amazon Redshift adds support for cross-region data sharing")
    assert japanese is not None and unrelated is not None and japanese > unrelated
    # symmetric, and the same answer from the per-title cache
    assert meaning.similarity(english, launch) == pytest.approx(meaning.similarity(launch, english))  # type: ignore[arg-type]


def test_merges_by_meaning_only_within_one_event(matching: str) -> None:
    english = "Amazon Redshift now supports automatic table compression"
    twins = ["Amazon Redshift が自動テーブル圧縮をサポートしました", "Amazon Redshift compresses tables automatically"]
    for twin in twins:
        assert _same(english, twin, REDSHIFT) is (matching == "meaning"), twin
        # dated launches of two events, or an undated one: the words alone decide
        assert not _same(english, twin, REDSHIFT, event_b="Example Summit 2032")
        assert not same_announcement(english, [REDSHIFT], DAY, EVENT, twin, [REDSHIFT], None, EVENT)
    # another launch of the same service at the same event is never merged
    assert not _same(english, "Amazon Redshift adds support for cross-region data sharing", REDSHIFT)
    assert not _same(
        "Amazon DynamoDB launches point-in-time recovery for global tables",
        "Amazon DynamoDB adds warm throughput for on-demand tables",
        DYNAMODB,
    )


def test_sessions_link_by_meaning_when_they_share_words(matching: str) -> None:
    index = SessionIndex(
        [
            ("recover", Candidate("Recover Amazon DynamoDB global tables to an earlier moment", (), "ev")),
            ("scale", Candidate("Design Amazon DynamoDB global tables for multi-Region writes", (), "ev")),
            ("roundup", Candidate("What's new with Amazon DynamoDB", (), "ev")),
        ]
    )
    launch = Candidate(
        "Amazon DynamoDB launches point-in-time recovery for global tables",
        ("Amazon DynamoDB",),
        "ev",
        (("DynamoDB",),),
    )
    links = {match.session: match.link for match in index.links(launch, THRESHOLD)}
    # the round-up is lexical and holds in both ways; a session on another feature never links
    assert "roundup" in links and "scale" not in links
    if matching == "lexical":
        assert "recover" not in links
    else:
        assert links["recover"].score >= SAME_MEANING and "mean the same" in links["recover"].reason
        # a threshold above the similarity drops it like any other link
        assert "recover" not in {match.session for match in index.links(launch, 0.999)}
    # no known event, no link of any kind
    assert index.links(Candidate(launch.title, launch.services, None, launch.aliases), THRESHOLD) == []
