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

from tracker.extract import extract
from tracker.extract.candidates import clean_title
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
        ("🚀 Introducing AWS Pebble Store", "AWS Pebble Store", None),
        ("Amazon Kelp DB is now generally available", "Amazon Kelp DB", "ga"),
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
        "1. **Amazon Kelp DB** - a serverless graph database. [Read more](https://aws.amazon.com/blogs/aws/kelp/)\n"
        "2. **AWS Pebble Store** - object storage for the edge. [Read more](https://aws.amazon.com/blogs/aws/pebble/)\n"
        "3. **Amazon EC2 Q9 Instances** - more memory bandwidth. [Read more](https://aws.amazon.com/blogs/aws/q9/)\n"
    )
    assert {"Amazon Kelp DB", "AWS Pebble Store", "Amazon EC2 Q9 Instances"} <= set(titles)
    assert "Read more" not in titles


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
        capture_output=True, text=True, timeout=120, check=True,
    )
    rows = json.loads(done.stdout)["candidates"]
    by_title = {r["title"]: r for r in rows}
    assert by_title["Amazon Kelp DB"]["accepted"] is True
    assert by_title["Customer obsession"]["accepted"] is False
    assert all(0.0 <= r["score"] <= 1.0 and r["forms"] for r in rows)
