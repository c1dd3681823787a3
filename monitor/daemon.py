"""`policywatch run`: the long-running scheduler.

APScheduler 3 keeps the jobs in the history database (its SQLAlchemy job store),
so the schedule and missed firings survive restarts. Sources sharing a cron
schedule form one job; each firing runs `policywatch check` for them in a child
process (Twisted's reactor cannot restart in one process, and a child isolates
crashes and memory) under a time limit. The check lock serializes crawls with
cron one-shots and other daemons; a `daemon` lock allows one scheduler per database.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config import Config, ConfigError, cron_trigger, load_config
from storage import ChangeStore, Database, SnapshotStore
from storage.db import DB_ENV
from storage.locks import DatabaseLock

log = logging.getLogger("policywatch.daemon")

DAEMON_LOCK = "daemon"
JOBS_TABLE = "apscheduler_jobs"


class StoppableScheduler(BackgroundScheduler):
    """APScheduler 3's background scheduler, except that once paused or shut down it processes no job: its
    main loop wakes after shutdown() and ran due jobs once more, into the closed executor ("cannot schedule
    new futures after shutdown" tracebacks on every stop) and consuming their stored next run times."""

    def _process_jobs(self):
        if self.state != STATE_RUNNING:
            return None
        return super()._process_jobs()
CRAWL_PREFIX = "crawl "
ALERTS_JOB = "alerts"
STOP_GRACE = 30.0  # after SIGTERM, how long a running crawl may take to stop cleanly before it is killed
KILL_GRACE = 10.0  # after a crawl's time limit, how long it may take to stop cleanly before SIGKILL
POLL = 1.0  # how often the sources file's modification time is looked at

_current: "Daemon | None" = None  # the daemon of this process, for the job functions APScheduler calls


@dataclass(frozen=True)
class CrawlGroup:
    """The sources sharing one schedule: one scheduler job."""

    schedule: str
    names: tuple[str, ...]

    @property
    def job_id(self) -> str:
        return CRAWL_PREFIX + self.schedule


def crawl_groups(config: Config) -> list[CrawlGroup]:
    """Enabled sources grouped by their cron schedule, in sources-file order."""
    groups: dict[str, list[str]] = {}
    for src in config.enabled_sources:
        groups.setdefault(src.schedule, []).append(src.name)
    return [CrawlGroup(schedule, tuple(names)) for schedule, names in groups.items()]


def _trigger_label(schedule: str, config: Config) -> str:
    return f"{schedule} ({config.timezone}, jitter {config.jitter}s)"


class Daemon:
    """Schedules crawls and alert retries until SIGTERM/SIGINT; SIGHUP or an edited sources file reloads."""

    def __init__(self, sources: str | None, db: Database, *, overrides: Sequence[str] = (),
                 verbose: bool = False, stop_grace: float = STOP_GRACE, allow_empty: bool = False) -> None:
        self.sources_arg = sources
        self.db = db
        self.overrides = list(overrides)
        self.verbose = verbose
        self.stop_grace = stop_grace
        self.allow_empty = allow_empty
        self.config = load_config(sources, allow_empty=allow_empty)  # a broken file at start-up is fatal (exit 2)
        self.sources_path = Path(self.config.path)
        self._mtime = self._file_mtime()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._children: dict[int, subprocess.Popen] = {}
        self._children_lock = threading.Lock()
        self.scheduler: BackgroundScheduler | None = None

    # -- lifecycle -------------------------------------------------------------------
    def run(self) -> int:
        global _current
        lock = DatabaseLock(self.db, DAEMON_LOCK)
        lock.acquire()  # LockBusy → the CLI reports the other daemon, exit 4
        _current = self
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            self.scheduler = StoppableScheduler(
                jobstores={"default": SQLAlchemyJobStore(engine=self.db.engine, tablename=JOBS_TABLE)},
                executors={"default": ThreadPoolExecutor(4)},
                timezone=self.config.timezone)
            self.scheduler.start(paused=True)
            counts = self._reconcile(self.config)
            self.scheduler.resume()
            log.info("policywatch run: pid %d, %d sources in %d schedules, database %s",
                     os.getpid(), len(self.config.enabled_sources), len(crawl_groups(self.config)),
                     self.db.engine.url.render_as_string(hide_password=True))
            log.info("schedule: %d jobs added, %d removed, %d changed, %d kept", *counts)
            while not self._stop.wait(POLL):
                if self._reload.is_set() or self._file_mtime() != self._mtime:
                    self._reload.clear()
                    self.reload()
            log.info("stopping: no new crawls; waiting up to %.0f s for running ones", self.stop_grace)
            self.scheduler.pause()
            self._stop_children()
            # Job threads return once their child is gone; wait for them so their rows are written.
            self.scheduler.shutdown(wait=True)
            log.info("stopped")
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            _current = None
            lock.release()

    def _on_signal(self, signum, _frame) -> None:
        if signum == signal.SIGHUP:
            self._reload.set()
        else:
            self._stop.set()

    def stop(self) -> None:
        self._stop.set()

    # -- schedule ----------------------------------------------------------------------
    def _file_mtime(self) -> float | None:
        try:
            return self.sources_path.stat().st_mtime_ns
        except OSError:
            return None

    def reload(self) -> bool:
        """Re-read the sources file and update the jobs; a broken file keeps the current schedule."""
        self._mtime = self._file_mtime()
        try:
            config = load_config(self.sources_arg, allow_empty=self.allow_empty)
        except ConfigError as exc:
            log.error("sources file not reloaded, keeping the current schedule: %s", exc)
            return False
        self.config = config
        log.info("sources file reloaded: %d jobs added, %d removed, %d changed, %d kept", *self._reconcile(config))
        return True

    def _reconcile(self, config: Config) -> tuple[int, int, int, int]:
        """Make the stored jobs match the config; unchanged jobs keep their next run time."""
        sched = self.scheduler
        wanted = {g.job_id: g for g in crawl_groups(config)}
        existing = {j.id: j for j in sched.get_jobs() if j.id.startswith(CRAWL_PREFIX)}
        added = removed = changed = kept = 0
        for job_id, job in existing.items():
            if job_id not in wanted:
                sched.remove_job(job_id)
                removed += 1
        for job_id, group in wanted.items():
            label = _trigger_label(group.schedule, config)
            kwargs = {"names": list(group.names)}
            job = existing.get(job_id)
            if job is None:
                sched.add_job("monitor.daemon:crawl_job", cron_trigger(group.schedule, config.timezone,
                                                                       config.jitter),
                              id=job_id, name=label, kwargs=kwargs, coalesce=True, max_instances=1,
                              misfire_grace_time=config.misfire_grace, replace_existing=True)
                added += 1
                continue
            if job.name != label:
                sched.reschedule_job(job_id, trigger=cron_trigger(group.schedule, config.timezone, config.jitter))
            if job.name != label or job.kwargs != kwargs or job.misfire_grace_time != config.misfire_grace:
                sched.modify_job(job_id, name=label, kwargs=kwargs, misfire_grace_time=config.misfire_grace)
                changed += 1
            else:
                kept += 1
        alerts = sched.get_job(ALERTS_JOB)
        if alerts is None or alerts.trigger.interval.total_seconds() != config.alert_retry:
            sched.add_job("monitor.daemon:alerts_job", IntervalTrigger(seconds=config.alert_retry),
                          id=ALERTS_JOB, name=f"retry pending alerts every {config.alert_retry}s",
                          coalesce=True, max_instances=1, misfire_grace_time=config.alert_retry,
                          replace_existing=True)
        return added, removed, changed, kept

    # -- work ---------------------------------------------------------------------------
    def crawl(self, names: Sequence[str]) -> int | None:
        """Run `policywatch check` for these sources in a child process under the time limit."""
        config = self.config
        names = [n for n in names if n in {s.name for s in config.enabled_sources}]
        if not names:
            return None
        limit = config.crawl_timeout
        # The database URL (it may hold a password) goes through the environment, never argv (`ps` shows argv).
        cmd = [sys.executable, "-m", "monitor", "check", "--sources", str(self.sources_path),
               "--progress", "line", "--wait", str(limit)]
        for name in names:
            cmd.append(f"--source={name}")  # one argument: a name like "-v" or "--db=x" stays a value
        for item in self.overrides:
            cmd += ["-s", item]
        if self.verbose:
            cmd.append("-v")
        started = datetime.now(timezone.utc)
        log.info("crawl of %d sources starts (%s)", len(names), ", ".join(names[:5]) + (" …" if len(names) > 5 else ""))
        with self._children_lock:  # checked under the lock so a stop cannot miss a child starting now
            if self._stop.is_set():
                return None
            child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True, env={**os.environ, "PYTHONPATH": _pythonpath(), DB_ENV: self.db.url})
            self._children[child.pid] = child
        try:
            try:
                out, _ = child.communicate(timeout=limit)
            except subprocess.TimeoutExpired:
                out = self._terminate(child, KILL_GRACE)
                error = f"crawl stopped after its {limit} s time limit (crawl_timeout)"
                run_id = SnapshotStore(self.db).record_killed_run(socket.gethostname(), child.pid, started,
                                                                  names, error)
                log.error("%s; run %s, pages not checked were recorded as errors", error, run_id)
                _log_output(out)
                return child.returncode
        finally:
            with self._children_lock:
                self._children.pop(child.pid, None)
        _log_output(out)
        level = logging.INFO if child.returncode in (0, 1) else logging.WARNING
        log.log(level, "crawl finished with exit code %d", child.returncode)
        return child.returncode

    def retry_alerts(self) -> dict[str, int]:
        from monitor.alerts import configured_targets
        from monitor.delivery import deliver_due
        try:
            targets = configured_targets(self.config)
        except ValueError as exc:
            log.error("alerts not retried: %s", exc)
            return {}
        counts = deliver_due(ChangeStore(self.db), targets)
        if any(counts.values()):
            log.info("alerts: %d sent, %d still pending, %d failed", counts.get("sent", 0),
                     counts.get("retried", 0), counts.get("failed", 0))
        return counts

    @staticmethod
    def _terminate(child: subprocess.Popen, grace: float) -> str:
        """SIGTERM the child's process group (Scrapy stops cleanly), SIGKILL it after `grace` s."""
        _signal_group(child, signal.SIGTERM)
        try:
            out, _ = child.communicate(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            out, _ = child.communicate()
        return out or ""

    def _stop_children(self) -> None:
        with self._children_lock:
            children = list(self._children.values())
        for child in children:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        for child in children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("crawl pid %d did not stop within %.0f s: killed", child.pid, self.stop_grace)
                _signal_group(child, signal.SIGKILL)


def _signal_group(child: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(child.pid, sig)
    except ProcessLookupError:
        pass


def _pythonpath() -> str:
    root = str(Path(__file__).resolve().parent.parent)
    current = os.environ.get("PYTHONPATH")
    return root if not current else f"{root}{os.pathsep}{current}"


def _log_output(out: str | None) -> None:
    for line in (out or "").splitlines():
        if line.strip():
            log.info("  %s", line)


# APScheduler stores jobs by reference to these module-level functions.
def crawl_job(names: list[str]) -> None:
    if _current is not None:
        _current.crawl(names)


def alerts_job() -> None:
    if _current is not None:
        _current.retry_alerts()
