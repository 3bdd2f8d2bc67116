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
    assert code == 2 and "feeds.limit" in err and "must be a whole number (got 'many')" in err


def test_console_script_runs() -> None:
    out = subprocess.run([sys.executable, "-m", "tracker", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("tracker ")


# Hostile arguments: a clear error naming the option, exit 2, never a traceback (issue 14, finding 11).
BAD_ARGUMENTS = [
    (["announcements", "--limit", "9" * 40], "--limit"),
    (["announcements", "--limit", "-1"], "--limit"),
    (["announcements", "--limit", "0"], "--limit"),
    (["announcements", "--limit", "١٢"], "--limit"),  # Arabic-Indic digits: int() would take them
    (["announcements", "--limit", "1e3"], "--limit"),
    (["announcements", "--since", "0001-01-01T00:00:00+14:00"], "--since"),
    (["announcements", "--until", "9999-12-31T23:59:59-14:00"], "--until"),
    (["show", "9" * 30], "ANNOUNCEMENT"),
    (["show", str(2**63)], "ANNOUNCEMENT"),
    (["show", "0"], "ANNOUNCEMENT"),
    (["run", "--wait", "nan"], "--wait"),
    (["run", "--wait", "-5"], "--wait"),
    (["publish", "--wait", "inf"], "--wait"),
    (["reextract", "--workers", "99999999999"], "--workers"),
    (["serve", "--port", "70000"], "--port"),
]


@pytest.mark.parametrize(("argv", "option"), BAD_ARGUMENTS, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_hostile_arguments_exit_2_naming_the_option(
    argv: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--database", "sqlite:///:memory:", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "Traceback" not in err


@pytest.mark.parametrize("ref", [str(2**63 - 1), "1", "00000000000000001234", "ffffffffffffffff"])
def test_show_of_any_valid_id_answers_without_a_traceback(
    database_url: str, ref: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tracker.store.db import close_stores

    try:
        code = main(["--database", database_url, "show", ref])
    finally:
        close_stores()
    err = capsys.readouterr().err
    assert code == 1 and "no announcement with id or key" in err and "Traceback" not in err


def test_limit_bounds_the_rows_on_both_databases(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime

    from tracker.items import Announcement, NormalizedAnnouncement
    from tracker.store.announcements import upsert_announcement
    from tracker.store.db import close_stores, open_store, unit_of_work

    try:
        with unit_of_work(open_store(database_url)) as session:
            for n in range(3):
                ann = Announcement(title=f"Launch number {n}", rule="test")
                dated = NormalizedAnnouncement(
                    key=f"k{n}", announcement=ann, announced_at=datetime(2030, 1, 1 + n, tzinfo=UTC)
                )
                upsert_announcement(session, dated, now=datetime(2030, 2, 1, tzinfo=UTC), event_id=None)
        capsys.readouterr()
        assert main(["--database", database_url, "announcements", "--limit", "2", "--format", "csv"]) == 0
        rows = capsys.readouterr().out.strip().splitlines()
        assert len(rows) == 1 + 2
        assert main(["--database", database_url, "announcements", "--until", "9999-12-30", "--format", "csv"]) == 0
        assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 3
        # The end of 9999-12-31 is past the last moment a date can name: refused as the API refuses it.
        with pytest.raises(SystemExit) as exc:
            main(["--database", database_url, "announcements", "--until", "9999-12-31", "--format", "csv"])
        assert exc.value.code == 2 and "9999-12-31T23:59:59Z" in capsys.readouterr().err
    finally:
        close_stores()
