"""Linking is pure: tested on titles alone."""

from __future__ import annotations

from tracker.link import (
    NEW_SERVICE_SCORE,
    Candidate,
    DocumentLaunch,
    DocumentSession,
    best_links,
    links_in_document,
    score_title_match,
)

THRESHOLD = 0.6


def test_session_naming_the_launch_links_strongly() -> None:
    ann = Candidate("Amazon Lakehouse Turbo", ("Amazon Lakehouse",), "aws-reinvent-2030")
    ses = Candidate("Introducing Amazon Lakehouse Turbo", (), "aws-reinvent-2030")
    link = score_title_match(ann, ses)
    assert link is not None and link.method == "title" and link.score >= 0.9
    assert "turbo" in link.reason


def test_generic_service_session_scores_below_threshold() -> None:
    ann = Candidate("Amazon Widgets Instant Restore", ("Amazon Widgets",), "ev-2030")
    generic = Candidate("Dive deep on Amazon Widgets", (), "ev-2030")
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
    assert [match.session for match in links] == ["b"]


def test_links_in_document_structural_first_then_titles() -> None:
    sessions = [
        DocumentSession("k1", "Jane Doe - VP Storage", "ev"),
        DocumentSession("b1", "Introducing Frobnicator Serverless", "ev"),
    ]
    anns = [
        DocumentLaunch("Frobnicator Serverless", ("Amazon Frobnicator",), ("k1",), "ev"),
        DocumentLaunch("Unrelated thing", (), ("k1",), "ev"),
        DocumentLaunch("Orphan launch", (), (), "ev"),
    ]
    result = links_in_document(sessions, anns, THRESHOLD)
    assert [(m.session, m.link.method) for m in result[0]] == [("k1", "structural"), ("b1", "title")]
    assert [(m.session, m.link.method) for m in result[1]] == [("k1", "structural")]
    assert result[2] == []


# --------------------------------------------------------------------------- wrong links turned into tests
# Each case below is a wrong link the scorer once made on the real corpus (see the closing note of
# issue 4), rewritten with invented launches and sessions.

from tracker.link import GENERIC_SCORE, WHATS_NEW_SCORE, SessionIndex, TokenWeights, launch_name_words, tokens  # noqa: E402


def test_session_must_name_every_service_of_the_launch() -> None:
    # "AWS CodePipeline adds CloudWatch Metrics support" once linked to a CloudWatch Metrics session
    ann = Candidate("Amazon Widgets adds Gauge Metrics support", ("Amazon Widgets", "Amazon Gauge"), "ev")
    ses = Candidate("Insights from Gauge Metrics at scale", (), "ev")
    link = score_title_match(ann, ses)
    assert link is not None and link.score < THRESHOLD and "does not name Amazon Widgets" in link.reason


def test_multi_service_integration_needs_all_its_services() -> None:
    # "Aurora…, DynamoDB zero ETL integrations with Redshift" once linked to "DynamoDB … with OpenSearch"
    ann = Candidate(
        "Amazon Foo and Amazon Bar zero copy integration with Amazon Baz",
        ("Amazon Foo", "Amazon Bar", "Amazon Baz"),
        "ev",
    )
    other = Candidate("Amazon Bar zero copy integration with Amazon Qux", (), "ev")
    right = Candidate("Zero copy integration of Amazon Foo and Amazon Bar with Amazon Baz", (), "ev")
    assert score_title_match(ann, other).score < THRESHOLD  # type: ignore[union-attr]
    assert score_title_match(ann, right).score >= THRESHOLD  # type: ignore[union-attr]


def test_launch_name_word_must_be_in_the_session() -> None:
    # "Amazon RDS Custom for SQL Server…" once linked to "Migrate your SQL Server database to Amazon RDS"
    ann = Candidate("Amazon Tables Bespoke for Cobol Engine Is Generally Available", ("Amazon Tables",), "ev")
    migrate = Candidate("Move your Cobol Engine workloads to Amazon Tables", (), "ev")
    launch = Candidate("Tailor Cobol Engine databases with Amazon Tables Bespoke", (), "ev")
    wrong = score_title_match(ann, migrate)
    assert wrong is not None and wrong.score < THRESHOLD and "bespoke" in wrong.reason
    assert score_title_match(ann, launch).score >= 0.9  # type: ignore[union-attr]


