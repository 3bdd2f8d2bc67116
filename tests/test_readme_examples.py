"""The README's command examples are true: each one parses, and each one runs.

Examples are the `tracker ...` (or `python -m tracker ...`) commands of the README's fenced
shell blocks, split at `&&`. Every one, and every `Example:` of every command's --help, must be
accepted by the parser; the README's are then run, in order, as subprocesses in a folder built
from the project's fixtures (`saved/recap.md`, `saved/whats-new.xml`, `playlist.md`, a
`config/sources.toml` of local files, so `tracker run` reads no network). A long-running
command (`tracker serve`) is stopped with Ctrl-C once started, on a free port rather than 8000.
Commands that cannot run here are listed in SKIPPED with the reason; the test fails when an
entry there no longer matches an example, so the list stays honest.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tracker.cli import COMMANDS, build_parser

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Examples that need what no test may use, each with the reason.
SKIPPED = {
    "AWS_PROFILE=feeds tracker --output s3://my-feeds/aws run": "publishes to a real S3 bucket: the network",
}
LONG_RUNNING = {"serve", "schedule"}
_FENCE = re.compile(r"^```(sh|bash|shell|console)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _tracker_argv(words: list[str]) -> list[str] | None:
    """The arguments after `tracker` (or `python -m tracker`) in a command, else None."""
    while words and _ASSIGNMENT.match(words[0]):
        words = words[1:]
    if words and Path(words[0]).name == "tracker":
        return words[1:]
    if len(words) >= 3 and Path(words[0]).name.startswith("python") and words[1:3] == ["-m", "tracker"]:
        return words[3:]
    return None


def readme_examples() -> list[tuple[str, list[str]]]:
    """(the command as written, its tracker arguments) for each example of the fenced shell blocks."""
    found: list[tuple[str, list[str]]] = []
    for block in _FENCE.finditer(README.read_text(encoding="utf-8")):
        for line in block.group(2).splitlines():
            words = shlex.split(line, comments=True)
            segments: list[list[str]] = [[]]
            for word in words:
                if word in ("&&", "||", ";"):
                    segments.append([])
                else:
                    segments[-1].append(word)
            for segment in segments:
                argv = _tracker_argv(segment)
                if argv is not None:
                    found.append((shlex.join(segment), argv))
    return found


def help_examples() -> list[tuple[str, list[str]]]:
    """The `Example:` lines of every command's --help."""
    found = []
    for _handler, doc in COMMANDS.values():
        _, _, example = doc.partition("Example:")
        for line in example.splitlines():
            argv = _tracker_argv(shlex.split(line, comments=True)) if line.strip() else None
            if argv is not None:
                found.append((line.strip(), argv))
    return found


EXAMPLES = readme_examples()


def test_the_readme_has_examples_to_check() -> None:
    assert len(EXAMPLES) >= 5
    written = {shown for shown, _ in EXAMPLES}
    for skipped in SKIPPED:
        assert skipped in written, f"SKIPPED lists {skipped!r}, which the README no longer has"


@pytest.mark.parametrize(("shown", "argv"), EXAMPLES + help_examples(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_example_parses(shown: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"{shown!r} does not parse (exit {exc.code}): {capsys.readouterr().err.strip()}")


def test_the_commands_table_names_real_options() -> None:
    """Each `tracker COMMAND [--option ...]` synopsis of the README names options the command has."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    global_options = {s for a in parser._actions for s in a.option_strings}
    text = README.read_text(encoding="utf-8")
    checked = 0
    for span in re.findall(r"`(tracker [^`]+)`", text):
        words = span.replace("\\|", "|").split()
        name = words[1]
        if name not in subparsers.choices:
            continue
        options = {s for a in subparsers.choices[name]._actions for s in a.option_strings} | global_options
        for word in words[2:]:
            option = word.strip("[]")
            if option.startswith("--"):
                assert option in options, f"README: `{span}` names {option}, which `tracker {name}` does not have"
                checked += 1
    assert checked > 20


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the README's examples run in: saved documents and a config of local sources."""
    root = tmp_path_factory.mktemp("readme")
    (root / "saved").mkdir()
    shutil.copy(FIXTURES / "extract" / "recap-reinvent-2031.md", root / "saved" / "recap.md")
    shutil.copy(FIXTURES / "extract" / "whats-new-feed.xml", root / "saved" / "whats-new.xml")
    shutil.copy(FIXTURES / "extract" / "playlist-reinvent-2031.md", root / "playlist.md")
    (root / "config").mkdir()
    (root / "config" / "sources.toml").write_text(
        '[[source]]\nname = "saved-recap"\nkind = "markdown"\nurl = "saved/recap.md"\n\n'
        '[[source]]\nname = "saved-whats-new"\nkind = "whats-new"\nurl = "saved/whats-new.xml"\n',
        encoding="utf-8",
    )
    return root


@pytest.mark.slow
def test_every_readme_example_runs(folder: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["PYTHONPATH"] = str(REPO)
    ran = []
    for shown, argv in EXAMPLES:
        if shown in SKIPPED:
            continue
        long_running = bool(set(argv) & LONG_RUNNING)
        if long_running and "--port" in argv:
            argv = [*argv]
            argv[argv.index("--port") + 1] = "0"  # any free port: 8000 may be taken where tests run
        proc = subprocess.Popen(
            [sys.executable, "-m", "tracker", *argv],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            out, err = proc.communicate(timeout=4.0 if long_running else 300.0)
        except subprocess.TimeoutExpired:
            assert long_running, f"{shown!r} did not finish"
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60.0)
        assert "Traceback" not in err, f"{shown!r}:\n{err}"
        assert proc.returncode in ((0, 130) if long_running else (0,)), f"{shown!r} exited {proc.returncode}:\n{err}"
        if not long_running:
            assert out or err, f"{shown!r} printed nothing"
        ran.append(shown)
    assert len(ran) == len(EXAMPLES) - len(SKIPPED)
