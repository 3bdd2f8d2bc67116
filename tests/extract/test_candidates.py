"""Surface forms of launches the marker rules do not cover, on documents written here.

Each document is a small recap in one writer's style. What must be found is found (by the
candidate forms and the shipped model), what is not a launch is absent, and titles are clean.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tracker.extract import candidates as cands
from tracker.extract import extract
from tracker.extract.blocks import Block
from tracker.extract.candidates import clean_title, usable
from tracker.extract.learn import recording
from tracker.extract.rules import load_rules

RULES = load_rules()


def _titles(markdown: str) -> list[str]:
    [doc] = extract(markdown, url="https://example.org/recap.md", rules=RULES)
    return [a.title for a in doc.announcements]


@pytest.mark.parametrize(
    ("raw", "title", "status"),
    [
        ("Announcing Amazon Zeta Streams - faster widgets", "Amazon Zeta Streams", None),
        ("New service: AWS Quill Ledger", "AWS Quill Ledger", None),
        ("Amazon Foo Bar: faster widgets for everyone", "Amazon Foo Bar", None),
        ("AWS Lattice Mesh (preview)", "AWS Lattice Mesh", "preview"),
        ("Fargate for Widgets NEW", "Fargate for Widgets", None),
        ("1. Amazon EC2 Q9 Instances", "Amazon EC2 Q9 Instances", None),
        ("2.1 Amazon EC2 Q9 Instances", "Amazon EC2 Q9 Instances", None),
        ("3.2.1. AWS Quill Ledger", "AWS Quill Ledger", None),
        ("🚀 Introducing AWS Pebble Store", "AWS Pebble Store", None),
        ("Amazon Kelp DB is now generally available", "Amazon Kelp DB", "ga"),
        # A News Blog title "New for PRODUCT – FEATURE": the product and its feature.
        ("New for AWS Quartz – Folder Image Support", "AWS Quartz – Folder Image Support", None),
        ("New in Amazon Weft: Shared Spools", "Amazon Weft: Shared Spools", None),
        # "New for you" names nothing: the preposition stays, and the dash still ends the name.
        ("New for you – a better console", "for you", None),
        # A headline whose subject is the company: its object, without the purpose clause.
        ("AWS announces Loom Sentry to find stuck threads automatically", "Loom Sentry", None),
        ("Amazon launches the new Plinth Service", "Plinth Service", None),
        ("AWS unveiled Loom, a new family of thread models", "Loom", None),
        ("AWS has announced Plinth Service", "Plinth Service", None),
        # A service announcing something keeps its headline (What's New wording).
        ("Amazon Weft announces shared spools", "Amazon Weft announces shared spools", None),
        ("preview of Serverless Weftsearch", "Serverless Weftsearch", "preview"),
        ("public preview of AWS Loom Agents", "AWS Loom Agents", "preview"),
        ("GA of Shuttle2 powered Sh2 instances", "Shuttle2 powered Sh2 instances", "ga"),
        # A ranking is numbering: "Top 1 - X" names X.
        ("Top 1 - Loom Pipes", "Loom Pipes", None),
        ("No. 3 – Weft SnapStart", "Weft SnapStart", None),
        ("Top 10 announcements", "Top 10 announcements", None),
        # A digest's rank in brackets, and one exclaimed word of the writer's before a headline.
        ("[2]Introducing Amazon Zeta Streams – faster widgets", "Amazon Zeta Streams", None),
        ("[12] AWS Quill Ledger", "AWS Quill Ledger", None),
        ("Finally! Amazon Weft announces shared spools", "Amazon Weft announces shared spools", None),
        # What a scraper printed around its list: a closing bracket, a comma, an unclosed "[".
        ("  ]  AWS Backup copies spool tags", "AWS Backup copies spool tags", None),
        (", Starting today, Amazon Weft spools", "Starting today, Amazon Weft spools", None),
        ("[  Amazon Weft spools faster", "Amazon Weft spools faster", None),
        # "New <kind of thing>: X", as "New service: X" is.
        ("New AWS Storage Feature: Kelp Tiering", "Kelp Tiering", None),
    ],
)
def test_clean_title(raw: str, title: str, status: str | None) -> None:
    got, got_status = clean_title(raw, RULES)
    assert got == title
    assert got_status == status


def test_heading_per_launch() -> None:
    titles = _titles(
        "# What AWS shipped at re:Invent 2031\n\n"
        "Here is my pick of this year's launches.\n\n"
        "## Amazon Zeta Streams: streams without shards\n\n"
        "Zeta Streams lets you ingest events without thinking about partitions.\n\n"
        "## AWS Quill Ledger (preview)\n\n"
        "A ledger for documents, in preview in two Regions.\n\n"
        "## Amazon EC2 Q9 instances\n\n"
        "The Q9 family doubles memory bandwidth.\n\n"
        "## Final thoughts\n\n"
        "It was a long week and I enjoyed it.\n"
    )
    for title in ("Amazon Zeta Streams", "AWS Quill Ledger", "Amazon EC2 Q9 instances"):
        assert title in titles
    assert "Final thoughts" not in titles
    assert all("preview" not in t.lower() for t in titles)


def test_numbered_bold_items_with_read_more() -> None:
    titles = _titles(
        "# Top launches of re:Invent 2031\n\n"
        "1. **Amazon S3 Kelp Tables** - tables that grow like kelp. [Read more](https://aws.amazon.com/blogs/aws/kelp/)\n"
        "2. **AWS Lambda Pebble Mode** - functions for the edge. [Read more](https://aws.amazon.com/blogs/aws/pebble/)\n"
        "3. **Amazon EC2 Q9 Instances** - more memory bandwidth. [Read more](https://aws.amazon.com/blogs/aws/q9/)\n"
    )
    assert {"Amazon S3 Kelp Tables", "AWS Lambda Pebble Mode", "Amazon EC2 Q9 Instances"} <= set(titles)
    assert "Read more" not in titles


def test_brand_new_services_in_a_bare_numbered_list() -> None:
    # Names the taxonomy does not know: found by their shape (a brand and capitalised words).
    titles = _titles(
        "# Top launches of re:Invent 2031\n\n"
        "1. **Amazon Kelp DB** - a serverless graph database. [Read more](https://aws.amazon.com/blogs/aws/kelp/)\n"
        "2. **AWS Pebble Store** - object storage for the edge. [Read more](https://aws.amazon.com/blogs/aws/pebble/)\n"
    )
    assert {"Amazon Kelp DB", "AWS Pebble Store"} <= set(titles)


def test_launches_marked_by_the_author_keep_the_rest_out() -> None:
    titles = _titles(
        "# Keynote notes, re:Invent 2031\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n"
        "* Announcing **AWS Pebble Store** for the edge\n"
        "* Announcing **Amazon Zeta Streams**\n"
        "* **Customer obsession** as usual\n"
        "* Amazon S3 keeps growing\n"
    )
    assert titles == ["Amazon Kelp DB", "AWS Pebble Store", "Amazon Zeta Streams"]


def test_explain_lists_candidates_with_scores(tmp_path: Path) -> None:
    doc = tmp_path / "recap.md"
    doc.write_text("# re:Invent 2031\n\n* Announcing **Amazon Kelp DB**\n* **Customer obsession**\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tracker", "extract", str(doc), "--explain", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = json.loads(done.stdout)["candidates"]
    by_title = {r["title"]: r for r in rows}
    assert by_title["Amazon Kelp DB"]["accepted"] is True
    assert by_title["Customer obsession"]["accepted"] is False
    assert all(0.0 <= r["score"] <= 1.0 and r["forms"] for r in rows)


def _candidates(text: str, url: str = "https://example.org/recap.md") -> list[cands.Candidate]:
    """Every candidate of a document (markdown, or a page for an .html url), with its features, as the model sees them."""
    seen: list[cands.Candidate] = []
    token = cands.RECORDER.set(seen)
    try:
        extract(text, url=url, rules=RULES)
    finally:
        cands.RECORDER.reset(token)
    return seen


def _features(markdown: str) -> dict[str, dict[str, float]]:
    """Each candidate's features, by title."""
    return {c.announcement.title: c.features for c in _candidates(markdown)}


