"""What a run carries: its context (settings, store, taxonomy, rules, archive), its report and progress."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from tracker.config import Settings, data_file
from tracker.extract import EXTRACTOR_VERSION
from tracker.extract.rules import Rules, load_rules
from tracker.items import SourceStatus
from tracker.normalize import Taxonomy
from tracker.normalize.events import DeclaredEvent, load_declared_events
from tracker.publish import PublishReport
from tracker.store.announcements import declare_event, sync_services
from tracker.store.archive import Archive
from tracker.store.db import open_store, unit_of_work
from tracker.store.ids import IdCache, remember_services

# Marks a log line whose error the caller also gets (a failed outcome, an exception) and reports:
# the CLI prints those errors itself and drops these lines, so each error is printed once;
# `tracker schedule` and embedding applications keep them.
REPORTED = {"reported": True}


class Progress(Protocol):
    """Where a long run reports (tracker.console.Bars on a terminal): with `done`, a count of `total`
    `unit` under `label`, called often (the reporter draws at its own pace); without, a line of news."""

    def __call__(self, label: str, done: int | None = None, total: int | None = None, unit: str = "documents") -> None:
        """Report a count, or a line when `done` is None."""


@dataclass
class SourceOutcome:
    """What happened to one source in a run."""

    name: str
    status: str = SourceStatus.OK
    error_kind: str | None = None
    error: str | None = None
    documents: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        """Plain data for the runs table and JSON output."""
        return {
            "status": self.status,
            "error_kind": self.error_kind,
            "error": self.error,
            "documents": self.documents,
            **dict(self.counts),
        }


@dataclass
class RunReport:
    """The outcome of one run."""

    outcomes: list[SourceOutcome] = field(default_factory=list)
    published: PublishReport | None = None
    links_across_documents: int = 0  # links made or changed by link_across_documents

    @property
    def failed(self) -> list[SourceOutcome]:
        """The sources that failed."""
        return [o for o in self.outcomes if o.status == SourceStatus.FAILED]

    @property
    def counts(self) -> Counter[str]:
        """Counts summed over sources."""
        total: Counter[str] = Counter()
        for outcome in self.outcomes:
            total.update(outcome.counts)
            total["documents"] += outcome.documents
        total["links_across_documents"] += self.links_across_documents
        return total


class Context:
    """What the stages need for a run, built once from settings."""

    def __init__(self, settings: Settings, *, now: datetime | None = None) -> None:
        self.settings = settings
        self.now = now or datetime.now(UTC)
        # Asked between documents: True means stop (SIGTERM to `tracker schedule`).
        self.stop: Callable[[], bool] = lambda: False
        self.factory: sessionmaker[Session] = open_store(settings.database_url)
        self.taxonomy = Taxonomy.load(data_file(settings.config_dir, "services.toml").parent)
        self.rules_file = data_file(settings.config_dir, "extract.toml")
        self.rules: Rules = load_rules(self.rules_file)
        self.archive = Archive(settings.archive_dir)
        self.services_by_slug = {s.slug: s for s in self.taxonomy.services}
        # A stored document is redone when what was extracted from it changed (its content
        # hash) or when the code or the taxonomy that normalise it did. The rules' version is
        # left out on purpose: after a rules change, `tracker reextract` re-extracts every
        # body and stores again only the documents whose extraction came out different.
        self.version = f"{EXTRACTOR_VERSION}+{_taxonomy_fingerprint(self.taxonomy)}"
        # Events declared in tracker/data/events.toml: their days, and names no pattern knows.
        self.events: tuple[DeclaredEvent, ...] = load_declared_events(data_file(settings.config_dir, "events.toml"))
        # The ids of services, events, regions and sources, kept for the run: storing a
        # document looks its names up here, not in the database.
        self.ids = IdCache()
        with unit_of_work(self.factory) as session:
            sync_services(session, self.taxonomy.services)
            remember_services(session, self.ids)
            for declared in self.events:
                declare_event(
                    session,
                    declared.event.slug,
                    declared.event.name,
                    declared.event.year,
                    starts_on=declared.starts,
                    ends_on=declared.ends,
                    ids=self.ids,
                )


def _taxonomy_fingerprint(taxonomy: Taxonomy) -> str:
    digest = hashlib.sha1()
    for service in taxonomy.services:
        digest.update(f"{service.slug}|{service.name}|{'|'.join(service.aliases)}\n".encode())
    return digest.hexdigest()[:8]
