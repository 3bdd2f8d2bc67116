"""Sessions of a recap govern only their own sections; codes and event-site links are sessions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracker.cli import main
from tracker.extract import extract


def _doc(text: str):  # type: ignore[no-untyped-def]
    [doc] = extract(text, url="https://example.org/recap.md")
    return doc


def test_a_video_list_at_the_end_links_nothing_by_position() -> None:
    doc = _doc(
        "# AWS re:Invent 2031 recap\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n"
        "* Announcing **AWS Pebble Store** for the edge\n\n"
        "## Videos\n\n"
        "* [Keynote with Riley Ceo](https://www.youtube.com/watch?v=RiLeYcEo002)\n"
        "* [Keynote with Sam Cto](https://www.youtube.com/watch?v=SaMcTo00003)\n"
        "* [Monday Night Live](https://www.youtube.com/watch?v=MoNdAy00004)\n"
    )
    assert {a.title for a in doc.announcements} == {"Amazon Kelp DB", "AWS Pebble Store"}
    assert all(a.sessions == () for a in doc.announcements)
    assert {s.key for s in doc.sessions} == {"RiLeYcEo002", "SaMcTo00003", "MoNdAy00004"}


def test_a_video_list_inside_a_launch_section_makes_its_heading_no_session() -> None:
    doc = _doc(
        "# Meetup: AWS re:Invent 2031 recap\n\n"
        "#### A few announcements\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n"
        "* Announcing **AWS Pebble Store** for the edge\n\n"
        "Some links:\n\n"
        "* [Keynote with Riley Ceo](https://www.youtube.com/watch?v=RiLeYcEo002)\n"
        "* [Keynote with Sam Cto](https://www.youtube.com/watch?v=SaMcTo00003)\n"
    )
    # The heading over both videos is neither of them: it does not take the first one's link.
    assert {s.title for s in doc.sessions} == {"Keynote with Riley Ceo", "Keynote with Sam Cto"}
    assert all(a.sessions == () for a in doc.announcements)


def test_a_session_governs_its_own_section_only() -> None:
    doc = _doc(
        "# AWS re:Invent 2031 recap\n\n"
        "* Announcing **Amazon Zeta Streams** before the show\n\n"
        "## Keynote with Riley Ceo\n\n"
        "[Watch](https://www.youtube.com/watch?v=RiLeYcEo002)\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n\n"
        "## Hallway track\n\n"
        "* Announcing **AWS Pebble Store** for the edge\n"
    )
    by_title = {a.title: a for a in doc.announcements}
    assert by_title["Amazon Zeta Streams"].sessions == ()
    assert by_title["Amazon Kelp DB"].sessions == ("RiLeYcEo002",)
    assert by_title["AWS Pebble Store"].sessions == ()


def test_codes_and_catalogue_links_are_sessions() -> None:
    doc = _doc(
        "# AWS re:Invent 2031 notes\n\n"
        "## DAT342-R: Deep dive into Amazon Kelp DB\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n\n"
        "## Storage at the edge\n\n"
        "[Session page](https://reinvent.awsevents.com/on-demand/catalog?search=STG230)\n\n"
        "* Announcing **AWS Pebble Store** for the edge\n\n"
        "## Sessions I liked\n\n"
        "* CMP346 - Faster instances for everyone\n"
    )
    by_key = {s.key: s for s in doc.sessions}
    assert by_key["DAT342"].code == "DAT342" and by_key["DAT342"].url is None
    assert {"DAT342", "CMP346"} <= set(by_key)
    by_title = {a.title: a for a in doc.announcements}
    assert by_title["Amazon Kelp DB"].sessions == ("DAT342",)
    [pebble_session] = by_title["AWS Pebble Store"].sessions
    assert by_key[pebble_session].url == "https://reinvent.awsevents.com/on-demand/catalog?search=STG230"


def test_a_keynote_recap_with_its_one_video_ties_every_launch() -> None:
    doc = _doc(
        "# Keynote notes\n\n"
        "* Announcing **Amazon Kelp DB**\n"
        "* Announcing **AWS Pebble Store**\n\n"
        "## References\n\n"
        "* [Keynote by Riley Ceo](https://youtu.be/RiLeYcEo002)\n"
    )
    assert all(a.sessions == ("RiLeYcEo002",) for a in doc.announcements)


def test_one_video_covers_every_launch_only_in_a_document_about_that_talk() -> None:
    body = (
        "* Announcing **Amazon Kelp DB**, a graph database\n"
        "* Announcing **AWS Pebble Store** for the edge\n\n"
        "A screenshot from the [keynote video](https://www.youtube.com/watch?v=RiLeYcEo002).\n"
    )
    talk = _doc("# Keynote with Riley Ceo, re:Invent 2031\n\n" + body)
    assert all(a.sessions == ("RiLeYcEo002",) for a in talk.announcements)
    recap = _doc("# My re:Invent 2031 recap\n\n" + body)
    assert {a.title for a in recap.announcements} == {"Amazon Kelp DB", "AWS Pebble Store"}
    assert all(a.sessions == () for a in recap.announcements)
    assert "RiLeYcEo002" in {s.key for s in recap.sessions}  # still a session the recap names


def test_a_heading_that_links_its_talk_itself_governs_its_section() -> None:
    doc = _doc(
        "# My re:Invent 2031\n\n"
        "## Keynotes\n\n"
        "### CEO Keynote with Riley Carver ([link](https://www.youtube.com/watch?v=RiLeYcEo002))\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n\n"
        "## The expo\n\n"
        "* Announcing **AWS Pebble Store** for the edge\n"
    )
    by_title = {a.title: a.sessions for a in doc.announcements}
    assert by_title == {"Amazon Kelp DB": ("RiLeYcEo002",), "AWS Pebble Store": ()}
    [session] = doc.sessions
    assert session.title == "CEO Keynote with Riley Carver" and session.kind == "keynote"


def test_a_post_whose_opening_names_the_talk_it_summarises_ties_every_launch_to_it() -> None:
    body = (
        "## Databases\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n"
        "* Announcing **AWS Pebble Store** for the edge\n\n"
        "## References\n\n"
        "* [AWS re:Invent 2031 - Keynote with Dr. Riley Carver](https://www.youtube.com/watch?v=RiLeYcEo002)\n"
    )
    title = "# Faster value with data: Kelp and Pebble\n\n"
    about = _doc(title + "The keynote of Dr. Riley Carver was a highlight of re:Invent; here is my summary.\n\n" + body)
    assert {a.title for a in about.announcements} == {"Amazon Kelp DB", "AWS Pebble Store"}
    assert all(a.sessions == ("RiLeYcEo002",) for a in about.announcements)
    # An opening that names no talk (or only the event and the word "keynote") ties nothing.
    for lead in ("Here are my notes from re:Invent.\n\n", "The keynote at AWS re:Invent was long.\n\n"):
        notes = _doc(title + lead + body)
        assert all(a.sessions == () for a in notes.announcements), lead


def test_a_document_whose_title_names_a_session_code_is_about_that_session() -> None:
    doc = _doc(
        "# Notes of AWS re:Invent 2031 - Practical kelp databases (DAT398-NEW)\n\n"
        "# Overview\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n\n"
        "## Details\n\n"
        "* Announcing **AWS Pebble Store** for the edge\n"
    )
    [session] = doc.sessions
    assert session.code == "DAT398"
    assert {a.title: a.sessions for a in doc.announcements} == {
        "Amazon Kelp DB": (session.key,),
        "AWS Pebble Store": (session.key,),
    }
    # A recap titled by its event, with a code in a later heading, ties only that section.
    recap = _doc(
        "# AWS re:Invent 2031 recap\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n\n"
        "## DAT398: Practical kelp databases\n\n"
        "* Announcing **AWS Pebble Store** for the edge\n"
    )
    assert {a.title: a.sessions for a in recap.announcements} == {
        "Amazon Kelp DB": (),
        "AWS Pebble Store": ("DAT398",),
    }


def test_a_references_heading_in_any_language_is_no_session_of_its_own() -> None:
    for heading in ("📚 Referências", "References", "参考資料", "Liens", "Enlaces", "Quellen", "関連リンク"):
        doc = _doc(
            "# Keynote: Riley Ceo at AWS re:Invent 2031\n\n"
            "* Announcing **Amazon Kelp DB**, a graph database\n\n"
            f"## {heading}\n\n"
            "* [AWS re:Invent 2031 - Keynote with Riley Ceo](https://www.youtube.com/watch?v=RiLeYcEo002)\n"
        )
        # The video is the talk the document is about, titled by its link, not by the heading.
        [session] = doc.sessions
        assert session.title == "AWS re:Invent 2031 - Keynote with Riley Ceo"
        assert [a.sessions for a in doc.announcements] == [("RiLeYcEo002",)]


def test_a_session_keeps_the_link_its_document_gives_beside_the_canonical_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recap = tmp_path / "recap.md"
    recap.write_text(
        "# AWS re:Invent 2031 recap\n\n"
        "## Keynote with Riley Ceo\n\n"
        "[Watch](https://www.youtube.com/embed/RiLeYcEo002?rel=0)\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n",
        encoding="utf-8",
    )
    [session] = _doc(recap.read_text(encoding="utf-8")).sessions
    # Stored and published under the canonical watch link: one video, one session everywhere.
    assert session.url == "https://www.youtube.com/watch?v=RiLeYcEo002"
    assert session.written_url == "https://www.youtube.com/embed/RiLeYcEo002?rel=0"
    assert main(["extract", str(recap), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    [launch] = out["announcements"]
    # `tracker extract` names it as the document does, so the output reads against the document.
    assert launch["sessions"] == ["https://www.youtube.com/embed/RiLeYcEo002?rel=0"]
    assert out["sessions"][0]["url"] == "https://www.youtube.com/watch?v=RiLeYcEo002"


def test_a_canonical_link_is_not_repeated_as_written() -> None:
    doc = _doc(
        "# AWS re:Invent 2031 recap\n\n"
        "## Keynote with Riley Ceo\n\n"
        "[Watch](https://www.youtube.com/watch?v=RiLeYcEo002)\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n"
    )
    [session] = doc.sessions
    assert session.written_url is None


def test_a_video_the_document_also_links_by_its_watch_link_is_named_by_that() -> None:
    doc = _doc(
        "# Keynote with Riley Ceo, re:Invent 2031\n\n"
        '<iframe src="https://www.youtube.com/embed/RiLeYcEo002"></iframe>\n\n'
        "* Announcing **Amazon Kelp DB**, a graph database\n\n"
        "[At 2:10](https://www.youtube.com/watch?v=RiLeYcEo002&t=130)\n"
    )
    [session] = doc.sessions
    assert session.url == "https://www.youtube.com/watch?v=RiLeYcEo002"
    assert session.written_url is None


@pytest.mark.parametrize(
    ("opening", "closing"),
    [
        (
            "Day three of re:Invent 2031 brought many data launches, most of them in the keynote of Riley Carver.",
            "Several more are listed on the AWS blog. Watch the whole keynote here:",
        ),
        (
            "re:Invent 2031 第三天发布了大量新数据产品，其中许多是 Riley Carver 在其主题演讲中发布的。",
            "AWS 的博客上还列出了其他几款产品。点击此处观看整个主题演讲:",
        ),
    ],
    ids=["english", "chinese"],
)
def test_a_report_ending_on_its_keynote_video_ties_every_launch_to_it(opening: str, closing: str) -> None:
    body = (
        "## **Amazon Kelp DB**\n\n"
        "The keynote announced Amazon Kelp DB, a graph database.\n\n"
        "## **AWS Pebble Store**\n\n"
        "AWS Pebble Store keeps data at the edge.\n\n"
        f"{closing}\n\n"
        "[https://www.youtube.com/embed/RiLeYcEo002?feature=oembed](https://www.youtube.com/embed/RiLeYcEo002?feature=oembed)\n"
    )
    doc = _doc(f"# Data launches of re:Invent 2031\n\n{opening}\n\n{body}")
    by_title = {a.title: a.sessions for a in doc.announcements}
    assert by_title == {"Amazon Kelp DB": ("RiLeYcEo002",), "AWS Pebble Store": ("RiLeYcEo002",)}
    [session] = doc.sessions
    assert session.kind == "keynote" and session.key == "RiLeYcEo002"
    # The same video closing a report whose opening names no keynote ties no launch of another
    # section to it: the opening must say the launches came in that keynote.
    other = _doc(f"# Data launches of re:Invent 2031\n\nDay three brought many launches.\n\n{body}")
    assert all(a.sessions == () for a in other.announcements if a.title == "Amazon Kelp DB")


def test_a_video_titled_as_its_own_subject_is_no_talk_about_the_section() -> None:
    doc = _doc(
        "# Lessons from AWS re:Invent 2031\n\n"
        "## 3. An availability has its conditions\n\n"
        "* Announcing **Amazon Kelp DB for regulated workloads**, for one community only\n\n"
        "To begin with permissions, watch [What is AWS IAM, explained in five minutes by Ann Example]"
        "(https://www.youtube.com/watch?v=IaMiNfIvE01).\n\n"
        "## 4. Deep dives\n\n"
        "* Announcing **Amazon Pebble Store** for the edge\n\n"
        "[AWS re:Invent 2031 - Deep dive into Pebble Store](https://www.youtube.com/watch?v=PeBbLeDiVe2)\n"
    )
    by_title = {a.title: a for a in doc.announcements}
    # A tutorial the section recommends, titled as its own subject: no talk about the section.
    assert by_title["Amazon Kelp DB for regulated workloads"].sessions == ()
    assert "3. An availability has its conditions" not in {s.title for s in doc.sessions}
    # A talk of the event, or one that names the section's subject, still is the section's.
    assert [s for s in by_title["Amazon Pebble Store"].sessions] == ["PeBbLeDiVe2"]


@pytest.mark.parametrize(
    "tag",
    [
        "{{< youtube RiLeYcEo002 >}}",
        '{{< youtube id="RiLeYcEo002" title="Keynote" >}}',
        "{{% youtube RiLeYcEo002 %}}",
        "{% youtube RiLeYcEo002 %}",
        '{% include youtube.html id="RiLeYcEo002" %}',
    ],
    ids=["hugo", "hugo-named", "hugo-markdown", "jekyll", "jekyll-include"],
)
def test_a_site_generators_video_tag_is_the_keynote_video_it_embeds(tag: str) -> None:
    # A Hugo or Jekyll post embeds its keynote by a template tag, which the built page renders
    # as the embed player: the keynote recap's one video, as an <iframe> would be.
    doc = _doc(
        "---\ntitle: Keynote with Riley Ceo, re:Invent 2031\n---\n\n"
        f"Riley Ceo opened re:Invent 2031 with many launches.\n\n{tag}\n\n"
        "* Announcing **Amazon Kelp DB**, a graph database\n"
        "* Announcing **AWS Pebble Store** for the edge\n"
    )
    [session] = doc.sessions
    assert session.url == "https://www.youtube.com/watch?v=RiLeYcEo002"
    assert session.written_url == "https://www.youtube.com/embed/RiLeYcEo002"
    assert {a.title: a.sessions for a in doc.announcements} == {
        "Amazon Kelp DB": ("RiLeYcEo002",),
        "AWS Pebble Store": ("RiLeYcEo002",),
    }


def test_other_template_tags_are_still_dropped() -> None:
    doc = _doc(
        '# re:Invent 2031 recap\n\n{% include toc.html %}\n\n{{< figure src="x.png" >}}\n\n'
        '* Announcing **Amazon Kelp DB**, a graph database {{< ref "other.md" >}}\n'
    )
    assert [a.title for a in doc.announcements] == ["Amazon Kelp DB"]
    assert doc.sessions == ()
