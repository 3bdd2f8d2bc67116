"""The command line's manners, in process: settings that must exist, `tracker status` as people
read it, counts with their right plural. (Every command through bad input as a subprocess:
tests/test_cli_walk.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tracker.cli import main
from tracker.textutil import plural

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_plural_forms() -> None:
    assert plural(0, "announcement") == "0 announcements"
    assert plural(1, "announcement") == "1 announcement"
    assert plural(2, "session") == "2 sessions"
    assert plural(12345, "document") == "12,345 documents"
    assert plural(1, "feed file") == "1 feed file"
    assert plural(3, "index", "indexes") == "3 indexes"


def _config(tmp_path: Path, database: Path, sources: str = "") -> Path:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    (config / "tracker.toml").write_text(
        f'database_url = "sqlite:///{database}"\noutput_dir = "{tmp_path / "feeds"}"\n'
        f'archive_dir = "{tmp_path / "archive"}"\n',
        encoding="utf-8",
    )
    (config / "sources.toml").write_text(sources, encoding="utf-8")
    return config


def test_a_nonexistent_config_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "confg"
    assert main(["--config", str(missing), "status"]) == 2
    err = capsys.readouterr().err
    assert f"--config {missing}: no such folder" in err
    assert not (tmp_path / "tracker.db").exists()


def test_a_config_file_given_as_the_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, tmp_path / "tracker.db")
    assert main(["--config", str(config / "tracker.toml"), "status"]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_a_mistyped_database_folder_names_the_file_it_came_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, tmp_path / "dta" / "tracker.db")
    assert main(["--config", str(config), "announcements"]) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1
    assert f"database_url (from {config / 'tracker.toml'})" in err and str(tmp_path / "dta") in err
    assert not (tmp_path / "dta").exists()


def test_a_session_import_says_how_many_sessions_it_stored(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tracker.store.db import close_stores

    config = _config(tmp_path, tmp_path / "tracker.db")
    playlist = FIXTURES / "extract" / "playlist-reinvent-2031.md"
    try:
        code = main(
            ["--config", str(config), "import", str(playlist), "--kind", "sessions", "--event", "AWS re:Invent 2031"]
        )
    finally:
        close_stores()
    err = capsys.readouterr().err
    assert code == 0, err
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("1 source (0 failed), 1 document, ") and ", 4 sessions" in summary, summary


def _status(config: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["--config", str(config), "status", "--format", "json", *extra]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_status_shows_configured_sources_and_ages_out_failed_imports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tracker.store.db import close_stores, open_store, unit_of_work
    from tracker.store.sources import get_or_create_source, record_fetch_failure, record_fetch_success

    database = tmp_path / "tracker.db"
    config = _config(
        tmp_path,
        database,
        '[[source]]\nname = "feed-a"\nurl = "a.xml"\n\n[[source]]\nname = "feed-b"\nurl = "b.xml"\nenabled = false\n',
    )
    now = datetime.now(UTC)
    try:
        with unit_of_work(open_store(f"sqlite:///{database}")) as session:

            def failed(name: str, at: datetime) -> None:
                get_or_create_source(session, name, kind="auto", url=name)
                record_fetch_failure(session, name, at=at, kind="not-found", message=f"{name}: file not found")

            def succeeded(name: str, at: datetime) -> None:
                get_or_create_source(session, name, kind="auto", url=name)
                record_fetch_success(session, name, at=at, etag=None, last_modified=None, status="ok")

            failed("import:/old-typo.md", now - timedelta(days=8))  # past the 7 days
            failed("import:/typo.md", now - timedelta(hours=3))  # a later import succeeded
            succeeded("import:/recap.md", now - timedelta(hours=2))
            failed("import:/latest-typo.md", now - timedelta(hours=1))  # after the last success: shown
            for n in range(6):  # successes beyond the five most recent imports are left out too
                succeeded(f"import:/listing-{n}.md", now - timedelta(days=1, minutes=n))
            failed("removed-from-config", now - timedelta(minutes=5))
        shown = _status(config, capsys=capsys)
        everything = _status(config, "--all", capsys=capsys)
        capsys.readouterr()
        assert main(["--config", str(config), "status"]) == 0
        table = capsys.readouterr()
    finally:
        close_stores()
    sources = shown["sources"]
    assert isinstance(sources, list)
    names = [s["name"] for s in sources]
    # Configured sources first, in the configuration's order, run or not.
    assert names[:2] == ["feed-a", "feed-b"]
    assert sources[0]["last_status"] is None and sources[1]["enabled"] is False
    imports = names[2:]
    assert imports[:2] == ["import:/latest-typo.md", "import:/recap.md"] and len(imports) == 5
    assert "import:/typo.md" not in imports and "import:/old-typo.md" not in imports
    assert "removed-from-config" not in names
    all_names = {s["name"] for s in everything["sources"]}  # type: ignore[union-attr]
    assert {"import:/typo.md", "import:/old-typo.md", "removed-from-config"} <= all_names
    assert shown["sources_not_shown"] == len(all_names) - len(names) == 6
    lines = table.out.splitlines()
    assert next(line for line in lines if line.startswith("feed-a ")).split()[1:3] == ["never", "run"]
    assert next(line for line in lines if line.startswith("feed-b ")).split()[1] == "disabled"
    assert "6 other stored sources not shown" in table.err


def test_an_import_that_reads_a_document_to_nothing_says_so_and_what_to_try(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tracker.store.db import close_stores

    config = _config(tmp_path, tmp_path / "tracker.db")
    essay = tmp_path / "essay.md"
    essay.write_text(
        "# My week in Las Vegas\n\nI walked a lot, met old friends and ate too much. The expo was loud.\n",
        encoding="utf-8",
    )
    recap = tmp_path / "recap.md"
    recap.write_text("# Launches\n\n- Announcing **Amazon Zeta Streams**\n- Announcing **AWS Quill Ledger**\n")
    try:
        code = main(["--config", str(config), "import", str(essay), str(recap)])
    finally:
        close_stores()
    err = capsys.readouterr().err
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert notes == [
        f"note: {essay}: it gave no launch and no session; "
        f"`tracker extract {essay} --explain` lists every candidate and why none was taken"
    ]
    assert main(["--config", str(config), "extract", str(essay)]) == 0
    assert f"`tracker extract {essay} --explain`" in capsys.readouterr().err
    assert main(["--config", str(config), "extract", str(recap)]) == 0
    assert "note:" not in capsys.readouterr().err
