"""The Scrapy components of `policywatch worker`: scrapy-redis's scheduler on the shared queue, the lease
middleware and the worker extension (heartbeat, never idle-closing, the cluster's per-site budget)."""
from __future__ import annotations

import logging
import time
from collections import deque

from scrapy import signals as scrapy_signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task, threads

from spiders.stopping import LeaseNotHeld

logger = logging.getLogger(__name__)

HEARTBEAT = 2.0  # seconds between a worker's heartbeats (and politeness updates)
POLL = 0.5  # seconds between an idle worker's looks at the queue (Scrapy's own idle heartbeat is 5 s)
SITES_REFRESH = 0.5  # seconds a worker keeps its list of the sites that have queued requests


class ClusterScheduler(Scheduler):
    """scrapy-redis's Scheduler on per-site queues (spiders.cluster.SiteQueues): the next request comes from a
    site where this worker has room in its share of the site's budget, taking sites in turn. A Redis outage
    is logged once and waited out instead of ending the worker, and requests this worker already leased
    (retries, redirects) stay with it, because the lease is its own."""

    def open(self, spider):
        from spiders.cluster import SiteQueues
        self.own: deque[Request] = deque()
        self.redis_down = False
        self.sites: list[str] = []
        self.sites_read = float("-inf")
        self.turn = 0
        super().open(spider)
        self.queues = SiteQueues(self.server, self.queue_key, spider, self.serializer)

    def _redis(self, call, default):
        from redis.exceptions import RedisError
        try:
            result = call()
        except RedisError as exc:
            if not self.redis_down:
                logger.error("Redis unreachable (%s): waiting for it, nothing is lost (the coordinator requeues)",
                             exc)
            self.redis_down = True
            return default
        if self.redis_down:
            logger.warning("Redis reachable again")
            self.redis_down = False
        return result

    def enqueue_request(self, request: Request) -> bool:
        if request.meta.get("page") is not None:  # leased here already: a retry or a redirect
            self.own.append(request)
            return True
        return self._redis(lambda: bool(self.queues.push([request])), False)

    def next_request(self):
        if self.own:
            return self.own.popleft()
        return self._redis(self._next_from_sites, None)

    def _next_from_sites(self):
        from spiders.cluster import site_of
        now = time.monotonic()
        if now - self.sites_read > SITES_REFRESH:
            self.sites, self.sites_read = self.queues.sites(), now
        downloader = self.spider.crawler.engine.downloader
        busy: dict[str, int] = {}
        for request in downloader.active:
            site = site_of(request)
            busy[site] = busy.get(site, 0) + 1
        request, empty, count = None, set(), len(self.sites)
        for i in range(count):
            j = (self.turn + i) % count
            site = self.sites[j]
            slot = downloader.slots.get(site)
            if busy.get(site, 0) >= (slot.concurrency if slot else downloader.domain_concurrency):
                continue
            request = self.queues.pop(site)
            if request is not None:
                self.turn = j + 1
                break
            empty.add(site)  # the pop took it out of the shared set too
        if empty:
            self.sites, self.turn = [s for s in self.sites if s not in empty], 0
        return request

    def has_pending_requests(self) -> bool:
        return bool(self.own) or self._redis(self.queues.has_requests, False)

    def __len__(self) -> int:
        return len(self.own) + self._redis(self.queues.__len__, 0)

    def close(self, reason):
        return None  # the queue is shared: never flushed by one worker (SCHEDULER_PERSIST)


class LeaseMiddleware:
    """First downloader middleware of a worker: claims a queued page's lease and attaches the page's state
    (validators, profile, encoding) read from the database; drops the request when the lease is not free."""

    def __init__(self, crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request: Request, spider=None):
        meta = request.meta
        if "pw_run" not in meta or meta.get("page") is not None:
            return None
        worker = self.crawler.spider.worker
        if meta.get("pw_v") != worker.protocol:
            raise LeaseNotHeld(f"request of queue protocol {meta.get('pw_v')}, this worker speaks {worker.protocol}")
        run_id, page_id = meta["pw_run"], meta["pw_page"]
        try:
            state = await maybe_deferred_to_future(threads.deferToThread(worker.claim, run_id, page_id))
        except Exception as exc:  # the database is unreachable: the lease stays free, the coordinator requeues
            logger.error("could not claim page %s of run %s: %s", page_id, run_id, exc)
            raise LeaseNotHeld(f"page {page_id} not claimed: {exc}") from None
        if state is None:
            raise LeaseNotHeld(f"page {page_id} of run {run_id} is done, leased elsewhere or of a dead run")
        options = worker.options(run_id)
        meta.update(page=state, started=time.monotonic(), pw_options=options)
        if not options["force"]:
            if state.etag:
                request.headers["If-None-Match"] = state.etag
            if state.last_modified:
                request.headers["If-Modified-Since"] = state.last_modified
        return None


