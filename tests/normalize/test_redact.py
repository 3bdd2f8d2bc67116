"""The one masking function and the control-character filter."""

from __future__ import annotations

from tracker.redact import mask_url, strip_controls


def test_credentials_and_secret_parameters_are_masked() -> None:
    masked = mask_url("http://user:password@Example.org:8080/feed?token=abc&page=2&api_key=k")
    assert "password" not in masked and "user" not in masked
    assert "abc" not in masked and "=k" not in masked
    assert masked.startswith("http://***@example.org:8080/feed?")
    assert "page=2" in masked


def test_a_url_without_secrets_is_unchanged() -> None:
    url = "https://aws.amazon.com/about-aws/whats-new/recent/feed/?x=1"
    assert mask_url(url) == url


def test_an_unparseable_url_keeps_nothing_before_the_at_sign() -> None:
    assert "pw" not in mask_url("http://u:pw@[::1/x")


def test_terminal_controls_and_bidi_overrides_are_removed() -> None:
    text = "Amazon \x1b[2J\x1b]0;owned\x07Foo\x07 \u202eexe.txt\tok\n"
    cleaned = strip_controls(text)
    assert cleaned == "Amazon Foo exe.txt\tok\n"


def test_eight_bit_escape_sequences_leave_no_debris() -> None:
    assert strip_controls("a\x9b2Jb \x9d0;title\x07c \x1b]2;t\x1b\\d") == "ab c d"


def test_every_url_in_a_message_is_masked() -> None:
    from tracker.redact import mask_text

    message = (
        "good, http://alice:s3cretpw@feeds.example.org/x.xml?token=T0KEN&x=1: HTTP 500; redirected "
        "https://a.example/b?sig=abc -> https://c.example/d?page=2."
    )
    masked = mask_text(message)
    assert "s3cretpw" not in masked and "T0KEN" not in masked and "abc" not in masked
    assert "http://***@feeds.example.org/x.xml?token=***&x=1: HTTP 500" in masked
    assert masked.endswith("https://c.example/d?page=2.")  # a URL without secrets, and its full stop, as they were
