"""tracker.textutil: one slugify for every stage and one reading of since/until (issues 15 and 16)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracker.textutil import DateError, check_range, fold, fold_spaced, parse_bound, slugify


def test_every_stage_uses_the_same_slugify() -> None:
    # There were three, and "AWS re:Invent 2023" gave aws-re-invent-2023 in two of them.
    from tracker.extract import text as extract_text
    from tracker.normalize import text as normalize_text
    from tracker.store import sessions as store_sessions

    assert extract_text.slugify is normalize_text.slugify is store_sessions.slugify is slugify


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        # Published forms: feed paths events/<slug> and services/<slug> must keep these.
        ("AWS re:Invent 2023", "aws-reinvent-2023"),
        ("AWS pre:Invent 2024", "aws-preinvent-2024"),
        ("Amazon re:MARS 2022", "amazon-remars-2022"),
        ("AWS Summit New York 2023", "aws-summit-new-york-2023"),
        ("Amazon S3", "amazon-s3"),
        ("AWS Lambda", "aws-lambda"),
        ("Amazon Q Developer", "amazon-q-developer"),
        ("O'Reilly’s talk", "oreillys-talk"),
        ("Ünïcödé  **bold** &amp; more", "unicode-bold-more"),
        ("", ""),
        ("!!!", ""),
    ],
)
def test_slugs(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_a_limit_cuts_at_a_hyphen_free_end() -> None:
    assert slugify("a-b " * 50, 7) == "a-b-a-b"
    assert len(slugify("word " * 40, 80)) <= 80 and not slugify("word " * 40, 80).endswith("-")


@pytest.mark.parametrize(
    ("value", "end", "expected"),
    [
        ("2023-11-30", False, datetime(2023, 11, 30, tzinfo=UTC)),
        ("2023-11-30", True, datetime(2023, 12, 1, tzinfo=UTC)),  # a bare until day includes that day
        ("20231130", True, datetime(2023, 12, 1, tzinfo=UTC)),
        ("2023-11-30T10:00:00Z", True, datetime(2023, 11, 30, 10, tzinfo=UTC)),  # a time is exact
        ("2023-11-30T10:00:00", False, datetime(2023, 11, 30, 10, tzinfo=UTC)),  # naive = UTC
        ("2023-11-30T10:00:00+02:00", False, datetime(2023, 11, 30, 8, tzinfo=UTC)),
        ("9999-12-30", True, datetime(9999, 12, 31, tzinfo=UTC)),
    ],
)
def test_bounds(value: str, end: bool, expected: datetime) -> None:
    assert parse_bound(value, end=end) == expected


@pytest.mark.parametrize(
    ("value", "end", "words"),
    [
        ("yesterday", False, "YYYY-MM-DD"),
        ("2031-13-45", True, "not a date"),
        ("٢٠٢٣-01-01", False, "ASCII"),
        ("9999-12-31", True, "9999-12-31T23:59:59Z"),
        ("0001-01-01T00:00:00+14:00", False, "between 0001-01-01 and 9999-12-31"),
    ],
)
def test_bad_bounds_say_what_to_write(value: str, end: bool, words: str) -> None:
    with pytest.raises(DateError) as exc:
        parse_bound(value, end=end)
    assert words in str(exc.value)


def test_a_range_must_not_be_empty() -> None:
    day = parse_bound("2023-11-30")
    check_range(day, parse_bound("2023-11-30", end=True))  # one whole day
    check_range(None, day)
    with pytest.raises(DateError):
        check_range(day, day)


@pytest.mark.parametrize(
    ("text", "spaced"),
    [
        ("ECSがVPC Lattice", "ECS VPC Lattice"),
        ("models—Express", "models Express"),
        ("Café’s menu", "Cafe's menu"),  # accents folded, curly quotes straight
        ("Amazon S3", "Amazon S3"),
    ],
)
def test_fold_spaced_parts_words_where_fold_glues_them(text: str, spaced: str) -> None:
    assert fold_spaced(text) == spaced


def test_fold_still_drops_what_has_no_ascii_form() -> None:
    # Slugs and stored keys are built with fold: what it returns must not change.
    assert fold("ECSがVPC Lattice") == "ECSVPC Lattice"
    assert slugify("ECSがVPC Lattice") == "ecsvpc-lattice"