def test_a_list_led_in_by_a_sentence_about_launches() -> None:
    features = _features(
        "# My week in Las Vegas\n\n"
        "The keynotes were long. My personal top three announcements are:\n\n"
        "1. [Zeta Streams](https://aws.amazon.com/zeta-streams/): streams without shards\n"
        "2. [Quill Ledger](https://aws.amazon.com/quill/): a ledger for documents\n\n"
        "Things I packed:\n\n"
        "* [Good Shoes](https://shoes.example.org/): for walking between hotels\n"
        "* [A Charger](https://charger.example.org/): the phone dies by noon\n"
    )
    assert features["Zeta Streams"].get("intro=launch") == 1.0
    assert features["Zeta Streams"].get("link=product") == 1.0
    assert "intro=launch" not in features["Good Shoes"]
    assert "link=product" not in features["Good Shoes"]


def test_a_list_nested_in_an_item_about_launches() -> None:
    features = _features(
        "# My week in Las Vegas\n\n"
        "The sessions I made it to:\n\n"
        "* deep dive on widgets\n"
        "* the keynote (and some of the announcements):\n"
        "    * zeta streams\n"
        "    * quill ledger\n"
        "* things I packed:\n"
        "    * good shoes\n"
        "    * a charger\n"
    )
    assert features["zeta streams"].get("intro=launch") == 1.0
    assert features["quill ledger"].get("intro=launch") == 1.0
    assert "intro=launch" not in features["good shoes"]
    assert "intro=launch" not in features["deep dive on widgets"]


def test_a_bare_service_name_labelling_a_description_is_marked_so() -> None:
    features = _features(
        "# Weekly roundup\n\n"
        "## Launches\n\n"
        "* **Amazon EC2**: new Q9 instances with twice the memory bandwidth\n"
        "* **Amazon Zeta Streams**: streams without shards\n"
    )
    assert features["Amazon EC2"].get("bare_service") == 1.0
    assert "bare_service" not in features["Amazon Zeta Streams"]


def test_a_heading_over_headings_is_marked_as_a_group() -> None:
    features = _features(
        "# Recap\n\n## Databases\n\n### Amazon Kelp DB\n\nA database of kelp.\n\n"
        "### Amazon Zeta Streams\n\nStreams without shards.\n"
    )
    assert features["Databases"].get("heading_over_heading") == 1.0
    assert "heading_over_heading" not in features["Amazon Kelp DB"]


def test_an_item_is_described_by_what_the_other_items_of_its_list_name_and_link() -> None:
    features = _features(
        "# Recap\n\n## Launches\n\n"
        "* [Kelp Tables](https://aws.amazon.com/about-aws/whats-new/2031/12/kelp-tables/): tables of kelp\n"
        "* [Amazon S3 Pebbles](https://aws.amazon.com/blogs/aws/s3-pebbles/): small objects, cheaply\n"
        "* [Amazon EC2 Q9 instances](https://example.org/q9): twice the memory bandwidth\n\n"
        "## Logistics\n\n"
        "* Lunch: sandwiches\n"
        "* Party: loud music\n"
    )
    # Both other items of its list name a service; one of them links to a launch page.
    assert features["Kelp Tables"]["siblings_named"] == 1.0
    assert features["Kelp Tables"]["siblings_linked"] == 0.5
    # Of S3 Pebbles' siblings, Kelp Tables names no service the taxonomy knows.
    assert features["Amazon S3 Pebbles"]["siblings_named"] == 0.5
    assert features["Amazon S3 Pebbles"]["siblings_linked"] == 0.5
    assert features["Lunch"]["siblings_named"] == 0.0
    assert features["Lunch"]["siblings_linked"] == 0.0


