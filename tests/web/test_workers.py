"""`tracker serve --workers N`: real processes answering real HTTP on 127.0.0.1.

Which process holds which connection is read from /proc (each worker's socket descriptors
against the kernel's TCP table), not from anything the server says about itself.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tracker.store.db import close_stores, open_store
from tracker.web.server import CONNECTION_LIMIT, SQLITE_THREADS, THREADS

from .conftest import populate, publish

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT spreading and /proc: Linux")

START_SECONDS = 60.0  # the parent's "serving" line; generous for a loaded machine
PAGE = "/api/announcements?service=amazon-s3&limit=5"


@dataclass
class Served:
    """A `tracker serve` process and what it printed (collected by a thread as it comes)."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    url: str = ""

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """The first line printed (so far or within timeout) that satisfies predicate."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if predicate(line):
                    return line
            if self.proc.poll() is not None and not any(predicate(line) for line in self.lines):
                time.sleep(0.2)  # the reader thread may still be draining the pipe
                break
            time.sleep(0.05)
        found = [line for line in self.lines if predicate(line)]
        assert found, f"not printed within {timeout} s; printed: {self.lines}"
        return found[0]


def _tracker(database_url: str, output: Path, config: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tracker", "--database", database_url, "--output", str(output), "serve", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TRACKER_CONFIG_DIR": str(config), **env},
    )


@contextmanager
def serving(database_url: str, output: Path, config: Path, *args: str) -> Iterator[Served]:
    """`tracker serve --port 0 ARGS` until it prints its address; killed (with its workers) at the end."""
    served = Served(_tracker(database_url, output, config, "--port", "0", *args))
    assert served.proc.stderr is not None
    stream = served.proc.stderr
    reader = threading.Thread(target=lambda: served.lines.extend(iter(stream.readline, "")), daemon=True)
    reader.start()
    try:
        line = served.wait_for_line(lambda line: line.startswith("serving "), START_SECONDS)
        served.url = line.split(" on ", 1)[1].split(" ", 1)[0]
        yield served
    finally:
        workers = _children(served.proc.pid)
        if served.proc.poll() is None:
            served.proc.send_signal(signal.SIGTERM)
            try:
                served.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                served.proc.kill()
                served.proc.wait(timeout=10)
        for pid in workers:  # never left behind, whatever the test found
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reader.join(timeout=5)


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a process from /proc/PID/stat, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()  # after "(command name)", which may hold spaces
    return int(fields[1]), fields[0]


def _alive(pid: int) -> bool:
    found = _stat(pid)
    return found is not None and found[1] != "Z"


def _children(parent: int) -> list[int]:
    """The live child processes of a process, from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is not None and found[0] == parent and found[1] != "Z":
                out.append(int(entry.name))
    return sorted(out)


def _cpus_allowed(pid: int) -> set[int]:
    """The CPUs any thread of a process may run on (the union of its threads' affinities), from /proc."""
    cpus: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("Cpus_allowed_list:"):
                for part in line.split(":", 1)[1].strip().split(","):
                    low, _, high = part.partition("-")
                    cpus.update(range(int(low), int(high or low) + 1))
    return cpus


def _established(pid: int, port: int, peers: set[int]) -> int:
    """Established TCP connections to local `port` from one of the client ports `peers`, whose
    socket is one of the process's descriptors."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            local_port = int(cols[1].rsplit(":", 1)[1], 16)
            remote_port = int(cols[2].rsplit(":", 1)[1], 16)
            # 01: ESTABLISHED. Only the test's own connections: a probe of the server's start may
            # still be open on either worker.
            if local_port == port and remote_port in peers and cols[3] == "01" and cols[9] in inodes:
                count += 1
    return count


def _get(port: int, path: str = PAGE, conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read()


@pytest.fixture
def published(database_url: str, tmp_path: Path) -> tuple[str, Path]:
    """The test site's store (SQLite, then PostgreSQL) and its published folder."""
    factory = open_store(database_url)
    populate(factory)
    output = tmp_path / "feeds"
    publish(factory, output)
    close_stores()
    return database_url, output


def test_every_worker_answers_with_its_own_database_connections(published: tuple[str, Path], tmp_path: Path) -> None:
    database_url, output = published
    with serving(database_url, output, tmp_path, "--workers", "2") as served:
        workers = _children(served.proc.pid)
        assert len(workers) == 2
        announced = served.lines[0].split("(pids ", 1)[1].split(";", 1)[0]
        assert sorted(int(pid) for pid in announced.split(", ")) == workers
        if len(os.sched_getaffinity(0)) >= 2:  # each worker, every thread of it, on a CPU of its own
            pinned = [_cpus_allowed(pid) for pid in workers]
            assert all(len(cpus) == 1 for cpus in pinned) and len(set.union(*pinned)) == 2, pinned
            assert set.union(*pinned) <= os.sched_getaffinity(0)
        # 24 keep-alive connections, each answered: the kernel spreads them over the two
        # sockets by a hash of their addresses (all on one: a chance of 2 in 2**24).
        conns = [http.client.HTTPConnection("127.0.0.1", served.port, timeout=30) for _ in range(24)]
        try:
            answers = [_get(served.port, conn=conn) for conn in conns]
            assert {status for status, _ in answers} == {200}
            assert len({body for _, body in answers}) == 1  # the same page from either worker
            assert len(json.loads(answers[0][1])["items"]) == 5
            peers = {conn.sock.getsockname()[1] for conn in conns if conn.sock is not None}
            assert len(peers) == 24
            held = {pid: _established(pid, served.port, peers) for pid in workers}
            assert sum(held.values()) == 24 and all(held.values()), held
            # Each worker answers again on the connections it holds (its database connections work on).
            for conn in conns:
                assert _get(served.port, PAGE + "&until=2031-11-20", conn=conn)[0] == 200
        finally:
            for conn in conns:
                conn.close()
        assert _get(served.port, "/all.atom")[0] == 200


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 0)])
def test_a_stop_signal_stops_every_worker_and_the_parent_as_one_process_stops(
    sqlite_url: str, tmp_path: Path, workers: str, signum: int, code: int
) -> None:
    output = tmp_path / "feeds"
    with serving(sqlite_url, output, tmp_path, "--workers", workers) as served:
        assert _get(served.port)[0] == 200
        pids = _children(served.proc.pid)
        assert len(pids) == (int(workers) if workers != "1" else 0)
        served.proc.send_signal(signum)
        assert served.proc.wait(timeout=30) == code  # SIGTERM: killed by it (143 in a shell), as before
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in pids)
        with socket.socket() as sock:  # nothing listens any more: the port can be bound again
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", served.port))
        assert not [line for line in served.lines if "Traceback" in line or line.startswith("error")]


