"""The rules are data: a user adds a marker or a stop-phrase in extract.toml, no Python."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tracker.config import shipped_file
from tracker.errors import ConfigError
from tracker.extract import extract
from tracker.extract.rules import load_rules, rules_from_dict

REPO = Path(__file__).resolve().parents[2]


def test_shipped_rules_load() -> None:
    rules = load_rules(shipped_file("extract.toml"))
    assert any(m.name == "announcing" for m in rules.markers)
    assert "how it works" in rules.stop_phrases
    assert rules == load_rules()  # the default path finds the same file


def test_user_marker_without_python(tmp_path: Path) -> None:
    text = "# Keynote notes\n\n* Debuting **Amazon Widget Lake** for widgets\n"
    assert extract(text, url="x.md")[0].announcements == ()
    data = tomllib.loads((shipped_file("extract.toml")).read_text())
    data["announce"]["marker"].append({"name": "debuting", "pattern": r"\bDebuting\b", "position": "before"})
    rules = rules_from_dict(data)
    [ann] = extract(text, url="x.md", rules=rules)[0].announcements
    assert ann.title == "Amazon Widget Lake" and ann.rule == "marker:debuting+emphasis"


def test_user_stop_phrase(tmp_path: Path) -> None:
    text = "* Announcing **Amazon Widget Lake**\n"
    data = tomllib.loads((shipped_file("extract.toml")).read_text())
    data["announce"]["stop_phrases"].append("amazon widget lake")
    assert extract(text, url="x.md", rules=rules_from_dict(data))[0].announcements == ()


def test_bad_rules_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "extract.toml"
    bad.write_text('[[announce.marker]]\nname = "x"\npattern = "(unclosed"\n')
    with pytest.raises(ConfigError) as info:
        load_rules(bad)
    assert "announce.marker[0]" in str(info.value)
    bad.write_text("not = [toml")
    with pytest.raises(ConfigError):
        load_rules(bad)
    with pytest.raises(ConfigError):
        load_rules(tmp_path / "missing.toml")
