"""Scoring announcement ↔ session pairs: pure functions returning `Link` values.

Two methods:
- structural: an announcement made inside a session's section of a document (a keynote
  heading with its video link) is covered by that session, score 1.0;
- title: a session whose title names the launch covers it. The score is the share of the
  launch's distinctive words (its title without stop words and without its services' names)
  found in the session title, each word weighted by how rare it is among the session titles
  (``TokenWeights``: "serverless" or "data" say less than "limitless"). The session must also
  name every service of the launch; a session that names the service and nothing of the
  launch (a generic "Dive deep on Amazon S3") scores ``GENERIC_SCORE``, below any sane
  threshold, while a round-up of the service's launches ("What's new with Amazon S3", "New
  … capabilities in X") scores ``WHATS_NEW_SCORE`` for the launches that hold the rest of
  its name ("What's new with Amazon Q Developer *agents*"). A launch that is only a service's
  name is a new service: a session whose subject is that name ("Kiro: your agentic IDE", "…
  with Kiro", "Deep dive into X"; "AWS re:Post" when the taxonomy does not know it yet)
  scores ``NEW_SERVICE_SCORE``. A session that names the product a launch names and nothing
  of what the launch adds to it ("Bedrock Knowledge Bases now supports *GraphRAG*", "SageMaker
  HyperPod *flexible training plans*") is about another part of the product; one about a
  product both write the same way ("the Amazon Q index") scores ``SHARED_PRODUCT_SCORE``.
  The other way round, a session named after part of a long launch title, whose own words
  (by weight) are at least ``SESSION_COVERAGE`` the launch's, scores
  ``SESSION_COVERED_SCORE``. An acronym matches its long form ("RUM", "Real-User
  Monitoring"). A wrong link is worse than a missing one;
- meaning: with the optional extra `semantic` (tracker/meaning.py), a session that already
  shares words with the launch (title score of at least ``MEANING_NEEDS_WORDS``) and says
  the same thing in other words ("Real-User Monitoring for Amazon CloudWatch" and "… with
  Amazon CloudWatch RUM") links with its similarity as score, from ``SAME_MEANING`` up.

``SessionIndex`` finds the candidates of an announcement through an inverted index by token,
so linking costs what the shared words cost, never all pairs.
"""

from __future__ import annotations

from tracker.link.document import DocumentLaunch, DocumentSession, links_in_document, structural_link
from tracker.link.index import MEANING_NEEDS_WORDS, SAME_MEANING, SessionIndex
from tracker.link.match import (
    GENERIC_SCORE,
    MISSING_SERVICE_FACTOR,
    NAMED_LAUNCH_SCORE,
    NEW_SERVICE_SCORE,
    SESSION_COVERAGE,
    SESSION_COVERED_SCORE,
    SHARED_PRODUCT_SCORE,
    SINGLE_WEAK_WORD_CAP,
    WHATS_NEW_SCORE,
    Candidate,
    SessionMatch,
    _service_names,
    best_links,
    is_whats_new,
    launch_feature_words,
    launch_name_words,
    score_title_match,
    stale_title_links,
)
from tracker.link.words import STOPWORDS, TOKEN, UNIFORM, TokenWeights, distinctive, tokens, words

__all__ = [
    "GENERIC_SCORE",
    "MEANING_NEEDS_WORDS",
    "MISSING_SERVICE_FACTOR",
    "NAMED_LAUNCH_SCORE",
    "NEW_SERVICE_SCORE",
    "SAME_MEANING",
    "SESSION_COVERAGE",
    "SESSION_COVERED_SCORE",
    "SHARED_PRODUCT_SCORE",
    "SINGLE_WEAK_WORD_CAP",
    "STOPWORDS",
    "TOKEN",
    "UNIFORM",
    "WHATS_NEW_SCORE",
    "Candidate",
    "DocumentLaunch",
    "DocumentSession",
    "SessionIndex",
    "SessionMatch",
    "TokenWeights",
    "_service_names",
    "best_links",
    "distinctive",
    "is_whats_new",
    "launch_feature_words",
    "launch_name_words",
    "links_in_document",
    "score_title_match",
    "stale_title_links",
    "structural_link",
    "tokens",
    "words",
]
