"""The daily job: APScheduler wiring of `pipeline.run`, no business logic.

The job lives in a persistent job store in the project's database, so a restarted
scheduler keeps its next run time; missed runs are coalesced into one (a machine that
slept through three runs does one) within the misfire grace time.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from tracker.config import Settings, load_settings
from tracker.errors import ConfigError, TrackerError

log = logging.getLogger(__name__)

JOB_ID = "tracker-daily-run"


def scheduled_run(config_dir: str, database_url: str, output_dir: str) -> None:
    """The job: one pipeline run with the settings read afresh (config edits apply next run)."""
    from tracker import pipeline

    settings = load_settings(Path(config_dir)).with_overrides(database_url=database_url, output_dir=Path(output_dir))
    try:
        report = pipeline.run(settings)
    except TrackerError as exc:
        log.error("scheduled run failed: %s", exc)
        return
    counts = report.counts
    log.warning(
        "scheduled run: %d sources (%d failed), %d documents, %d new, %d updated announcements",
        len(report.outcomes), len(report.failed), counts.get("documents", 0),
        counts.get("announcements_created", 0), counts.get("announcements_updated", 0),
    )


def build_scheduler(settings: Settings) -> BlockingScheduler:
    """A scheduler with the daily job in the database's job store."""
    try:
        trigger = CronTrigger.from_crontab(settings.schedule_cron, timezone=settings.schedule_timezone)
    except (ValueError, LookupError) as exc:
        raise ConfigError(f"not a valid cron expression or timezone: {exc}", file="tracker.toml", key="schedule.cron") from exc
    url = settings.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=url, tablename="apscheduler_jobs")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.misfire_grace_seconds},
        timezone=settings.schedule_timezone,
    )
    scheduler.add_job(
        scheduled_run,
        trigger,
        id=JOB_ID,
        name="tracker run",
        replace_existing=True,
        kwargs={
            "config_dir": str(settings.config_dir.resolve()),
            "database_url": settings.database_url,
            "output_dir": str(settings.output_dir.resolve()),
        },
    )
    return scheduler


def serve_forever(settings: Settings, *, run_now: bool = False) -> int:
    """Run the scheduler until SIGINT/SIGTERM; the run in hand finishes or rolls back."""
    from tracker.store.db import open_store

    open_store(settings.database_url)  # migrate before the job store creates its table
    scheduler = build_scheduler(settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.warning("signal %d: stopping the scheduler after the current run", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if run_now:
        scheduled_run(str(settings.config_dir.resolve()), settings.database_url, str(settings.output_dir.resolve()))
    print(f"tracker schedule: cron {settings.schedule_cron!r} ({settings.schedule_timezone}); Ctrl-C to stop",
          file=sys.stderr)
    scheduler.start()
    return 0