class WorkerExtension:
    """Keeps a worker alive and polite: never closes when idle, heartbeats, and shares each site's budget.

    Per-site concurrency and delays are the whole cluster's: with N live workers each uses
    CONCURRENT_REQUESTS_PER_DOMAIN / N (at least 1) and AUTOTHROTTLE_TARGET_CONCURRENCY / N, and N × DOWNLOAD_DELAY.
    """

    def __init__(self, crawler) -> None:
        self.crawler = crawler
        s = crawler.settings
        self.base = dict(concurrency=s.getint("CONCURRENT_REQUESTS_PER_DOMAIN"), delay=s.getfloat("DOWNLOAD_DELAY"),
                         target=s.getfloat("AUTOTHROTTLE_TARGET_CONCURRENCY"))
        self.workers = 1
        self.applied = False
        self.loops: list[task.LoopingCall] = []
        crawler.signals.connect(self.opened, signal=scrapy_signals.spider_opened)
        crawler.signals.connect(self.idle, signal=scrapy_signals.spider_idle)
        crawler.signals.connect(self.closed, signal=scrapy_signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def opened(self, spider) -> None:
        worker = self.crawler.spider.worker
        self.share_budget(worker.store.live_workers(worker.protocol))  # before the first request is fetched
        beat = task.LoopingCall(self._beat)
        beat.start(HEARTBEAT, now=False).addErrback(lambda f: logger.error("heartbeat stopped: %s", f.value))
        poll = task.LoopingCall(self._poke)
        poll.start(POLL, now=False)
        self.loops = [beat, poll]

    def _beat(self):
        worker = self.crawler.spider.worker

        def beat() -> int:
            worker.store.heartbeat(worker.worker_id)
            return worker.store.live_workers(worker.protocol)

        d = threads.deferToThread(beat)
        d.addCallbacks(self.share_budget, lambda f: logger.warning("heartbeat not stored: %s", f.value))
        return d

    def share_budget(self, workers: int) -> None:
        """Give this worker its 1/`workers` share of every site's concurrency and delay."""
        n = max(1, workers)
        if n == self.workers and self.applied:
            return
        self.applied = True
        self.workers = n
        downloader = self.crawler.engine.downloader
        concurrency = max(1, self.base["concurrency"] // n)
        downloader.domain_concurrency = concurrency
        for slot in downloader.slots.values():
            slot.concurrency = concurrency
            slot.delay = max(slot.delay, self.base["delay"] * n)
        for ext in self.crawler.extensions.middlewares:
            if type(ext).__name__ == "AutoThrottle":
                ext.target_concurrency = self.base["target"] / n
                ext.mindelay = self.base["delay"] * n
        logger.info("%d live workers: %d requests per site at a time from this one", n, concurrency)

    def _poke(self) -> None:
        # Scrapy looks at an idle spider's scheduler every 5 s; a worker should start on new requests sooner.
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and getattr(slot, "nextcall", None) is not None:
            slot.nextcall.schedule()

    def idle(self, spider) -> None:
        raise DontCloseSpider("a worker waits for the next run's requests")

    def closed(self, spider, reason) -> None:
        for loop in self.loops:
            if loop.running:
                loop.stop()
        worker = self.crawler.spider.worker
        if worker.worker_id is not None:
            try:
                worker.store.stop_worker(worker.worker_id)
            except Exception as exc:  # the database is gone: the heartbeat goes stale instead
                logger.warning("could not record the worker's stop: %s", exc)
