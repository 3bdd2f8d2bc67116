"""What the command line draws (issue 15): rich tables fitted to a terminal, progress bars on a
terminal only, plain text for pipes, and `--format json|csv` byte for byte what they were.

The commands run as real processes, their stdout or stderr a pseudo-terminal (the pty module) of a
set width, or a pipe. tests/fixtures/cli/ holds what the command line printed for two fixture
documents before rich came in (the plain table, JSON and CSV), taken with the earlier code;
`updated_at`, the time of the import, is the one field replaced there.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tracker.console import plain_table, print_table

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
BEFORE = FIXTURES / "cli"
# Two Amazon S3 launches and a keynote (a recap), three others (a What's New feed).
DOCUMENTS = (FIXTURES / "link" / "recap-reinvent-2031-storage.md", FIXTURES / "extract" / "whats-new-feed.xml")
ESCAPE = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|\][^\x07]*\x07)")
UPDATED_AT = re.compile(r'"updated_at": "[^"]+"')


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TERM"}}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["TERM"] = "xterm-256color"
    env.update(extra)
    return env


def _tracker(config: Path, *argv: str, tty: str = "", columns: int = 80, **env: str) -> tuple[int, str, str]:
    """Run `tracker --config CONFIG ARGV` with its stdout (tty="out") or stderr (tty="err") a terminal
    `columns` wide, the other a pipe; returns the exit code, stdout and stderr."""
    master = slave = -1
    if tty:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    with open(os.devnull, "rb") as stdin:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracker", "--config", str(config), *argv],
            stdin=stdin,
            stdout=slave if tty == "out" else subprocess.PIPE,
            stderr=slave if tty == "err" else subprocess.PIPE,
            env=_env(**env),
        )
    seen = b""
    if tty:
        os.close(slave)
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        os.close(master)
    out, err = proc.communicate(timeout=120)
    # The terminal turns each "\n" into "\r\n" (onlcr); what the program wrote had "\n".
    shown = seen.decode().replace("\r\n", "\n")
    if tty == "out":
        return proc.returncode, shown, err.decode()
    if tty == "err":
        return proc.returncode, out.decode(), shown
    return proc.returncode, out.decode(), err.decode()


def _imported(folder: Path, database_url: str) -> Path:
    """A configuration in `folder` whose database holds the two fixture documents."""
    folder.mkdir()
    (folder / "tracker.toml").write_text(
        f"database_url = {json.dumps(database_url)}\noutput_dir = {json.dumps(str(folder / 'feeds'))}\n"
        f"archive_dir = {json.dumps(str(folder / 'archive'))}\n"
    )
    code, _, err = _tracker(folder, "--quiet", "import", *map(str, DOCUMENTS))
    assert code == 0, err
    return folder


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database with the two fixture documents for the module's read-only commands."""
    folder = tmp_path_factory.mktemp("console") / "config"
    return _imported(folder, f"sqlite:///{folder.parent / 'tracker.db'}")


BYTE_FOR_BYTE = [
    (("announcements", "--format", "json"), "announcements.json"),
    (("announcements", "--format", "csv"), "announcements.csv"),
    (("announcements",), "announcements.txt"),
    (("services", "--format", "json"), "services.json"),
    (("services",), "services.txt"),
    (("services", "--unmatched"), "services-unmatched.txt"),
    (("sessions", "--format", "json"), "sessions.json"),
    (("sessions", "--format", "csv"), "sessions.csv"),
    (("sessions",), "sessions.txt"),
]


def test_piped_output_is_what_it_was_before_rich(database_url: str, tmp_path: Path) -> None:
    config = _imported(tmp_path / "config", database_url)
    for argv, name in BYTE_FOR_BYTE:
        code, out, err = _tracker(config, *argv)
        assert code == 0, err
        assert UPDATED_AT.sub('"updated_at": "<updated_at>"', out) == (BEFORE / name).read_bytes().decode(), name
        assert "\x1b" not in out + err


@pytest.mark.parametrize(
    "argv",
    [("announcements", "--format", "json"), ("announcements", "--format", "csv"), ("sessions", "--format", "csv")],
)
def test_json_and_csv_on_a_terminal_are_the_bytes_a_pipe_gets(config: Path, argv: tuple[str, ...]) -> None:
    _, piped, _ = _tracker(config, *argv)
    code, shown, err = _tracker(config, *argv, tty="out", columns=40)
    assert code == 0, err
    # csv.writer ends rows with "\r\n", which the terminal shows as it is: compare without the "\r".
    assert shown.replace("\r", "") == piped.replace("\r", "") and "\x1b" not in shown


