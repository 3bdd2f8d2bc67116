"""Linking is pure: tested on titles alone."""

from __future__ import annotations

from tracker.link import Candidate, best_links, links_in_document, score_title_match

THRESHOLD = 0.6


def test_session_naming_the_launch_links_strongly() -> None:
    ann = Candidate("Amazon Lakehouse Turbo", ("Amazon Lakehouse",), "aws-reinvent-2030")
    ses = Candidate("Introducing Amazon Lakehouse Turbo", (), "aws-reinvent-2030")
    link = score_title_match(ann, ses)
    assert link is not None and link.method == "title" and link.score >= 0.9
    assert "turbo" in link.reason


def test_generic_service_session_scores_below_threshold() -> None:
    ann = Candidate("Amazon Widgets Instant Restore", ("Amazon Widgets",), "ev-2030")
    generic = Candidate("What's new with Amazon Widgets", (), "ev-2030")
    link = score_title_match(ann, generic)
    assert link is not None and link.score < THRESHOLD


def test_other_event_never_links() -> None:
    ann = Candidate("Quantum Ledger Streams", (), "aws-reinvent-2030")
    ses = Candidate("Quantum Ledger Streams deep dive", (), "aws-reinvent-2029")
    assert score_title_match(ann, ses) is None


def test_unrelated_session_has_no_link() -> None:
    ann = Candidate("Graph Notebook Sharing", ("Amazon Neptune",), None)
    ses = Candidate("Cost optimisation for data lakes", (), None)
    assert score_title_match(ann, ses) is None


def test_partial_word_overlap_stays_below_threshold() -> None:
    ann = Candidate("Next-generation adaptive query scaling", ("Amazon Redshift",), None)
    ses = Candidate("Scaling generative workloads on containers", (), None)
    link = score_title_match(ann, ses)
    assert link is None or link.score < THRESHOLD


def test_best_links_orders_and_filters() -> None:
    ann = Candidate("Streamline Vector Buckets", ("Amazon S3",), None)
    sessions = [
        ("a", Candidate("Cooking with vectors", (), None)),
        ("b", Candidate("Deep dive on Amazon S3 Streamline Vector Buckets", (), None)),
        ("c", Candidate("What's new in Amazon S3", (), None)),
    ]
    links = best_links(ann, sessions, THRESHOLD)
    assert [key for key, _ in links] == ["b"]


def test_links_in_document_structural_first_then_titles() -> None:
    sessions = [("k1", "Jane Doe - VP Storage", "ev"), ("b1", "Introducing Frobnicator Serverless", "ev")]
    anns = [
        ("Frobnicator Serverless", ("Amazon Frobnicator",), ("k1",), "ev"),
        ("Unrelated thing", (), ("k1",), "ev"),
        ("Orphan launch", (), (), "ev"),
    ]
    result = links_in_document(sessions, anns, THRESHOLD)
    assert [(k, l.method) for k, l in result[0]] == [("k1", "structural"), ("b1", "title")]
    assert [(k, l.method) for k, l in result[1]] == [("k1", "structural")]
    assert result[2] == []
