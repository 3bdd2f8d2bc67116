"""A synthetic, deterministic corpus of AWS launch documents in the real formats.

Everything here is invented text (word lists below) laid out the way the real sources lay
out theirs: News Blog post pages (``article.blog-post``, ``h1.blog-post-title``,
``footer.blog-post-meta``, ``section.blog-post-content``), the News Blog RSS feed with
``content:encoded``, What's New RSS feeds (one ``general:products/<slug>`` category list per
item) and re:Invent recaps in markdown ("Announcing **Amazon X Feature**"). Service names
come from the project's own taxonomy so that normalisation has real work to do.

The same ``CorpusSize`` (sizes and seed) always gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

log = logging.getLogger(__name__)

BASE = "https://aws.amazon.com"
START = datetime(2016, 1, 4, 9, 0, tzinfo=UTC)
YEARS = 10
WN_PAGE = 100  # items per What's New archive page
BLOG_FEED_ITEMS = 20  # items in the News Blog feed, as WordPress serves it
DAILY_WN_ITEMS = 100  # items in the "recent" What's New feed a daily run reads

ADJECTIVES = (
    "faster",
    "cross-Region",
    "serverless",
    "zero-ETL",
    "fine-grained",
    "managed",
    "incremental",
    "adaptive",
    "encrypted",
    "multi-tenant",
    "event-driven",
    "tiered",
    "scheduled",
    "private",
    "elastic",
    "regional",
    "global",
    "streaming",
    "columnar",
    "automatic",
)
NOUNS = (
    "snapshots",
    "replication",
    "access policies",
    "cost alarms",
    "query acceleration",
    "log insights",
    "table exports",
    "capacity reservations",
    "schema registry",
    "vector search",
    "audit trails",
    "failover",
    "warm pools",
    "burst credits",
    "batch inference",
    "data masking",
    "change streams",
    "blue/green deployments",
    "workload tags",
    "usage reports",
    "connection pooling",
    "IPv6 endpoints",
)
VERBS = (
    "now supports",
    "adds",
    "introduces",
    "announces",
    "launches",
    "now offers",
    "expands",
    "is now generally available in",
    "now integrates",
)
FILLER = (
    "Customers told us they wanted fewer moving parts.",
    "You pay only for what you use.",
    "There is nothing to install and no servers to manage.",
    "It works with your existing tools.",
    "Setup takes a few clicks in the console.",
    "The feature is on by default for new resources.",
    "You can turn it on with one API call.",
    "Existing workloads keep running unchanged.",
    "Metrics appear in your dashboards within minutes.",
    "Pricing follows the usual per-hour model.",
)
REGIONS = (
    "US East (N. Virginia)",
    "US West (Oregon)",
    "Europe (Ireland)",
    "Asia Pacific (Tokyo)",
    "all commercial Regions",
)
AUTHORS = ("Dana Example", "Sam Writer", "Alex Host", "Jamie Blogger", "Riley Maker", "Jordan Builder")
CATEGORY_BY_SERVICE_DEFAULT = "general"


@dataclass(frozen=True)
class CorpusSize:
    """How much to generate, and the seed that makes it reproducible."""

    posts: int = 15_000
    whats_new: int = 30_000
    announcements: int = 100_000
    seed: int = 2016

    def scaled(self, factor: float) -> CorpusSize:
        """The same corpus shape at another size."""
        return CorpusSize(
            posts=max(20, int(self.posts * factor)),
            whats_new=max(DAILY_WN_ITEMS, int(self.whats_new * factor)),
            announcements=max(1000, int(self.announcements * factor)),
            seed=self.seed,
        )


@dataclass(frozen=True)
class ServiceName:
    """The slice of a taxonomy service the generator needs."""

    slug: str
    name: str
    category: str


@dataclass
class Manifest:
    """The generated files, grouped by how they are ingested."""

    root: str
    size: dict[str, int]
    post_pages: list[str]
    whats_new_pages: list[str]
    recaps: list[str]
    daily_blog_feed: str
    daily_whats_new_feed: str
    bytes_total: int

    def backfill_files(self) -> list[str]:
        """Every document a ten-year backfill imports."""
        return [*self.post_pages, *self.whats_new_pages, *self.recaps]

    def save(self, path: Path) -> None:
        """Write the manifest as JSON."""
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a manifest written by `save`."""
        return cls(**json.loads(path.read_text()))


