"""What the command line draws on a terminal: tables that fit its width, progress bars on long runs (rich).

rich is imported only when something is drawn on a terminal: `tracker --help`, a query piped to a
file and a run under cron never load it. A table printed to a pipe or a file is plain aligned text,
one row a line, without escape codes; progress is drawn only when stderr is a terminal. NO_COLOR
(https://no-color.org) turns every colour and style off. Every cell and line is stripped of the
controls a document could carry (`tracker.redact.strip_controls`) and handed to rich as Text, never
as markup: a title with "[bold]" in it is printed as it is.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tracker.redact import strip_controls

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

log = logging.getLogger(__name__)

LABEL_WIDTH = 36  # a bar's label at most: the bar, its count and its rate keep the rest of the line


def _raw(stream: Any) -> Any:
    """The stream under the command line's sanitising wrapper (its `stream`): rich's own escape codes
    must reach the terminal, so what rich is given is stripped here instead."""
    return getattr(stream, "stream", stream)


def is_terminal(stream: Any) -> bool:
    """Whether the stream is a terminal (a closed or odd stream is not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def colour_wanted() -> bool:
    """False when NO_COLOR is set to anything but the empty string (no-color.org)."""
    return not os.environ.get("NO_COLOR")


def _console(stream: Any) -> Console:
    """A rich console drawing on the terminal `stream`, in colour unless NO_COLOR says otherwise."""
    from rich.console import Console

    # color_system=None renders no escape code at all, not even bold: NO_COLOR means plain text.
    return Console(
        file=_raw(stream),
        force_terminal=True,
        color_system="auto" if colour_wanted() else None,
        highlight=False,
        emoji=False,
        markup=False,
    )


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, a dashed rule under the headers, one row a line: for pipes."""
    cells = [[strip_controls(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)
    return "\n".join(lines) + "\n"


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    stream: Any = None,
    nowrap: Collection[str] = (),
) -> None:
    """Print a table: on a terminal drawn by rich to fit its width (long cells wrap), else `plain_table`.

    `nowrap` names the columns never wrapped (ids, dates, counts): the others give way first.
    """
    out = sys.stdout if stream is None else stream
    if not is_terminal(out):
        out.write(plain_table(headers, rows))
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console = _console(out)
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, expand=False)
    for header in headers:
        fixed = header in nowrap
        table.add_column(header, no_wrap=fixed, style="cyan" if fixed else None, overflow="fold")
    for row in rows:
        table.add_row(*(Text(strip_controls(cell)) for cell in row))
    console.print(table)
    out.flush()


class Bars:
    """The pipeline's progress reporter on a terminal: a bar per label with its count and rate;
    a call without a count prints a line above the bars."""

    def __init__(self, bars: Progress, console: Console) -> None:
        self._bars = bars
        self._console = console
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, label: str, done: int | None = None, total: int | None = None, unit: str = "documents") -> None:
        """Report `done` of `total` under `label` (a bar), or, with no count, print `label` as a line."""
        from rich.text import Text

        text = strip_controls(label)
        if done is None:
            self._console.print(Text(text), soft_wrap=True)
            return
        if len(text) > LABEL_WIDTH:
            text = "…" + text[-(LABEL_WIDTH - 1) :]  # a path's end names the file
        task = self._tasks.get(text)
        if task is None:
            task = self._tasks[text] = self._bars.add_task(text, total=total, unit=unit)
        self._bars.update(task, completed=done, total=total)


class _LinesAbove:
    """A text stream for stderr while the bars are drawn: each line (a log record, a warning) is
    printed above them through the console instead of through them, without controls."""

    def __init__(self, console: Console, fallback: Any) -> None:
        self._console = console
        self._fallback = fallback
        self._buffer = ""

    def write(self, text: str) -> int:
        """Print the complete lines; keep a partial one until its newline comes."""
        from rich.text import Text

        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._console.print(Text(strip_controls(line)), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        """Print a partial line as it is."""
        if self._buffer:
            self.write("\n")

    def isatty(self) -> bool:
        """Stderr is a terminal (else no bars were drawn)."""
        return True

    def fileno(self) -> int:
        """The terminal's descriptor (faulthandler and child processes write to it)."""
        return int(self._fallback.fileno())

    @property
    def encoding(self) -> str:
        """The terminal's encoding."""
        return str(getattr(self._fallback, "encoding", "utf-8"))


@contextmanager
def progress_bars(enabled: bool = True, *, stream: Any = None) -> Iterator[Bars | None]:
    """Progress bars on `stream` (stderr) for the block, or None when it is no terminal or not `enabled`.

    While the bars are drawn, what is written to sys.stderr and the log records of handlers that wrote
    there are printed above them, so neither garbles the other.
    """
    err = sys.stderr if stream is None else stream
    if not enabled or not is_terminal(err):
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Column
    from rich.text import Text

    class Rate(ProgressColumn):
        """Items a second and the unit, from rich's recent-samples estimate."""

        def render(self, task: Task) -> Text:
            """'12.5 documents/s', or the unit alone before a rate is known."""
            speed = task.finished_speed or task.speed
            unit = str(task.fields.get("unit", ""))
            return Text(f"{speed:,.1f} {unit}/s" if speed else unit, style="progress.data.speed")

    console = _console(err)
    bars = Progress(
        TextColumn("{task.description}", markup=False, table_column=Column(no_wrap=True)),
        BarColumn(),
        MofNCompleteColumn(),
        Rate(),
        TimeElapsedColumn(),
        console=console,
        redirect_stdout=False,  # rich's own redirection would read escape codes in a title as styles
        redirect_stderr=False,
    )
    above = _LinesAbove(console, _raw(err))
    saved_err = sys.stderr
    moved: list[tuple[logging.StreamHandler[Any], Any]] = []
    with bars:
        sys.stderr = above
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (saved_err, err):
                moved.append((handler, handler.setStream(above)))
        try:
            yield Bars(bars, console)
        finally:
            above.flush()
            for handler, previous in moved:
                handler.setStream(previous)
            sys.stderr = saved_err