def test_a_table_on_a_terminal_fits_its_width_in_colour(config: Path) -> None:
    code, shown, err = _tracker(config, "announcements", tty="out", columns=60)
    assert code == 0, err
    assert ESCAPE.search(shown), "no colour on a terminal"
    text = ESCAPE.sub("", shown)
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and max(len(line) for line in lines) <= 60
    # Every word of every title is there, wrapped inside its column.
    words = set(text.split())
    for row in json.loads(_tracker(config, "announcements", "--format", "json")[1]):
        assert set(row["title"].split()) <= words, row["title"]
    # Wider than the terminal piped, where nothing is cut or wrapped.
    assert max(len(line) for line in (BEFORE / "announcements.txt").read_text().splitlines()) > 60


def test_no_color_draws_the_table_without_any_escape_code(config: Path) -> None:
    code, shown, err = _tracker(config, "services", tty="out", columns=100, NO_COLOR="1")
    assert code == 0, err
    assert "\x1b" not in shown
    assert "amazon-s3" in shown and "Amazon DynamoDB" in shown


def test_a_long_import_on_a_terminal_shows_counts_and_a_rate(tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text(
        f"database_url = {json.dumps('sqlite:///' + str(tmp_path / 't.db'))}\n"
        f"output_dir = {json.dumps(str(tmp_path / 'feeds'))}\narchive_dir = {json.dumps(str(tmp_path / 'a'))}\n"
    )
    code, out, shown = _tracker(tmp_path, "import", *map(str, DOCUMENTS), tty="err", columns=120)
    assert code == 0, shown
    text = ESCAPE.sub("", shown)
    # The What's New feed's three launches as a count of its bar, the two sources as another, with a rate.
    assert re.search(r"whats-new-feed\.xml\s.*\b3/3\b.*documents", text), text[-2000:]
    assert re.search(r"sources\s.*\b2/2\b.*sources/s", text), text[-2000:]
    assert "6 new and 0 updated announcements" in text
    assert out == ""
    # Re-extracting the two archived bodies: a bar of bodies, on one process and on two.
    for workers in ("1", "2"):
        code, _, shown = _tracker(tmp_path, "reextract", "--workers", workers, tty="err", columns=120)
        assert code == 0, shown
        assert re.search(r"re-extracting\s.*\b2/2\b.*archived bodies", ESCAPE.sub("", shown)), shown[-2000:]
    # --quiet: no bars on a terminal either
    code, _, shown = _tracker(tmp_path, "--quiet", "reextract", "--workers", "1", tty="err", columns=120)
    assert code == 0 and "\x1b" not in shown and "2/2" not in shown, shown


def test_nothing_but_the_summary_reaches_a_pipe(tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text(
        f"database_url = {json.dumps('sqlite:///' + str(tmp_path / 't.db'))}\n"
        f"output_dir = {json.dumps(str(tmp_path / 'feeds'))}\narchive_dir = {json.dumps(str(tmp_path / 'a'))}\n"
    )
    code, out, err = _tracker(tmp_path, "import", *map(str, DOCUMENTS))
    assert code == 0, err
    assert "\x1b" not in out + err and "━" not in err and "3/3" not in err
    assert err.splitlines()[-1].startswith("2 sources (0 failed), 4 documents")


def test_a_cell_is_text_never_markup_nor_a_terminal_control() -> None:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    hostile = "[bold red]Launch[/] :rocket: \x1b]0;owned\x07\x1b[2J done"
    with open(slave, "w", encoding="utf-8", closefd=True) as terminal:
        assert terminal.isatty()
        print_table(["id", "title"], [["1", hostile]], stream=terminal)
    shown = os.read(master, 65536).decode()
    os.close(master)
    assert "[bold red]Launch[/] :rocket:" in shown and "done" in shown
    assert "owned" not in shown and "\x1b[2J" not in shown and "\x1b]" not in shown


def test_a_plain_table_pads_columns_and_strips_controls() -> None:
    text = plain_table(["id", "title"], [["1", "a\x1b[31mred\x1b[0m one"], ["22", "b"]])
    assert text == "id  title\n--  --------\n1   ared one\n22  b\n"
