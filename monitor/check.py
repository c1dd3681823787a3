"""One check run: sync the sources into the database, crawl every watched page once, report."""
from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from monitor.config import Config
from spiders import signals
from storage import Database, SnapshotStore
from storage.locks import DatabaseLock, LockLost

if TYPE_CHECKING:
    from scrapy.settings import Settings

CHECK_LOCK = "check"

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_CONFIG = 2
EXIT_DATABASE = 3
EXIT_LOCKED = 4  # another check (or daemon) holds the lock; try again later or use --wait
EXIT_INTERRUPTED = 130
SUMMARY_FAILURES = 3  # failed pages named in the summary line, then "and N more"


@dataclass
class CheckResult:
    run_id: int
    counts: dict[str, int] = field(default_factory=dict)
    planned: int = 0
    reason: str = "finished"
    extracted: int = 0  # snapshots whose facts were extracted after the crawl (none were with their cut)
    changes: dict[str, int] = field(default_factory=dict)  # severity → changes detected
    delivery: dict[str, int] = field(default_factory=dict)  # alerts sent / retried / failed
    failures: list[tuple[str, str]] = field(default_factory=list)  # (url, error) of failed pages, in order

    @property
    def errors(self) -> int:
        return self.counts.get("error", 0)

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    @property
    def exit_code(self) -> int:
        if self.reason not in ("finished",):
            return EXIT_INTERRUPTED
        return EXIT_SOME_FAILED if self.errors else EXIT_OK


def scrapy_settings(db_url: str | None, overrides: Sequence[str] = (), verbose: bool = False,
                    **extra) -> "Settings":
    """Project settings + policywatch's run settings + `-s KEY=VALUE` overrides (highest priority)."""
    from scrapy.settings import Settings  # Scrapy is imported by the commands that crawl, not at start-up
    settings = Settings()
    settings.setmodule("spiders.settings", priority="project")
    unused = set(settings.getlist("UNUSED_COMPONENTS"))
    for name in ("EXTENSIONS_BASE", "DOWNLOADER_MIDDLEWARES_BASE"):
        settings.set(name, {k: v for k, v in settings.getdict(name).items() if k not in unused}, priority="project")
    settings.set("POLICYWATCH_DB", db_url, priority="cmdline")
    # Results go to the database and the summary line; Scrapy's own log only with --verbose.
    settings.set("LOG_LEVEL", "INFO" if verbose else "CRITICAL", priority="cmdline")
    for key, value in extra.items():
        settings.set(key, value, priority="cmdline")
    for key, value in parse_overrides(overrides):
        settings.set(key, value, priority="cmdline")
    return settings


def parse_overrides(overrides: Sequence[str]) -> list[tuple[str, str]]:
    """`-s KEY=VALUE` items as (key, value); ValueError names the first malformed one."""
    pairs = []
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"-s expects KEY=VALUE, got {item!r}")
        check_setting_type(key.strip(), value)
        pairs.append((key.strip(), value))
    return pairs


_BOOL_WORDS = {"true", "false", "1", "0", "yes", "no", "on", "off"}
NONE_DEFAULT_TYPES = {"POLICYWATCH_WORKERS": 0, "POLICYWATCH_QUEUE_PROTOCOL": 0}  # settings whose default is None: a sample of their type
FLOAT_SETTINGS = {"DOWNLOAD_TIMEOUT", "DOWNLOAD_DELAY", "AUTOTHROTTLE_START_DELAY", "AUTOTHROTTLE_MAX_DELAY",
                  "AUTOTHROTTLE_TARGET_CONCURRENCY", "CLOSESPIDER_TIMEOUT"}  # read with getfloat, int defaults


