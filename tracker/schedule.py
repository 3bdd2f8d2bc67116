"""The daily job: APScheduler wiring of `pipeline.run`, no business logic.

The job lives in a persistent job store in the project's database, so a restarted
scheduler keeps its next run time; missed runs are coalesced into one (a machine that
slept through three runs does one) within the misfire grace time.

More than one scheduler may share a database (two machines on one PostgreSQL, or two
processes on one SQLite file). Each cron time is a *slot*, recorded with its run
(`runs.slot`). A scheduled run takes the run lock (`tracker.lock`: a PostgreSQL advisory
lock, or a file lock beside a SQLite file) and, holding it, starts only if no run of its slot
has finished: the scheduler that comes second finds the slot done and does nothing, so each
slot runs once. When a `tracker run` from cron or another scheduler holds the lock, the
scheduled run is skipped with a log line.

Besides the cron job every scheduler has a *takeover tick* (every `schedule.takeover_seconds`,
and once on start) in its own memory: when the current slot (the latest cron time, if less
than the misfire grace old) has no finished run and the lock is free, it runs the slot. So
when the scheduler running a slot is killed (its advisory lock or file lock dies with it),
another one completes the slot at its next tick, and marks the run the dead one left
"running" as "abandoned". A run stopped by SIGTERM is recorded "interrupted" and
its slot is likewise taken over.

SIGTERM and SIGINT stop the scheduler; a run in progress stops after the document in hand
(its transaction commits or rolls back as a whole) and the next run picks up what it did not do.

`schedule.cron` is a five-field crontab line (minute hour day month weekday, weekday 0 or 7
= Sunday as in cron) or six fields with seconds first.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tracker.config import Settings, load_settings
from tracker.errors import ConfigError, TrackerError
from tracker.redact import mask_text
from tracker.textutil import plural

log = logging.getLogger(__name__)

JOB_ID = "tracker-daily-run"
TAKEOVER_ID = "tracker-takeover"  # in each scheduler's memory, never in the shared job store
ABANDONED = "its process ended without recording an end (killed?); another scheduler took the slot over"
_STOP = threading.Event()  # set by SIGTERM/SIGINT; the pipeline checks it between documents
# This process's own config folder, database and output: the shared job store holds the
# arguments of whichever scheduler stored the job last, which may be another machine's paths.
_OWN: dict[str, str] = {}
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _StopsCleanly:
    """APScheduler 3 processes due jobs once more after shutdown(): it then cannot run them
    (the executor is gone) yet moves their next run time on, so a run due at shutdown would
    be lost. A stopped scheduler here processes nothing."""

    state: int

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        return super()._process_jobs()  # type: ignore[misc, no-any-return]


class _Blocking(_StopsCleanly, BlockingScheduler):
    """The scheduler of `tracker schedule`."""


class _Background(_StopsCleanly, BackgroundScheduler):
    """The same in a thread (tests, embedding)."""


def stop_requested() -> bool:
    """Whether a shutdown was asked for (the running pipeline then stops after its document)."""
    return _STOP.is_set()


def _weekdays(field: str) -> str:
    """A cron weekday field in APScheduler's terms.

    APScheduler numbers weekdays from Monday = 0, cron from Sunday = 0 (and 7). Names mean the
    same to both, so numeric days become names; a numeric range becomes the list of its days,
    because "sun-sat" (cron's 0-6) is not a range to APScheduler.
    """
    parts: list[str] = []
    for part in field.split(","):
        match = re.fullmatch(r"([0-7])-([0-7])(?:/(\d+))?", part)
        if match:
            first, last, step = int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)
            parts.extend(_DAYS[d] for d in range(first, last + 1, max(step, 1)))
        else:
            parts.append(re.sub(r"(?<![/\d])([0-7])(?!\d)", lambda m: _DAYS[int(m.group(1))], part))
    return ",".join(dict.fromkeys(parts))


def parse_cron(expression: str, timezone: str) -> CronTrigger:
    """A trigger from a 5-field crontab line, or 6 fields with seconds first."""
    fields = expression.split()
    try:
        if len(fields) == 5:
            minute, hour, day, month, dow = fields
            return CronTrigger(
                minute=minute, hour=hour, day=day, month=month, day_of_week=_weekdays(dow), timezone=timezone
            )
        if len(fields) == 6:
            second, minute, hour, day, month, dow = fields
            return CronTrigger(
                second=second,
                minute=minute,
                hour=hour,
                day=day,
                month=month,
                day_of_week=_weekdays(dow),
                timezone=timezone,
            )
    except (ValueError, LookupError) as exc:
        raise ConfigError(
            f"not a valid cron expression or timezone: {exc}", file="tracker.toml", key="schedule.cron"
        ) from exc
    raise ConfigError(
        f"expected 5 cron fields (minute hour day month weekday) or 6 (seconds first), got {len(fields)}: "
        f"{expression!r}",
        file="tracker.toml",
        key="schedule.cron",
    )


def current_slot(trigger: CronTrigger, now: datetime, grace_seconds: float) -> datetime | None:
    """The latest cron time at or before now, or None when it is more than the grace time old."""
    earliest = now - timedelta(seconds=max(grace_seconds, 1))
    step = timedelta(seconds=1)
    while True:
        # Look back ever further (x4) for a fire time: cheap for a per-second cron and a daily one alike.
        since = max(now - step, earliest)
        fire: datetime | None = trigger.get_next_fire_time(None, since)
        if fire is not None and fire <= now:
            break
        if since == earliest:
            return None
        step *= 4
    while True:
        later: datetime | None = trigger.get_next_fire_time(None, fire + timedelta(microseconds=1))
        if later is None or later > now:
            return fire
        fire = later


def _slot_done(settings: Settings, slot: datetime) -> bool:
    from tracker.store.db import open_store, unit_of_work
    from tracker.store.runs import slot_done

    with unit_of_work(open_store(settings.database_url), write=False) as session:
        return slot_done(session, slot)


def _claim(settings: Settings, slot: datetime, *, catch_up: bool) -> bool:
    """Holding the run lock: whether the slot is still to run; runs a dead scheduler left are closed."""
    from tracker.store.db import open_store, unit_of_work
    from tracker.store.runs import abandon_slot_runs, slot_done

    with unit_of_work(open_store(settings.database_url)) as session:
        if slot_done(session, slot):
            (log.debug if catch_up else log.info)("run of %s already done (by another scheduler)", _when(slot))
            return False
        abandoned = abandon_slot_runs(session, slot, at=datetime.now(UTC), reason=ABANDONED)
    if abandoned:
        log.warning(
            "taking over the run of %s: %s left unfinished by a scheduler that died",
            _when(slot),
            plural(abandoned, "run"),
        )
    elif catch_up:
        log.warning("running the run of %s: no scheduler finished it (missed, interrupted or stopped)", _when(slot))
    return True


def scheduled_run(
    config_dir: str,
    database_url: str,
    output_dir: str,
    *,
    cron: str | None = None,
    timezone: str | None = None,
    catch_up: bool = False,
    on_demand: bool = False,
) -> bool:
    """The job: the run of the current cron slot unless a scheduler finished it (settings read afresh).

    `cron` and `timezone` are the scheduler's (`--cron` may differ from the file); `catch_up` is
    the takeover tick: quiet when the slot is done or another process holds the lock;
    `on_demand` (--run-now) is a run of no slot. True when a run was made.
    """
    from tracker import pipeline
    from tracker.lock import RunInProgress, run_lock

    if _STOP.is_set():
        return False
    config_dir = _OWN.get("config_dir", config_dir)
    database_url = _OWN.get("database_url", database_url)
    output_dir = _OWN.get("output_dir", output_dir)
    cron, timezone = _OWN.get("cron", cron), _OWN.get("timezone", timezone)
    started = time.monotonic()
    try:
        settings = load_settings(Path(config_dir)).with_overrides(database_url=database_url, output_dir=output_dir)
        if cron is not None and timezone is not None:
            settings = settings.with_overrides(schedule_cron=cron, schedule_timezone=timezone)
        trigger = parse_cron(settings.schedule_cron, settings.schedule_timezone)
        slot = (
            None if on_demand else current_slot(trigger, datetime.now(trigger.timezone), settings.misfire_grace_seconds)
        )
        if catch_up and (slot is None or _slot_done(settings, slot)):
            return False  # the common tick: nothing due
        with run_lock(settings.database_url):
            # Checked again holding the lock: only now can no other scheduler finish the slot meanwhile.
            if slot is not None and not _claim(settings, slot, catch_up=catch_up):
                return False
            report = pipeline.run(settings, stop=stop_requested, slot=slot)
    except RunInProgress as exc:
        if catch_up:
            log.debug("takeover tick: %s", mask_text(exc.message))
        else:
            log.warning("scheduled run skipped: %s", mask_text(exc.message))
        return False
    except TrackerError as exc:
        # The run itself is recorded failed with this reason (pipeline.recorded_failure).
        log.error("scheduled run failed: %s", mask_text(str(exc)))
        return False
    except Exception:  # noqa: BLE001 - a bug in one run must not kill a scheduler meant to run for months
        log.exception("scheduled run crashed")
        return False
    counts = report.counts
    failed = ", ".join(f"{o.name} ({o.error_kind})" for o in report.failed)
    published = f", {plural(len(report.published.written), 'feed file')} written" if report.published else ""
    new, updated = counts.get("announcements_created", 0), counts.get("announcements_updated", 0)
    sessions = counts.get("sessions", 0)
    log.info(
        "scheduled run %s in %.1f s: %s (%d failed%s), %s, %d new and %d updated %s%s%s",
        "interrupted" if _STOP.is_set() else "finished",
        time.monotonic() - started,
        plural(len(report.outcomes), "source"),
        len(report.failed),
        f": {failed}" if failed else "",
        plural(counts.get("documents", 0), "document"),
        new,
        updated,
        "announcement" if new + updated == 1 else "announcements",
        f", {plural(sessions, 'session')}" if sessions else "",
        published,
    )
    return True


def _output(settings: Settings) -> str:
    """What the job is given as output_dir: the s3:// URL, else the folder's absolute path."""
    return settings.object_store.url if settings.object_store else str(settings.output_dir.resolve())


def _job_arguments(settings: Settings) -> dict[str, str]:
    """What the job needs to run as this scheduler would: its config, database, output and cron."""
    return {
        "config_dir": str(settings.config_dir.resolve()),
        "database_url": settings.database_url,
        "output_dir": _output(settings),
        "cron": settings.schedule_cron,
        "timezone": settings.schedule_timezone,
    }


def build_scheduler(settings: Settings, *, blocking: bool = True) -> BaseScheduler:
    """A scheduler with the daily job in the database's job store.

    A job already stored with the same trigger keeps its next run time, so runs missed while
    the scheduler was down are coalesced into one on start (within the misfire grace time).
    """
    from tracker.store.db import normalize_url, schema_lock

    trigger = parse_cron(settings.schedule_cron, settings.schedule_timezone)
    url = normalize_url(settings.database_url).render_as_string(hide_password=False)
    kind: type[BaseScheduler] = _Blocking if blocking else _Background
    scheduler = kind(
        jobstores={
            "default": SQLAlchemyJobStore(url=url, tablename="apscheduler_jobs"),
            "local": MemoryJobStore(),
        },
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.misfire_grace_seconds},
        timezone=settings.schedule_timezone,
    )
    kwargs: dict[str, Any] = _job_arguments(settings)
    store = scheduler._jobstores["default"]  # noqa: SLF001 - read before start, APScheduler has no public lookup
    with schema_lock(settings.database_url):
        # Created here, under the lock migrations take: two schedulers starting together on a
        # new PostgreSQL database would otherwise both try to create it when they start.
        try:
            store.jobs_t.create(store.engine, checkfirst=True)
        except Exception as exc:  # noqa: BLE001 - APScheduler's start retries it and reports a real failure
            log.debug("job table not created ahead: %s", exc)
    try:
        existing = store.lookup_job(JOB_ID)
    except Exception:  # noqa: BLE001 - no job table yet (first start) or an unreadable old job
        existing = None
    next_run_time = None
    if existing is not None and str(existing.trigger) == str(trigger) and existing.kwargs == kwargs:
        next_run_time = existing.next_run_time
        log.info("keeping the stored job; its next run is %s", next_run_time)
    options: dict[str, Any] = {"next_run_time": next_run_time} if next_run_time is not None else {}
    scheduler.add_job(
        scheduled_run, trigger, id=JOB_ID, name="tracker run", replace_existing=True, kwargs=kwargs, **options
    )
    # Every scheduler ticks on its own (a memory store): the shared job's next run time has
    # moved on once a run starts, so a slot whose scheduler died is only seen this way.
    scheduler.add_job(
        scheduled_run,
        IntervalTrigger(seconds=settings.takeover_seconds, timezone=settings.schedule_timezone),
        id=TAKEOVER_ID,
        name="tracker takeover tick",
        jobstore="local",
        replace_existing=True,
        kwargs={**kwargs, "catch_up": True},
        next_run_time=datetime.now(UTC),  # on start too: a slot missed while no scheduler ran
    )
    return scheduler