# A weekly roundup saved on someone's site: the front matter's title is the site's ("Notes 4"),
# the roundup's own title is its first heading.
SAVED_ROUNDUP = (
    "---\ntitle: Notes 4\nweight: 4\n---\n\n"
    "# AWS Weekly Roundup: Amazon Kelp DB, Amazon EC2, and more (March 3, 2031)\n\n"
    "I spent last week at a user group meetup in [Lyon](https://example.org/lyon).\n\n"
    "## Last week's launches\n\n"
    "- [Amazon Kelp DB](https://aws.amazon.com/kelpdb/) – A new database that grows with your data. "
    "[Read more in Ana's launch post](https://aws.amazon.com/blogs/aws/introducing-amazon-kelp-db/).\n"
    "- [Amazon EC2](https://aws.amazon.com/ec2/) – Memory-optimised "
    "[Q9m instances](https://aws.amazon.com/blogs/aws/new-amazon-ec2-q9m-instances/) and storage-optimised "
    "[Q9d instances](https://aws.amazon.com/about-aws/whats-new/2031/03/amazon-ec2-q9d-instances/) are now available.\n"
    "- [AWS Pebble Queue](https://aws.amazon.com/pebble-queue/) – You can now "
    "[set a retention of up to 30 days](https://aws.amazon.com/about-aws/whats-new/2031/03/pebble-queue-retention/). "
    "[More info in this blog post](https://aws.amazon.com/blogs/compute/pebble-queue-retention-deep-dive/).\n\n"
    "**[Amazon Quill Search now supports vector filters](https://aws.amazon.com/blogs/aws/quill-search-vector-filters/)**"
    " so that you can narrow a similarity search to one tenant, as described in "
    "[the guide](https://aws.amazon.com/blogs/database/quill-guide/).\n\n"
    "At the summit we also talked about [cost tools](https://aws.amazon.com/blogs/aws/cost-tools-overview/) a lot.\n\n"
    "## Additional updates\n\n"
    "- [Building a lakehouse with Amazon Kelp DB](https://aws.amazon.com/blogs/big-data/lakehouse-kelp-db/) – "
    "a reference architecture.\n\n"
    "## Upcoming AWS events\n\n"
    "- [AWS Summits](https://aws.amazon.com/events/summits/) – Join free events near you.\n"
)


def test_saved_weekly_roundup_reads_its_launch_links() -> None:
    [doc] = extract(SAVED_ROUNDUP, url="https://example.org/notes-4.md", rules=RULES)
    titles = [a.title for a in doc.announcements]
    # A product's own page leads an item with no launch link of its own: the product is the launch.
    assert "Amazon Kelp DB" in titles
    # An item led by a service's page: the launches are the links inside it.
    assert "Q9m instances" in titles and "Q9d instances" in titles
    assert "set a retention of up to 30 days" in titles
    # A paragraph led by a launch link is an item; its other links are prose.
    assert "Amazon Quill Search now supports vector filters" in titles
    for absent in ("Amazon EC2", "AWS Pebble Queue", "the guide", "cost tools", "AWS Summits"):
        assert absent not in titles
    # Pointers are not names; posts under "Additional updates" are not launches.
    assert not any(t.lower().startswith(("read more", "more info")) for t in titles)
    assert not any("lakehouse" in t.lower() for t in titles)
    # The item's label is the service of the launches inside it.
    by_title = {a.title: a for a in doc.announcements}
    assert by_title["Q9m instances"].service_tags == ("Amazon EC2",)


def test_a_roundup_headline_loses_its_launch_word_and_a_repeat_of_its_name() -> None:
    roundup = (
        "# AWS Weekly Roundup: Amazon Kelp DB and more (March 10, 2031)\n\n"
        "## Last week's launches\n\n"
        "- [Announcing up to 40% lower prices for Amazon Kelp DB — Amazon Kelp DB]"
        "(https://aws.amazon.com/about-aws/whats-new/2031/03/kelp-db-prices/) – cheaper kelp.\n"
        "- [Introducing Amazon Pebble Queue: ordered messages at any scale]"
        "(https://aws.amazon.com/blogs/aws/introducing-pebble-queue/) – a new queue.\n"
        "- [Amazon Zeta Streams adds replay — for audits]"
        "(https://aws.amazon.com/about-aws/whats-new/2031/03/zeta-replay/) – replay a stream.\n"
    )
    [doc] = extract(roundup, url="https://example.org/roundup.md", rules=RULES)
    assert [a.title for a in doc.announcements] == [
        "up to 40% lower prices for Amazon Kelp DB",
        "Amazon Pebble Queue: ordered messages at any scale",
        # A dash followed by words the headline has not named is part of the headline.
        "Amazon Zeta Streams adds replay — for audits",
    ]


def test_headings_that_name_nothing_are_not_launches_in_an_essay() -> None:
    titles = _titles(
        "# My week at the AWS Summit in Lyon 2031\n\n"
        "## First impressions\n\nThe venue was big and the coffee was good.\n\n"
        "## Talks I liked\n\nA talk on event-driven design stood out.\n\n"
        "## Recommendations\n\nBring comfortable shoes and skip the booths.\n\n"
        "## Rounding up\n\nI will be back next year.\n"
    )
    assert titles == []


def test_a_page_title_copied_as_link_text_loses_its_site_name() -> None:
    titles = _titles(
        "# My re:Invent 2031 bookmarks\n\n"
        "## Launches\n\n"
        "- [Amazon Kelp DB is now generally available | AWS News Blog](https://aws.amazon.com/blogs/aws/kelp-db-ga/)\n"
        "- [Speed up Pebble Queue with batching | AWS Compute Blog](https://aws.amazon.com/blogs/compute/pebble/)\n"
    )
    assert titles and not any("|" in t or t.endswith("Blog") for t in titles)


@pytest.mark.parametrize(
    "text",
    [
        "https://aws.amazon.com/about-aws/whats-new/2031/11/",
        "www.example.org/launches",
        "Now in preview",
        "Generally available",
        "Coming soon",
        "Available now",
        # A file's name: the recording a translated post links ("…_polly_1234.mp3"), a slide deck.
        "3f9a0c77e1b2amazon_polly_1234.mp3",
        "kelp-db-launch-slides.pdf",
    ],
)
def test_urls_bare_statuses_and_file_names_are_never_names(text: str) -> None:
    assert not usable(text, RULES)
    assert usable("Amazon Kelp DB", RULES)


@pytest.mark.parametrize(
    "text",
    [
        "KLP301 Building graph apps with Amazon Kelp DB",
        "[レポート] Amazon Kelp DB のセッションに参加してきた",
        "Amazon Kelp DB session report: what I learned",
        "[ワークショップ] Pebble Store hands-on",
    ],
)
def test_posts_about_a_session_are_not_launches(text: str) -> None:
    # A session code or a report/workshop marker makes a title a post about a talk.
    assert not usable(text, RULES)