def check_setting_type(key: str, value: str) -> None:
    """ValueError when VALUE cannot be a value of KEY's type (bool, int, float), judged from Scrapy's and
    policywatch's defaults: a bad -s used to fail inside the crawler, check nothing and exit 0."""
    from scrapy.settings import default_settings
    from spiders import settings as ours
    default = (NONE_DEFAULT_TYPES[key] if key in NONE_DEFAULT_TYPES
               else getattr(ours, key, getattr(default_settings, key, None)))
    text = value.strip()
    if isinstance(default, bool):
        if text.lower() not in _BOOL_WORDS:
            raise ValueError(f"-s {key}={value}: expected true or false")
    elif isinstance(default, int) and key not in FLOAT_SETTINGS:
        try:
            int(text)
        except ValueError:
            raise ValueError(f"-s {key}={value}: expected a whole number") from None
    elif isinstance(default, float) or key in FLOAT_SETTINGS:
        try:
            float(text)
        except ValueError:
            raise ValueError(f"-s {key}={value}: expected a number") from None


def run_check(config: Config, db: Database, *, source_names: Sequence[str] | None = None,
              overrides: Sequence[str] = (), reporter: "Reporter | None" = None,
              verbose: bool = False, notify: Sequence[str] = (),
              lock_wait: float | None = None, force: bool = False, redis_url: str | None = None,
              wait_workers: float | None = None) -> CheckResult:
    """Crawl the selected sources once, then extract, diff and alert; returns the run's counters.

    `force` fetches every page in full, ignoring its stored ETag / Last-Modified for this run only.
    `redis_url` crawls on the `policywatch worker` processes of that shared queue instead of in this process
    (monitor.coordinator), waiting at most `wait_workers` s for a worker to take the pages.

    Holds the database's `check` lock throughout, so overlapping runs (cron, the daemon, several
    machines) never crawl or alert twice: raises LockBusy when it is held, after waiting `lock_wait` s.
    """
    with DatabaseLock(db, CHECK_LOCK, wait=lock_wait) as lock:
        # Every write first checks the lock is still held: a PostgreSQL restart drops it with its connection,
        # and another check may take it. Losing it raises LockLost (exit 3) before anything more is written.
        lock.protect(db)
        result = _run_locked(config, db, source_names=source_names, overrides=overrides, reporter=reporter,
                             verbose=verbose, notify=notify, force=force, lock=lock, redis_url=redis_url,
                             wait_workers=wait_workers)
        if result.reason == "lock_lost":
            raise LockLost(CHECK_LOCK)
        return result


def _run_locked(config: Config, db: Database, *, source_names, overrides, reporter, verbose,
                notify, force, lock: DatabaseLock, redis_url: str | None = None,
                wait_workers: float | None = None) -> CheckResult:
    store = SnapshotStore(db)
    selected = config.select(list(source_names) if source_names else None)
    ids = store.sync_sources([s.spec() for s in config.sources])
    store.interrupt_stale_runs()
    run_id = store.start_run()
    try:
        if redis_url:
            return _cluster_run(config, db, store, ids, selected, run_id, redis_url=redis_url,
                                wait_workers=wait_workers, reporter=reporter, notify=notify, force=force)
        return _crawl_run(config, db, store, ids, selected, run_id, overrides=overrides, reporter=reporter,
                          verbose=verbose, notify=notify, force=force, lock=lock)
    except BaseException:
        # Stopped (a signal before Scrapy took over, a database error) before the run's end was recorded.
        try:
            store.finish_run_if_running(run_id, "interrupted")
        except Exception:  # the database itself failed, or the lock was lost: the next check's
            pass          # interrupt_stale_runs marks it
        raise