def next_run(settings: Settings, now: datetime | None = None) -> datetime | None:
    """When the cron expression of the settings next fires after now (None: never)."""
    trigger = parse_cron(settings.schedule_cron, settings.schedule_timezone)
    start = now or datetime.now(trigger.timezone)
    fire: datetime | None = trigger.get_next_fire_time(None, start)
    return fire


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if at is not None else "never"


def serve_forever(settings: Settings, *, run_now: bool = False) -> int:
    """Run the scheduler until SIGINT/SIGTERM; the run in hand stops after its current document."""
    from apscheduler.schedulers import SchedulerNotRunningError

    from tracker.store.db import open_store

    open_store(settings.database_url)  # migrate before the job store creates its table
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)  # the per-run line is the point of a long-running job's log
    _STOP.clear()
    _OWN.update(_job_arguments(settings))
    scheduler = build_scheduler(settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        if _STOP.is_set():
            log.warning("signal %d again: still finishing the document in hand", signum)
            return
        _STOP.set()
        log.warning("signal %d: stopping after the document in hand", signum)
        try:
            # wait=False: the handler must return; start() returns and the worker thread finishes.
            scheduler.shutdown(wait=False)
        except SchedulerNotRunningError:
            pass  # --run-now in progress: it checks the flag itself

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if run_now:
        scheduled_run(str(settings.config_dir.resolve()), settings.database_url, _output(settings), on_demand=True)
    if _STOP.is_set():
        return 0
    print(
        f"tracker schedule: cron {settings.schedule_cron!r} ({settings.schedule_timezone}); "
        f"next run {_when(next_run(settings))}; takeover check every {settings.takeover_seconds} s; Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )

    def after_run(event: Any) -> None:
        # Each run's log line is followed by when the next one is due (a tick only when it ran).
        if event.job_id != JOB_ID and not getattr(event, "retval", False):
            return
        job = scheduler.get_job(JOB_ID)
        if job is not None and job.next_run_time is not None:
            log.info("next run %s", _when(job.next_run_time))

    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED

    scheduler.add_listener(after_run, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    scheduler.start()
    log.info("scheduler stopped")
    return 0