def test_instance_family_codes_and_launch_names_are_not_session_codes() -> None:
    for title in ("Amazon EC2 C9gn instances", "AWS Pebble Store v2", "Amazon Kelp DB for MySQL 8"):
        assert usable(title, RULES)


def test_a_spoken_announcement_of_general_availability_names_the_product() -> None:
    titles = _titles(
        "# Keynote transcript, re:Invent 2031\n\n"
        "So last year we previewed it, and today I'm excited to announce the GA of Kelp DB powered "
        "Quill instances. They are available in four Regions. Today I'm thrilled to announce the "
        "launch of a new Amazon Pebble Store, so you can keep objects at the edge.\n"
    )
    assert any(t.startswith("Kelp DB powered Quill instances") for t in titles), titles
    assert not any(t.lower().startswith(("of ", "ga ", "launch")) for t in titles)


def _transcript() -> str:
    filler = "And customers tell us that they want to move faster, with less to manage. " * 6
    return (
        "Good morning everyone, and welcome to the keynote. [applause]\n"
        f"{filler}Back in 2029 we launched Amazon Zeta Streams, and many of you use it.\n"
        f"{filler}So today I'm excited to announce Amazon Kelp DB. [applause]\n"
        f"{filler}And today we're launching the Quill family of instances, coming early next year.\n"
        f"{filler}Now, I'm thrilled to announce the launch of a new bucket type: Pebble Tables. [applause]\n"
        f"{filler}I'm also pleased to announce that we are doubling our credits for startups.\n"
        "Thank you all, and enjoy the rest of the week.\n"
    )


def test_a_speaker_who_announces_launches_marks_them() -> None:
    titles = _titles(_transcript())
    assert "Amazon Kelp DB" in titles
    assert any(t.startswith("Quill family of instances") for t in titles), titles
    assert "Pebble Tables" in titles  # the name the colon gives, not "bucket type"
    # A launch recalled from years ago is context in a talk whose speaker marks launches.
    assert "Amazon Zeta Streams" not in titles
    assert not any("credits" in t for t in titles)