def _crawl_run(config: Config, db: Database, store: SnapshotStore, ids: dict[str, int], selected, run_id: int, *,
               overrides, reporter, verbose, notify, force, lock: DatabaseLock) -> CheckResult:
    result = CheckResult(run_id=run_id)
    settings = scrapy_settings(db.url, overrides, verbose, POLICYWATCH_RUN_ID=run_id,
                               POLICYWATCH_SOURCES=[s.name for s in selected],
                               POLICYWATCH_PROFILES=config.profiles_path, POLICYWATCH_FORCE=force,
                               POLICYWATCH_WRITE_GUARD=lock.guard(),
                               POLICYWATCH_ALLOW_HOSTS={s.name: list(s.allow_hosts) for s in config.sources
                                                        if s.allow_hosts})
    from spiders.stopping import PromptStopCrawlerProcess as CrawlerProcess
    from spiders.spiders.watch import WatchSpider
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(WatchSpider)

    def planned(count: int) -> None:
        result.planned += count
        if reporter:
            reporter.planned(result.planned)

    def stored(url: str, outcome: str, error: str | None) -> None:
        result.counts[outcome] = result.counts.get(outcome, 0) + 1
        if outcome == "error" and len(result.failures) < SUMMARY_FAILURES:
            result.failures.append((url, error or "error"))
        if reporter:
            reporter.stored(url, outcome, error)

    opened = []

    def closed(spider, reason: str) -> None:
        result.reason = reason

    from scrapy import signals as scrapy_signals
    crawler.signals.connect(planned, signal=signals.pages_planned)
    crawler.signals.connect(stored, signal=signals.page_stored)
    crawler.signals.connect(closed, signal=scrapy_signals.spider_closed)
    crawler.signals.connect(lambda spider: opened.append(spider), signal=scrapy_signals.spider_opened, weak=False)
    if reporter:
        reporter.start()
    # Scrapy replaces the SIGTERM/SIGINT handlers for a graceful crawl stop; ours come back afterwards,
    # so a signal during extraction or diffing still stops the run (its transactions roll back).
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    start_failure: list[BaseException] = []
    try:
        # Building the crawler (settings, extensions, middlewares) runs inside a Deferred, before Scrapy's own
        # signal handlers exist: a SIGTERM or a bad setting there fails that Deferred instead of the crawl.
        process.crawl(crawler).addErrback(lambda failure: start_failure.append(failure.value))
        process.start()
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if reporter:
            reporter.stop(result)
    if start_failure:
        # Nothing was crawled: never "finished" (it would extract, diff and exit 0).
        store.finish_run(run_id, result.counts, "interrupted")
        if isinstance(start_failure[0], KeyboardInterrupt):
            raise start_failure[0]
        from monitor.config import ConfigError
        raise ConfigError(f"could not start the crawl: {start_failure[0]}") from None
    if process.stopping and result.reason == "finished":
        result.reason = "shutdown"  # the reactor was stopped before the spider could close
    if not opened and result.reason == "finished":
        result.reason = "start_error"  # the crawler never started (its error is in the log): not a finished run
    if result.reason == "lock_lost":
        return result
    return _finish(config, db, store, run_id, ids, notify, reporter, result)


def _cluster_run(config: Config, db: Database, store: SnapshotStore, ids: dict[str, int], selected, run_id: int, *,
                 redis_url: str, wait_workers: float | None, reporter, notify, force) -> CheckResult:
    from monitor.coordinator import DEFAULT_WAIT_WORKERS, crawl_on_workers
    result = CheckResult(run_id=run_id)
    crawl_on_workers(config, db, store, selected, run_id, result, redis_url=redis_url, force=force,
                     wait_workers=DEFAULT_WAIT_WORKERS if wait_workers is None else wait_workers, reporter=reporter)
    return _finish(config, db, store, run_id, ids, notify, reporter, result)


def _finish(config: Config, db: Database, store: SnapshotStore, run_id: int, ids: dict[str, int], notify,
            reporter, result: CheckResult) -> CheckResult:
    """Record the crawl's end; after a complete crawl extract, diff and alert; report.

    A complete crawl's run stays `running` (its end time and counts stored) until the stages after it are
    done: killed there, it is found interrupted (interrupt_stale_runs), never `finished` with facts or
    changes missing; exit 130 and `finished` never go together."""
    store.finish_run(run_id, result.counts, "running" if result.reason == "finished" else "interrupted")
    if result.reason == "finished":
        try:
            _after_crawl(config, db, store, run_id, ids, notify, reporter, result)
            ignore_stop_signals()  # everything is stored: a stop now would only turn a complete run into a failure
            store.finish_run(run_id, result.counts, "finished")
        except BaseException:
            # The crawl was complete, its extraction or diff was not: the run is interrupted, and the next
            # one extracts and diffs what it left (snapshots without facts, checks not judged).
            try:
                store.finish_run(run_id, result.counts, "interrupted")
            except Exception:  # the database itself failed: the error being raised says so
                pass
            raise
    if reporter:
        reporter.summary(result)
    return result