def test_first_word_of_a_sentence_is_not_the_launch_name() -> None:
    # "Simplify IAM policy creation with IAM Policy Autopilot…" once linked to "Simplify Data Lake Access with IAM…"
    services = ("AWS Gatekeeper",)
    ann = Candidate("Simplify rule writing with Gatekeeper Rule Pilot, a new open source helper", services, "ev")
    from tracker.link import _service_names

    assert launch_name_words(ann.title, _service_names(ann)) == {"rule", "pilot"}
    other = Candidate("Simplify lake access with Gatekeeper Identity Hub", (), "ev")
    right = Candidate("From code to rules: faster development with Gatekeeper Rule Pilot", (), "ev")
    assert score_title_match(ann, other).score < THRESHOLD  # type: ignore[union-attr]
    assert score_title_match(ann, right).score >= THRESHOLD  # type: ignore[union-attr]


def test_stemmed_word_does_not_name_a_service() -> None:
    # "Introducing AWS Transform custom" once linked to "…custom code transformation…"
    ann = Candidate("Introducing AWS Convert bespoke: retire old code", ("AWS Convert",), "ev")
    ses = Candidate("Best practices for bespoke code conversion with agents", (), "ev")
    link = score_title_match(ann, ses)
    assert link is None or link.score < THRESHOLD
    named = Candidate("AWS Convert bespoke in practice", (), "ev")
    assert score_title_match(ann, named).score >= THRESHOLD  # type: ignore[union-attr]


def test_across_documents_an_unknown_event_never_links() -> None:
    # What's New items (no event) once linked to sessions of whatever year shared their words
    ann = Candidate("Amazon Widgets adds web apps", ("Amazon Widgets",), None)
    ses = Candidate("Amazon Widgets web apps deep dive", (), "aws-reinvent-2031")
    assert score_title_match(ann, ses, strict_event=True) is None
    index = SessionIndex([(1, ses)])
    assert index.links(ann, THRESHOLD) == []
    assert index.links(Candidate(ann.title, ann.services, "aws-reinvent-2031"), THRESHOLD)


# --------------------------------------------------------------------------- weighting, generic sessions, index


def test_generic_session_scores_low_for_every_launch_of_its_service() -> None:
    # (A launch that is only the service's name is a new service: a deep dive into it at its
    # event is about it, see test_a_new_service_links_to_the_sessions_about_it.)
    generic = Candidate("Dive deep on Amazon Widgets", (), "ev")
    for title in ("Amazon Widgets Instant Restore", "Amazon Widgets Cold Tier"):
        link = score_title_match(Candidate(title, ("Amazon Widgets",), "ev"), generic)
        assert link is not None and link.score == GENERIC_SCORE < THRESHOLD
    bare = score_title_match(
        Candidate("Amazon Widgets", ("Amazon Widgets",), "ev"), Candidate("Widgets for game studios", (), "ev")
    )
    assert bare is not None and bare.score == GENERIC_SCORE < THRESHOLD


def test_whats_new_session_covers_every_launch_of_its_service() -> None:
    # A round-up of the service's launches at its event: each of them is in it.
    for spelled in (
        "What's new with Amazon Widgets",
        "What’s new in Amazon Widgets",
        "[NEW] What's new with Amazon Widgets",
    ):
        roundup = Candidate(spelled, (), "ev")
        for title in ("Amazon Widgets Instant Restore", "Widgets cold tier for Amazon Widgets", "Amazon Widgets"):
            link = score_title_match(Candidate(title, ("Amazon Widgets",), "ev"), roundup)
            assert link is not None and link.score == WHATS_NEW_SCORE >= THRESHOLD, (spelled, title)
            assert "what's new" in link.reason
    # a round-up of one part of the service, or of another service, is not about the launch
    for other in ("What's new with Amazon Widgets for game studios", "What's new with Amazon Gadgets"):
        link = score_title_match(
            Candidate("Amazon Widgets Cold Tier", ("Amazon Widgets",), "ev"), Candidate(other, (), "ev")
        )
        assert link is None or link.score < THRESHOLD, other
    # a launch that names no service is not placed in anyone's round-up
    assert (
        score_title_match(Candidate("Cold Tier", (), "ev"), Candidate("What's new with Amazon Widgets", (), "ev"))
        is None
    )