def test_explain_says_a_spoken_announcement_is_taken_whatever_its_score(tmp_path: Path) -> None:
    doc = tmp_path / "keynote.txt"
    doc.write_text(_transcript(), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "tracker", "extract", str(doc), "--explain", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = {row["title"]: row for row in json.loads(out)["candidates"]}
    assert rows["Amazon Kelp DB"]["accepted"]
    assert any(form.startswith("spoken") for form in rows["Amazon Kelp DB"]["forms"])


def test_someone_elses_project_introduced_is_not_a_launch() -> None:
    titles = _titles(
        "# My day at the AWS Summit in Lyon 2031\n\n"
        "At the booth, a carmaker introduced their **Kelp Brain** project, built on AWS.\n\n"
        "Later, AWS introduced **Amazon Pebble Store** for the edge.\n"
    )
    assert "Kelp Brain" not in titles
    assert "Amazon Pebble Store" in titles


def test_a_launch_recalled_in_the_past_is_not_a_candidate() -> None:
    text = (
        "When we launched Amazon Zeta Streams, customers asked for more. "
        "Back in 2029 we introduced Amazon Kelp DB for graphs."
    )
    [doc] = extract(text, url="https://example.org/notes.txt", rules=RULES)
    block = Block(kind="paragraph", text=text)
    sentence = RULES.candidate_patterns["announce_sentence"]
    found = [c.announcement.title for c in cands._sentences(block, sentence, RULES, None, frozenset())]
    assert found == []
    assert not any(a.title in ("Amazon Zeta Streams", "Amazon Kelp DB") for a in doc.announcements)


def test_links_into_whats_new_inside_prose_are_launches() -> None:
    text = (
        "# Notes from the re:Invent 2031 keynote\n\n"
        "The keynote opened with a story about latency. Mac developers can now use "
        "[Amazon EC2 Q9 Mac instances](https://aws.amazon.com/about-aws/whats-new/2031/12/amazon-ec2-q9-mac/)"
        " for their builds, which I will try next week.\n\n"
        "Networking got "
        "[Pebble Path Analyzer](https://aws.amazon.com/about-aws/whats-new/2031/12/pebble-path-analyzer/), "
        "which finds unintended paths. I also re-read the "
        "[Amazon Zeta Streams documentation](https://docs.aws.amazon.com/zeta/latest/) on the plane.\n"
    )
    seen: list[cands.Candidate] = []
    token = cands.RECORDER.set(seen)
    try:
        titles = _titles(text)
    finally:
        cands.RECORDER.reset(token)
    proposed = {c.announcement.title for c in seen}
    assert "Amazon EC2 Q9 Mac instances" in titles
    # Each link into What's New is proposed; whether a name that shows no product shape is
    # taken is the model's call, not this form's.
    assert "Pebble Path Analyzer" in proposed
    assert not any("documentation" in t for t in proposed | set(titles))


def test_a_status_sentence_names_what_stands_before_its_verb() -> None:
    text = (
        "Then, serverless! Zeta Accelerate is generally available, and I forgot what it does. "
        "And Kelp Serverless is out. Agents for Amazon Pebble were launched. "
        "The documentation is available here. Amazon Quartz was launched in 2019 already. "
        "This feature is now available in Sydney. Widget Streams hitting general availability was a surprise."
    )
    block = Block(kind="paragraph", text=text)
    status = RULES.candidate_patterns["status_sentence"]
    found = [c.announcement.title for c in cands._status_sentences(block, status, RULES, None)]
    assert found == ["Zeta Accelerate", "Kelp Serverless", "Agents for Amazon Pebble", "Widget Streams"]
    # Recalled ("in 2019"), and subjects that are no name ("The documentation", "This feature").
    assert not any(t in found for t in ("Amazon Quartz", "The documentation", "documentation", "This feature"))


def test_a_title_in_another_script_is_as_long_as_its_words_there() -> None:
    features = _features(
        "# 주간 소식\n\n## Launches\n\n"
        "* Pebble 서버가 Kelp 큐에게 임시 자격증명을 매일 전달하는 기능\n"
        "* Amazon Kelp DB\n"
        "* Amazon Zeta Streams 新機能のプレビューが開始されました\n"
    )
    # Three Latin words, but a sentence of eight: not "a name of three words".
    assert features["Pebble 서버가 Kelp 큐에게 임시 자격증명을 매일 전달하는 기능"].get("words<=10") == 1.0
    assert features["Amazon Kelp DB"].get("words<=3") == 1.0
    # Japanese does not space its words: its characters count, two to a word.
    assert "words<=3" not in features["Amazon Zeta Streams 新機能のプレビューが開始されました"]


def test_items_numbered_inline_in_a_paragraph_are_a_list() -> None:
    from tracker.extract.blocks import BULLET, PARAGRAPH
    from tracker.extract.markdown import parse_blocks

    blocks = parse_blocks(
        "At the summit AWS announced: 1) **Amazon Kelp DB** in preview; 2) [Zeta Streams](https://example.org/z), "
        "streams without shards; and 3) Quill Ledger for documents.\n\n"
        "I was there from 1) Monday to 2) Tuesday.\n"
    )
    assert [(b.kind, b.text) for b in blocks] == [
        (PARAGRAPH, "At the summit AWS announced:"),
        (BULLET, "Amazon Kelp DB in preview"),
        (BULLET, "Zeta Streams, streams without shards"),
        (BULLET, "Quill Ledger for documents"),
        # Two numbers are not a list.
        (PARAGRAPH, "I was there from 1) Monday to 2) Tuesday."),
    ]
    kelp, zeta = blocks[1], blocks[2]
    assert kelp.text[slice(*kelp.strong[0])] == "Amazon Kelp DB"
    assert [(zeta.text[lk.start : lk.end], lk.url) for lk in zeta.links] == [("Zeta Streams", "https://example.org/z")]
    assert {b.parent for b in blocks[1:4]} == {None} and {b.level for b in blocks[1:4]} == {0}


def test_a_chinese_or_japanese_clause_mark_ends_a_name() -> None:
    assert clean_title("Amazon Kelp DB预览版发布，支持大规模运营", RULES)[0] == "Amazon Kelp DB预览版发布"
    assert clean_title("Amazon Zeta Streams：新しいストリーム", RULES)[0] == "Amazon Zeta Streams"


def test_a_brand_led_name_in_prose_is_a_candidate_when_something_calls_it_news() -> None:
    seen = _candidates(
        "# Three themes of the week\n\n"
        "At the conference we launched services for security teams. One such service is Amazon Kelp "
        "Lake, which gathers logs in one place. Amazon Kelp Lake stores them in Amazon Pebble Store as "
        "it always did.\n\n"
        "Monitoring got simpler too: the new AWS Zeta Guard watches your queues.\n"
    )
    named = {c.announcement.title: c for c in seen if "prose-name" in c.generators}
    # Once per name, at its first mention; a name in passing with nothing about news is none.
    assert set(named) == {"Amazon Kelp Lake", "AWS Zeta Guard"}
    assert named["AWS Zeta Guard"].features.get("prose_cue_before") == 1.0
    assert named["Amazon Kelp Lake"].features.get("prose_cue_before") == 1.0  # "we launched services"


def test_a_paragraph_of_one_item_per_line_is_a_list() -> None:
    from tracker.extract.blocks import BULLET, PARAGRAPH
    from tracker.extract.html import html_blocks
    from tracker.extract.markdown import parse_blocks

    items = "Kelp Tables – tables of kelp\nZeta Streams – streams without shards\nQuill Ledger for documents"
    # Wrapped prose, or sentences one to a line, stay paragraphs.
    wrapped = "Kelp Tables are a new way to store\nkelp, and Zeta Streams move it\nAcross Regions in seconds"
    sentences = "Kelp Tables store kelp.\nZeta Streams move it.\nQuill Ledger keeps the books."
    blocks = parse_blocks(f"{items}\n\n{wrapped}\n\n{sentences}\n")
    assert [(b.kind, b.text) for b in blocks[:3]] == [
        (BULLET, "Kelp Tables – tables of kelp"),
        (BULLET, "Zeta Streams – streams without shards"),
        (BULLET, "Quill Ledger for documents"),
    ]
    assert [b.kind for b in blocks[3:]] == [PARAGRAPH, PARAGRAPH]
    # The same in a page, where the source's line ends are all that separate the items.
    from bs4 import BeautifulSoup

    page = BeautifulSoup(
        f"<h3>Launches</h3><p>{items.replace('Quill', '<b>Quill</b>')}</p><p>{wrapped}</p>", "html.parser"
    )
    html = html_blocks(page)
    assert [b.text for b in html if b.kind == BULLET] == [
        "Kelp Tables – tables of kelp",
        "Zeta Streams – streams without shards",
        "Quill Ledger for documents",
    ]
    quill = next(b for b in html if b.text.startswith("Quill"))
    assert quill.text[slice(*quill.strong[0])] == "Quill"


def test_now_ga_closes_a_title_as_a_status() -> None:
    assert clean_title("Widget Guard Runtime Monitoring now GA", RULES) == ("Widget Guard Runtime Monitoring", "ga")


def test_advice_and_sentences_in_a_list_are_marked_so() -> None:
    features = _features(
        "# Recap\n\n## Next steps\n\n"
        "* Evaluate Kelp DB for the catalogue\n"
        "* Explored Amazon Zeta Streams at the booth\n"
        "* Amazon Quill Ledger\n"
        "* Pebble 서버가 임시 자격증명을 전달한다\n"
        "* Pebble 출시했다\n"
        "* Pebble 대시보드 지원\n"
    )
    assert features["Evaluate Kelp DB for the catalogue"].get("verb_first") == 1.0
    assert features["Explored Amazon Zeta Streams at the booth"].get("verb_first") == 1.0
    assert "verb_first" not in features["Amazon Quill Ledger"]
    # A Korean line that ends as a sentence is none when it is long, marked so when short;
    # one that ends in a noun ("support") is not.
    assert "Pebble 서버가 임시 자격증명을 전달한다" not in features
    assert features["Pebble 출시했다"].get("sentence_end") == 1.0
    assert "sentence_end" not in features["Pebble 대시보드 지원"]


def test_a_launch_link_in_a_list_loses_its_headline_marker() -> None:
    titles = _titles(
        "# Daily digest\n\n"
        "* [**Introducing Amazon EC2 Q9 instances**](https://aws.amazon.com/about-aws/whats-new/2031/09/q9/): "
        "twice the memory bandwidth\n"
        "* [**Announcing daily payouts for Pebble Market sellers**]"
        "(https://aws.amazon.com/about-aws/whats-new/2031/09/payouts/): every day\n"
        "* [**Amazon Kelp DB now supports graph queries**](https://aws.amazon.com/about-aws/whats-new/2031/09/kelp/)\n"
    )
    assert titles == [
        "Amazon EC2 Q9 instances",
        "daily payouts for Pebble Market sellers",
        "Amazon Kelp DB now supports graph queries",
    ]


def test_lines_opened_by_a_bullet_glyph_are_a_list() -> None:
    from tracker.extract.blocks import BULLET
    from tracker.extract.markdown import parse_blocks

    # A Japanese writer's list: "・" opens each line, and the names are links.
    text = (
        "基調講演で発表されたサービス\n\n"
        "・[Amazon Kelp DB](https://example.org/kelp)\n"
        "・[AWS Zeta Streams](https://example.org/zeta)\n"
        "・Quill Ledger 新機能\n"
    )
    bullets = [b for b in parse_blocks(text) if b.kind == BULLET]
    assert [b.text for b in bullets] == ["Amazon Kelp DB", "AWS Zeta Streams", "Quill Ledger 新機能"]
    assert [b.links[0].url for b in bullets[:2]] == ["https://example.org/kelp", "https://example.org/zeta"]
    # A glyph on some lines only is not a list of them.
    mixed = "• Kelp DB is faster\nand Zeta Streams move data\n• Quill Ledger\n"
    assert not [b for b in parse_blocks(mixed) if b.kind == BULLET]


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("(Novidade) Amazon Kelp DB", "Amazon Kelp DB"),
        ("Nuevo: AWS Zeta Streams", "AWS Zeta Streams"),
        ("(新機能) Amazon Quill Ledger", "Amazon Quill Ledger"),
        ("AWS Pebble Store (Neu)", "AWS Pebble Store"),
        # "Amazon Nova" is a name, not the word "new".
        ("Amazon Nova Reel", "Amazon Nova Reel"),
    ],
)
def test_new_written_in_another_language_is_a_marker_not_part_of_the_title(raw: str, title: str) -> None:
    assert clean_title(raw, RULES)[0] == title