def test_a_killed_worker_is_replaced_and_requests_keep_being_answered(sqlite_url: str, tmp_path: Path) -> None:
    output = tmp_path / "feeds"
    with serving(sqlite_url, output, tmp_path, "--workers", "2") as served:
        first = _children(served.proc.pid)
        victim = first[0]
        os.kill(victim, signal.SIGKILL)
        # New connections at once, while the replacement starts: those the kernel gives the
        # dead worker's socket wait in its backlog (the parent keeps it open) and are answered.
        answers = [_get(served.port, PAGE + f"&until=2031-11-{day:02d}")[0] for day in range(1, 29)]
        assert answers == [200] * 28
        line = served.wait_for_line(lambda line: f"(pid {victim}) was killed by SIGKILL" in line, 30)
        assert "starting another" in line
        served.wait_for_line(lambda line: "restarted" in line, 30)
        now = _children(served.proc.pid)
        assert len(now) == 2 and victim not in now and first[1] in now
        conns = [http.client.HTTPConnection("127.0.0.1", served.port, timeout=30) for _ in range(24)]
        try:
            assert {_get(served.port, conn=conn)[0] for conn in conns} == {200}
            peers = {conn.sock.getsockname()[1] for conn in conns if conn.sock is not None}
            assert all(_established(pid, served.port, peers) for pid in now)  # the replacement answers too
        finally:
            for conn in conns:
                conn.close()


def test_workers_stop_by_themselves_when_the_parent_is_killed(sqlite_url: str, tmp_path: Path) -> None:
    with serving(sqlite_url, tmp_path / "feeds", tmp_path, "--workers", "2") as served:
        workers = _children(served.proc.pid)
        served.proc.kill()
        served.proc.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)


def _refused(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


@pytest.mark.parametrize(
    ("where", "named"),
    [("flag", "--workers"), ("environment", "TRACKER_SERVE_WORKERS"), ("file", "[serve.workers]")],
)
def test_zero_workers_is_refused_naming_the_setting(sqlite_url: str, tmp_path: Path, where: str, named: str) -> None:
    args: list[str] = ["--port", "0"]
    env: dict[str, str] = {}
    if where == "flag":
        args += ["--workers", "0"]
    elif where == "environment":
        env["TRACKER_SERVE_WORKERS"] = "0"
    else:
        (tmp_path / "tracker.toml").write_text("[serve]\nworkers = 0\n")
    code, err = _refused(_tracker(sqlite_url, tmp_path / "feeds", tmp_path, *args, **env))
    assert code == 2, err
    assert named in err and "Traceback" not in err
    assert "at least 1" in err or "from 1 to" in err


def test_the_workers_setting_is_read_from_the_file(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "tracker.toml").write_text("[serve]\nworkers = 2\n")
    with serving(sqlite_url, tmp_path / "feeds", tmp_path) as served:
        assert "with 2 worker processes" in served.lines[0]
        assert len(_children(served.proc.pid)) == 2


@pytest.mark.parametrize("reuse_port", [False, True])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_reported_once_with_exit_2(
    sqlite_url: str, tmp_path: Path, workers: str, reuse_port: bool
) -> None:
    """Held by another server, with SO_REUSEPORT or not: refused, not shared, before any worker starts."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        proc = _tracker(sqlite_url, tmp_path / "feeds", tmp_path, "--port", str(port), "--workers", workers)
        code, err = _refused(proc)
    assert code == 2, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0] and "in use" in errors[0], err
    assert "--port" in errors[0] and "Traceback" not in err and "serving" not in err


def test_an_output_folder_that_cannot_be_made_is_reported_once(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "in-the-way").write_text("a file where a folder is needed")
    proc = _tracker(sqlite_url, tmp_path / "in-the-way" / "feeds", tmp_path, "--port", "0", "--workers", "2")
    code, err = _refused(proc)
    assert code == 74, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "in-the-way" in errors[0] and "output_dir" in errors[0], err
    assert "serving" not in err


def test_help_says_the_limits_are_per_worker() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tracker", "serve", "--help"], capture_output=True, text=True, check=True
    )
    text = " ".join(done.stdout.split())
    assert "--workers N" in text and "per process" in text
    assert (
        f"{CONNECTION_LIMIT:,} connections" in text
        and f"{SQLITE_THREADS} thread on SQLite ({THREADS} on PostgreSQL)" in text
        and "API cache" in text
    )
