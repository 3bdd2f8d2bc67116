"""One run: fetch → extract → normalise → store → link → publish.

The pipeline owns the transactions: documents are stored in batches with a savepoint each (or,
when a feed's items are completed from their pages, one transaction each), so a failure in one
document rolls back that document only. A failing source is recorded and the run goes on. Only
this package imports every stage; its parts:

* `context`: what a run carries (`Context`, `RunReport`, `SourceOutcome`, `Progress`);
* `ingest`: fetch, extract, normalise and store one source or document (`process_source`,
  `ingest_document`, `ingest_many`), and `extract_location` for `tracker extract`;
* `links`: links across documents (`link_across_documents`);
* `pages`: the publishing step (`publish`, `push_changes`);
* `runs`: the recorded entry points (`run`, `import_documents`, `reextract`).
"""

from __future__ import annotations

from tracker.pipeline.context import REPORTED, Context, Progress, RunReport, SourceOutcome
from tracker.pipeline.ingest import (
    INGEST_BATCH,
    Prepared,
    StoredRobots,
    archive,
    extract_location,
    extract_raw,
    ingest_document,
    ingest_many,
    process_source,
    with_page,
)
from tracker.pipeline.links import link_across_documents
from tracker.pipeline.pages import publish, push_changes
from tracker.pipeline.runs import failure_reason, import_documents, recorded_failure, reextract, run

__all__ = [
    "INGEST_BATCH",
    "REPORTED",
    "Context",
    "Prepared",
    "Progress",
    "RunReport",
    "SourceOutcome",
    "StoredRobots",
    "archive",
    "extract_location",
    "extract_raw",
    "failure_reason",
    "import_documents",
    "ingest_document",
    "ingest_many",
    "link_across_documents",
    "process_source",
    "publish",
    "push_changes",
    "recorded_failure",
    "reextract",
    "run",
    "with_page",
]