def test_a_label_new_in_another_language_marks_the_name_after_it() -> None:
    def doc(label: str) -> str:
        return (
            "# Keynote\n\n"
            f"- 🚀 **({label}) Kelp Assistant**: um assistente para engenheiros\n"
            f"- 🚀 **({label})** - um ranking de benchmarks\n"
            "- Amazon Zeta Streams continua igual\n"
            "- Amazon Q\n"
        )

    titles = _titles(doc("Novidade"))
    assert "Kelp Assistant" in titles
    assert not [t for t in titles if "Novidade" in t]
    assert titles == _titles(doc("New"))  # as the English label is read


def test_a_digest_headline_with_its_launch_link_on_the_next_line_is_described_so() -> None:
    features = _features(
        "# Last week\n\n"
        "### Amazon Kelp DB now supports graph queries\n\n"
        "- **Date**: 2031-09-01\n"
        "- **Link**: [https://aws.amazon.com/about-aws/whats-new/2031/09/kelp/](https://aws.amazon.com/about-aws/whats-new/2031/09/kelp/)\n\n"
        "### Things we read\n\n"
        "Some [notes](https://example.org/notes) from the week.\n"
    )
    assert features["Amazon Kelp DB now supports graph queries"].get("link_below=whats_new") == 1.0
    assert not any(k.startswith("link_below") for k in features.get("Things we read", {}))


def test_a_headline_standing_alone_over_its_launch_link_is_a_candidate_with_that_link() -> None:
    panel = (
        '<div class="panel"><div class="title">{title}</div><div class="body">'
        '<p><strong>Link:</strong> <a href="{url}">{url}</a></p><p><strong>Summary:</strong> {summary}</p></div></div>'
    )
    page = "<html><body><h1>News of the week</h1>{}</body></html>".format(
        "".join(
            panel.format(title=t, url=u, summary=s)
            for t, u, s in [
                (
                    "Kelp Tables now support point-in-time restore",
                    "https://aws.amazon.com/about-aws/whats-new/2031/05/kelp-tables-pitr/",
                    "You can now restore a table to any second of the last week.",
                ),
                (
                    "Pebble Store adds a cold tier",
                    "https://aws.amazon.com/about-aws/whats-new/2031/05/pebble-store-cold-tier/",
                    "A cheaper tier for data read once a year.",
                ),
                ("Our favourite talks", "https://example.org/talks", "Three talks we liked."),
            ]
        )
    )
    seen = _candidates(page, url="https://example.org/news.html")
    titled = {c.announcement.title: c.announcement.url for c in seen if "titled-link" in c.generators}
    assert titled == {
        "Kelp Tables now support point-in-time restore": "https://aws.amazon.com/about-aws/whats-new/2031/05/kelp-tables-pitr/",
        "Pebble Store adds a cold tier": "https://aws.amazon.com/about-aws/whats-new/2031/05/pebble-store-cold-tier/",
    }


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("Kelp Search Serverless goes GA", "Kelp Search Serverless"),
        ("Zeta Streams becomes generally available", "Zeta Streams"),
        ("Amazon Quill is GA", "Amazon Quill"),
    ],
)
def test_a_verb_before_a_status_goes_with_the_status(raw: str, title: str) -> None:
    assert clean_title(raw, RULES) == (title, "ga")


