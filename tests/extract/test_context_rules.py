"""The rules that judge an emphasised span by its neighbourhood: markers inside the span or in
the description after it, a title that keeps its subject, brand words, weak markers in launch
posts, service context from the launch's own sentence and sub-bullets, glued link text."""

from __future__ import annotations

from tracker.extract import extract
from tracker.items import Announcement, Document
from tracker.normalize import Taxonomy, services_for

RECAP = """---
title: Notes from the Example Summit keynote
---

## Keynote by Jordan Example, VP

- Key message: **Everything is a stream**, and so should your systems be
- **Making it greener**: 90% renewable energy by 2030
- Amazon Quokka **now supports Burrow Queries**:
    - Query burrows with SQL
- Amazon **Quokka Multi-Zone**: new high-availability option like RDS
- **Quokka Pouch Storage**: stores things in a pouch
- Amazon Wombat now offer **30+ connectors**
- New **Zeta7q** EC2 instance
- New Pebble's **forecasting with Q**
- Training and inference:
    - New **Trusted Pebble Extensions**:
        - Extensions for Amazon RDS and Aurora, safely
"""

LAUNCH_POST = """# Introducing Amazon Quokka Vaults for long-term storage

by Sam Writer on 03 MAR 2031 in Amazon S3, Launch, News Permalink Comments Share

Today, we're announcing Amazon Quokka Vaults, a new way to store data for decades.

**Sealed Lids** – A new lid capability keeps every vault closed until you say so.

Amazon Quokka Vaults now provides a **Vault inventory** widget in the console.

**Now available**

Amazon Quokka Vaults is available today in two Regions.
"""


def _doc(text: str, name: str) -> Document:
    [doc] = extract(text.encode(), url=f"https://example.org/{name}")
    return doc


def _by_title(doc: Document) -> dict[str, Announcement]:
    return {a.title: a for a in doc.announcements}


def test_claims_and_labels_are_not_launches() -> None:
    titles = set(_by_title(_doc(RECAP, "recap.md")))
    assert "Everything is a stream" not in titles
    assert "Making it greener" not in titles
    assert "Quokka Pouch Storage" not in titles  # an emphasised name without any launch wording


def test_marker_inside_the_span_keeps_the_subject() -> None:
    ann = _by_title(_doc(RECAP, "recap.md"))["Amazon Quokka now supports Burrow Queries"]
    assert ann.rule == "marker:now-supports+emphasis"
    assert ann.summary == "Query burrows with SQL"


def test_description_saying_new_marks_a_launch_with_its_brand_word() -> None:
    ann = _by_title(_doc(RECAP, "recap.md"))["Amazon Quokka Multi-Zone"]
    assert ann.rule == "marker:described-new+emphasis"
    assert ann.summary.startswith("new high-availability option")


def test_verb_marker_title_runs_from_the_clause_start() -> None:
    titles = set(_by_title(_doc(RECAP, "recap.md")))
    assert "Amazon Wombat now offer 30+ connectors" in titles
    assert "30+ connectors" not in titles


def test_services_come_from_the_launch_sentence_then_sub_bullets() -> None:
    taxonomy = Taxonomy.load()
    anns = _by_title(_doc(RECAP, "recap.md"))
    zeta = anns["Zeta7q"]
    assert zeta.context[0] == "New Zeta7q EC2 instance"
    assert [s.name for s in services_for(zeta, taxonomy)] == ["Amazon EC2"]
    # The sub-bullets name the services before the enclosing "Training and inference" bullet does.
    extensions = anns["Trusted Pebble Extensions"]
    assert [s.name for s in services_for(extensions, taxonomy)] == ["Amazon RDS", "Amazon Aurora"]
    # "Q" alone is not Amazon Q: only after Amazon/AWS.
    assert "Amazon Q" not in [s.name for s in services_for(anns["forecasting with Q"], taxonomy)]


def test_weak_markers_do_not_split_a_launch_post() -> None:
    doc = _doc(LAUNCH_POST, "post.md")
    assert [a.title for a in doc.announcements] == ["Introducing Amazon Quokka Vaults for long-term storage"]
    assert doc.announcements[0].rule == "post:title"


def test_weak_markers_count_outside_launch_posts() -> None:
    # The same sentences in a recap are launches.
    recap = "# My notes\n\n" + "\n".join(LAUNCH_POST.splitlines()[4:9]) + "\n"
    titles = {a.title for a in _doc(recap, "notes.md").announcements}
    assert "Sealed Lids" in titles
    assert "Amazon Quokka Vaults now provides a Vault inventory" in titles


def test_roundup_link_title_keeps_a_glued_word_fragment() -> None:
    roundup = """# AWS Weekly Roundup: quokkas and more (March 3, 2031)

by Sam Writer on 03 MAR 2031 in News Permalink Comments Share

**Last week's launches**

* **Amazon Quokka** provides an [integrated editor](https://aws.amazon.com/about-aws/whats-new/2031/03/quokka-editor/), s[tatement-level estimates](https://aws.amazon.com/about-aws/whats-new/2031/03/quokka-estimates/) and [AWS PrivateLink endpoints](https://aws.amazon.com/about-aws/whats-new/2031/03/quokka-privatelink/).
"""
    doc = _doc(roundup, "roundup.md")
    assert [a.title for a in doc.announcements] == [
        "integrated editor",
        "statement-level estimates",
        "AWS PrivateLink endpoints",
    ]
    assert all(a.service_tags == ("Amazon Quokka",) for a in doc.announcements)


def test_emphasised_launch_word_labels_the_plain_name_after_it() -> None:
    text = """# Notes

- **New:** Amazon Quokka Serverless – scales to zero
- **Preview** - Amazon Stone Lake
- **Key takeaway:** build more
- **New** is always better
"""
    anns = _by_title(_doc(text, "labels.md"))
    assert set(anns) == {"Amazon Quokka Serverless", "Amazon Stone Lake"}
    assert anns["Amazon Quokka Serverless"].summary == "scales to zero"
    assert anns["Amazon Quokka Serverless"].rule == "marker-label+emphasis"
    assert anns["Amazon Stone Lake"].status == "preview"
