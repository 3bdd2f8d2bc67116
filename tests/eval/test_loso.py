"""Leave-one-source-out: extraction measured on documents its model was not fitted on.

For each source (an author or site) of the labelled documents, the candidate model is fitted
on every other source and the shared scorer scores that source's documents. Two sets:
- the keys of documents in ../shared/corpus itself (always here, CI included);
- every key, with the external documents of tests/gold/ext (public documents that the project
  does not redistribute, see tests/gold/ext/SOURCES.md): run where they are present under
  ../shared/corpus/external, skipped with the reason elsewhere.
Pins sit at the figures measured when the set last changed: raise them, never lower them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.config import shipped_file
from tracker.extract import evaluation as ev
from tracker.extract import learn
from tracker.extract.rules import load_rules

pytestmark = pytest.mark.corpus

# (mean announcement F1, mean service accuracy, lowest announcement F1)
PIN_SHARED = (1.0, 0.998, 1.0)
# Every labelled document: 0.867 / 0.945 on 87 documents from 50 sources; six documents labelled
# since (three prose, three spoken, from five new sources; 0.50 mean F1 among them) brought it to
# 0.842 / 0.927 on 93; eight more (four rendered HTML pages, four markdown lists and digests, eight
# new sources; 0.62 mean F1 by the model of 93 before any change), with the L2 penalty 3 and "preview of X" read as X, bring it to
# 0.842 / 0.930 on 101; a newsletter no longer read as one launch post and the list-sibling
# features gave 0.856 / 0.932 on 101; six more (two recaps in German and Spanish, a slide deck, a
# copied weekly roundup, an HTML event report, a newsletter; six new sources; 0.53 mean F1 by the
# model of 101 before any change), with "Top 1 - X" and "New AWS Storage Feature: X" read as X, bring it to
# 0.844 / 0.941 on 107; four more (two Korean, one Chinese, one prose security recap; four new
# sources; 0.24 mean F1 by the model of 107 before any change), with titles in other scripts
# counted in their own words, items numbered inline read as a list, and brand-led names in prose
# that something calls news as candidates, bring it to 0.846 / 0.949 on 111 (0.860 / 0.948 on the
# 107 alone); five more (a rendered webinar report, a Vietnamese weekly roundup, a launch-post copy,
# two English recaps; five new sources; 0.70 mean F1 by the model of 111 before any change), with a
# paragraph written one item per line read as a list, bring it to 0.839 / 0.948 on 116; four more
# (a containers recap, summit notes, a weekly DevOps digest, a Japanese recap; four new sources;
# 0.82 mean F1 by the model of 116 before any change) bring it to 0.838 / 0.949 on 120; a title
# opening with a verb of advice ("Evaluate X", "Explored Y") and one ending as a Korean sentence
# marked as such, 0.842 / 0.949; four more (a keynote memo, a daily What's New digest, a Japanese
# catalogue of 2025 launches, recap-day notes; four new sources; 0.88 mean F1 by the model of 120
# before any change), with a launch link's "Introducing"/"Announcing" dropped from its title,
# 0.840 / 0.946 on 124; four more (re:Invent 2018 attendee notes of "Name: description" bullets, a
# Korean 2025 trend post, a DevOps newsletter, a rendered 2025 recap in prose; four new sources;
# 0.59 mean F1 by the model of 124 before any change) bring it to 0.833 / 0.942; each source's
# candidates weighed by its size to the power 0.3, not 0.5: 0.839 / 0.945 on 128. Seven more (an HTML
# What's New digest, a Chinese and a Portuguese recap, a Japanese weekly digest and diary, two
# Korean notes; seven new sources; 0.71 mean F1 by the model of 128 before any change) bring it to
# 0.828 / 0.942 on 135; lines opened by a bullet glyph ("・") read as a list, "new" in other
# languages ("(Novidade)", "新機能") read as the English marker, and a headline over its launch
# link on the next line a candidate with that link: 0.835 / 0.940; "goes GA" closing a title as its
# status, titles ending on a word that leads into more ("re:Invent 2022 and") and brand phrases
# ("AWS Cloud") no names: 0.838 / 0.943 on 135. Six more (a meetup's notes in English, a session
# summary, two Japanese and one Korean digest, a Chinese list, Whisper notes of a Taipei keynote; six
# new sources; 0.63 mean F1 by the model of 135 before any change) bring it to 0.828 / 0.936 on 141;
# launch section headings and launch words in other languages ("新產品發表", "Novidades", "lançou"),
# 0.829 / 0.936; bracketed launch labels ("[アップデート]", "【新機能】") and trailing hashtags left out of
# titles, CloudFormation resource types and site sections ("AWS What's New") no names: 0.830 / 0.936,
# 17 documents below 0.6 (20 before); a title of four words or more that ends as a Korean sentence
# no name (0.832 / 0.935); a references heading in other languages no session of its own, as
# measured by this test at the end of that work: 0.830 / 0.937, link F1 0.949, 19 below 0.6.
# Thirteen more (a re:Invent 2014 keynote summary, a saved What's New API answer in JSON, a Spanish
# Obsidian copy of a weekly roundup, a Portuguese RSS digest, a Japanese 2015 keynote list, a
# livestream's notes, a Korean attendee post, a dev.to 2025 recap, two consultant posts, a
# Vietnamese HTML roundup, 2016 keynote notes, Spanish podcast notes; twelve new sources; 0.53
# mean F1 for the first eight and 0.84 for the last five by the model of 141 before any change),
# with news kept as JSON read like a feed and "read more" link texts in other languages no names,
# bring it to 0.826 / 0.928 on 154 (link F1 0.954, 21 below 0.6). Four more (a French summit
# recap with no launch, a Japanese machine-written roundup summary fenced whole as markdown, a 2025
# recap, Washington DC summit notes; four new sources; 0.11 mean F1 by the model of 154 before any
# change) bring it to 0.804 / 0.916 on 158; a document fenced whole as markdown read inside its
# fence, and a roundup title without launch links read as any recap: 0.815 / 0.929 (link F1
# 0.948, 22 below 0.6). Four more (a security-minded 2023 recap, a 2025 post of WordPress block
# HTML in markdown, a machine-made multi-cloud digest, Korean webinar notes; four new sources;
# 0.80 mean F1 by the model of 158 before any change) bring it to 0.816 / 0.932 on 162 (link F1
# 0.9497, 23 below 0.6). Nine more (a 2022 recap of one heading per launch, 2013 keynote notes, a
# 2025 HTML recap with permalinks, a rewritten weekly roundup, three launch-post copies, two of them
# rendered under a study site's heading, a Japanese daily digest, personal notes of 2019 posts; nine
# new sources; 0.60 mean F1 by the model of 162 before any change) bring it to 0.800 / 0.928 on
# 170; a heading's permalink out of its words, "X Blog" / "X Official Site" and "Xとは" no names, a
# saved post's barred byline, its own heading under the site's, and the name its opening announces
# rather than a selling headline: 0.816 / 0.932 on 170, and with the ninth 0.812 / 0.932 on 171
# (link F1 0.952, 27 below 0.6); titles ending on a preposition no names, a launch inside a long
# block reading only the text around its name for its services, and the taxonomy knowing services
# retired from the SDK ("AWS IoT Analytics", "Amazon Monitron") and "CLI"/"SDK" only as AWS's with
# the brand: 0.819 / 0.947 on 171 (link F1 0.952, 23 below 0.6). Nine more (2015 keynote notes,
# summit notes, three Chinese machine translations of trade press, three rendered pages: an
# explainer of one launch, Chinese recap notes, Korean summit notes naming none; six new sources;
# 0.34 mean F1 by the model of 171 before any change) bring it to 0.796 / 0.944 on 180 (link F1
# 0.949, 30 below 0.6); a post whose opening says "X recently introduced Y" or "X today announced
# Y" mid-sentence read as Y's post (the explainer: 0.0 -> 1.0, no other document's output changed
# under one model): 0.801 / 0.949 on 180 (link F1 0.949, 29 below 0.6); a report ending on "Watch
# the whole keynote:" over its video tied to that keynote, "keynote" in Chinese, Japanese and
# Korean, "ml." instance sizes SageMaker's, Keyspaces' announced name and CloudShell in the
# taxonomy: 0.803 / 0.953 on 180 (link F1 0.955, 28 below 0.6). Five more (a 2019 serverless
# recap, a short 2020 post, a machine-written 2024 keynote summary, a retold weekly roundup, a
# Korean news brief; five new sources; 0.74 mean F1 by the shipped model before any change) bring
# it to 0.801 / 0.945 on 185; "Lambda: Provisioned Concurrency" read as that whole launch, not the
# service's name: 0.803 / 0.949 on 185 (link F1 0.956, 30 below 0.6). Six more (two Summit notes, a
# Spanish Summit essay, two rendered 2018 recaps, a July 2019 What's New digest, a bot's daily
# digest of r/aws; six new sources; 0.38 mean F1 by the shipped model before any change, a theme's
# article.blog-post read as a News Blog post already mended) bring it to 0.794 / 0.942 on 191
# (link F1 0.946, 33 below 0.6); a digest's bracketed rank "[2]" and an exclaimed "Finally!" out of
# titles: 0.800 / 0.943; a video titled as its own subject ("What is IAM, in five minutes") no talk
# about the section that recommends it: 0.799 / 0.946, link F1 0.946 -> 0.957 (33 below 0.6); names
# joined at a paragraph's head ("[X] and [Y] - …") each a candidate: 0.802 / 0.943 (32 below 0.6;
# the service figure falls by one document whose heading "X and Y" now matches a launch of
# another service than its first); a name written against Japanese ("ECSがVPC Lattice") parted from
# the next, not glued to it ("ECSVPC"), by the taxonomy: 0.802 / 0.949, 30 below 0.6. Six more (two
# Japanese recaps in markdown, Japanese podcast show notes, a French Summit report, a machine-written
# roundup brief and a copy of a News Blog post that announces nothing, both rendered; six new
# sources; 0.575 / 0.809 by the shipped model) bring it to 0.792 / 0.939 on 197 (link F1 0.953:
# the show notes link each keynote by its News Blog liveblog; 36 below 0.6). Eight more (two
# attendees' keynote notes of 2018, Korean podcast show notes and webinar notes, a meetup's recap
# links, a Japanese team newsletter, a 2017 personal digest, a Summit first-timer's essay; eight new
# sources; 0.623 / 0.909 and link F1 0.500 by the shipped model) bring it to 0.788 / 0.937 on 205
# (link F1 0.935: three of them tie every launch to a keynote named in a heading without a link,
# which other writers' keys do not count as a session; 38 below 0.6); a name inside a headline
# linked into What's New no launch of its own ("… using AWS CloudTrail"): 0.788 / 0.939, 37 below 0.6.
# Eight more (recaps of 2020, 2021 and 2024 in prose and headings, a 2025 serverless recap, a
# rendered 2022 list of What's New slugs, a rendered Korean 2018 recap, two copies of News Blog
# posts, one in Vietnamese; eight new sources; 0.614 / 0.701, link F1 0.875 by the shipped model)
# bring it to 0.778 / 0.930 on 213 (link F1 0.933, 39 below 0.6). A file's name is no launch's
# ("…_polly_98931.mp3", a link to a recording, was published as one): 0.7782 -> 0.7773, the fit
# without those negatives moving one podcast page's precision (no file name in it), lowered by
# that 0.001 knowingly. A digest's "Amazon S3: Feature name for what it does" read as the feature,
# not the service's bare name: 0.777 / 0.930 -> 0.778 / 0.927 (with the shipped model, which this
# change cannot refit: 0.787 / 0.930 -> 0.790 / 0.930, 38 -> 37 below 0.6); the service figure
# lost is one Portuguese RSS digest that the change does not touch (its fold's open threshold
# moved from 0.35 to 0.40 over two headlines at 0.39 and 0.38), lowered by 0.003 knowingly.
# Twelve more documents labelled blind (recaps of 2017, 2019, 2021, 2023, 2024 and 2025 in
# English, Chinese, Korean, Japanese, Portuguese and Vietnamese, a Hugo keynote recap, a
# Slidev deck, a Chinese copy of a weekly roundup, a Korean security digest; twelve new sources;
# 0.523 / 0.670, link F1 0.583 by the shipped model) bring it to 0.771 / 0.912 on 225 (link F1
# 0.914, 43 below 0.6). A list nested in an item about launches ("* keynote (and some of the
# announcements):") led in as a list after such a sentence is, "AWS unveiled X" read as X, and a
# section's number ("2.1 Amazon EC2 X") no part of the name: 0.772 / 0.913.
PIN_FULL = (0.772, 0.913, 0.0)
# Mean session-link F1 (issue 13: at least 0.95 on documents the rules were not written from).
PIN_LINK_SHARED = 1.0
# A Hugo or Jekyll video tag ("{{< youtube ID >}}") read as the embed player it renders: a keynote
# recap's one video ties its launches to it (0.914 -> 0.919 on 225).
PIN_LINK_FULL = 0.919


def _report(shared: Path, *, external: bool) -> ev.Report:
    keys, missing = ev.load_keys(shared)
    if external and missing:
        pytest.skip(
            f"{len(missing)} external documents are not under {shared / 'corpus' / 'external'} "
            "(see tests/gold/ext/SOURCES.md for where each comes from)"
        )
    if not external:
        keys = [key for key in keys if not key.external]
    rules = load_rules(shipped_file("extract.toml"))
    report = learn.loso(keys, rules, ev.load_scorer(shared))
    print(report.format())
    return report


@pytest.mark.parametrize(
    ("external", "pins", "link", "documents", "sources"),
    [(False, PIN_SHARED, PIN_LINK_SHARED, 40, 9), (True, PIN_FULL, PIN_LINK_FULL, 225, 183)],
    ids=["shared-corpus", "every-labelled-document"],
)
def test_loso(
    corpus: Path, external: bool, pins: tuple[float, float, float], link: float, documents: int, sources: int
) -> None:
    report = _report(corpus.parent, external=external)
    assert len(report.rows) >= documents
    assert len({key.source for key, _ in report.rows}) >= sources
    mean_f1, mean_svc, lowest = pins
    assert round(report.mean("announcement_f1"), 3) >= mean_f1
    assert round(report.mean("service_accuracy"), 3) >= mean_svc
    assert report.minimum("announcement_f1") >= lowest
    assert round(report.mean("link_f1"), 3) >= link
