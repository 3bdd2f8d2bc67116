"""Cross-document dedupe: one launch written in different ways is one announcement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tracker.items import Announcement, NormalizedAnnouncement, Service
from tracker.normalize.dedupe import Known, find_duplicate, is_expansion, keep_previous_key, launch_words, own_key
from tracker.normalize.events import detect_event

WIDGETS = Service("amazon-widgets", "Amazon Widgets", ("Widgets", "AWS Widgets"))
GADGETS = Service("aws-gadgets", "AWS Gadgets", ("Gadgets",))
INDEX = {s.slug: s for s in (WIDGETS, GADGETS)}
DAY = datetime(2031, 3, 4, tzinfo=UTC)


def known(key: str, title: str, *services: Service, when: datetime | None = DAY) -> Known:
    return Known(key, title, frozenset(s.slug for s in services), when)


def test_launch_words_drop_service_and_launch_wording() -> None:
    assert launch_words("Announcing Amazon Widgets Turbo Mode", [WIDGETS]) == {"turbo", "mode"}
    assert launch_words("Amazon Widgets Turbo Mode is now generally available", [WIDGETS]) == {"turbo", "mode"}
    assert launch_words("AWS Widgets adds turbo modes", [WIDGETS]) == {"turbo", "mode"}


def test_blog_title_with_tagline_matches_the_short_name() -> None:
    stored = [known("k1", "Amazon Widgets Turbo Mode", WIDGETS, when=DAY - timedelta(days=2))]
    title = "Introducing Amazon Widgets Turbo Mode for workloads that cannot wait"
    assert find_duplicate(title, [WIDGETS], DAY, stored, INDEX) == "k1"


def test_an_undated_launch_merges_only_on_the_same_name_at_the_same_event() -> None:
    undated = [Known("k1", "Amazon Widgets Turbo Mode", frozenset({WIDGETS.slug}), None, "AWS re:Invent 2031")]
    title = "Introducing Amazon Widgets Turbo Mode for workloads that cannot wait"
    assert find_duplicate(title, [WIDGETS], DAY, undated, INDEX, event="AWS re:Invent 2031") is None
    assert (
        find_duplicate("Amazon Widgets Turbo Mode", [WIDGETS], None, undated, INDEX, event="AWS re:Invent 2031") == "k1"
    )
    assert (
        find_duplicate("Amazon Widgets Turbo Mode", [WIDGETS], None, undated, INDEX, event="AWS re:Invent 2030") is None
    )


def test_a_region_expansion_is_not_its_launch() -> None:
    stored = [known("k1", "Amazon Widgets Turbo Mode", WIDGETS)]
    title = "Amazon Widgets Turbo Mode is now available in three additional regions"
    assert find_duplicate(title, [WIDGETS], DAY, stored, INDEX) is None


def test_engines_and_versions_are_other_launches() -> None:
    stored = [
        known("k1", "Amazon Widgets Turbo Mode for MySQL", WIDGETS),
        known("k2", "Amazon Widgets 2 Turbo", WIDGETS),
    ]
    assert find_duplicate("Amazon Widgets Turbo Mode for MariaDB", [WIDGETS], DAY, stored, INDEX) is None
    assert find_duplicate("Amazon Widgets 3 Turbo", [WIDGETS], DAY, stored, INDEX) is None


def test_verb_after_the_service_name_matches() -> None:
    stored = [known("k1", "Amazon Widgets Turbo Mode", WIDGETS)]
    assert find_duplicate("Amazon Widgets announces turbo mode", [WIDGETS], DAY, stored, INDEX) == "k1"


def test_sibling_launches_are_not_merged() -> None:
    stored = [known("k1", "Amazon Widgets Turbo Mode", WIDGETS)]
    assert find_duplicate("Amazon Widgets Eco Mode", [WIDGETS], DAY, stored, INDEX) is None


def test_needs_a_shared_service() -> None:
    stored = [known("k1", "Amazon Widgets Turbo Mode", WIDGETS)]
    assert find_duplicate("AWS Gadgets Turbo Mode", [GADGETS], DAY, stored, INDEX) is None
    assert find_duplicate("Turbo Mode", [], DAY, stored, INDEX) is None


def test_one_shared_word_is_not_enough() -> None:
    stored = [known("k1", "Amazon Widgets Turbo", WIDGETS)]
    assert find_duplicate("Amazon Widgets Turbo for everyone", [WIDGETS], DAY, stored, INDEX) is None


def test_launches_months_apart_are_not_merged() -> None:
    stored = [known("k1", "Amazon Widgets Turbo Mode", WIDGETS, when=DAY - timedelta(days=200))]
    assert find_duplicate("Amazon Widgets Turbo Mode", [WIDGETS], DAY, stored, INDEX) is None


def test_closest_candidate_wins() -> None:
    stored = [
        known("broad", "Amazon Widgets Turbo Mode and Eco Mode and Quiet Mode", WIDGETS),
        known("exact", "Amazon Widgets Turbo Mode", WIDGETS),
    ]
    assert find_duplicate("Amazon Widgets Turbo Mode is now available", [WIDGETS], DAY, stored, INDEX) == "exact"


def test_a_service_the_other_lacks_means_another_launch() -> None:
    stored = [known("k1", "Amazon Widgets and AWS Gadgets zero copy sync", WIDGETS, GADGETS)]
    other = Service("amazon-sprockets", "Amazon Sprockets", ())
    index = {**INDEX, other.slug: other}
    assert (
        find_duplicate("Amazon Widgets zero copy sync with Amazon Sprockets", [WIDGETS, other], DAY, stored, index)
        is None
    )
    assert find_duplicate("Amazon Widgets zero copy sync", [WIDGETS], DAY, stored, index) == "k1"


def test_a_service_name_spelled_in_the_singular_is_the_same_launch() -> None:
    pebbles = Service(slug="aws-pebble-rooms", name="AWS Pebble Rooms", aliases=("Pebble Rooms",))
    stored = [known("k1", "AWS Pebble Rooms", pebbles)]
    index = {**INDEX, pebbles.slug: pebbles}
    found = find_duplicate("AWS Pebble Room", [pebbles], DAY + timedelta(days=2), stored, index)
    assert found == "k1"
    # A sub-product named by another of the service's spellings stays apart.
    assert find_duplicate("Pebble Rooms Serverless", [pebbles], DAY, stored, index) is None


def test_a_service_name_with_a_typo_is_the_same_launch_but_not_another_generation() -> None:
    from tracker.normalize.dedupe import same_announcement

    composer = Service(slug="aws-kelpcomposer", name="AWS KelpComposer", aliases=("KelpComposer",))
    chip = Service(slug="aws-quillium", name="AWS Quillium", aliases=("Quillium", "Quillium2"))
    later = DAY + timedelta(days=2)
    # "Kelp Composor" is the same bare name written with a typo.
    assert same_announcement("AWS KelpComposer", [composer], DAY, None, "Kelp Composor", [composer], later, None)
    # Other digits are another generation, however alike the letters.
    assert not same_announcement("AWS Quillium", [chip], DAY, None, "AWS Quillium2", [chip], later, None)
    stored = [known("k1", "AWS KelpComposer", composer)]
    index = {**INDEX, composer.slug: composer}
    assert find_duplicate("Kelp Composor", [composer], later, stored, index) == "k1"


def _launch(key: str, *, event: str | None = None, when: datetime | None = None) -> NormalizedAnnouncement:
    return NormalizedAnnouncement(key, Announcement("Amazon Widgets Turbo Mode"), announced_at=when, event=event)


def test_own_key_takes_the_event_else_the_year_else_other() -> None:
    # The same name stored for another launch: the new one gets a key of its own.
    event = detect_event("AWS re:Invent 2031")
    assert event is not None
    assert own_key(_launch("widgets-turbo", event="AWS re:Invent 2031", when=DAY)).key == f"widgets-turbo-{event.slug}"
    assert own_key(_launch("widgets-turbo", when=DAY)).key == "widgets-turbo-2031"
    assert own_key(_launch("widgets-turbo")).key == "widgets-turbo-other"


def test_a_reworded_one_launch_document_keeps_its_previous_key() -> None:
    one = [_launch("widgets-turbo-mode-ga")]
    assert [na.key for na in keep_previous_key(one, ["widgets-turbo-mode"])] == ["widgets-turbo-mode"]
    # Nothing to keep: a new document, the same key, or a document that mentioned several launches.
    assert keep_previous_key(one, []) == one
    assert keep_previous_key(one, ["widgets-turbo-mode-ga"]) == one
    assert keep_previous_key(one, ["a", "b"]) == one
    two = [_launch("a"), _launch("b")]
    assert keep_previous_key(two, ["c"]) == two


def test_now_available_in_a_product_is_not_a_region_expansion() -> None:
    assert is_expansion("Amazon Widgets Turbo Mode is now available in Europe (Milan)")
    assert is_expansion("Amazon Widgets Turbo Mode is now available in the AWS GovCloud (US) Regions")
    assert is_expansion("Amazon Widgets Turbo Mode is now available in two more Regions")
    assert not is_expansion("Amazon Widgets Turbo Mode is now available in AWS Gadgets Studio")
    stored = [known("k1", "Widgets Turbo Mode in AWS Gadgets Studio", WIDGETS, GADGETS)]
    title = "Amazon Widgets Turbo Mode is now available in AWS Gadgets Studio"
    assert find_duplicate(title, [WIDGETS, GADGETS], DAY, stored, INDEX) == "k1"


def test_japanese_between_words_does_not_glue_them() -> None:
    # Characters without an ASCII form used to vanish: "WidgetsがTurbo" read as one word.
    stored = [known("k1", "Amazon Widgets Turbo Mode", WIDGETS)]
    assert find_duplicate("Amazon WidgetsがTurbo Modeをサポートしました", [WIDGETS], DAY, stored, INDEX) == "k1"
    # An em dash glued words the same way.
    stored = [known("k2", "Amazon Widgets Turbo models—Eco and Quiet", WIDGETS)]
    assert find_duplicate("Amazon Widgets Turbo Eco and Quiet models", [WIDGETS], DAY, stored, INDEX) == "k2"


def test_a_japanese_title_is_identical_only_to_itself() -> None:
    # Its ASCII words alone ("Amazon Widgets") are not its name: undated, it merges with nothing else.
    event = "AWS re:Invent 2031"
    undated = [Known("k1", "Amazon Widgetsで高速モードが利用可能に", frozenset({WIDGETS.slug}), None, event)]
    assert find_duplicate("Amazon Widgetsで低電力モードを発表", [WIDGETS], None, undated, INDEX, event=event) is None
    assert (
        find_duplicate("Amazon Widgetsで高速モードが利用可能に", [WIDGETS], None, undated, INDEX, event=event) == "k1"
    )


def test_a_number_of_the_service_name_is_no_version() -> None:
    s9 = Service("amazon-s9", "Amazon S9", ("S9",))
    index = {**INDEX, s9.slug: s9}
    stored = [known("k1", "Amazon S9 Turbo Mode", s9)]
    assert find_duplicate("Amazon S9 Turbo Mode makes transfers 2x faster", [s9], DAY, stored, index) == "k1"
    # Numbers of its own still tell versions apart.
    stored = [known("k2", "Amazon S9 Turbo Mode 2", s9)]
    assert find_duplicate("Amazon S9 Turbo Mode 3", [s9], DAY, stored, index) is None


def test_a_name_and_its_tagline_are_one_launch() -> None:
    stored = [known("k1", "Amazon Widgets Turbo", WIDGETS)]
    for title in (
        "Amazon Widgets Turbo helps teams ship faster",
        "Introducing Amazon Widgets Turbo, a faster way to build",
        "Ship faster with Amazon Widgets Turbo",
        "Amazon Widgets Turbo for Redis and Memcached is now available",
    ):
        assert find_duplicate(title, [WIDGETS], DAY, stored, INDEX) == "k1", title
    # A longer name, or a qualifier that is not a name, is another launch.
    assert find_duplicate("Amazon Widgets Turbo Boost", [WIDGETS], DAY, stored, INDEX) is None
    assert find_duplicate("Amazon Widgets Turbo for everyone", [WIDGETS], DAY, stored, INDEX) is None


def test_a_bare_service_name_matches_only_its_introduction() -> None:
    stored = [known("k1", "Amazon Widgets", WIDGETS)]
    assert (
        find_duplicate("Introducing Amazon Widgets, a new service for builders", [WIDGETS], DAY, stored, INDEX) == "k1"
    )
    assert find_duplicate("Amazon Widgets Turbo helps teams ship faster", [WIDGETS], DAY, stored, INDEX) is None
    assert find_duplicate("Turbo Mode for Amazon Widgets", [WIDGETS], DAY, stored, INDEX) is None


def test_a_launch_verb_after_the_service_names_what_follows() -> None:
    stored = [known("k1", "Amazon Widgets launches Widgets Turbo", WIDGETS)]
    assert find_duplicate("Ship faster with Amazon Widgets Turbo", [WIDGETS], DAY, stored, INDEX) == "k1"


def test_an_acronym_and_its_long_form_are_one_name() -> None:
    stored = [known("k1", "Turbo Build Engine (TBE) extension for Amazon Widgets", WIDGETS)]
    title = "TBE extension for Amazon Widgets speeds up builds with caching"
    assert find_duplicate(title, [WIDGETS], DAY, stored, INDEX) == "k1"


def test_words_written_as_one_are_the_same_words() -> None:
    stored = [known("k1", "Amazon Widgets Turbo Mode servers", WIDGETS)]
    assert find_duplicate("Amazon Widgets TurboMode servers", [WIDGETS], DAY, stored, INDEX) == "k1"


def test_a_short_form_is_the_word_it_stands_for() -> None:
    stored = [known("k1", "Double max queue length for Widgets", WIDGETS)]
    assert find_duplicate("Amazon Widgets doubles the maximum queue length", [WIDGETS], DAY, stored, INDEX) == "k1"
    # "min" may be a minute: not read as "minimum"
    stored = [known("k2", "Widgets billing per min", WIDGETS)]
    assert find_duplicate("Amazon Widgets billing per minimum", [WIDGETS], DAY, stored, INDEX) is None


def test_a_bundle_is_not_one_of_its_launches() -> None:
    # "Construct Hub and AWS CDK v2" names two launches: "AWS CDK v2" alone is not all of it.
    stored = [known("k1", "Gadget Hub and Amazon Widgets Version 2", WIDGETS)]
    assert find_duplicate("Amazon Widgets v2 GA", [WIDGETS], DAY, stored, INDEX) is None


def test_a_launch_for_a_product_or_added_to_it_is_not_the_product() -> None:
    stored = [known("k1", "Amazon Widgets Studio", WIDGETS)]
    for title in (
        "Notebook jobs for Amazon Widgets Studio",
        "Amazon Widgets Studio now supports notebook jobs",
        "Amazon Widgets Studio adds notebook jobs",
    ):
        assert find_duplicate(title, [WIDGETS], DAY, stored, INDEX) is None, title
    assert find_duplicate("Amazon Widgets Studio now generally available", [WIDGETS], DAY, stored, INDEX) == "k1"


def test_launch_wording_is_set_aside_in_every_inflection() -> None:
    # "instances", "available", "announced": the stems of launch wording are launch wording too
    assert launch_words("Amazon Widgets turbo instances are now available", [WIDGETS]) == {"turbo"}
    assert launch_words("Amazon Widgets announced turbo features", [WIDGETS]) == {"turbo"}


def test_a_long_word_misspelt_by_one_letter_is_the_same_word() -> None:
    stored = [Known("k1", "AWS Gadgets Harmonizer", frozenset({GADGETS.slug}), DAY, "AWS re:Invent 2031")]
    assert find_duplicate("Gadgets Harmonizor", [GADGETS], DAY, stored, INDEX, event="AWS re:Invent 2031") == "k1"
    # a digit or a short word changed is another name
    stored = [Known("k2", "AWS Gadgets Turbo5", frozenset({GADGETS.slug}), DAY, "AWS re:Invent 2031")]
    assert find_duplicate("AWS Gadgets Turbo6", [GADGETS], DAY, stored, INDEX, event="AWS re:Invent 2031") is None
    stored = [Known("k3", "AWS Gadgets Lens", frozenset({GADGETS.slug}), DAY, "AWS re:Invent 2031")]
    assert find_duplicate("AWS Gadgets Lend", [GADGETS], DAY, stored, INDEX, event="AWS re:Invent 2031") is None


def test_two_japanese_titles_of_one_service_are_not_merged_by_their_few_readable_words() -> None:
    event = "AWS re:Invent 2031"
    a = "Amazon Widgets で Python 関数のストリーミングをサポートしました"
    stored = [Known("k1", a, frozenset({WIDGETS.slug}), DAY, event)]
    other = "Amazon Widgets で Python 関数の再帰ループ検出が追加されました"
    assert find_duplicate(other, [WIDGETS], DAY, stored, INDEX, event=event) is None
    assert find_duplicate("Amazon Widgets にダッシュボードが登場", [WIDGETS], DAY, stored, INDEX, event=event) is None
    # the very same text is still one launch
    assert find_duplicate(a, [WIDGETS], DAY, stored, INDEX, event=event) == "k1"


def test_tools_is_launch_wording_like_features() -> None:
    stored = [known("k1", "Amazon Widgets Fleet Governance", WIDGETS)]
    assert find_duplicate("new fleet governance tools for Amazon Widgets", [WIDGETS], DAY, stored, INDEX) == "k1"
