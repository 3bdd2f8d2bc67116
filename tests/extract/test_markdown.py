"""Recaps in markdown: sessions from headings, announcements from marker + emphasis."""

from __future__ import annotations

from datetime import UTC, datetime

from tracker.extract import extract
from tracker.items import Document


def _titles(doc: Document) -> list[str]:
    return [a.title for a in doc.announcements]


def test_recap_metadata_and_event(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("recap-reinvent-2031.md")
    assert doc.kind == "recap"
    assert doc.title == "AWS re:Invent 2031"
    assert doc.event == "AWS re:Invent 2031"
    assert doc.author == "Pat Recapper"
    assert doc.published_at == datetime(2031, 12, 9, 8, 0, tzinfo=UTC)
    assert all(a.event == "AWS re:Invent 2031" for a in doc.announcements)


def test_recap_sessions(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("recap-reinvent-2031.md")
    by_key = {s.key: s for s in doc.sessions}
    assert set(by_key) == {"MoRgAn00001", "RiLeYcEo002", "AuRoRa00003"}  # the playlist link is not a session
    keynote = by_key["MoRgAn00001"]
    assert keynote.kind == "keynote"
    assert keynote.title == "Morgan Infra - SVP Utility Computing"
    assert keynote.speakers == ("Morgan Infra",)
    assert keynote.url == "https://www.youtube.com/watch?v=MoRgAn00001"  # si= dropped
    assert by_key["RiLeYcEo002"].url == "https://www.youtube.com/watch?v=RiLeYcEo002"  # t= dropped
    breakout = by_key["AuRoRa00003"]
    assert breakout.kind == "breakout"
    assert breakout.speakers == ()


def test_recap_announcements_present(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("recap-reinvent-2031.md")
    assert _titles(doc) == [
        "Amazon Aurora Quantum Tables",
        "Amazon ElastiCache Tiered Memory",
        "Zeta9",
        "availability of four new GPUs on AWS",
        "Amazon Q Orchestrator",
        "Quantum Tables Data API",
    ]
    assert [a.position for a in doc.announcements] == list(range(6))


def test_recap_non_launch_emphasis_absent(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("recap-reinvent-2031.md")
    titles = set(_titles(doc))
    for absent in ("Nature is Asynchronous", "Scale", "faster networking", "Sam Guest", "How it works"):
        assert absent not in titles


def test_recap_announcement_fields(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("recap-reinvent-2031.md")
    by_title = {a.title: a for a in doc.announcements}
    aurora = by_title["Amazon Aurora Quantum Tables"]
    assert aurora.marker == "Announcing"
    assert aurora.rule.startswith("marker:announcing")
    assert aurora.summary == "Rows replicated across three Regions; Reads from the nearest copy"
    assert aurora.context[0] == "Announcing Amazon Aurora Quantum Tables"  # its own sentence first
    # then its sub-bullets, then the enclosing bullet and headings
    assert aurora.context[1:4] == (
        "Rows replicated across three Regions; Reads from the nearest copy",
        "Databases",
        "Morgan Infra - SVP Utility Computing",
    )
    assert aurora.context[-1] == "Keynotes"
    assert aurora.excerpt == "Announcing Amazon Aurora Quantum Tables."
    assert aurora.sessions == ("MoRgAn00001",)
    zeta = by_title["Zeta9"]
    assert zeta.marker == "New"
    assert zeta.summary == "EC2 instance for in-memory analytics"  # "New **X** EC2 instance": the rest stays
    assert zeta.excerpt == "New Zeta9 EC2 instance for in-memory analytics"
    assert by_title["Amazon ElastiCache Tiered Memory"].summary == "spills cold keys to NVMe"
    assert by_title["Amazon Q Orchestrator"].summary == "agents that call other agents"  # __X__ emphasis
    assert by_title["Quantum Tables Data API"].sessions == ("AuRoRa00003",)
    assert by_title["Quantum Tables Data API"].marker == "Announce:"


def test_keynote_recap_with_references_video(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("keynote-references.md")
    [session] = doc.sessions
    assert session.key == "KeYnOtE0004"
    assert session.kind == "keynote"
    assert session.url == "https://www.youtube.com/watch?v=KeYnOtE0004"
    assert session.speakers == ("Alex Keynoter",)
    titles = _titles(doc)
    assert titles == ["Amazon Stream Lakes", "Amazon Kinesis Serverless Analytics", "Zeta9g"]
    assert "bold" not in titles and "Everything is a stream" not in titles
    assert "Open Telemetry Schema Group" not in titles
    assert all(a.sessions == ("KeYnOtE0004",) for a in doc.announcements)
    by_title = {a.title: a for a in doc.announcements}
    assert by_title["Amazon Kinesis Serverless Analytics"].status == "preview"
    assert by_title["Zeta9g"].context[:3] == ("New Zeta9g EC2 instance", "Amazon Athena", "Data services:")


def test_link_list_recap(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("linklist-reinvent-2031.md")
    assert doc.event == "AWS re:Invent 2031"
    by_title = {a.title: a for a in doc.announcements}
    assert list(by_title) == [
        "Amazon Widget Studio",
        "Amazon S3 adds object tagging at scale",
        "AWS SDK for Zig",
        "Amazon EKS Edge Clusters (Preview)",
    ]
    assert by_title["Amazon Widget Studio"].url == "https://aws.amazon.com/blogs/aws/new-amazon-widget-studio/"
    assert by_title["AWS SDK for Zig"].status == "preview"
    assert by_title["Amazon EKS Edge Clusters (Preview)"].status == "preview"
    assert by_title["Amazon Widget Studio"].status is None
    assert by_title["Amazon Widget Studio"].context[0] == "December 1st"
    assert not doc.sessions


def test_markdown_news_blog_post_with_byline() -> None:
    from tracker.extract import extract

    text = """# Amazon Widget Studio now available in AWS GovCloud (US)

by Dana Example on 14 DEC 2031 in Amazon Widget Studio, AWS GovCloud (US), Launch, News, Security, Identity, & Compliance Permalink  Comments   Share

Today, we're announcing that Amazon Widget Studio is available in AWS GovCloud (US).

**How it works**

Choose **Create widget** in the console.

**Now available**

Available today.
"""
    [doc] = extract(text, url="https://example.org/post.md")
    assert doc.kind == "post"
    assert doc.author == "Dana Example"
    assert doc.published_at == datetime(2031, 12, 14, tzinfo=UTC)
    assert {"Launch", "News", "Amazon Widget Studio"} <= set(doc.categories)
    [ann] = doc.announcements
    assert ann.title == "Amazon Widget Studio now available in AWS GovCloud (US)"
    assert ann.summary.startswith("Today, we're announcing")
    assert "Amazon Widget Studio" in ann.service_tags
    assert "Launch" not in ann.service_tags and "News" not in ann.service_tags


def test_raw_html_lists_inside_markdown_are_bullets() -> None:
    from tracker.extract.blocks import BULLET, HEADING
    from tracker.extract.markdown import parse_blocks

    blocks = parse_blocks(
        "##What is new in widgets\n\n"
        "Some recent innovations:\n\n"
        "<ul>\n\t<li>\n\tQ9x.48xlarge: the biggest widget yet.\n\t</li>\n"
        "\t<li>Pebble Cache: a cache for pebbles.</li>\n"
        "\t<li>\n\t<ul>\n\t\t<li>Nested Kelp: inside the list above.</li>\n\t</ul>\n\t</li>\n</ul>\n\n"
        "A paragraph after the list.\n"
    )
    kinds = [(b.kind, b.text) for b in blocks]
    assert kinds[0] == (HEADING, "What is new in widgets")
    bullets = [b for b in blocks if b.kind == BULLET]
    assert [b.text for b in bullets] == [
        "Q9x.48xlarge: the biggest widget yet.",
        "Pebble Cache: a cache for pebbles.",
        "Nested Kelp: inside the list above.",
    ]
    assert bullets[2].level > bullets[0].level
    assert kinds[-1][1] == "A paragraph after the list."
    assert not any("<" in text for _, text in kinds)


def test_a_plain_text_keynote_transcript_ties_its_launches_to_its_video() -> None:
    from tracker.extract import extract
    from tracker.extract.rules import load_rules

    text = (
        "AWS re:Invent 2031 - CEO Keynote with Ana Lima\n"
        "Dec 2, 2031\n\n"
        "https://www.youtube.com/watch?v=AbCdEfGhIjK\n\n"
        "Please welcome the CEO of AWS. Good morning, everyone, and welcome to re:Invent.\n"
        "Today I'm excited to announce Amazon Kelp DB, a database that grows with your data, "
        "and it's available today in every Region.\n"
    )
    [doc] = extract(text, url="https://example.org/transcripts/keynote.md", rules=load_rules())
    assert doc.title.startswith("AWS re:Invent 2031 - CEO Keynote")
    assert [s.url for s in doc.sessions] == ["https://www.youtube.com/watch?v=AbCdEfGhIjK"]
    kelp = next(a for a in doc.announcements if a.title == "Amazon Kelp DB")
    assert kelp.sessions == (doc.sessions[0].key,)


def test_bare_addresses_are_links_without_their_closing_punctuation() -> None:
    from tracker.extract.blocks import md_inline

    block = md_inline("See https://example.org/a_b_c. And [this](https://example.org/x) too.").build("paragraph")
    assert [lk.url for lk in block.links] == ["https://example.org/a_b_c", "https://example.org/x"]
    assert block.text == "See https://example.org/a_b_c. And this too."


def test_reference_style_links_are_links() -> None:
    from tracker.extract.markdown import parse_blocks

    blocks = parse_blocks(
        "The launch I liked most was [Amazon Kelp DB][kelp], and [Pebble Queue][] too.\n\n"
        "[kelp]: https://aws.amazon.com/about-aws/whats-new/2031/12/kelp-db/\n"
        '[pebble queue]: https://aws.amazon.com/blogs/aws/pebble-queue/ "Pebble"\n'
    )
    [block] = blocks
    assert block.text == "The launch I liked most was Amazon Kelp DB, and Pebble Queue too."
    assert [(lk.text, lk.url) for lk in block.links] == [
        ("Amazon Kelp DB", "https://aws.amazon.com/about-aws/whats-new/2031/12/kelp-db/"),
        ("Pebble Queue", "https://aws.amazon.com/blogs/aws/pebble-queue/"),
    ]


def test_a_newsletter_whose_first_story_opens_with_today_is_not_a_launch_post() -> None:
    """ "Today at re:Invent, X was announced" under a digest's title does not make the digest
    one launch named by its title; a post whose title names what its opening launches does."""
    from tracker.extract import extract
    from tracker.extract.rules import load_rules

    digest = (
        "# Cloud Ops - Links of the Fortnight\n\n"
        "## [Kelp DB arrives for teams who hate sharding](https://news.example.org/2031/12/kelp)\n\n"
        "Today at AWS re:Invent, the keynote announced Amazon Kelp DB, a database that grows with "
        "your data, and Pebble Queue for ordered messages.\n\n"
        "## [Why we moved our builds to Fir CI](https://blog.example.org/fir-ci)\n\n"
        "A long story about our build farm and what it cost us over the years, told in detail.\n"
    )
    [doc] = extract(digest, url="https://example.org/digest.md", rules=load_rules())
    assert "Cloud Ops - Links of the Fortnight" not in [a.title for a in doc.announcements]

    post = (
        "# Amazon Kelp DB: a database that grows with your data\n\n"
        "Today we are announcing Amazon Kelp DB, a serverless database that grows with your data "
        "without any sharding.\n\n"
        "## How it works\n\nTables split themselves as they grow, and nobody is paged at night.\n"
    )
    [doc] = extract(post, url="https://example.org/post.md", rules=load_rules())
    assert doc.announcements[0].title.startswith("Amazon Kelp DB")


def test_a_post_explaining_a_launch_its_opening_says_was_recently_introduced_is_that_launch() -> None:
    """A third party's post about one launch: "X recently introduced Y" (or "X today announced Y")
    mid-sentence opens it as "Today we are announcing Y" opens the launch's own post."""
    from tracker.extract import extract
    from tracker.extract.rules import load_rules

    for opening in ("Amazon Web Services recently introduced", "At its conference in Las Vegas, AWS today announced"):
        post = (
            "# Kelp DB - bridging tables and kelp forests\n\n"
            f"{opening} Amazon Kelp DB, a database that grows with your data. Here is what it does.\n\n"
            "## The problem it solves\n\nSharding by hand.\n\n"
            "## Key features\n\n### Elastic tables\n\nTables split themselves.\n\n"
            "### Low cost\n\nYou pay for what you store.\n"
        )
        [doc] = extract(post, url="https://example.org/kelp.md", rules=load_rules())
        titles = [a.title for a in doc.announcements]
        assert titles[:1] == ["Amazon Kelp DB"], (opening, titles)
        assert not {"Elastic tables", "Low cost", "The problem it solves"} & set(titles)


def test_a_document_fenced_whole_as_markdown_is_read_inside_its_fence() -> None:
    from tracker.extract.markdown import unfenced

    inner = (
        "# Weekly notes\n\n## What was announced\n\n"
        "- **Amazon Aurora DSQL**: clusters are created in seconds.\n"
        "- **Amazon Cognito**: supports private connectivity with AWS PrivateLink.\n"
        "- **AWS Application Migration Service**: supports IPv6 endpoints."
    )
    [doc] = extract(f"```markdown\n{inner}\n```\n", url="https://example.org/notes.md")
    assert {"Amazon Aurora DSQL", "Amazon Cognito"} <= {a.title for a in doc.announcements}
    assert unfenced(f"~~~md\n{inner}\n~~~") == inner
    # Two code blocks, or a fence without the markdown tag, are not one wrapped document.
    two = "```markdown\n# A\n```\n\ntext\n\n```markdown\n# B\n```"
    assert unfenced(two) == two
    assert unfenced(f"```\n{inner}\n```") == f"```\n{inner}\n```"


def test_a_weekly_roundup_summary_without_launch_links_is_read_as_any_recap() -> None:
    # A summary of a roundup (a language model's notes) keeps the roundup's title but none of
    # its launch links: its launches are its bold lead-ins, as in any recap.
    text = (
        "# AWS Weekly Roundup: Amazon Aurora DSQL, Amazon Cognito and more (March 3, 2031)\n\n"
        "## Key points\n\n"
        "- **Amazon Aurora DSQL**: clusters are created in seconds.\n"
        "- **Amazon Cognito**: supports private connectivity with AWS PrivateLink.\n"
        "- **AWS Application Migration Service**: supports IPv6 endpoints.\n\n"
        "## Source\n\n- URL: https://aws.amazon.com/blogs/aws/aws-weekly-roundup-march-3-2031/\n"
    )
    [doc] = extract(text, url="https://example.org/roundup-notes.md")
    assert {"Amazon Aurora DSQL", "Amazon Cognito"} <= {a.title for a in doc.announcements}