def taxonomy_services() -> list[ServiceName]:
    """The canonical services of the project's taxonomy (sorted by slug for determinism)."""
    from tracker.normalize import Taxonomy

    repo = Path(__file__).resolve().parents[2]
    taxonomy = Taxonomy.load(repo / "config")
    return sorted(
        (ServiceName(s.slug, s.name, s.category or CATEGORY_BY_SERVICE_DEFAULT) for s in taxonomy.services),
        key=lambda s: s.slug,
    )


class _Words:
    """Deterministic random choices; popular services get most launches (Zipf-like)."""

    def __init__(self, seed: int, services: list[ServiceName]) -> None:
        self.rng = random.Random(seed)
        self.services = services
        # Weight 1/rank: a handful of services (S3, EC2, Lambda...) dominate, as in reality.
        self.weights = [1.0 / (rank + 1) for rank in range(len(services))]
        order = list(range(len(services)))
        random.Random(seed + 1).shuffle(order)
        self.ranked = [services[i] for i in order]

    def service(self) -> ServiceName:
        return self.rng.choices(self.ranked, weights=self.weights, k=1)[0]

    def feature(self) -> str:
        return f"{self.rng.choice(ADJECTIVES)} {self.rng.choice(NOUNS)}"

    def sentences(self, n: int) -> str:
        return " ".join(self.rng.choice(FILLER) for _ in range(n))

    def when(self, index: int, total: int) -> datetime:
        # Spread evenly over ten years with a little jitter, oldest first.
        span = timedelta(days=365 * YEARS).total_seconds()
        base = START + timedelta(seconds=span * index / max(total, 1))
        return base + timedelta(minutes=self.rng.randrange(0, 600))


def _slug(text: str) -> str:
    out = "".join(ch if ch.isalnum() else "-" for ch in text.lower())
    return "-".join(part for part in out.split("-") if part)[:90]


def _uid(*parts: object) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()


def _pacific(dt: datetime) -> str:
    return (dt - timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S-08:00")


@dataclass(frozen=True)
class WhatsNewItem:
    """One What's New entry."""

    title: str
    url: str
    service: ServiceName
    published: datetime
    body: str
    guid: str


def _whats_new_item(words: _Words, index: int, total: int) -> WhatsNewItem:
    svc = words.service()
    feature = words.feature()
    verb = words.rng.choice(VERBS)
    published = words.when(index, total)
    title = f"{svc.name} {verb} {feature}"
    if verb.endswith(" in"):
        title = f"{svc.name} {feature} is now generally available in {words.rng.choice(REGIONS)}"
    slug = _slug(f"{svc.slug} {feature} {index}")
    url = f"{BASE}/about-aws/whats-new/{published:%Y/%m}/{slug}/"
    body = (
        f"<p>{escape(svc.name)} now offers {escape(feature)}. {escape(words.sentences(2))}</p>"
        f"<p>It is available in {escape(words.rng.choice(REGIONS))}. To learn more, read the "
        f'<a href="{BASE}/{svc.slug}/">documentation</a>.</p>'
    )
    return WhatsNewItem(title, url, svc, published, body, _uid("wn", index))


def whats_new_feed(items: list[WhatsNewItem], *, title: str = "Recent Announcements") -> str:
    """A What's New RSS 2.0 feed of the given items, newest first."""
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n<rss version="2.0">\n    <channel>\n',
        f"        <link>{BASE}/about-aws/whats-new/recent/</link>\n        <title>{escape(title)}</title>\n",
        "        <description>Launches from Amazon Web Services.</description>\n",
    ]
    if items:
        newest = max(i.published for i in items)
        out.append(f"        <lastBuildDate>{format_datetime(newest, usegmt=True)}</lastBuildDate>\n")
    for item in sorted(items, key=lambda i: i.published, reverse=True):
        out.append(
            "        <item>\n"
            f'            <guid isPermaLink="false">{item.guid}</guid>\n'
            f"            <title>{escape(item.title)}</title>\n"
            f"            <description>{escape(item.body)}</description>\n"
            f"            <pubDate>{format_datetime(item.published, usegmt=True)}</pubDate>\n"
            f"            <category>general:products/{item.service.slug},marketing:marchitecture/{item.service.category}</category>\n"
            "            <author>aws@amazon.com</author>\n"
            f"            <link>{item.url}</link>\n"
            "        </item>\n"
        )
    out.append("    </channel>\n</rss>\n")
    return "".join(out)


