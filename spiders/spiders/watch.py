"""The watch spider: fetches every watched page of the enabled sources once."""
from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime, timezone
from typing import Iterator
from urllib.parse import urlsplit

import scrapy
from scrapy import signals as scrapy_signals
from scrapy.http import Request, Response

from spiders import signals
from spiders.encoding import decode_html, unreadable
from spiders.processing import PageCutter, default_workers
from spiders.items import PageCheck
from spiders.responses import failure_reason, header as _header, not_html
from spiders.stopping import LeaseNotHeld, StoppingRequested
from storage import Database, SnapshotStore
from storage.store import CheckRecord, PageContent, PageState


class WatchSpider(scrapy.Spider):
    """One spider for all sources: pages come from the database, results go back to it."""

    name = "watch"
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.run_id: int | None = None
        self.owns_run = False
        self._scheduled: set[int] = set()
        self.worker = None  # a cluster worker (spiders.cluster.ClusterWorker): pages come from the Redis queue

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.db = Database(settings.get("POLICYWATCH_DB"))
        # `policywatch check` passes its lock's verify(): every write of the crawl first checks the lock is held.
        spider.db.write_guard = settings.get("POLICYWATCH_WRITE_GUARD")
        spider.store = SnapshotStore(spider.db)
        workers = settings.get("POLICYWATCH_WORKERS")
        extract = settings.getbool("POLICYWATCH_EXTRACT_DURING_CRAWL", True)
        spider.cutter = PageCutter(default_workers(extract) if workers in (None, "") else int(workers),
                                   settings.get("POLICYWATCH_PROFILES"), extract=extract)
        crawler.signals.connect(spider.cutter.close, signal=scrapy_signals.spider_closed)
        spider.force = settings.getbool("POLICYWATCH_FORCE")
        only = settings.getlist("POLICYWATCH_SOURCES") or (kwargs.get("source", "").split(",") if kwargs.get("source") else [])
        spider.only_sources = [s for s in only if s]
        spider.run_id = settings.get("POLICYWATCH_RUN_ID")
        if settings.getbool("POLICYWATCH_CLUSTER_WORKER"):
            from spiders.cluster import ClusterWorker, chosen_protocol
            spider.worker = ClusterWorker(spider.db, chosen_protocol(settings))
            spider.worker.register(settings.get("POLICYWATCH_VERSION") or "unknown")
        elif spider.run_id is None:
            spider.run_id = spider.store.start_run()
            spider.owns_run = True
        return spider

    async def start(self):
        if self.worker is not None:
            return  # a worker's requests come from the shared queue
            yield
        pages = self.store.pages_to_check(self.only_sources or None)
        if not pages:
            self.logger.warning("no pages to check: the database has no enabled sources "
                                "(run `policywatch check` with a sources file)")
        for request in self._requests(pages):
            yield request

    def _requests(self, pages: list[PageState]) -> Iterator[Request]:
        fresh = [p for p in pages if p.page_id not in self._scheduled]
        if fresh:
            self.crawler.signals.send_catch_log(signals.pages_planned, count=len(fresh))
        for page in fresh:
            self._scheduled.add(page.page_id)
            headers = {}
            # Validators exactly as the server sent them last time; never our own clock. --force: none.
            if page.etag and not self.force:
                headers["If-None-Match"] = page.etag
            if page.last_modified and not self.force:
                headers["If-Modified-Since"] = page.last_modified
            yield Request(page.url, headers=headers, callback=self.parse_page, errback=self.on_error,
                          dont_filter=True,
                          meta={"page": page, "started": time.monotonic(),
                                "handle_httpstatus_list": [304]})

    # -- results ----------------------------------------------------------------
    def _record(self, request: Request, **fields) -> PageCheck:
        page: PageState = request.meta["page"]
        duration = int((time.monotonic() - request.meta.get("started", time.monotonic())) * 1000)
        rec = CheckRecord(page_id=page.page_id, checked_at=datetime.now(timezone.utc), duration_ms=duration,
                          **fields)
        return PageCheck(url=page.url, record=rec, run_id=request.meta.get("pw_run", self.run_id))

    def record_checks(self, batch: list[PageCheck]) -> list[str | None]:
        """Store a batch of checks (in a thread); each one's outcome, None for one a worker no longer leases."""
        if self.worker is None:
            return self.store.record_checks(self.run_id, [b.record for b in batch])
        outcomes: dict[int, str | None] = {}
        for run_id in dict.fromkeys(b.run_id for b in batch):
            items = [b for b in batch if b.run_id == run_id]
            for b, outcome in zip(items, self.worker.record_checks(run_id, [b.record for b in items])):
                outcomes[id(b)] = outcome
        return [outcomes[id(b)] for b in batch]

    async def parse_page(self, response: Response):
        page: PageState = response.meta["page"]
        if response.status == 304:
            yield self._record(response.request, http_status=304, not_modified=True)
            return
        etag = _header(response, b"ETag")
        last_modified = _header(response, b"Last-Modified")
        content_type = _header(response, b"Content-Type") or ""
        if reason := not_html(response):
            yield self._record(response.request, http_status=response.status, error=reason)
            return
        if page.role in ("list", "article") and not self._host_allowed(page, page.url, response.url, response.meta):
            yield self._record(response.request, http_status=response.status,
                               error=f"redirected to another host ({urlsplit(response.url).hostname}); "
                                     "allow it with allow_hosts")
            return
        if page.role == "list":
            html, _ = decode_html(response.body, content_type, page.encoding)
            if reason := unreadable(html):
                yield self._record(response.request, http_status=response.status, error=reason)
                return
            for item in self._parse_list(response, page, html, etag, last_modified):
                yield item
            return
        options = response.meta.get("pw_options") or {}
        cut = await self.cutter.cut(response.body, content_type, response.url, page.encoding, page.profile,
                                    options.get("profiles_path", self.cutter.profiles_path), page.region)
        if cut.unreadable:
            yield self._record(response.request, http_status=response.status, error=cut.unreadable)
            return
        if not cut.main_text:
            yield self._record(response.request, http_status=response.status, error="page has no text content")
            return
        content = PageContent(main_text=cut.main_text, title=cut.title, published_at=cut.published_at,
                              final_url=response.url, encoding=cut.encoding, profile=cut.profile,
                              raw=response.body, meta=cut.meta, content_hash=cut.content_hash,
                              raw_sha256=cut.raw_sha256, raw_zlib=cut.raw_zlib, extraction=cut.extraction)
        yield self._record(response.request, http_status=response.status, content=content, etag=etag,
                           last_modified=last_modified)

    def _parse_list(self, response: Response, page: PageState, html: str, etag, last_modified):
        follow = re.compile(page.follow or r"(?!)")
        selector = scrapy.Selector(text=html, type="html")
        urls = []
        for href in selector.css("a::attr(href)").getall():
            href = href.strip()
            if not href or href.startswith(("javascript:", "mailto:", "#")):
                continue
            absolute = response.urljoin(href).split("#")[0]
            if absolute.startswith(("http://", "https://")) and follow.search(absolute) \
                    and self._host_allowed(page, page.url, absolute, response.meta):
                urls.append(absolute)
        urls = list(dict.fromkeys(urls))
        cap = self.settings.getint("POLICYWATCH_MAX_LIST_LINKS", 2000)
        if len(urls) > cap:  # a runaway list (a whole archive on one page) must not swamp the crawl
            self.logger.warning("list %s: %d matching links, only the first %d are watched "
                                "(POLICYWATCH_MAX_LIST_LINKS)", response.url, len(urls), cap)
            urls = urls[:cap]
        links_hash = hashlib.sha256("\n".join(sorted(set(urls))).encode()).hexdigest()
        # The list's check and the articles it found are stored in one transaction, the articles first seen
        # at the check's time: a kill leaves both or neither, so the diff stage can tell which articles
        # appeared after the list was first watched.
        record = self._record(response.request, http_status=response.status, etag=etag,
                              last_modified=last_modified, links_hash=links_hash)
        new_pages = []
        if self.worker is not None:
            from spiders.cluster import page_request
            record.stored, new_pages = self.worker.record_list_check(record.run_id, record.record, page.source_id,
                                                                     urls)
            if record.stored is None:
                return  # another worker stored this list's check: its articles are queued by it
            yield record
            for p in new_pages:
                yield page_request(self, record.run_id, p.page_id, p.url)
            return
        if urls:
            record.stored, new_pages = self.store.record_list_check(self.run_id, record.record, page.source_id, urls)
        self.logger.info("list %s: %d matching links, %d new", response.url, len(set(urls)), len(new_pages))
        yield record
        yield from self._requests(new_pages)

    def _host_allowed(self, page: PageState, base: str, url: str, meta: dict) -> bool:
        """A list source stays on the host of its own pages unless its `allow_hosts` names the other one
        (links to 127.0.0.2 or localhost matched `follow` and were followed)."""
        host = (urlsplit(url).hostname or "").lower()
        if host == (urlsplit(base).hostname or "").lower():
            return True
        hosts = (meta["pw_options"]["allow_hosts"] if "pw_options" in meta
                 else self.settings.getdict("POLICYWATCH_ALLOW_HOSTS"))
        allowed = hosts.get(page.source_name) or ()
        return host in allowed

    def on_error(self, failure):
        if getattr(self, "stopping", False) or failure.check(StoppingRequested, LeaseNotHeld) \
                or "page" not in failure.request.meta:  # a worker's request that failed before it was claimed
            return  # dropped by a stop: not checked this run, simply checked next run
        status, message = failure_reason(failure, self.settings)
        yield self._record(failure.request, http_status=status, error=message[:500])
