"""A by-service API request reads what its answer needs: a bounded number of SQL statements,
the same whatever the number of services the taxonomy knows (issue 17: each request used to
load every service with its aliases to find the one it named)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, event

from tracker.items import Service
from tracker.store.announcements import sync_services
from tracker.store.db import close_stores, open_engine, open_store, unit_of_work
from tracker.web.server import THREADS

from .conftest import NOW, TAXONOMY, Site, _serve, populate, publish

# The service name, the page's rows, and their services, regions, sources and sessions (BEGIN is
# sent on the driver's connection, unseen by the listener).
MAX_STATEMENTS = 6
MANY = 1200  # more services than one `IN (...)` chunk of the record reader (500)


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements the engine runs meanwhile, from any thread."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def statements_of(site: Site, engine: Engine, service: str, minutes: int) -> tuple[int, list[str]]:
    """Statements of one uncached by-service page (a distinct `until`, so the micro-cache cannot answer)."""
    until = (NOW + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:00Z")
    with counting(engine) as seen:
        status, _headers, body = site.request(f"/api/announcements?service={quote(service)}&limit=5&until={until}")
    assert status == 200, body
    items = json.loads(body)["items"]
    assert len(items) == 5 and all("Amazon S3" in item["services"] for item in items)
    return len(seen), seen


def test_a_by_service_page_runs_the_same_few_statements_however_many_services_exist(
    database_url: str, tmp_path: Path
) -> None:
    factory = open_store(database_url)
    populate(factory)
    output = tmp_path / "feeds"
    publish(factory, output)
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    for site in _serve(database_url, output):
        few = {name: statements_of(site, engine, name, n) for n, name in enumerate(("amazon-s3", "S3", "Amazon S3"))}
        with unit_of_work(factory) as s:
            extra = [Service(f"extra-{i}", f"Extra Service {i}", (f"Extra {i}", f"xs{i}"), "Misc") for i in range(MANY)]
            sync_services(s, (*TAXONOMY, *extra))
        many = {name: statements_of(site, engine, name, 10 + n) for n, name in enumerate(few)}
        for name in few:
            # Slug, alias and display name alike: one lookup, whatever the taxonomy's size.
            assert few[name][0] == many[name][0], (name, few[name][1], many[name][1])
            assert many[name][0] <= MAX_STATEMENTS, many[name][1]


def test_the_pool_keeps_a_connection_for_each_request_thread(database_url: str) -> None:
    # With fewer kept than the server's threads, a busy server opened (and set up) a connection
    # per request and closed it after.
    engine = open_engine(database_url)
    opened: list[object] = []
    event.listen(engine, "connect", lambda *_a: opened.append(1))
    per_round = []
    for _ in range(3):
        before = len(opened)
        held = [engine.connect() for _ in range(THREADS)]
        for connection in held:
            connection.close()
        per_round.append(len(opened) - before)
    assert 0 < per_round[0] <= THREADS and per_round[1:] == [0, 0]
    close_stores()