@dataclass(frozen=True)
class Post:
    """One News Blog post."""

    title: str
    url: str
    author: str
    published: datetime
    categories: tuple[tuple[str, str], ...]  # (label, category path)
    content: str  # the inner HTML of section.blog-post-content


def _post(words: _Words, index: int, total: int, whats_new: list[WhatsNewItem]) -> Post:
    published = words.when(index, total)
    author = words.rng.choice(AUTHORS)
    if index % 12 == 11 and whats_new:
        # A weekly roundup: bold service, a link to What's New, one line each.
        picks = [words.rng.choice(whats_new) for _ in range(words.rng.randrange(4, 9))]
        title = f"AWS Weekly Roundup: {picks[0].service.name}, {picks[1].service.name} and more ({published:%B} {published.day}, {published.year})"
        lis = "".join(
            f'<li><strong>{escape(p.service.name)}</strong> – <a href="{p.url}">{escape(p.title)}</a> '
            f"{escape(words.sentences(1))}</li>\n"
            for p in picks
        )
        content = (
            f"<p>Here is what caught my eye last week. {escape(words.sentences(1))}</p>\n"
            f"<p><strong>Last week&#8217;s launches</strong><br/>Here are the launches that got my attention.</p>\n"
            f"<ul>\n{lis}</ul>\n<p><strong>Upcoming events</strong><br/>Join us at a summit near you.</p>\n"
        )
        cats = (("News", "news"), ("Week in Review", "week-in-review"))
    else:
        svc = words.service()
        feature = words.feature()
        title = words.rng.choice(
            (
                f"Introducing {svc.name} {feature}",
                f"New {feature} for {svc.name}",
                f"{svc.name} {feature} is now generally available",
                f"Announcing {feature} in {svc.name}",
            )
        )
        extras = "".join(
            f"<li>New <b>{escape(words.feature().title())}</b> {escape(words.sentences(1).lower())}</li>\n"
            for _ in range(words.rng.randrange(0, 3))
        )
        paragraphs = "".join(f"<p>{escape(words.sentences(3))}</p>\n" for _ in range(words.rng.randrange(3, 8)))
        content = (
            '<table id="amazon-polly-audio-table"><tr><td><img alt="Voiced by Polly" '
            'src="https://a0.awsstatic.com/aws-blog/images/Voiced_by_Amazon_Polly_EN.png"></td></tr></table>\n'
            f'<p>Today, we are launching <a href="{BASE}/{svc.slug}/">{escape(svc.name)}</a> {escape(feature)}. '
            f"{escape(words.sentences(2))}</p>\n{paragraphs}"
            f"<h3>How it works</h3>\n<p>{escape(words.sentences(2))}</p>\n"
            + (f"<ul>\n{extras}</ul>\n" if extras else "")
            + f"<p><strong>Now available</strong><br/>It is available in {escape(words.rng.choice(REGIONS))}.</p>\n"
            f"<p>— {escape(author.split()[0])}</p>\n<!-- '\"` -->\n"
        )
        cats = ((svc.name, f"{svc.category}/{svc.slug}"), ("Launch", "news/launch"), ("News", "news"))
    url = f"{BASE}/blogs/aws/{_slug(title)}-{index}/"
    return Post(title, url, author, published, cats, content)


