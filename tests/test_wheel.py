"""Installed from a wheel, in a fresh environment, `tracker` extracts from any folder.

The rules, model, taxonomy and events ship inside the package (tracker/data); nothing of the
checkout may be needed. The wheel is built from a copy of the tracked files, unpacked into a new
virtual environment whose only other entries are the installed dependencies, and run from an
empty folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RECAP = REPO / "tests" / "fixtures" / "extract" / "recap-reinvent-2031.md"


def _tracked_copy(dest: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the wheel is built from the tracked files")
    for name in listed.stdout.decode().split("\0"):
        if name and (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)


@pytest.mark.slow
def test_a_wheel_installed_in_a_fresh_environment_extracts_from_an_empty_folder(tmp_path: Path) -> None:
    source = tmp_path / "source"
    _tracked_copy(source)
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("*.whl")

    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    # The dependencies come from this environment's site-packages, added after the new one's
    # (a path line in a .pth file; that folder's own .pth files, the editable install of the
    # checkout among them, are not read).
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(RECAP, empty / "recap.md")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_") and k != "PYTHONPATH"}
    where = subprocess.run(
        [str(python), "-c", "import tracker; print(tracker.__file__)"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout
    # The browse page's files, the vendored chart library and its licence among them, are in the package.
    shipped = {p.name for p in (REPO / "tracker" / "web" / "static").iterdir()}
    assert {"uPlot.iife.min.js", "uPlot.LICENSE.txt"} <= shipped
    assert shipped <= {p.name for p in (site / "tracker" / "web" / "static").iterdir()}

    result = subprocess.run(
        [str(python), "-m", "tracker", "extract", "recap.md", "--format", "json"],
        cwd=empty,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    titles = [a["title"] for a in data["announcements"]]
    assert len(titles) >= 3, titles
    assert all(a["services"] for a in data["announcements"]), data["announcements"]
    # Nothing was written beside the document: extraction needs no database or config folder.
    assert sorted(p.name for p in empty.iterdir()) == ["recap.md"]