def test_a_round_up_of_part_of_a_service_covers_the_launches_it_names() -> None:
    widgets = (("Amazon Widgets",), (("Widgets Studio", "Widgets Lake", "Widgets Canvas"),))

    def launch(title: str) -> Candidate:
        return Candidate(title, widgets[0], "ev", widgets[1])

    def score(ann: Candidate, session: str) -> float:
        link = score_title_match(ann, Candidate(session, (), "ev"))
        return link.score if link else 0.0

    agents = "What’s new with Amazon Widgets Studio agents"
    # The rest of the round-up's name ("agents") is the launch's, which names no other part.
    assert score(launch("Widgets autonomous agents for unit tests and reviews"), agents) == WHATS_NEW_SCORE
    assert score(launch("Widgets Lake agents for cold data"), agents) < THRESHOLD
    assert score(launch("Widgets cold tier for unit tests"), agents) < THRESHOLD
    # "New … capabilities in X": a round-up of X's launches, a part of a service included.
    canvas = "New LLM capabilities in Amazon Widgets Canvas, with Example Corp"
    assert score(launch("Amazon Widgets Canvas now supports spoken instructions"), canvas) == WHATS_NEW_SCORE
    assert score(launch("Amazon Widgets adds spoken instructions"), canvas) < THRESHOLD
    console = Candidate("Console-to-Script", ("AWS Gadgets Console",), "ev")
    assert score(console, "New scripting capabilities in AWS Gadgets Console") >= THRESHOLD
    # What the round-up says of the service must be in the launch unless the launch names its part.
    assert score(console, "New generative AI capabilities in AWS Gadgets Console") < THRESHOLD
    assert score(launch("Widgets Canvas model leaderboard"), canvas) == WHATS_NEW_SCORE
    # A name of the round-up that is no service of the launch covers nothing.
    assert (
        score(launch("new notebook in Widgets Studio"), "What's new with Amazon Widgets in the era of data and AI")
        < THRESHOLD
    )
    assert (
        score(launch("Widgets Lake cold tier"), "What's new with Amazon Gadgets and Amazon Widgets") == WHATS_NEW_SCORE
    )


def test_index_finds_whats_new_sessions_that_share_no_launch_word() -> None:
    index = SessionIndex(
        [
            ("roundup", Candidate("What's new with Amazon Widgets", (), "ev")),
            ("deep", Candidate("Dive deep on Amazon Widgets", (), "ev")),
            ("other", Candidate("What's new with Amazon Gadgets", (), "ev")),
        ]
    )
    launch = Candidate("Amazon Widgets Cold Tier", ("Amazon Widgets",), "ev")
    assert [match.session for match in index.links(launch, THRESHOLD)] == ["roundup"]
    assert index.links(Candidate(launch.title, launch.services, "other-event"), THRESHOLD) == []
    # a session about something else of the same service is not even generic
    other = Candidate("Amazon Widgets for game studios", (), "ev")
    assert score_title_match(Candidate("Amazon Widgets Cold Tier", ("Amazon Widgets",), "ev"), other) is None