def post_page(post: Post) -> str:
    """A News Blog post page."""
    shown = f"{post.published:%d %b %Y}".upper()  # "07 OCT 2020", as the real pages show it
    cats = ", ".join(
        f'<a href="{BASE}/blogs/aws/category/{path}/" title="View all posts in {escape(label)}">'
        f'<span property="articleSection">{escape(label)}</span></a>'
        for label, path in post.categories
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n'
        f"  <title>{escape(post.title)} | AWS News Blog</title>\n"
        f'  <meta property="og:title" content="{escape(post.title)}">\n'
        f'  <meta property="article:published_time" content="{_pacific(post.published)}">\n'
        f'  <link rel="canonical" href="{post.url}">\n</head>\n<body>\n'
        f'<nav><ul><li><a href="{BASE}/blogs/aws/">Blog home</a></li></ul></nav>\n<main>\n'
        '<article class="blog-post">\n'
        f'  <h2 class="lb-h5 blog-title"><a href="{BASE}/blogs/aws/">AWS News Blog</a></h2>\n'
        f'  <h1 class="lb-h2 blog-post-title">{escape(post.title)}</h1>\n'
        f'  <footer class="blog-post-meta">by <span property="author" typeof="Person"><span property="name">{escape(post.author)}</span></span>\n'
        f'    on <time property="datePublished" datetime="{_pacific(post.published)}">{shown}</time>\n'
        f'    in <span class="blog-post-categories">{cats}</span>\n'
        f'    | <a href="{post.url}" property="url">Permalink</a></footer>\n'
        f'  <section class="blog-post-content lb-rtxt" property="articleBody">\n{post.content}  </section>\n'
        "</article>\n</main>\n"
        f'<footer><a href="{BASE}/blogs/aws/feed/">RSS Feed</a></footer>\n</body>\n</html>\n'
    )


def blog_feed(posts: list[Post]) -> str:
    """The News Blog RSS feed (content:encoded) of the given posts, newest first."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"\n'
        '\txmlns:content="http://purl.org/rss/1.0/modules/content/"\n'
        '\txmlns:dc="http://purl.org/dc/elements/1.1/"\n\txmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f'\t<title>AWS News Blog</title>\n\t<atom:link href="{BASE}/blogs/aws/feed/" rel="self" type="application/rss+xml" />\n'
        f"\t<link>{BASE}/blogs/aws/</link>\n\t<description>Announcements, Updates, and Launches</description>\n"
    ]
    for post in sorted(posts, key=lambda p: p.published, reverse=True):
        cats = "".join(f"\t\t<category><![CDATA[{label}]]></category>\n" for label, _ in post.categories)
        out.append(
            "\t<item>\n"
            f"\t\t<title>{escape(post.title)}</title>\n\t\t<link>{post.url}</link>\n"
            f"\t\t<dc:creator><![CDATA[{post.author}]]></dc:creator>\n"
            f"\t\t<pubDate>{format_datetime(post.published)}</pubDate>\n{cats}"
            f'\t\t<guid isPermaLink="false">{_uid("post", post.url)}</guid>\n'
            f"\t\t<description>{escape(post.title)}</description>\n"
            f"\t\t<content:encoded><![CDATA[{post.content}]]></content:encoded>\n\t</item>\n"
        )
    out.append("</channel>\n</rss>\n")
    return "".join(out)


def recap(words: _Words, year: int, whats_new: list[WhatsNewItem]) -> str:
    """A re:Invent recap in markdown: keynotes with bold launches, some taken from What's New."""
    lines = [
        "---",
        f"title: AWS re:Invent {year}",
        "tags: aws",
        "---",
        "",
        f"My notes from a week of re:Invent {year} sessions.",
        "",
        "# Keynotes",
        "",
    ]
    for speaker in ("Casey Keynoter - CEO AWS", "Morgan Engineer - CTO Amazon.com", "Taylor Vice - VP Data"):
        video = _uid("kv", year, speaker)[:11]
        lines += [f"## {speaker}", "", f"[YouTube](https://youtu.be/{video})", "", f"* {words.sentences(1)}"]
        for _ in range(words.rng.randrange(5, 12)):
            if whats_new and words.rng.random() < 0.4:
                item = words.rng.choice(whats_new)
                lines.append(
                    f"    * Announcing **{item.service.name} {item.title.split(' ', len(item.service.name.split()))[-1]}**"
                )
            else:
                svc = words.service()
                lines.append(
                    f"    * Announcing **{svc.name} {words.feature().title()}** - {words.sentences(1).lower()}"
                )
            lines.append(f"        * {words.sentences(1)}")
        lines.append("")
    return "\n".join(lines) + "\n"


