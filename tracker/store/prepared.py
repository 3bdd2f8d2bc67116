"""Core statements run on the driver's cursor: compiled once per dialect, values converted as SQLAlchemy would.

A request of the API runs a handful of small statements; on SQLite, SQLAlchemy's execution of a
cached compiled statement (parameter processing, the expanding `IN` list rendered anew, a
`Row` per result row with its type processors) cost two to four times what the database took
to run it. A `Prepared` statement is compiled once per dialect to its SQL text; each call binds
the values with the bind processors of their types (a datetime becomes what SQLAlchemy would
send), runs the text on the connection's own DBAPI cursor, and converts each column with the
result processor of its type: the same values SQLAlchemy's execution gives, as plain tuples.

The connection's `before_cursor_execute` and `after_cursor_execute` listeners still see each
statement, and a driver error is raised as SQLAlchemy's `DBAPIError` (which `reading` turns
into a `StoreError`), with the connection invalidated when the driver says it is gone.
On an ORM session, what it holds is flushed first (as its own execution of a query would) and
the statement runs on the session's connection; on a driver whose parameter style is not
handled here, it runs through SQLAlchemy as usual.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select

from tracker.store.tables import Reader

Processor = Callable[[Any], Any]
# The only parameter styles rendered here: SQLite's (qmark) and psycopg's (pyformat).
_STYLES = ("qmark", "pyformat")


@dataclass
class _Plan:
    """A statement compiled for one dialect: its text, its parameters and their processors."""

    text: str
    positional: tuple[str, ...] | None  # names in order (qmark), or None (pyformat, by name)
    names: tuple[str, ...]  # every parameter but the expanding one
    defaults: dict[str, Any]  # values of the binds the statement carries (an OFFSET of 0)
    bind: dict[str, Processor]  # names whose values are converted before sending
    expanding: str | None  # the one expanding parameter (a list of values), if any
    texts: dict[int, str] = field(default_factory=dict)  # the text for each length of that list
    array: bool = False  # psycopg: the list is one array parameter (`= ANY(%(name)s)`), not an IN list
    results: list[Processor | None] | None = None  # per column, set at the first run


class Prepared:
    """A Core `select` run on the driver's cursor (see the module docstring).

    At most one parameter may be expanding (`bindparam(..., expanding=True)`, a list bound to
    `IN`); its text is rendered once per length of list.
    """

    def __init__(self, stmt: Select[Any], *, plan_each_time: bool = False) -> None:
        self.stmt = stmt
        # psycopg prepares a statement on the server after its fifth run on a connection, and
        # PostgreSQL may then keep one generic plan for every value: a search's plan depends on
        # its words (a generic plan of the full-text windows took 200 ms where each run's own
        # took 10), so those statements are planned with their values every time.
        self._execute_options: dict[str, Any] = {"prepare": False} if plan_each_time else {}
        self._types = [c.type for c in stmt.selected_columns]
        self._plans: dict[tuple[str, str, str | None], _Plan] = {}
        self._lock = threading.Lock()

    def all(self, reader: Reader, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of the statement with these values, converted as SQLAlchemy converts them."""
        return all_together(reader, [(self, values)])[0]

    def _execute(self, cursor: Any, dialect: Dialect, text: str, parameters: Any) -> None:
        if self._execute_options and dialect.driver == "psycopg":
            cursor.execute(text, parameters, **self._execute_options)
        else:
            cursor.execute(text, parameters)

    def _convert(
        self, plan: _Plan, dialect: Dialect, cursor: Any, rows: list[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        if plan.results is None:
            plan.results = self._results(dialect, cursor.description)
        converters = [(i, fn) for i, fn in enumerate(plan.results) if fn is not None]
        if not converters:
            return rows
        out = []
        for row in rows:
            values_ = list(row)
            for i, fn in converters:
                values_[i] = fn(values_[i])
            out.append(tuple(values_))
        return out

    def _plan(self, dialect: Dialect) -> _Plan:
        key = (dialect.name, dialect.paramstyle, getattr(dialect, "driver", None))
        plan = self._plans.get(key)
        if plan is None:
            with self._lock:
                plan = self._plans.get(key)
                if plan is None:
                    plan = self._plans[key] = self._compile(dialect)
        return plan

    def _compile(self, dialect: Dialect) -> _Plan:
        compiled = self.stmt.compile(dialect=dialect)
        binds = {name: compiled.binds[name] for name in compiled.bind_names.values()}
        expanding = [name for name, b in binds.items() if b.expanding]
        if len(expanding) > 1:
            raise ValueError(f"at most one expanding parameter, not {expanding}")
        bind: dict[str, Processor] = {}
        for name, b in binds.items():
            fn = b.type.dialect_impl(dialect).bind_processor(dialect)
            if fn is not None:
                bind[name] = fn
        defaults = {name: b.effective_value for name, b in binds.items() if not b.required}
        positional = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        names = tuple(name for name in binds if name not in expanding)
        text = compiled.string
        array = False
        if expanding and getattr(dialect, "driver", None) == "psycopg":
            # One array parameter instead of a placeholder per value: psycopg parses a statement
            # of more than 50 parameters again at every run (its cache skips them; 0.4-1 ms for a
            # page of 51), and its text is the same for every length of list.
            in_list = f" IN (__[POSTCOMPILE_{expanding[0]}])"
            if text.count(in_list) == 1 and f" NOT{in_list}" not in text:
                text = text.replace(in_list, f" = ANY(%({expanding[0]})s)")
                array = True
        return _Plan(text, positional, names, defaults, bind, expanding[0] if expanding else None, array=array)

    def _results(self, dialect: Dialect, description: Sequence[Any]) -> list[Processor | None]:
        return [
            t.dialect_impl(dialect).result_processor(dialect, d[1])
            for t, d in zip(self._types, description, strict=True)
        ]


def _bound(plan: _Plan, values: Mapping[str, Any]) -> tuple[str, Any]:
    """The statement's text for these values and its parameters in the driver's form."""

    def value(name: str) -> Any:
        found = values[name] if name in values else plan.defaults[name]
        fn = plan.bind.get(name)
        return found if fn is None or found is None else fn(found)

    text = plan.text
    expanding = plan.expanding
    items: list[Any] = []
    if expanding is not None:
        items = list(values[expanding])
        if not items:
            raise ValueError(f"parameter {expanding!r} is an empty list")
        fn = plan.bind.get(expanding)
        if fn is not None:
            items = [fn(v) for v in items]
        if not plan.array:
            text = plan.texts.get(len(items)) or _expand(plan, len(items))
    if plan.positional is not None:
        parameters: list[Any] = []
        for name in plan.positional:
            if name == expanding:
                parameters.extend(items)
            else:
                parameters.append(value(name))
        return text, tuple(parameters)
    named = {name: value(name) for name in plan.names}
    if expanding is not None and plan.array:
        named[expanding] = items
    elif expanding is not None:
        named.update({f"{expanding}_{i}": v for i, v in enumerate(items, 1)})
    return text, named


def _expand(plan: _Plan, count: int) -> str:
    """The text with the expanding parameter's `IN` list of `count` placeholders."""
    name = plan.expanding
    assert name is not None
    if plan.positional is not None:
        marks = ", ".join("?" * count)
    else:
        marks = ", ".join(f"%({name}_{i})s" for i in range(1, count + 1))
    text = plan.text.replace(f"__[POSTCOMPILE_{name}]", marks)
    plan.texts[count] = text
    return text


def all_together(reader: Reader, calls: Sequence[tuple[Prepared, Mapping[str, Any]]]) -> list[list[tuple[Any, ...]]]:
    """The rows of each statement with its values, as `Prepared.all` gives them.

    On psycopg the statements are sent together in one pipeline and their results read after:
    one round trip to the server instead of one each (a page's records are five statements; on
    a loaded machine each round trip waits for the server process to be scheduled). Elsewhere
    they run one after the other.
    """
    if not isinstance(reader, Connection):
        # An ORM session: what it holds is flushed first, as its own execution of a query
        # would (unless autoflush is off), then the statements run on its connection.
        if reader.autoflush:
            reader.flush()
        reader = reader.connection()
    connection = reader
    dialect = connection.dialect
    if dialect.paramstyle not in _STYLES:
        # Another driver: SQLAlchemy's own execution.
        return [[tuple(row) for row in connection.execute(p.stmt, dict(v)).all()] for p, v in calls]
    if not connection.in_transaction():
        connection.begin()  # as SQLAlchemy's execution begins one (autobegin): one snapshot for every statement
    dbapi_connection = connection.connection
    driver = dbapi_connection.driver_connection
    together = len(calls) > 1 and dialect.driver == "psycopg" and _pipelines(driver)
    bound = []
    for prepared, values in calls:
        plan = prepared._plan(dialect)
        bound.append((prepared, plan, *_bound(plan, values)))
    out: list[list[tuple[Any, ...]]] = []
    cursors: list[Any] = []
    text, parameters = bound[0][2], bound[0][3]
    try:
        with driver.pipeline() if together else contextlib.nullcontext():  # type: ignore[union-attr]
            for prepared, _plan, text, parameters in bound:
                cursor = dbapi_connection.cursor()
                cursors.append(cursor)
                connection.dispatch.before_cursor_execute(connection, cursor, text, parameters, None, False)
                prepared._execute(cursor, dialect, text, parameters)
                if not together:
                    connection.dispatch.after_cursor_execute(connection, cursor, text, parameters, None, False)
            for (prepared, plan, text, parameters), cursor in zip(bound, cursors, strict=True):
                rows = cast("list[tuple[Any, ...]]", cursor.fetchall())
                if together:
                    connection.dispatch.after_cursor_execute(connection, cursor, text, parameters, None, False)
                out.append(prepared._convert(plan, dialect, cursor, rows))
    except dialect.loaded_dbapi.Error as exc:
        is_disconnect = dialect.is_disconnect(exc, dbapi_connection, cursors[-1] if cursors else None)
        if is_disconnect:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            text,
            parameters,
            exc,
            dialect.loaded_dbapi.Error,
            connection_invalidated=is_disconnect,
            dialect=dialect,
        ) from exc
    finally:
        for cursor in cursors:
            cursor.close()
    return out


def _pipelines(driver: Any) -> bool:
    """Whether this psycopg connection can send statements in a pipeline (libpq 14 and later)."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is what the dialect uses
        return False
    return isinstance(driver, psycopg.Connection) and psycopg.Pipeline.is_supported()
