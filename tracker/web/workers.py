"""`tracker serve --workers N`: N processes answering on one address (Linux SO_REUSEPORT).

One `tracker serve` process answers at most what one core runs of Python (the GIL): its 8
threads take turns. With N > 1 the parent binds N sockets to the same host and port with
SO_REUSEPORT, and forks one worker per socket; the kernel spreads incoming connections over
the listening sockets (by a hash of each connection's addresses), so N workers use N cores.

* Startup errors are the parent's, reported once before any worker starts: the output folder
  (created as by one process), the database (opened and migrated once, then closed: each
  worker opens its own engine and connections after the fork), and the address (a port in use
  is found by a first bind without SO_REUSEPORT, so that a second `tracker serve --workers`
  on the same port is refused instead of silently sharing it).
* Each worker is the one-process server on its socket, with its hostile-client protections as
  they are (tracker.web.server): its own connection limit, threads, idle and request timeouts,
  feed cache and API micro-cache. N workers therefore hold up to N times as many connections,
  and an API answer cached by one is not seen by the others.
* The parent keeps every socket open: when a worker dies its socket stays listening, the
  connections the kernel queued on it wait in its backlog, and the replacement (started at
  once, after a pause that grows when workers keep dying young) answers them.
* Worker i is pinned to the i-th of the CPUs the server may use (in turn when there are more
  workers than CPUs; `taskset` or a cpuset given to `tracker serve` is respected). A worker's
  threads take turns holding the GIL; when the threads of two workers moved freely between two
  cores, each handoff could cross cores and a request cost about twice the CPU: on the 2-core
  test machine, 2 workers unpinned answered 304-368 requests/s where one process answered
  578-671 and 2 pinned workers 716-900. The cost: a worker cannot move off a CPU that other
  work keeps busy (it still gets its share of it).
* SIGINT and SIGTERM are forwarded to every worker, which finishes its loop and closes; the
  parent waits for them (killing one still there after STOP_SECONDS) and then ends as the
  one-process server does: 0 after SIGINT, killed by SIGTERM after SIGTERM (exit status 143).
* A worker whose parent is gone (killed with SIGKILL) stops by itself within a second.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

from tracker.errors import ConfigError, TrackerError
from tracker.web.server import BACKLOG, TrackerServer, bind_listener, serve_forever

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
READY_SECONDS = 60.0  # a worker not serving this long after its fork is killed: it did not start
STOP_SECONDS = 10.0  # a worker still running this long after the stop signal is killed
YOUNG_SECONDS = 10.0  # a worker dying younger than this counts towards the restart pause
MAX_PAUSE_SECONDS = 30.0  # the longest pause before restarting a worker that keeps dying young
EXIT_SOFTWARE = 70  # a worker's unexpected error (the CLI's code for one)


def reuse_port_supported() -> bool:
    """Whether this platform spreads connections over sockets sharing a port (Linux's SO_REUSEPORT).

    The BSDs and macOS have an SO_REUSEPORT that lets sockets share a port but gives every
    connection to the last one bound: N workers there would be one.
    """
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT") and hasattr(os, "fork")


def check_workers(workers: int, setting: str) -> None:
    """A ConfigError naming the setting when `workers` cannot be honoured here."""
    if workers < 1:
        raise ConfigError(f"{setting}: must be at least 1 (got {workers})")
    if workers > 1 and not reuse_port_supported():
        raise ConfigError(
            f"{setting}: {workers} worker processes need Linux's SO_REUSEPORT (the kernel spreading connections "
            f"over processes sharing a port), which {sys.platform} does not offer; set it to 1, or run several "
            "`tracker serve` on different ports behind a load balancer"
        )


def bind_shared(host: str, port: int, count: int) -> list[socket.socket]:
    """`count` listening sockets on (host, port) with SO_REUSEPORT; port 0 picks one free port for all.

    A first socket is bound without SO_REUSEPORT: a port held by anything else, including
    another server using SO_REUSEPORT, is refused (a ConfigError) rather than shared.
    """
    probe = bind_listener((host, port))
    port = int(probe.getsockname()[1])
    probe.close()
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = bind_listener((host, port), reuse_port=True)
            sockets.append(sock)
            sock.listen(BACKLOG)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class _StopFlag:
    """A worker's SIGINT/SIGTERM handler: notes the request; the server's loop reads it between passes."""

    def __init__(self, parent: int) -> None:
        self.parent = parent
        self.signal = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """Signal handler: stop (once the pass of the loop in hand is done)."""
        self.signal = signum

    def __call__(self) -> bool:
        if self.signal:
            return True
        if os.getppid() != self.parent:
            log.warning("worker %d: the serve process (pid %d) is gone; stopping", os.getpid(), self.parent)
            return True
        return False


def worker_cpus(count: int) -> list[int | None]:
    """The CPU each of `count` workers is pinned to: the CPUs this process may use, in turn (None: not pinned)."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return [None] * count
    if count < 2 or len(allowed) < 2:
        return [None] * count
    return [allowed[slot % len(allowed)] for slot in range(count)]


def _worker(
    sock: socket.socket, ready: int, output_dir: Path, database_url: str, parent: int, cpu: int | None
) -> NoReturn:
    """A worker process, just forked: serve on `sock` until asked to stop; never returns."""
    code = EXIT_SOFTWARE
    try:
        flag = _StopFlag(parent)
        for signum in STOP_SIGNALS:
            signal.signal(signum, flag.handle)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by the parent around the fork
        if cpu is not None:
            # Before waitress starts its threads, which inherit it: a worker's threads hand the GIL
            # to each other on one CPU. Left to move, the threads of two workers on two cores cost
            # about twice the CPU per request (README, Performance).
            try:
                os.sched_setaffinity(0, {cpu})
            except OSError as exc:
                log.warning("worker %d: could not pin it to CPU %d: %s", os.getpid(), cpu, exc)
        from tracker.store.db import open_store

        factory = open_store(database_url)  # this process's own engine and connections
        server = TrackerServer(sock.getsockname()[:2], sock=sock, output_dir=output_dir, factory=factory)
        server.stop_check = flag
        os.write(ready, b"1")
        os.close(ready)
        serve_forever(server)
        code = 0
    except TrackerError as exc:
        from tracker.redact import mask_text

        print(f"error: worker {os.getpid()}: {mask_text(str(exc))}", file=sys.stderr)
        code = exc.exit_code
    except BaseException:  # noqa: BLE001 - whatever it is, the worker reports it and exits, never returns
        traceback.print_exc(file=sys.stderr)
        code = EXIT_SOFTWARE
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def describe_status(status: int) -> str:
    """A waitpid status in words: "exited with code 70", "was killed by SIGKILL"."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"was killed by {name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


@dataclass
class _Worker:
    slot: int
    pid: int
    started: float


@dataclass
class Supervisor:
    """The parent of `serve --workers N`: starts a worker per socket, restarts those that die, stops them all."""

    sockets: list[socket.socket]
    output_dir: Path
    database_url: str
    workers: dict[int, _Worker] = field(default_factory=dict)  # by pid
    stopping: int = 0  # the signal that asked the parent to stop; 0 while serving
    _pid: int = field(default_factory=os.getpid)
    _young_deaths: dict[int, int] = field(default_factory=dict)  # by slot
    _previous: dict[int, Any] = field(default_factory=dict)  # the signal handlers before start()
    _cpus: list[int | None] = field(default_factory=list)  # by slot (worker_cpus)

    def __post_init__(self) -> None:
        self._cpus = worker_cpus(len(self.sockets))

    @property
    def cpus(self) -> list[int | None]:
        """The CPU each worker is pinned to, by slot (None: not pinned)."""
        return list(self._cpus)

    @property
    def pids(self) -> list[int]:
        """The workers' process ids, by slot."""
        return [w.pid for w in sorted(self.workers.values(), key=lambda w: w.slot)]

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if os.getpid() != self._pid:
            return  # cannot happen (blocked around the fork), but a worker must never signal its siblings
        if not self.stopping:
            self.stopping = signum
        for pid in list(self.workers):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def _fork(self, slot: int) -> tuple[int, int]:
        """Fork the worker of a slot; returns its pid and the pipe it writes to once it serves."""
        read, write = os.pipe()
        # Blocked until the child has its own handlers, and until the parent knows the child's pid.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                os.close(read)
                for index, other in enumerate(self.sockets):
                    if index != slot:
                        other.close()
                _worker(self.sockets[slot], write, self.output_dir, self.database_url, self._pid, self._cpus[slot])
            self.workers[pid] = _Worker(slot=slot, pid=pid, started=time.monotonic())
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        os.close(write)
        return pid, read

    def start_worker(self, slot: int) -> int | None:
        """Start the worker of a slot and wait until it serves: None, else its waitpid status (it is gone)."""
        pid, read = self._fork(slot)
        try:
            readable, _, _ = select.select([read], [], [], READY_SECONDS)
            serving = bool(readable) and os.read(read, 1) == b"1"
        finally:
            os.close(read)
        if serving:
            return None
        if not readable:
            log.error("worker %d (pid %d) did not start in %.0f s; killing it", slot + 1, pid, READY_SECONDS)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(pid, 0)
        del self.workers[pid]
        return status

    def start(self) -> int | None:
        """Install the signal handlers and start every worker, one after the other.

        Returns None when all serve; else the waitpid status of the first that did not start (the
        others are stopped). A signal received meanwhile stops those already started.
        """
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        for slot in range(len(self.sockets)):
            if self.stopping:
                return None
            status = self.start_worker(slot)
            if status is not None:
                self._on_signal(signal.SIGTERM, None)
                self._reap_all()
                return status
        return None

    def _pause(self, slot: int, lived: float) -> float:
        """Seconds to wait before restarting a slot's worker that lived `lived` seconds."""
        if lived >= YOUNG_SECONDS:
            self._young_deaths[slot] = 0
            return 0.0
        deaths = self._young_deaths.get(slot, 0) + 1
        self._young_deaths[slot] = deaths
        return float(min(MAX_PAUSE_SECONDS, 0.5 * 2 ** (deaths - 1)))

    def _sleep(self, seconds: float) -> None:
        """Sleep, unless (or until) a stop signal comes."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def _restart(self, worker: _Worker, status: int) -> None:
        """Start a dead worker's replacement, pausing first when workers of its slot keep dying young."""
        lived = time.monotonic() - worker.started
        pause = self._pause(worker.slot, lived)
        log.warning(
            "worker %d (pid %d) %s after %.0f s; starting another%s",
            worker.slot + 1,
            worker.pid,
            describe_status(status),
            lived,
            f" in {pause:.1f} s" if pause else "",
        )
        while True:
            self._sleep(pause)
            if self.stopping:
                return
            failed = self.start_worker(worker.slot)
            if failed is None:
                (new,) = [w.pid for w in self.workers.values() if w.slot == worker.slot]
                log.warning("worker %d restarted (pid %d)", worker.slot + 1, new)
                return
            pause = self._pause(worker.slot, 0.0)
            log.error(
                "worker %d could not start (%s); trying again in %.1f s",
                worker.slot + 1,
                describe_status(failed),
                pause,
            )

    def _reap_all(self) -> None:
        """Wait for every worker to exit (they were signalled); kill those left after STOP_SECONDS."""
        deadline = time.monotonic() + STOP_SECONDS
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            if pid:
                worker = self.workers.pop(pid, None)
                if worker is not None and status and not os.WIFSIGNALED(status):
                    log.warning("worker %d (pid %d) %s while stopping", worker.slot + 1, pid, describe_status(status))
                continue
            if time.monotonic() >= deadline:
                for pid in list(self.workers):
                    log.warning(
                        "worker (pid %d) still running %.0f s after the stop signal; killing it", pid, STOP_SECONDS
                    )
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                deadline = float("inf")
            time.sleep(0.05)

    def supervise(self) -> int:
        """Restart workers that die until a stop signal; then wait for all of them. Returns that signal."""
        while not self.stopping:
            try:
                pid, status = os.waitpid(-1, 0)  # a signal's handler runs meanwhile (PEP 475 resumes the wait)
            except ChildProcessError:
                break  # no worker left: cannot happen while serving (each is restarted at once)
            worker = self.workers.pop(pid, None)
            if worker is None or self.stopping:
                continue
            self._restart(worker, status)
        self._reap_all()
        return self.stopping

    def close(self) -> None:
        """Close the listening sockets and give the signals back to the handlers they had before `start`."""
        for sock in self.sockets:
            sock.close()
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()


__all__ = ["Supervisor", "bind_shared", "check_workers", "describe_status", "reuse_port_supported", "worker_cpus"]