def test_rare_words_weigh_more_than_common_ones() -> None:
    titles = [f"Serverless data pattern number {i}" for i in range(60)] + ["Limitless ledgers explained"]
    weights = TokenWeights.of(titles)
    assert weights.weight("limitless") > weights.weight("serverless") >= 1.0
    ann = Candidate("Limitless Serverless Ledger", (), "ev")
    common_only = Candidate("Serverless ledger pattern", (), "ev")
    rare = Candidate("Limitless ledgers explained", (), "ev")
    assert score_title_match(ann, rare, weights).score > score_title_match(ann, common_only, weights).score  # type: ignore[union-attr]


def test_subtitle_does_not_dilute_the_launch_name() -> None:
    ann = Candidate(
        "Amazon Pipes On-Demand – Move Data at Any Scale Without Planning Capacity", ("Amazon Pipes",), "ev"
    )
    ses = Candidate("Introducing Amazon Pipes On-Demand mode", (), "ev")
    link = score_title_match(ann, ses)
    assert link is not None and link.score >= 0.9 and "title head" in link.reason


def test_verbs_and_nouns_of_one_word_share_a_stem() -> None:
    assert tokens("customize customization customized") == tokens("custom custom custom")
    assert tokens("modernize modernizing") == tokens("modernization modern")
    assert tokens("size") != tokens("s")  # a short word keeps its letters


def test_glued_generation_number_matches_spaced_one() -> None:
    assert tokens("Chipster2") == tokens("Chipster 2")
    assert tokens("EC2") == ["ec2"]  # short names stay whole
    ann = Candidate("AWS Chipster 2", ("AWS Chipster",), "ev")
    assert score_title_match(ann, Candidate("AWS Chipster2 for training", (), "ev")).score >= 0.9  # type: ignore[union-attr]
    assert score_title_match(ann, Candidate("Lessons from 2 years of AWS CDK", (), "ev")).score < THRESHOLD  # type: ignore[union-attr]


def test_index_scores_only_sessions_sharing_a_word() -> None:
    sessions = [(i, Candidate(f"Topic {i} for builders", (), "ev")) for i in range(1000)]
    sessions.append((5000, Candidate("Introducing Amazon Widgets Cold Tier", (), "ev")))
    sessions.append((5001, Candidate("Introducing Amazon Widgets Cold Tier", (), "other-ev")))
    index = SessionIndex(sessions)
    ann = Candidate("Amazon Widgets Cold Tier", ("Amazon Widgets",), "ev")
    assert index.candidates(ann) == [5000]
    [match] = index.links(ann, THRESHOLD)
    assert match.session == 5000 and match.link.method == "title" and "cold" in match.link.reason


def test_stale_title_links_are_those_below_the_threshold_now() -> None:
    from tracker.link import stale_title_links

    ann = Candidate("Amazon Lakehouse Turbo", ("Amazon Lakehouse",), "aws-reinvent-2030")
    titles = {1: "Introducing Amazon Lakehouse Turbo", 2: "Dive deep on Amazon Lakehouse"}
    # The strong link stays, the generic one goes, and a session no longer known (no title) goes.
    assert stale_title_links(ann, [1, 2, 3], titles, THRESHOLD) == [2, 3]
    # A threshold above every score: every stored title link goes.
    assert stale_title_links(ann, [1, 2], titles, 1.01) == [1, 2]
    assert stale_title_links(ann, [], titles, THRESHOLD) == []


def test_index_finds_sessions_of_a_one_letter_service() -> None:
    # A one-letter name ("Amazon Q") is no distinctive word, yet the sessions naming it are found.
    index = SessionIndex(
        [
            ("guide", Candidate("Amazon Z: your expert guide for building", (), "ev")),
            ("other", Candidate("An expert guide to Amazon Gadgets", (), "ev")),
        ]
    )
    launch = Candidate("Amazon Z expert capabilities for builders", ("Amazon Z",), "ev")
    assert [match.session for match in index.links(launch, THRESHOLD)] == ["guide"]


