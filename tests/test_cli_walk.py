"""Every command, walked through the mistakes people make and the environments they run in.

The commands are read from the parser itself (`tracker.cli.build_parser`), so a new command or
option is walked without touching this file. Each case runs `python -m tracker` as a real
subprocess and asserts: no traceback, an exit code that `tracker --help` documents, and a
message that names what is wrong (the option, the path, the setting).

Cases: an unknown option, a bad value for every typed option, a nonexistent --config, a mistyped
database folder, a folder where the database file should be, a file where the output folder
should be, stdout closed by the reader (`tracker ... | head -c0`), and database and output
folders that cannot be written.

Read-only folders: root ignores permission bits, and CI runs as root. As root, each such case
runs the command in a private mount namespace (`unshare --mount`) where the folder is bind-mounted
read-only over itself: writes fail with EROFS for root too, and nothing changes outside the
child. Other users get a `chmod 0555` folder (EACCES). Where neither works (root without
CAP_SYS_ADMIN), those cases skip saying so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tracker.cli import EXIT_CODES, build_parser

pytestmark = pytest.mark.slow  # about 150 subprocesses

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DOCUMENTED = {code for code, _ in EXIT_CODES}
# Commands that run until stopped: the walk stops them with Ctrl-C once they had time to start.
LONG_RUNNING = {"schedule", "serve"}
STARTUP_SECONDS = 4.0


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[str, argparse.ArgumentParser]:
    """Every (sub-)command of the parser by its name path, e.g. {"run": ..., "db": ...}."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = (*prefix, name)
                found[" ".join(path)] = sub
                found.update(_commands(sub, path))
    return found


PARSER = build_parser()
COMMANDS = _commands(PARSER)


def _positionals(sub: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in sub._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]


def _sample(action: argparse.Action, world: Path) -> str:
    """A valid value for a positional argument, from its choices, type or metavar."""
    if action.choices:
        return str(next(iter(action.choices)))
    if action.metavar == "DOCUMENT":
        return str(world / "recap.md")
    if action.metavar == "ANNOUNCEMENT":
        return "1"
    raise AssertionError(f"no sample value for positional {action.metavar or action.dest}: add one to _sample")


def _argv(name: str, world: Path) -> list[str]:
    """The command with valid values for its positional arguments."""
    return [*name.split(), *(_sample(a, world) for a in _positionals(COMMANDS[name]))]


BAD_CANDIDATES = ("bogus", "-1", "0", "x" * 300, "")


def _bad_value(action: argparse.Action) -> str | None:
    """A value the action's type or choices refuse, or None when it takes any text."""
    for value in BAD_CANDIDATES:
        if action.choices is not None:
            if value not in action.choices:
                return value
            continue
        if action.type is None or action.type in (str, Path):
            return None
        try:
            action.type(value)  # type: ignore[misc, operator]
        except (argparse.ArgumentTypeError, ValueError, TypeError):
            return value
    raise AssertionError(f"none of {BAD_CANDIDATES} is refused by {action.dest}: add a bad value")


def _typed_options() -> list[tuple[str, argparse.Action, str]]:
    cases = []
    for name, sub in COMMANDS.items():
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) or action.nargs == 0:
                continue
            bad = _bad_value(action)
            if bad is not None:
                cases.append((name, action, bad))
    return cases


TYPED = _typed_options()


@dataclass
class Result:
    """What a finished `tracker` subprocess left."""

    code: int
    out: str
    err: str


