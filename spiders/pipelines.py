"""StorePipeline: writes checks and snapshots to the history database in batches, off the reactor thread."""
from __future__ import annotations

import logging

from scrapy import signals as scrapy_signals
from twisted.internet import defer, task, threads

from spiders import signals
from spiders.items import PageCheck
from storage import DatabaseError, SnapshotStore
from storage.locks import LockLost

logger = logging.getLogger(__name__)

DATABASE_ERROR = "database_error"  # the crawl's close reason when the database refused a batch (disk full, …)
_store_failures: list[DatabaseError] = []


def store_failure() -> DatabaseError | None:
    """The DatabaseError that stopped this process's crawl, if one did (a check crawls once per process):
    the CLI reports it as the run's outcome, exit 3."""
    return _store_failures[0] if _store_failures else None


class StorePipeline:
    """Buffers PageCheck items and stores them, each batch in one transaction.

    Batches are written in a thread, one at a time and in order, so the crawl
    keeps fetching while SQLite or PostgreSQL works. A killed process loses at
    most the unwritten batches: those pages keep their previous state and are
    fetched again next run; nothing is half-written.
    """

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.batch_size = crawler.settings.getint("POLICYWATCH_STORE_BATCH", 100)
        self.interval = crawler.settings.getfloat("POLICYWATCH_STORE_INTERVAL", 1.0)
        self.buffer: list[PageCheck] = []
        self.loop: task.LoopingCall | None = None
        self.counts: dict[str, int] = {}
        self.writing: defer.Deferred = defer.succeed(None)  # the tail of the write queue
        self.lock_lost: LockLost | None = None  # set when a batch found the check lock gone
        self.database_error: DatabaseError | None = None  # set when the database refused a batch
        crawler.signals.connect(self.spider_closed, signal=scrapy_signals.spider_closed)
        crawler.signals.connect(self.spider_error, signal=scrapy_signals.spider_error)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def store(self) -> SnapshotStore:
        return self.crawler.spider.store

    def open_spider(self, spider=None) -> None:
        self.loop = task.LoopingCall(self.flush)
        self.loop.start(self.interval, now=False)

    def process_item(self, item, spider=None):
        if isinstance(item, PageCheck) and item.stored is not None:
            self._stored([item], [item.stored])  # stored with what it discovered (a list page)
        elif isinstance(item, PageCheck):
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                self.flush()
        return item

    def flush(self) -> defer.Deferred:
        """Queue the buffered checks for writing; the returned Deferred fires when they are stored."""
        if self.buffer:
            batch, self.buffer = self.buffer, []
            self.writing.addCallback(lambda _: self._write(batch))
        return self.writing

    def _write(self, batch: list[PageCheck]) -> defer.Deferred | None:
        if self.database_error is not None or self.lock_lost is not None:
            return None  # the crawl is stopping: these pages keep their state and are fetched next run
        d = threads.deferToThread(self.crawler.spider.record_checks, batch)
        d.addCallbacks(lambda outcomes: self._stored(batch, outcomes), lambda f: self._failed(batch, f))
        return d

    def _stored(self, batch: list[PageCheck], outcomes: list[str]) -> None:
        for b, outcome in zip(batch, outcomes):
            if outcome is None:  # a cluster worker's page stored by another worker: not this worker's check
                continue
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
            self.crawler.stats.inc_value(f"policywatch/outcome/{outcome}")
            self.crawler.signals.send_catch_log(signals.page_stored, url=b.url, outcome=outcome,
                                                error=b.record.error)

    def _failed(self, batch: list[PageCheck], failure) -> None:
        exc = failure.value
        if isinstance(exc, LockLost):  # another check may be crawling now: stop, write nothing more
            self.lock_lost = exc
            self.buffer.clear()
            self.crawler.engine.close_spider(self.crawler.spider, "lock_lost")
            return
        if isinstance(exc, DatabaseError):
            logger.error("could not store %d checks, stopping the crawl: %s", len(batch), exc)
            self._database_failed(exc)
            return
        message = f"{type(exc).__name__}: {exc}"
        logger.error("could not store %d checks: %s", len(batch), message)
        self.crawler.stats.inc_value("policywatch/store_errors", len(batch))
        for b in batch:
            self.counts["error"] = self.counts.get("error", 0) + 1
            self.crawler.signals.send_catch_log(signals.page_stored, url=b.url, outcome="error", error=message)

    def _database_failed(self, exc: DatabaseError) -> None:
        """Disk full, a read-only file, a lost server: no later write would fare better, and the pages did not
        fail (the database did). Stop the crawl; unstored pages keep their state and are fetched next run."""
        if self.database_error is not None:
            return
        self.database_error = exc
        _store_failures.append(exc)
        self.buffer.clear()
        self.crawler.engine.close_spider(self.crawler.spider, DATABASE_ERROR)

    def spider_error(self, failure, response, spider) -> None:
        """A list page's check and discoveries are written by the spider's callback: a database error there
        stops the crawl like a batch's (a lost lock is left to the write guard's own handling)."""
        exc = failure.value
        if isinstance(exc, DatabaseError) and not isinstance(exc, LockLost):
            logger.error("could not store list %s, stopping the crawl: %s", response.url, exc)
            self._database_failed(exc)

    def spider_closed(self, spider, reason) -> defer.Deferred:
        if self.loop and self.loop.running:
            self.loop.stop()

        def finish(_):
            status = "finished" if reason == "finished" else "interrupted"
            if self.lock_lost is None and getattr(spider, "run_id", None) is not None and spider.owns_run:
                self.store.finish_run(spider.run_id, self.counts, status)

        return self.flush().addCallback(finish)
