"""How many threads answer requests: one on SQLite (a request is all CPU), more on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tracker.store.db import close_stores, open_store
from tracker.web.server import SQLITE_THREADS, THREADS, make_server


def test_a_server_on_sqlite_answers_with_one_thread_and_on_postgresql_with_more(
    tmp_path: Path, database_url: str
) -> None:
    server = make_server(tmp_path / "feeds", open_store(database_url), port=0)
    try:
        expected = SQLITE_THREADS if database_url.startswith("sqlite") else THREADS
        assert server.threads == expected
        assert SQLITE_THREADS < THREADS
    finally:
        server.server_close()
        close_stores()
