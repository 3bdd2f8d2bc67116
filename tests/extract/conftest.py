"""Helpers for the extraction tests: read a fixture and extract it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.extract import extract
from tracker.items import Document


@pytest.fixture
def extract_fixture(fixtures: Path):  # type: ignore[no-untyped-def]
    """Extract one of tests/fixtures/extract/ by file name."""

    def run(name: str, **kwargs: object) -> list[Document]:
        path = fixtures / "extract" / name
        return extract(path.read_bytes(), url=f"https://example.org/{name}", **kwargs)  # type: ignore[arg-type]

    return run
