"""`policywatch status`: is the daemon up, what runs next, what failed, what is waiting to be sent."""
from __future__ import annotations

from datetime import datetime, timezone

from monitor.check import CHECK_LOCK
from monitor.config import Config, cron_trigger
from monitor.daemon import CRAWL_PREFIX, DAEMON_LOCK, JOBS_TABLE
from storage import ChangeStore, Database, SnapshotStore
from storage.locks import current_holder


def scheduled_jobs(db: Database) -> dict[str, dict]:
    """Source name → the daemon's stored job for it (schedule label, next run time); empty without a daemon."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from sqlalchemy import inspect
    if not inspect(db.engine).has_table(JOBS_TABLE):
        return {}
    # A paused scheduler only reads the job store: nothing fires, nothing is rewritten.
    sched = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=db.engine, tablename=JOBS_TABLE)})
    sched.start(paused=True)
    try:
        jobs = {}
        for job in sched.get_jobs():
            if job.id.startswith(CRAWL_PREFIX):
                for name in job.kwargs.get("names", []):
                    jobs[name] = dict(schedule=job.name, next_run_at=job.next_run_time)
        return jobs
    finally:
        sched.shutdown(wait=False)


def collect_status(config: Config, db: Database) -> dict:
    """Everything `status` shows, as plain data (datetimes are aware)."""
    store = SnapshotStore(db)
    store.sync_sources([s.spec() for s in config.sources])
    daemon = current_holder(db, DAEMON_LOCK)
    crawl = current_holder(db, CHECK_LOCK)
    jobs = scheduled_jobs(db)
    failing = ChangeStore(db).failing_sources()
    overview = {r["name"]: r for r in store.source_overview()}
    now = datetime.now(timezone.utc)
    sources = []
    for src in config.sources:
        row = overview.get(src.name, {})
        job = jobs.get(src.name)
        if not src.enabled:
            next_run, planner = None, "disabled"
        elif job is not None:
            next_run, planner = job["next_run_at"], "daemon"
        else:
            # No daemon job: the time cron would run it if the crontab follows the schedule.
            next_run, planner = cron_trigger(src.schedule, config.timezone).get_next_fire_time(None, now), "schedule"
        sources.append(dict(name=src.name, schedule=src.schedule, enabled=src.enabled, next_run_at=next_run.astimezone(timezone.utc) if next_run else None,
                            next_run_from=planner, last_checked_at=row.get("last_checked_at"),
                            last_outcome=row.get("last_outcome"), last_error=row.get("last_error"),
                            failing=failing.get(src.name)))
    return dict(
        daemon=None if daemon is None else dict(host=daemon.host, pid=daemon.pid, since=daemon.acquired_at),
        check_running=None if crawl is None else dict(host=crawl.host, pid=crawl.pid, since=crawl.acquired_at),
        last_run=store.last_run(), sources=sources, alerts=ChangeStore(db).alert_summary())


def status_healthy(status: dict) -> bool:
    """False when a source is failing or an alert could not be delivered (exit code 1)."""
    return not any(s["failing"] for s in status["sources"]) and not status["alerts"]["failed"]