def test_one_shared_word_of_a_partly_japanese_title_is_weak() -> None:
    # The Japanese part says what launched; the one readable word ("Logs") is not enough.
    ann = Candidate("Amazon Widgets Logsに低頻度アクセス用のログクラスが追加されました", ("Amazon Widgets",), "ev")
    ses = Candidate("Accelerate insights using Amazon Widgets Logs analytics", (), "ev")
    link = score_title_match(ann, ses)
    assert link is not None and link.score < THRESHOLD and "do not read" in link.reason


def test_a_new_service_links_to_the_sessions_about_it() -> None:
    # A launch that is only a service's name is a new service: sessions whose subject it is cover it.
    ann = Candidate("Amazon Widgets", ("Amazon Widgets",), "ev")
    for title in (
        "Amazon Widgets: your new assistant for builders",
        "Spec-driven development with Amazon Widgets",
        "{New Launch} Introducing Amazon Widgets and AWS Gadgets",
        "Deep dive into Amazon Widgets and its architecture",
        "Dive deep on Amazon Widgets",
    ):
        link = score_title_match(ann, Candidate(title, (), "ev"))
        assert link is not None and link.score == NEW_SERVICE_SCORE >= THRESHOLD, title
    # A session about something of the service, or that only mentions it, does not.
    for title in (
        "Amazon Widgets powers: extend agents",
        "Crowning the Amazon Widgets code champions",
        "Deep dive into Amazon Widgets Streams",
        "What's new with Amazon Widgets for game studios",
    ):
        link = score_title_match(ann, Candidate(title, (), "ev"))
        assert link is None or link.score < THRESHOLD, title
    # The session's subject is the name the launch wrote, not another name of its service.
    other_name = Candidate("Amazon Gizmo", ("Amazon Widgets",), "ev", (("Amazon Gizmo",),))
    link = score_title_match(other_name, Candidate("Practical AI with Amazon Widgets", (), "ev"))
    assert link is None or link.score < THRESHOLD
    link = score_title_match(other_name, Candidate("Boost productivity with Amazon Gizmo", (), "ev"))
    assert link is not None and link.score == NEW_SERVICE_SCORE
    # Nor does a session for a launch that is more than the service's name.
    link = score_title_match(
        Candidate("Amazon Widgets – Region Deny", ("Amazon Widgets",), "ev"),
        Candidate("Amazon Widgets: a tour", (), "ev"),
    )
    assert link is None or link.score < THRESHOLD


def test_an_acronym_matches_its_long_form() -> None:
    ann = Candidate("Real-User Monitoring for Amazon Widgets", ("Amazon Widgets",), "ev")
    ses = Candidate("Optimize applications through end user insights with Amazon Widgets RUM", (), "ev")
    link = score_title_match(ann, ses)
    assert link is not None and link.score >= THRESHOLD


def test_a_launch_named_whole_needs_no_service_name_unless_another_owns_it() -> None:
    ann = Candidate("Simplify access using AWS Gadgets Outbound Token Exchange", ("AWS Gadgets",), "ev")
    link = score_title_match(ann, Candidate("Easy cross-cloud access: AWS outbound token exchange in action", (), "ev"))
    assert link is not None and link.score >= THRESHOLD
    # "Sprockets Outbound Token Exchange" is another service's feature of the same name.
    link = score_title_match(ann, Candidate("Navigate identity with Sprockets Outbound Token Exchange", (), "ev"))
    assert link is None or link.score < THRESHOLD


def test_a_session_named_after_part_of_a_long_launch_title_covers_it() -> None:
    ann = Candidate(
        "AWS Widgets – Region Deny and Guardrails to Help You Meet Data Residency Requirements", ("AWS Widgets",), "ev"
    )
    link = score_title_match(ann, Candidate("Data residency capabilities in AWS Widgets", (), "ev"))
    assert link is not None and link.score >= THRESHOLD and "session's own words" in link.reason
    # Not when the session is about another service too, or says more than the launch.
    for title in (
        "Data residency for Amazon Gadgets with AWS Widgets",
        "Data residency, sovereignty, encryption, key management and compliance patterns in AWS Widgets",
    ):
        link = score_title_match(ann, Candidate(title, (), "ev"))
        assert link is None or link.score < THRESHOLD, title