@pytest.mark.parametrize(
    ("title", "ok"),
    [
        ("Invent 2022 and", False),  # cut from "announced at re:Invent 2022 and has been …"
        ("Kelp DB support for the", False),
        ("Amazon Kelp adds multilingual support across", False),  # cut before "… across N languages"
        ("Zeta Streams now available in", False),
        ("AWS Cloud", False),
        ("AWS Architecture", False),
        ("AWS Cloud Map", True),
        ("Amazon Kelp for Teams", True),
    ],
)
def test_fragments_and_brand_phrases_are_no_names(title: str, ok: bool) -> None:
    assert usable(title, RULES) is ok


@pytest.mark.parametrize("heading", ["新產品發表", "Novidades da semana", "新サービス", "신규 출시"])
def test_a_launch_section_heading_in_another_language_is_one(heading: str) -> None:
    features = _features(
        f"# Notes\n\n## {heading}\n\n* Amazon Kelp DB\n* AWS Zeta Streams\n\n## Lunch\n\n* Pebble Store\n"
    )
    assert features["Amazon Kelp DB"].get("section=launch") == 1.0
    assert "section=launch" not in features["Pebble Store"]


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("[アップデート] Amazon Kelp DB がグラフをサポートしました", "Amazon Kelp DB がグラフをサポートしました"),
        ("【新機能】 AWS Zeta Streams", "AWS Zeta Streams"),
        ("[New] Amazon Quill Ledger", "Amazon Quill Ledger"),
        ("Amazon Pebble Store #AWSreInvent #storage", "Amazon Pebble Store"),
        ("Amazon Kelp C# SDK", "Amazon Kelp C# SDK"),  # a '#' inside a name stays
    ],
)
def test_bracketed_launch_labels_and_trailing_hashtags_leave_the_title(raw: str, title: str) -> None:
    assert clean_title(raw, RULES)[0] == title


@pytest.mark.parametrize(
    "title",
    [
        "AWS::Kelp::Table",
        "AWS What's New",
        "AWS API Changes",
        "Amazon Web Services",  # the company
        # Headings that explain a product or gather a topic
        "Kelp DBとは",
        "What is Amazon Kelp DB?",
        "Kelp DB란?",
        "什么是 Kelp DB",
        "Kelp DB って何？",
        "EKS 관련",
        "AI 関連",
        # A speaker presented by name, role and company
        "Jane Example, CTO, Example Corp",
        "Bo Sample, Head of Infrastructure, Widgets Inc",
    ],
)
def test_resource_types_site_sections_glossaries_topics_and_speakers_are_no_names(title: str) -> None:
    assert not usable(title, RULES)


def test_read_more_links_in_other_languages_are_no_candidate() -> None:
    from tracker.extract import extract
    from tracker.extract.learn import recording

    links = ("Acessar fonte", "Leia mais", "Saiba mais", "En savoir plus", "続きを読む", "자세히 보기")
    text = "# Notícias AWS da semana\n\n" + "".join(
        f"## Amazon Kelp DB {n} chega\n\nResumo da novidade.\n\n🔗 [{link}](https://aws.amazon.com/blogs/aws/kelp-{n}/)\n\n"
        for n, link in enumerate(links)
    )
    with recording() as seen:
        [doc] = extract(text, url="https://example.org/digest.md")
    assert not {c.announcement.title for c in seen} & set(links)
    assert not {a.title for a in doc.announcements} & set(links)


def test_an_index_page_or_a_bare_url_in_a_link_list_is_no_launch() -> None:
    from tracker.extract import extract

    text = (
        "# Launches of the week\n\n"
        "- [Amazon Kelp DB adds graph snapshots](https://aws.amazon.com/about-aws/whats-new/2031/11/kelp-db-snapshots/)\n"
        "- [AWS Pebble Store for edge devices](https://aws.amazon.com/blogs/aws/pebble-store-edge/)\n"
        "- [What's New in November](https://aws.amazon.com/about-aws/whats-new/2031/11/)\n"
        "- [https://aws.amazon.com/blogs/aws/quux-studio-ga/](https://aws.amazon.com/blogs/aws/quux-studio-ga/)\n"
    )
    [doc] = extract(text, url="https://example.org/week.md")
    titles = {a.title for a in doc.announcements}
    assert {"Amazon Kelp DB adds graph snapshots", "AWS Pebble Store for edge devices"} <= titles
    assert not any(t.startswith(("What's New", "https://")) for t in titles), titles


@pytest.mark.parametrize(
    ("title", "ok"),
    [
        ("Amazon Kelp SDK Blog", False),
        ("Kelp Official Site", False),
        ("AWS Zeta Streams Developer Guide", False),
        ("Amazon Kelp DB documentation", False),
        ("Amazon Kelp Blog Posts Export", True),  # a resource word inside a name, not at its end
        ("Amazon Kelp Video", True),  # a product may end on "Video"
    ],
)
def test_a_link_to_a_page_about_a_product_is_no_name(title: str, ok: bool) -> None:
    assert usable(title, RULES) is ok


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("Bonus: JavaScript resolvers for Amazon Kelp", "JavaScript resolvers for Amazon Kelp"),
        ("Honorable mention – AWS Zeta Streams", "AWS Zeta Streams"),
        ("Bonus", "Bonus"),  # a label alone is left as it is (and names nothing)
    ],
)
def test_a_bonus_label_before_a_launch_is_not_its_name(raw: str, title: str) -> None:
    assert clean_title(raw, RULES)[0] == title


def test_a_heading_about_the_author_is_no_launch() -> None:
    titles = _titles(
        "# My re:Invent picks\n\n## Amazon Kelp DB\n\nA graph store.\n\n## AWS Zeta Streams\n\n"
        "Streams for widgets.\n\n## Author\n\nJane writes about serverless on Amazon Kelp.\n"
    )
    assert "Author" not in titles
    features = _features(
        "# Picks\n\n## Amazon Kelp DB\n\nA graph store.\n\n## Author\n\nJane, on Amazon Kelp.\n\n"
        "## Closing thoughts\n\nSee you next year.\n"
    )
    assert features["Author"].get("title_is_section_word") == 1.0
    assert features["Closing thoughts"].get("title_is_section_word") == 1.0


