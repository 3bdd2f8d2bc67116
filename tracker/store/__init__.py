"""The store: typed SQLAlchemy models, engine and migrations, the raw-bytes archive and the writes by domain.

Other stages use `tracker.store.db` (open_store, unit_of_work), the domain modules
`tracker.store.sources`, `documents`, `announcements`, `sessions` and `runs` (functions taking a
session first, never committing) and `tracker.store.archive.Archive`. The reads live in
`tracker.store.queries` (SQLAlchemy Core): the query commands call them on
`db.reading(db.open_engine(url))` and never import the ORM.
"""

from __future__ import annotations
