"""What's New (RSS and listing page), News Blog feed, post pages and roundups."""

from __future__ import annotations

from datetime import UTC, datetime


def test_whats_new_feed(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    docs = extract_fixture("whats-new-feed.xml")
    assert [d.kind for d in docs] == ["whats-new"] * 3
    assert all(len(d.announcements) == 1 for d in docs)
    first = docs[0].announcements[0]
    assert first.title == "Amazon ElastiCache Tiered Memory is now generally available"  # newlines collapsed
    assert first.url == "https://aws.amazon.com/about-aws/whats-new/2031/12/amazon-elasticache-tiered-memory"
    assert first.published_at == datetime(2031, 12, 9, 18, 0, tzinfo=UTC)
    assert first.service_tags == ("general:products/amazon-elasticache", "general:products/aws-govcloud-us")
    assert first.status == "ga"
    assert "&nbsp;" not in first.summary and "<" not in first.summary
    assert "storage. You keep & pay for less memory." in first.summary
    assert first.rule == "whats-new"
    second = docs[1].announcements[0]
    assert second.service_tags == ("general:products/amazon-widget-studio",)  # several <category> elements
    assert second.status == "preview"
    assert docs[2].announcements[0].service_tags == ()  # empty category


def test_whats_new_listing_page(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    docs = extract_fixture("whats-new-listing.html")
    assert [d.title for d in docs] == [
        "Amazon Widget Studio is now generally available",
        "Amazon S3 lists objects faster",
    ]
    ga = docs[0].announcements[0]
    assert ga.url == "https://aws.amazon.com/about-aws/whats-new/2031/12/amazon-widget-studio-ga/"
    assert ga.published_at == datetime(2031, 12, 20, tzinfo=UTC)
    assert ga.summary == "Amazon Widget Studio is now generally available."
    assert docs[1].published_at == datetime(2031, 12, 3, tzinfo=UTC)
    assert docs[1].url.endswith("/about-aws/whats-new/2031/12/amazon-s3-faster-lists/")


def test_news_blog_feed_launch_post(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    launch, roundup, heroes = extract_fixture("news-blog-feed.xml")
    assert launch.kind == "post"
    assert launch.author == "Dana Example"
    assert launch.published_at == datetime(2031, 12, 8, 16, 5, tzinfo=UTC)
    assert launch.categories == ("Amazon Widget Studio", "AWS re:Invent", "Launch", "News")
    assert launch.event == "AWS re:Invent 2031"  # an event category dated by the post
    [post] = launch.announcements
    assert post.title == "Introducing Amazon Widget Studio: build internal tools without code (preview)"
    assert post.url == "https://aws.amazon.com/blogs/aws/introducing-amazon-widget-studio/"
    assert post.summary.startswith("Today, we are launching Amazon Widget Studio in preview")
    assert post.service_tags == ("Amazon Widget Studio",)
    assert post.status == "preview"
    titles = {a.title for a in launch.announcements}
    assert not titles & {"How it works", "Now available", "Create widget", "Widget Templates"}


def test_news_blog_feed_roundup(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    _, roundup, _ = extract_fixture("news-blog-feed.xml")
    by_title = {a.title: a for a in roundup.announcements}
    assert list(by_title) == ["AWS Lambda announces durable timers", "snapshot diffs", "TTL archiving"]
    assert by_title["AWS Lambda announces durable timers"].url.endswith("/2031/12/aws-lambda-durable-timers/")
    assert by_title["AWS Lambda announces durable timers"].summary.startswith("functions can sleep")
    assert by_title["snapshot diffs"].service_tags == ("Amazon DynamoDB",)
    assert by_title["TTL archiving"].status == "preview"
    assert all("Last week’s launches" in a.context for a in roundup.announcements)
    # the post itself, prose links and the events section are not launches
    assert not {"AWS Summit season", "this post"} & set(by_title)
    assert roundup.title not in by_title


def test_news_blog_feed_non_launch_post(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    _, _, heroes = extract_fixture("news-blog-feed.xml")
    assert heroes.announcements == ()


def test_post_page(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("post-page.html")
    assert doc.kind == "post"
    assert doc.url == "https://aws.amazon.com/blogs/aws/amazon-aurora-quantum-tables-is-now-generally-available/"
    assert doc.title == "Amazon Aurora Quantum Tables is now generally available"
    assert doc.author == "Jamie Blogger"
    assert doc.published_at == datetime(2031, 12, 10, 17, 30, tzinfo=UTC)
    assert doc.categories == ("Amazon Aurora", "Launch", "News")
    post, data_api = doc.announcements
    assert post.rule == "post:title" and post.status == "ga"
    assert post.service_tags == ("Amazon Aurora",)
    assert post.summary.startswith("Today, I’m happy to announce")
    assert data_api.title == "Quantum Tables Data API" and data_api.marker == "New"
    titles = {a.title for a in doc.announcements}
    for absent in (
        "open-source driver",
        "Create table",
        "Pricing and availability",
        "An older Aurora post",
        "Introducing nav",
    ):
        assert absent not in titles


def test_roundup_page(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("roundup-page.html")
    assert doc.event == "AWS re:Invent 2031"
    by_title = {a.title: a for a in doc.announcements}
    assert list(by_title) == ["Amazon Aurora Quantum Tables is now generally available", "Amazon EC2 Zeta9 instances"]
    aurora = by_title["Amazon Aurora Quantum Tables is now generally available"]
    assert aurora.summary == "Rows replicated across three Regions with local reads."
    assert aurora.context == ("Databases",)
    assert by_title["Amazon EC2 Zeta9 instances"].service_tags == ("Amazon EC2",)
    assert by_title["Amazon EC2 Zeta9 instances"].context == ("Compute",)


def test_html_recap_with_embedded_videos() -> None:
    from tracker.extract import extract

    page = """<html><body><main>
    <h1>My AWS re:Invent 2031 notes</h1>
    <h2>Keynotes</h2>
    <h3>Riley Ceo - CEO AWS</h3>
    <iframe src="https://www.youtube.com/embed/RiLeYcEo002"></iframe>
    <ul><li>Storage<ul><li>Announcing <strong>Amazon S3 Lakes</strong>: tables in buckets</li>
    <li><strong>Customer obsession</strong> as usual</li></ul></li></ul>
    </main></body></html>"""
    [doc] = extract(page, url="https://example.org/notes.html")
    assert doc.event == "AWS re:Invent 2031"
    [session] = doc.sessions
    assert (session.key, session.kind, session.speakers) == ("RiLeYcEo002", "keynote", ("Riley Ceo",))
    [ann] = doc.announcements
    assert ann.title == "Amazon S3 Lakes" and ann.summary == "tables in buckets"
    # Innermost first: its own sentence, then the enclosing bullet, then the headings.
    assert ann.context == (
        "Announcing Amazon S3 Lakes: tables in buckets",
        "Storage",
        "Riley Ceo - CEO AWS",
        "Keynotes",
        "My AWS re:Invent 2031 notes",
    )
    assert ann.sessions == ("RiLeYcEo002",)


def test_news_blog_post_inside_another_sites_page() -> None:
    from tracker.extract import extract

    # A study site's page holding a copy of a News Blog post: the site's own heading comes first,
    # the post's title is the heading above its byline.
    page = """<html><body><nav><a href="/">Home</a></nav><main>
    <p><a href="/">Report</a> &gt; <a href="/blogs/">Translated Blogs</a> &gt; Blog 4</p>
    <h1>Blog 4</h1>
    <h1>Speed up builds with Amazon Quux Build Caches</h1>
    <p>by Ann Example and Bo Sample on 14 MAR 2031 in Amazon Quux, Announcements Permalink Share</p>
    <p>Today, we are excited to announce build caches for Amazon Quux, so that repeated builds
    reuse what earlier builds made.</p>
    <h2>How it works</h2>
    <p>Each cache keeps the outputs of a build for thirty days.</p>
    </main></body></html>"""
    [doc] = extract(page, url="https://example.org/blogs/blog4/")
    assert doc.title == "Speed up builds with Amazon Quux Build Caches"
    assert doc.published_at is not None and doc.published_at.date().isoformat() == "2031-03-14"
    assert "Announcements" in doc.categories
    titles = [a.title for a in doc.announcements]
    assert titles[0] == "Speed up builds with Amazon Quux Build Caches"
    assert "Blog 4" not in titles


def test_a_themes_blog_post_class_does_not_make_a_news_blog_post() -> None:
    from tracker.extract import extract

    # A personal recap from a theme that wraps every post in article.blog-post (Hugo's Beautiful
    # Hugo does), with none of the News Blog's title, body or meta blocks: a page like any other,
    # whose plain list of favourite announcements is read as such.
    page = """<html><head><title>Kelpcon 2031 - Blog</title></head><body>
    <div class="intro-header"><h1>Kelpcon 2031</h1></div>
    <article class="blog-post" role="main">
    <p>My team sent me to AWS re:Invent 2031 this year, and the keynotes were loud and fun.</p>
    <p>Some of my favourite announcements:</p>
    <ul>
    <li>Amazon Kelp DB</li>
    <li>EC2 Q9 instances: cheap compute for batch jobs.</li>
    <li>Lambda Pebble Layers</li>
    </ul>
    <p>Would go again!</p>
    </article></body></html>"""
    [doc] = extract(page, url="https://example.org/post/2031-12-10-kelpcon/")
    titles = [a.title for a in doc.announcements]
    assert {"Amazon Kelp DB", "EC2 Q9 instances", "Lambda Pebble Layers"} <= set(titles)
    assert not any("favourite" in t.lower() for t in titles)


def test_a_news_blog_article_with_its_meta_block_is_still_a_post() -> None:
    from tracker.extract import extract

    # Only the article's class and its meta block: still the News Blog's layout.
    page = """<html><body><article class="blog-post">
    <h1>Amazon Kelp DB is now generally available</h1>
    <footer class="blog-post-meta">by Ann Example on <time datetime="2031-12-10T08:00:00Z">10 DEC 2031</time></footer>
    <p>Today, we are announcing the general availability of Amazon Kelp DB, a graph database.</p>
    </article></body></html>"""
    [doc] = extract(page, url="https://aws.amazon.com/blogs/aws/amazon-kelp-db-ga/")
    assert doc.kind == "post"
    assert doc.published_at is not None and doc.published_at.date().isoformat() == "2031-12-10"


def test_a_posts_generic_forms_are_enumerated_only_for_someone_looking(extract_fixture, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The model never takes a generic form in a post's body or a roundup ("post" regime): a
    # backfill of posts does not enumerate them, while fitting and --explain still see them all.
    from tracker.extract import candidates as cands
    from tracker.extract.learn import recording

    calls: list[int] = []
    real = cands.generate
    monkeypatch.setattr(cands, "generate", lambda *a, **k: calls.append(1) or real(*a, **k))
    plain = extract_fixture("news-blog-feed.xml")
    assert calls == []
    with recording() as seen:
        looked_at = extract_fixture("news-blog-feed.xml")
    assert calls  # enumerated for whoever records them
    assert any(c.features.get("regime=post") for c in seen)
    assert [[a.title for a in d.announcements] for d in plain] == [
        [a.title for a in d.announcements] for d in looked_at
    ]


def test_a_saved_post_with_a_byline_of_bars_is_read_as_a_post() -> None:
    from tracker.extract import extract

    # The News Blog's newer byline, pasted as one line: "by X | on DATE | in CATEGORIES | Permalink".
    page = """<html><body><main>
    <h1>Blog 7</h1>
    <h1>Test faster with Quux Emulators in the Widget Toolkit</h1>
    <p>by Ann Example | on 14 MAR 2031 | in Announcements, Developer Tools, Launch | Permalink | Comments | Share</p>
    <p>Today, we're announcing Quux Emulator integration in the AWS Widget Toolkit, so that you can
    test functions on your laptop before you deploy them to Amazon Kelp DB.</p>
    <h2>Let's try it out</h2>
    <p>First, I update my copy of AWS Lambda and the AWS Serverless Application Model.</p>
    </main></body></html>"""
    [doc] = extract(page, url="https://example.org/blogs/blog7/")
    assert doc.published_at is not None and doc.published_at.date().isoformat() == "2031-03-14"
    assert "Launch" in doc.categories
    # A headline that sells the launch is not its name: the opening that announces it gives it.
    assert [a.title for a in doc.announcements] == ["Quux Emulator integration in the AWS Widget Toolkit"]


def test_a_pages_own_heading_under_the_sites_heading_is_its_title() -> None:
    from tracker.extract import extract

    page = """<html><body><main>
    <p><a href="/">Report</a> &gt; Blog 3</p>
    <h1>Blog 3</h1>
    <h1>Quux open models now available on AWS</h1>
    <p>On 5 March 2031, AWS announced that two Quux open models are now available in Amazon
    Bedrock and Amazon SageMaker, so that builders can run them without servers of their own.</p>
    <h2>Deployment Options</h2><p>Either service runs them.</p>
    </main></body></html>"""
    [doc] = extract(page, url="https://example.org/blogs/blog3/")
    assert doc.title == "Quux open models now available on AWS"
    [launch] = doc.announcements
    assert launch.title == "Quux open models now available on AWS"
    # A title that names no AWS service takes its services from the opening that tells of it.
    assert launch.context and "Amazon Bedrock" in launch.context[0]
