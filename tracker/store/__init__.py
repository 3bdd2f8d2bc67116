"""The store: typed SQLAlchemy models, engine and migrations, the raw-bytes archive and the repository.

Other stages use `tracker.store.db` (open_store, unit_of_work), `tracker.store.repository`
(functions taking a session first, never committing) and `tracker.store.archive.Archive`.
The reads live in `tracker.store.queries` (SQLAlchemy Core, re-exported by the repository): the
query commands call them on `db.reading(db.open_engine(url))` and never import the ORM.
"""

from __future__ import annotations