def test_a_launch_in_a_transcript_pasted_as_one_paragraph_takes_the_services_around_it() -> None:
    from tracker.extract import extract

    # A keynote pasted as one paragraph names every service of the talk: only the words near a
    # launch's name are its own sentence (services_for reads its context innermost first).
    filler = "Customers run Amazon S3, AWS Lambda, Amazon DynamoDB and Amazon Redshift at scale today. " * 12
    text = (
        f"# Keynote transcript\n\n{filler}So today I'm excited to announce the Quill family of instances "
        f"for Amazon EC2, available next year. {filler}\n"
    )
    [doc] = extract(text, url="https://example.org/keynote.md")
    assert doc.announcements
    for launch in doc.announcements:
        own = launch.context[0]
        assert "Amazon EC2" in own and len(own) < len(text) / 3


def test_a_service_name_then_a_feature_name_is_that_whole_launch() -> None:
    from tracker.extract.markdown import parse_blocks

    blocks = parse_blocks(
        "# My re:Invent 2031\n\n"
        "## Lambda: Provisioned Concurrency\n\nCold starts are gone.\n\n"
        "## API Gateway: HTTP APIs\n\nCheaper and faster.\n\n"
        "## Amazon Zeta Streams: streams without shards\n\nA new service.\n\n"
        "* Amazon S3: Object Kelp\n"
        "* Amazon S3: a change to how buckets are listed in the console\n"
    )
    titles = [c.announcement.title for c in cands.generate(blocks, RULES, event=None)]
    assert "Lambda: Provisioned Concurrency" in titles and "API Gateway: HTTP APIs" in titles
    assert "Amazon S3: Object Kelp" in titles
    # Not a service's bare name before the colon, or no name after it: the name stops at the colon.
    assert "Amazon Zeta Streams" in titles
    assert not any(t.startswith("Amazon S3: a change") for t in titles)
    assert "Lambda" not in titles and "API Gateway" not in titles


def test_a_service_then_a_feature_then_its_description_is_the_feature() -> None:
    """A digest's item "Amazon S3: Feature name for what it does": the launch is the feature,
    not the service's bare name; a phrase saying what the service is names no launch."""
    from tracker.extract.markdown import parse_blocks

    blocks = parse_blocks(
        "# Weekly notes\n\n"
        "## Amazon S3: Faster listings for big buckets\n\nA topic heading.\n\n"
        "Releases this week\n\n"
        "- Amazon S3: Bucket quilting in S3 Batch Operations for checks without downloads.\n"
        "- AWS Lambda: Warm pools to keep functions ready between bursts.\n"
        "- Amazon EC2: Support, in more sizes.\n"
        "- Amazon DynamoDB: Scalable key-value database, with more.\n"
        "- Amazon SQS: a queue service that decouples producers.\n"
    )
    titles = [c.announcement.title for c in cands.generate(blocks, RULES, event=None)]
    assert "Amazon S3: Bucket quilting in S3 Batch Operations" in titles
    assert "AWS Lambda: Warm pools" in titles
    # One word, a definition ("… database"), an article: the service's name stops at the colon.
    assert not [t for t in titles if t.startswith(("Amazon EC2:", "Amazon DynamoDB:", "Amazon SQS:"))]
    # A heading is not an item with a description: its name stops at the colon.
    assert "Amazon S3: Faster listings" not in titles


def test_a_long_run_of_capitals_after_a_service_and_colon_is_read_in_one_pass() -> None:
    # Hostile input: a pattern that could split one long word into its pieces every way took
    # 0.7 s for 60 capitals and would not end for thousands. A hang guard, not a speed test:
    # linear work ends in milliseconds, the bound is generous. In a child process, since a
    # pattern match holds the interpreter until it ends.
    code = (
        "from tracker.extract import candidates as c; from tracker.extract.rules import load_rules; "
        "print(c._service_and_feature('Lambda', 'Lambda: ' + 'A' * 5000 + 'x!', load_rules()))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "Lambda"
    # The same for an item's feature phrase: long words, dotted words and words without an end.
    code = (
        "from tracker.extract import candidates as c; from tracker.extract.rules import load_rules; "
        "r = load_rules(); "
        "print(c._service_and_feature('Lambda', 'Lambda: ' + 'A' * 5000 + 'x!', r, described=True)); "
        "print(c._service_and_feature('Lambda', 'Lambda: ' + 'A.' * 5000 + 'x!', r, described=True)); "
        "print(c._service_and_feature('Lambda', 'Lambda: ' + 'Ab ' * 5000 + 'x!', r, described=True))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["Lambda"] * 3


def test_names_joined_at_the_head_of_a_paragraph_are_each_a_candidate() -> None:
    markdown = (
        "# My re:Invent 2031\n\n"
        "#### Releases I am excited about\n\n"
        "[Amazon Kelp DB](https://aws.amazon.com/kelp-db/) and [AWS Pebble Store](https://aws.amazon.com/pebble/)"
        " - both new services help teams keep their data close to the edge.\n\n"
        "[Amazon Zeta Streams](https://aws.amazon.com/zeta/) - streams without shards, "
        "built on [Amazon Kinesis](https://aws.amazon.com/kinesis/).\n"
    )
    with recording() as seen:
        extract(markdown, url="https://example.org/recap.md", rules=RULES)
    leads = {c.announcement.title for c in seen if "lead:link" in c.generators}
    assert {"Amazon Kelp DB", "AWS Pebble Store", "Amazon Zeta Streams"} <= leads
    # A link inside the description is no second lead.
    assert "Amazon Kinesis" not in leads


def test_a_name_inside_a_headline_linked_into_whats_new_is_no_launch_of_its_own() -> None:
    seen = _candidates(
        "# Picks of the week\n\n"
        "Kelp keeps maturing, see [Amazon Kelp DB now logs console actions using AWS Zeta Trail]"
        "(https://aws.amazon.com/about-aws/whats-new/2026/01/kelp-db-logs-zeta-trail/) and the new "
        "AWS Quill Ledger, which we covered last week.\n"
    )
    titles = {c.announcement.title: c.generators for c in seen}
    # The headline is read whole; the service it uses is no candidate; a name outside the link still is.
    assert "inline:link" in titles["Amazon Kelp DB now logs console actions using AWS Zeta Trail"]
    assert "AWS Zeta Trail" not in titles
    assert "prose-name" in titles["AWS Quill Ledger"]