def generate(root: Path, size: CorpusSize) -> Manifest:
    """Write the corpus under root (idempotent: same size and seed, same bytes) and return its manifest."""
    root.mkdir(parents=True, exist_ok=True)
    marker = root / "manifest.json"
    if marker.exists():
        manifest = Manifest.load(marker)
        if manifest.size == asdict(size):
            return manifest
    words = _Words(size.seed, taxonomy_services())
    total = 0

    def write(rel: str, text: str) -> str:
        nonlocal total
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        path.write_bytes(data)
        total += len(data)
        return str(path)

    items = [_whats_new_item(words, i, size.whats_new) for i in range(size.whats_new)]
    wn_pages = [
        write(f"about-aws/whats-new/archive/page-{n:05d}.xml", whats_new_feed(items[start : start + WN_PAGE]))
        for n, start in enumerate(range(0, len(items), WN_PAGE))
    ]
    posts: list[Post] = []
    pages: list[str] = []
    for i in range(size.posts):
        # A roundup links to the What's New items of about the same time.
        near = items[max(0, i * len(items) // size.posts - 50) : i * len(items) // size.posts + 1]
        post = _post(words, i, size.posts, near)
        posts.append(post)
        pages.append(write(f"blogs/aws/{post.url.rstrip('/').rsplit('/', 1)[-1]}/index.html", post_page(post)))
    recaps = [
        write(
            f"recaps/reinvent-{year}.md", recap(words, year, [it for it in items if it.published.year == year][-200:])
        )
        for year in range(START.year, START.year + YEARS)
    ]
    daily_blog = write("blogs/aws/feed/index.xml", blog_feed(posts[-BLOG_FEED_ITEMS:]))
    daily_wn = write("about-aws/whats-new/recent/feed/index.xml", whats_new_feed(items[-DAILY_WN_ITEMS:]))
    manifest = Manifest(
        root=str(root),
        size=asdict(size),
        post_pages=pages,
        whats_new_pages=wn_pages,
        recaps=recaps,
        daily_blog_feed=daily_blog,
        daily_whats_new_feed=daily_wn,
        bytes_total=total,
    )
    manifest.save(marker)
    log.info("generated %d files (%.1f MB) under %s", len(pages) + len(wn_pages) + len(recaps) + 2, total / 1e6, root)
    return manifest


def edit_one_whats_new_item(path: Path, seed: int) -> str:
    """Change the text of the newest item of a What's New feed (a real edit at the source); returns its title."""
    text = path.read_text()
    start = text.index("<description>", text.index("<item>")) + len("<description>")
    marker = escape(f"<p>Update {seed}: now also in {REGIONS[seed % len(REGIONS)]}.</p>")
    path.write_text(text[:start] + marker + text[start:])
    title_start = text.index("<title>", text.index("<item>")) + len("<title>")
    return text[title_start : text.index("</title>", title_start)]


@dataclass(frozen=True)
class AnnouncementSeed:
    """One synthetic stored announcement for bulk loading (query and scale benchmarks)."""

    key: str
    title: str
    summary: str
    url: str
    announced_at: datetime
    service_slugs: tuple[str, ...]
    event_year: int | None


def announcement_rows(count: int, *, seed: int, offset: int = 0) -> Iterator[AnnouncementSeed]:
    """Stream `count` synthetic announcements (numbered from offset); the same arguments give the same rows."""
    words = _Words(seed * 7919 + offset, taxonomy_services())
    for i in range(offset, offset + count):
        svc = words.service()
        feature = words.feature()
        slugs = [svc.slug]
        if words.rng.random() < 0.2:
            other = words.service()
            if other.slug != svc.slug:
                slugs.append(other.slug)
        when = START + timedelta(seconds=words.rng.randrange(0, 365 * YEARS * 86400))
        in_event = when.month == 12 and when.day <= 6
        yield AnnouncementSeed(
            key=f"bench:{i}",
            title=f"{svc.name} {words.rng.choice(VERBS)} {feature}",
            summary=words.sentences(2),
            url=f"{BASE}/about-aws/whats-new/{when:%Y/%m}/bench-{i}/",
            announced_at=when,
            service_slugs=tuple(slugs),
            event_year=when.year if in_event else None,
        )
