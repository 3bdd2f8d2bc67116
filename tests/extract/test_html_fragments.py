"""Feed item HTML is read from lxml's events into a light tree: the blocks must be BeautifulSoup's."""

from __future__ import annotations

import random

import pytest

from tracker.extract.html import fragment_blocks, html_blocks, soup_of

BASE = "https://aws.amazon.com/blogs/aws/a-post/"

# Markup where a tree builder's own rules show: strings of spaces only (kept as one space or one
# newline, except in <pre>), strings split by comments, end tags that close more than one
# element, unclosed and stray tags, implied <html>/<body>, a byte-order mark, entities.
FRAGMENTS = (
    "<p>Announcing <b>Amazon Kelp DB</b>, now available.</p>",
    "<p>one</p>   <p>two</p>\n\n<p>three</p>",
    "<ul>\n  <li><strong>AWS Pebble Store</strong> is now GA</li>\n  <li>Amazon <em>Zeta</em> &amp; more</li>\n</ul>",
    "<pre>  keep   these\n\n  spaces </pre> and <textarea>  these\t</textarea> too",
    "a<!-- a comment -->b<!---->  <!-- -->c",
    "<div><p>unclosed <b>bold <i>italic</p> after</div> tail",
    "</b></i>stray end tags<span> and an open span",
    "<h2>New: <a href='/relative/path'>Amazon Kelp</a></h2><p>text&nbsp;with&nbsp;nbsp</p>",
    "\ufeff<p>after a byte-order mark</p>",
    "<title>a title only</title>",
    "<?xml version='1.0'?><!DOCTYPE html><html><head><style>p {}</style></head><body><p>x</p></body></html>",
    "<table><tr><td>cell one</td><td> <b>cell</b> two</td></tr></table>",
    "<iframe src='https://www.youtube.com/embed/abcdefghijk'></iframe><video src='//v.example/x.mp4'></video>",
    "text, &lt;escaped&gt; tags and a <b>real</b> one",
    "<p>&amp;nbsp; twice-escaped &amp;amp;</p><script>var x = '<b>no</b>';</script>",
    "<ol><li>one<ul><li>nested <a href='https://aws.amazon.com/x'>link</a></li></ul></li><li>two</li></ol>",
    "<o:p>word markup</o:p><svg><text>drawn</text></svg> <br> <br/>after breaks",
    "<p>\u00a0\u2003 unicode spaces \u200b zero width</p>",
    "<h2 id='k'>Amazon Kelp<a class='headerlink' href='#k'>&para;</a></h2><p>see <a href='#k'>Kelp</a></p>",
)


def _reference(text: str) -> list[object]:
    soup = soup_of(text)
    return list(html_blocks(soup.body or soup, BASE))


@pytest.mark.parametrize("text", FRAGMENTS)
def test_fragment_blocks_are_beautifulsoups(text: str) -> None:
    assert fragment_blocks(text, BASE) == _reference(text)


def test_random_tag_soup_reads_as_beautifulsoup_reads_it() -> None:
    pieces = [
        "<p>", "</p>", "<b>", "</b>", "<i>", "</i>", "<a href='/x'>", "</a>", "<ul>", "</ul>", "<li>", "</li>",
        "<h3>", "</h3>", "<pre>", "</pre>", "<div>", "</div>", "<br>", "<!-- c -->", "  ", "\n", " \t ",
        "Amazon Kelp", "words", "&amp;", "&nbsp;", "<td>", "</table>", "<textarea>", "<", ">",
    ]  # fmt: skip
    rng = random.Random(14)
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        if text.strip():
            assert fragment_blocks(text, BASE) == _reference(text), text


@pytest.mark.parametrize("mark", ["&para;", "#", "\U0001f517", "\u00a7"])
def test_a_headings_permalink_is_not_part_of_its_words(mark: str) -> None:
    html = f"<h2 id='kelp'>Amazon Kelp DB<a class='headerlink' href='#kelp'>{mark}</a></h2>"
    for blocks in (fragment_blocks(html, BASE), _reference(html)):
        assert [b.text for b in blocks] == ["Amazon Kelp DB"]


def test_an_in_page_link_with_words_keeps_them() -> None:
    blocks = fragment_blocks("<p>see <a href='#kelp'>Amazon Kelp DB</a> below</p>", BASE)
    assert [b.text for b in blocks] == ["see Amazon Kelp DB below"]
