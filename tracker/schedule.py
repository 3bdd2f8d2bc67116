"""The daily job: APScheduler wiring of `pipeline.run`, no business logic.

The job lives in a persistent job store in the project's database, so a restarted
scheduler keeps its next run time; missed runs are coalesced into one (a machine that
slept through three runs does one) within the misfire grace time.

Each run takes the run lock (`tracker.lock`): when a `tracker run` from cron or another
scheduler holds it, the scheduled run is skipped with a log line. SIGTERM and SIGINT stop
the scheduler; a run in progress stops after the document in hand (its transaction commits
or rolls back as a whole) and the next run picks up what it did not do.

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
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from tracker.config import Settings, load_settings
from tracker.errors import ConfigError, TrackerError
from tracker.redact import mask_text
from tracker.textutil import plural

log = logging.getLogger(__name__)

JOB_ID = "tracker-daily-run"
_STOP = threading.Event()  # set by SIGTERM/SIGINT; the pipeline checks it between documents
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


def scheduled_run(config_dir: str, database_url: str, output_dir: str) -> None:
    """The job: one pipeline run with the settings read afresh (config edits apply next run)."""
    from tracker import pipeline
    from tracker.lock import RunInProgress, run_lock

    if _STOP.is_set():
        return
    started = time.monotonic()
    try:
        settings = load_settings(Path(config_dir)).with_overrides(database_url=database_url, output_dir=output_dir)
        with run_lock(settings.database_url):
            report = pipeline.run(settings, stop=stop_requested)
    except RunInProgress as exc:
        log.warning("scheduled run skipped: %s", mask_text(exc.message))
        return
    except TrackerError as exc:
        # The run itself is recorded failed with this reason (pipeline.recorded_failure).
        log.error("scheduled run failed: %s", mask_text(str(exc)))
        return
    except Exception:  # noqa: BLE001 - a bug in one run must not kill a scheduler meant to run for months
        log.exception("scheduled run crashed")
        return
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


def _output(settings: Settings) -> str:
    """What the job is given as output_dir: the s3:// URL, else the folder's absolute path."""
    return settings.object_store.url if settings.object_store else str(settings.output_dir.resolve())


def build_scheduler(settings: Settings, *, blocking: bool = True) -> BaseScheduler:
    """A scheduler with the daily job in the database's job store.

    A job already stored with the same trigger keeps its next run time, so runs missed while
    the scheduler was down are coalesced into one on start (within the misfire grace time).
    """
    from tracker.store.db import normalize_url

    trigger = parse_cron(settings.schedule_cron, settings.schedule_timezone)
    url = normalize_url(settings.database_url).render_as_string(hide_password=False)
    kind: type[BaseScheduler] = _Blocking if blocking else _Background
    scheduler = kind(
        jobstores={"default": SQLAlchemyJobStore(url=url, tablename="apscheduler_jobs")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.misfire_grace_seconds},
        timezone=settings.schedule_timezone,
    )
    kwargs: dict[str, Any] = {
        "config_dir": str(settings.config_dir.resolve()),
        "database_url": settings.database_url,
        "output_dir": _output(settings),
    }
    store = scheduler._jobstores["default"]  # noqa: SLF001 - read before start, APScheduler has no public lookup
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
    return scheduler


def next_run(settings: Settings, now: datetime | None = None) -> datetime | None:
    """When the cron expression of the settings next fires after now (None: never)."""
    trigger = parse_cron(settings.schedule_cron, settings.schedule_timezone)
    start = now or datetime.now(trigger.timezone)
    fire: datetime | None = trigger.get_next_fire_time(None, start)
    return fire


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M %Z").strip() if at is not None else "never"


def serve_forever(settings: Settings, *, run_now: bool = False) -> int:
    """Run the scheduler until SIGINT/SIGTERM; the run in hand stops after its current document."""
    from apscheduler.schedulers import SchedulerNotRunningError

    from tracker.store.db import open_store

    open_store(settings.database_url)  # migrate before the job store creates its table
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)  # the per-run line is the point of a long-running job's log
    _STOP.clear()
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
        scheduled_run(str(settings.config_dir.resolve()), settings.database_url, _output(settings))
    if _STOP.is_set():
        return 0
    print(
        f"tracker schedule: cron {settings.schedule_cron!r} ({settings.schedule_timezone}); "
        f"next run {_when(next_run(settings))}; Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )

    def after_run(event: Any) -> None:
        # Each run's log line is followed by when the next one is due.
        job = scheduler.get_job(JOB_ID)
        if job is not None and job.next_run_time is not None:
            log.info("next run %s", _when(job.next_run_time))

    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED

    scheduler.add_listener(after_run, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    scheduler.start()
    log.info("scheduler stopped")
    return 0