def test_a_launch_without_services_does_not_link_to_sessions_about_other_services() -> None:
    ann = Candidate("Zero-copy for Applications", (), "ev")
    ses = Candidate("Analyze Amazon Widgets data in Amazon Gadgets with zero-copy", (), "ev")
    link = score_title_match(ann, ses)
    assert link is None or link.score < THRESHOLD


def test_a_session_on_the_product_but_not_on_what_the_launch_adds_to_it() -> None:
    from tracker.link import _service_names, launch_feature_words

    widgets = Candidate("", ("Amazon Widgets",), "ev", (("Widgets Turbo", "Widgets Vault"),))

    def launch(title: str) -> Candidate:
        return Candidate(title, widgets.services, "ev", widgets.aliases)

    def score(ann: Candidate, session: str) -> float:
        link = score_title_match(ann, Candidate(session, (), "ev"))
        return link.score if link else 0.0

    # After a product the taxonomy knows, lower-case words say what the launch adds to it.
    for title in ("Amazon Widgets Turbo flexible capacity plans", "Widgets Turbo flexible capacity plans"):
        plans = launch(title)
        assert score(plans, "Amazon Widgets Turbo: reduce costs with new governance capability") < THRESHOLD
        assert score(plans, "How we trained our models using Widgets Turbo") < THRESHOLD
        assert score(plans, "Accelerate training: Amazon Widgets Turbo capacity plans & recipes") >= THRESHOLD
    # So do the words after a verb.
    graph = launch("Widgets Vault now supports GraphLink")
    assert score(graph, "Unlocking structured data with Amazon Widgets Vault") < THRESHOLD
    assert score(graph, "GraphLink retrieval with Amazon Widgets Vault") >= THRESHOLD
    # A name that is more than a known product is the launch itself; a comma ends the phrase.
    services = _service_names(widgets)
    assert launch_feature_words("Amazon Widgets Custom for Cobol Is Generally Available", services) == set()
    assert launch_feature_words("Amazon Widgets Zero-Copy integration with Amazon Gadgets", services) == set()
    assert launch_feature_words("Amazon Widgets zero-copy integration with Amazon Gadgets", services) == set(
        tokens("zero copy integration")
    )
    assert launch_feature_words("Widgets Turbo, a new open source helper", services) == set()
    assert launch_feature_words("Widgets Vault now supports GraphLink for teams", services) == {"graphlink"}


def test_a_session_about_a_product_the_launch_names_too() -> None:
    def score(launch: str, session: str) -> float:
        link = score_title_match(Candidate(launch, ("Amazon Widgets",), "ev"), Candidate(session, (), "ev"))
        return link.score if link else 0.0

    about = "Enhancing partner features with the Amazon Widgets index"
    assert score("new APIs where partners can query this Widgets index", about) >= THRESHOLD
    # Not where the product is only the place of the launch, nor when the launch's name says more.
    assert score("REST catalog endpoint for Widgets index", "Our migration with Amazon Widgets index") < THRESHOLD
    assert score("Amazon Widgets Index Turbo", about) < THRESHOLD
    # The service's name followed by a stop word is no product.
    assert (
        score("Scenarios in Widgets in Gadgets", "Scale to all your users with Amazon Widgets in Gadgets") < THRESHOLD
    )


def test_a_new_service_the_taxonomy_does_not_know_links_to_sessions_about_it() -> None:
    ann = Candidate("AWS re:Thing – A Reimagined Forum for the Builder Community", (), "ev")
    for title, linked in (
        ("{New Launch} Remove roadblocks with AWS re:Thing", True),
        ("AWS re:Thing: answers from the community", True),
        ("Remove roadblocks with AWS re:Thing and AWS Gadgets", False),
        ("Community forums: what AWS re:Thing taught us", False),
    ):
        link = score_title_match(ann, Candidate(title, (), "ev"))
        assert (link is not None and link.score >= THRESHOLD) == linked, title