@dataclass
class World:
    """A folder with config/, a local source, and a database holding one import."""

    root: Path
    database: Path
    output: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a child: no TRACKER_* of the caller's, this checkout on the path."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        env["PYTHONPATH"] = str(REPO)
        env.update(extra)
        return env

    def tracker(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        close_stdout: bool = False,
        wrap: Sequence[str] = (),
        command: str = "",
    ) -> Result:
        """Run `python -m tracker ARGS` in the world; a long-running command gets Ctrl-C once started."""
        proc = subprocess.Popen(
            [*wrap, sys.executable, "-m", "tracker", *args],
            cwd=self.root,
            env=env or self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        if close_stdout:
            proc.stdout.close()  # the reader is gone before the first byte: `tracker ... | head -c0`
        try:
            out, err = _communicate(proc, STARTUP_SECONDS if command in LONG_RUNNING else 120.0, close_stdout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            out, err = _communicate(proc, 60.0, close_stdout)
        return Result(proc.returncode, out, err)


def _communicate(proc: subprocess.Popen[str], timeout: float, closed: bool) -> tuple[str, str]:
    if closed:
        assert proc.stderr is not None
        proc.wait(timeout=timeout)
        return "", proc.stderr.read()
    return proc.communicate(timeout=timeout)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("walk")
    shutil.copy(FIXTURES / "extract" / "recap-reinvent-2031.md", root / "recap.md")
    (root / "config").mkdir()
    database = root / "db" / "tracker.db"
    database.parent.mkdir()
    output = root / "feeds"
    (root / "config" / "tracker.toml").write_text(
        f'database_url = "sqlite:///{database}"\noutput_dir = "{output}"\narchive_dir = "{root / "archive"}"\n',
        encoding="utf-8",
    )
    (root / "config" / "sources.toml").write_text(
        '[[source]]\nname = "local-recap"\nkind = "markdown"\nurl = "recap.md"\n', encoding="utf-8"
    )
    w = World(root, database, output)
    done = w.tracker("-q", "import", str(root / "recap.md"))
    assert done.code == 0, done.err
    return w


def _clean(result: Result, *, case: str) -> None:
    """No traceback, a documented exit code."""
    for text in (result.err, result.out):
        assert "Traceback" not in text, f"{case}: traceback\n{text}"
        assert "Exception ignored" not in text, f"{case}: exception at exit\n{text}"
    assert result.code in DOCUMENTED, f"{case}: exit {result.code} is not documented\n{result.err}"


def _once(result: Result, *, case: str) -> None:
    """Each error line printed once, and not also as a log line."""
    lines = [line.strip() for line in result.err.splitlines() if line.strip()]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    for message in errors:
        # The log format is "LEVEL logger: message"; the error printer's "error: message".
        core = message[-60:]
        assert sum(core in line for line in lines) == 1, f"{case}: printed more than once\n{result.err}"


NAMES = sorted(COMMANDS)


def test_the_walk_sees_every_command() -> None:
    from tracker.cli import COMMANDS as REGISTERED

    assert set(REGISTERED) <= {name.split()[0] for name in COMMANDS}
    assert LONG_RUNNING <= set(COMMANDS)


@pytest.mark.parametrize("name", NAMES)
def test_unknown_option(world: World, name: str) -> None:
    result = world.tracker(*_argv(name, world.root), "--no-such-option", command=name)
    _clean(result, case=name)
    assert result.code == 2 and "--no-such-option" in result.err


@pytest.mark.parametrize(
    ("name", "action", "bad"),
    TYPED,
    ids=[f"{n} {a.option_strings[0] if a.option_strings else a.dest}" for n, a, _ in TYPED],
)
def test_bad_value_of_every_typed_option(world: World, name: str, action: argparse.Action, bad: str) -> None:
    argv = _argv(name, world.root)
    if action.option_strings:
        argv += [action.option_strings[-1], bad]
        named = action.option_strings
    else:
        index = _positionals(COMMANDS[name]).index(action)
        argv[len(name.split()) + index] = bad
        named = [str(action.metavar or action.dest)]
    result = world.tracker(*argv, command=name)
    _clean(result, case=" ".join(argv))
    assert result.code == 2 and any(n in result.err for n in named), result.err


@pytest.mark.parametrize("name", NAMES)
def test_nonexistent_config_folder(world: World, name: str) -> None:
    missing = world.root / "no-such-config"
    result = world.tracker("--config", str(missing), *_argv(name, world.root), command=name)
    _clean(result, case=name)
    assert result.code == 2, result.err
    assert str(missing) in result.err and "--config" in result.err


@pytest.mark.parametrize("name", NAMES)
def test_mistyped_database_folder(world: World, name: str) -> None:
    typo = world.root / "dbb" / "tracker.db"
    result = world.tracker("--database", f"sqlite:///{typo}", *_argv(name, world.root), command=name)
    _clean(result, case=name)
    assert not typo.parent.exists(), f"{name} created the mistyped folder {typo.parent}"
    # A command that needs no database (extract) succeeds; every other one says what is wrong.
    if result.code != 0:
        assert result.code == 2 and str(typo.parent) in result.err and "--database" in result.err, result.err


def test_mistyped_database_folder_names_where_the_setting_came_from(world: World, tmp_path: Path) -> None:
    typo = world.root / "dbb" / "tracker.db"
    result = world.tracker("status", env=world.env(TRACKER_DATABASE_URL=f"sqlite:///{typo}"))
    _clean(result, case="environment")
    assert result.code == 2 and "TRACKER_DATABASE_URL" in result.err and str(typo.parent) in result.err
    config = tmp_path / "config"
    config.mkdir()
    (config / "tracker.toml").write_text(f'database_url = "sqlite:///{typo}"\n', encoding="utf-8")
    result = world.tracker("--config", str(config), "status")
    _clean(result, case="tracker.toml")
    assert result.code == 2 and str(config / "tracker.toml") in result.err and "database_url" in result.err
    _once(result, case="tracker.toml")


@pytest.mark.parametrize("name", NAMES)
def test_a_folder_where_the_database_file_should_be(world: World, name: str) -> None:
    folder = world.root / "db"  # exists: it holds the real database
    result = world.tracker("--database", f"sqlite:///{folder}", *_argv(name, world.root), command=name)
    _clean(result, case=name)
    _once(result, case=name)
    if result.code != 0:
        assert result.code == 2 and str(folder) in result.err and "folder" in result.err, result.err


@pytest.mark.parametrize("name", NAMES)
def test_a_file_where_the_output_folder_should_be(world: World, name: str) -> None:
    in_the_way = world.root / "recap.md"
    result = world.tracker("--output", str(in_the_way / "feeds"), *_argv(name, world.root), command=name)
    _clean(result, case=name)
    _once(result, case=name)
    if result.code not in (0, 130):
        assert str(in_the_way) in result.err and "output_dir" in result.err, result.err


@pytest.mark.parametrize(
    "name", sorted({n for n in NAMES if "DOCUMENT" in {a.metavar for a in _positionals(COMMANDS[n])}})
)
@pytest.mark.parametrize("what", ["missing", "folder", "empty"])
def test_bad_document_paths(world: World, name: str, what: str) -> None:
    path = {"missing": world.root / "no-such.md", "folder": world.root / "db", "empty": world.root / "empty.md"}[what]
    if what == "empty":
        path.write_bytes(b"")
    argv = [name, str(path)]
    result = world.tracker(*argv, command=name)
    _clean(result, case=" ".join(argv))
    _once(result, case=" ".join(argv))
    assert result.code != 0 and str(path) in result.err, result.err


@pytest.mark.parametrize("name", NAMES)
def test_stdout_closed_by_the_reader(world: World, name: str) -> None:
    result = world.tracker(*_argv(name, world.root), close_stdout=True, command=name)
    _clean(result, case=name)


@pytest.mark.parametrize("name", NAMES)
def test_stdout_closed_while_json_or_help_is_printed(world: World, name: str) -> None:
    formats = [a for a in COMMANDS[name]._actions if "--format" in a.option_strings]
    extra = ["--format", "json"] if formats and "json" in (formats[0].choices or ()) else ["--help"]
    result = world.tracker(*_argv(name, world.root), *extra, close_stdout=True, command=name)
    _clean(result, case=name)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A folder the child cannot write, and the command prefix that makes it so."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder, []
        folder.chmod(0o755)
        return
    unshare = shutil.which("unshare")
    probe = [unshare or "unshare", "--mount", "sh", "-c", 'mount --bind -o ro "$0" "$0" && ! touch "$0/x"', str(folder)]
    if unshare is None or subprocess.run(probe, capture_output=True, check=False).returncode != 0:
        pytest.skip("running as root without `unshare --mount` and `mount`: no way to make a folder read-only")
    wrap = [unshare, "--mount", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(folder)]
    # The folder is filled by the caller before the mount: it is read-only only inside the child.
    yield folder, wrap


@pytest.mark.parametrize("name", NAMES)
def test_read_only_database_folder(world: World, name: str, read_only: tuple[Path, list[str]]) -> None:
    folder, wrap = read_only
    if not wrap:
        folder.chmod(0o755)
    shutil.copy(world.database, folder / "tracker.db")
    if not wrap:
        folder.chmod(0o555)
    result = world.tracker(
        "--database", f"sqlite:///{folder / 'tracker.db'}", *_argv(name, world.root), wrap=wrap, command=name
    )
    _clean(result, case=name)
    _once(result, case=name)
    if result.code not in (0, 130):
        assert result.code == 74 and str(folder) in result.err, result.err


@pytest.mark.parametrize("name", NAMES)
def test_read_only_output_folder(world: World, name: str, read_only: tuple[Path, list[str]]) -> None:
    folder, wrap = read_only
    result = world.tracker("--output", str(folder / "feeds"), *_argv(name, world.root), wrap=wrap, command=name)
    _clean(result, case=name)
    _once(result, case=name)
    if result.code not in (0, 130):
        assert result.code == 74 and str(folder) in result.err and "output_dir" in result.err, result.err
