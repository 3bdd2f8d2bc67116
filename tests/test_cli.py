"""The command line: every command documented, errors that say what to fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tracker.cli import COMMANDS, build_parser, main

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "Example:" in out and "tracker " + name in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_is_in_the_readme(name: str) -> None:
    assert f"tracker {name}" in README.read_text(encoding="utf-8")


def test_top_level_help_lists_every_command() -> None:
    help_text = build_parser().format_help()
    for name in COMMANDS:
        assert name in help_text


def test_unknown_config_key_names_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tracker.toml").write_text('database_urll = "sqlite:///x.db"\n')
    code = main(["--config", str(tmp_path), "services"])
    err = capsys.readouterr().err
    assert code == 2
    assert "tracker.toml" in err and "database_urll" in err


def test_wrong_type_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tracker.toml").write_text('[feeds]\nlimit = "many"\n')
    code = main(["--config", str(tmp_path), "services"])
    err = capsys.readouterr().err
    assert code == 2 and "feeds.limit" in err and "int" in err


def test_console_script_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "tracker", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("tracker ")