def ignore_stop_signals() -> None:
    """From now on SIGTERM and Ctrl-C are ignored (main thread only): the work is stored and reported, and a
    stop during teardown used to raise inside weakref callbacks, print tracebacks and exit 1 or -15."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _after_crawl(config: Config, db: Database, store: SnapshotStore, run_id: int, ids: dict[str, int],
                 notify: Sequence[str], reporter, result: CheckResult) -> None:
    """The stages after a complete crawl: extract new snapshots' facts, diff, queue and send alerts."""
    from monitor.diff_stage import diff_and_queue
    from monitor.extract_stage import extract_pending
    from monitor.targets import configured_targets
    if reporter:
        reporter.stage("extracting facts")
    result.extracted = extract_pending(store)
    if reporter:
        reporter.stage("diffing and queueing alerts")
    targets = {ids[s.name]: config.targets_for(s, notify) for s in config.sources}
    stage = diff_and_queue(db, run_id, targets, {v: k for k, v in ids.items()},
                           {ids[s.name] for s in config.sources if s.alert_text}, config.min_severity,
                           delivery_targets=configured_targets(config, notify))
    result.changes, result.delivery = stage.changes, stage.delivery
    db.refresh_statistics()


class Reporter:
    """Progress on a terminal (rich bar), otherwise one summary line per run (cron-friendly)."""

    def __init__(self, stream=None, interactive: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.progress = None
        self.task = None
        self.errors = 0

    def start(self) -> None:
        if not self.interactive:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        self.progress = Progress(TextColumn("checking"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("[red]{task.fields[errors]} errors"), TimeElapsedColumn(),
                                 console=Console(file=self.stream), transient=True)
        self.task = self.progress.add_task("check", total=None, errors=0)
        self.progress.start()

    def planned(self, total: int) -> None:
        if self.progress:
            self.progress.update(self.task, total=total)

    def stored(self, url: str, outcome: str, error: str | None) -> None:
        if outcome == "error":
            self.errors += 1
        if self.progress:
            self.progress.update(self.task, advance=1, errors=self.errors)
            if error:
                self.progress.console.print(f"[red]error[/red] {url}: {error}")

    def checked(self, done: int, total: int) -> None:
        """Pages checked so far of a run crawled by workers (their checks are counted in the database)."""
        if self.progress:
            self.progress.update(self.task, completed=done, total=total)

    def stop(self, result: CheckResult) -> None:
        if self.progress:
            self.progress.stop()

    def stage(self, what: str) -> None:
        """On a terminal, say which stage after the crawl is running (they take seconds on big runs)."""
        if self.interactive:
            print(f"{what}…", file=self.stream, flush=True)

    def summary(self, result: CheckResult) -> None:
        print(summary_line(result), file=self.stream if self.interactive else sys.stdout)


def _short(error: str, limit: int = 100) -> str:
    error = " ".join(error.split())
    return error if len(error) <= limit else error[:limit - 1] + "…"


def summary_line(result: CheckResult) -> str:
    c = result.counts
    parts = [f"{c.get(k, 0)} {k.replace('_', ' ')}" for k in ("new", "changed", "unchanged", "not_modified", "error")]
    status = "" if result.reason == "finished" else f" (stopped: {result.reason})"
    facts = f"; facts extracted for {result.extracted} snapshots" if result.extracted else ""
    changes = ""
    if result.changes:
        changes = "; changes: " + ", ".join(f"{n} {sev}" for sev, n in sorted(result.changes.items()))
    if any(result.delivery.values()):
        changes += "; alerts: " + ", ".join(f"{n} {k}" for k, n in result.delivery.items() if n)
    failed = ""
    if result.failures:
        named = ", ".join(f"{url} ({_short(error)})" for url, error in result.failures)
        more = result.errors - len(result.failures)
        failed = f"; failed: {named}" + (f" and {more} more" if more > 0 else "")
    return (f"run {result.run_id}: {result.done} pages checked: " + ", ".join(parts) + facts + changes + failed
            + status)
