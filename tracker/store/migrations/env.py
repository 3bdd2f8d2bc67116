"""Alembic environment: runs on the connection `tracker.store.db.upgrade` passes in.

Called without one (the `alembic` command line with -x url=... or sqlalchemy.url set),
it opens its own engine through `make_engine`, so SQLite gets the same pragmas.
"""

from __future__ import annotations

import logging

from alembic import context
from sqlalchemy.engine import Connection

from tracker.store.models import Base
from tracker.store.search import include_name

log = logging.getLogger(__name__)

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,  # the full-text tables of 0002 are not models
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass -x url=... or set sqlalchemy.url")
    return url


def run_migrations_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    from tracker.store.db import normalize_url

    context.configure(
        url=normalize_url(_url()),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=normalize_url(_url()).get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run on the given connection, or on a fresh engine when there is none."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from tracker.store.db import make_engine

    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
