"""The fetch spider: one URL, fetched exactly as the watch spider fetches a page (robots.txt, User-Agent,
timeouts, retries, size limit from spiders/settings.py), for `policywatch extract URL`.

`scrapy crawl fetch -a url=URL` runs it too (the result is only logged).
"""
from __future__ import annotations

from dataclasses import dataclass

import scrapy
from scrapy import signals as scrapy_signals
from scrapy.http import Request, Response

from spiders.responses import failure_reason, header, not_html


@dataclass
class Fetched:
    """The answer to one request: the page's bytes, or `error` in the words the checks table uses."""

    url: str
    final_url: str | None = None
    status: int | None = None
    content_type: str | None = None
    body: bytes = b""
    error: str | None = None
    close_reason: str | None = None  # the crawl's end: "finished", or "shutdown" after Ctrl-C / SIGTERM


class FetchSpider(scrapy.Spider):
    """Requests one URL (`-a url=…`) and keeps the answer in `self.result`."""

    name = "fetch"

    def __init__(self, url: str | None = None, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not url:
            raise ValueError("the fetch spider needs a URL: scrapy crawl fetch -a url=URL")
        self.url = url
        self.result = Fetched(url, error="not fetched")

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._closed, signal=scrapy_signals.spider_closed)
        return spider

    async def start(self):
        yield Request(self.url, callback=self.parse, errback=self.on_error, dont_filter=True)

    def parse(self, response: Response):
        reason = not_html(response)
        self.result = Fetched(self.url, final_url=response.url, status=response.status,
                              content_type=header(response, b"Content-Type"),
                              body=b"" if reason else response.body, error=reason)
        self.logger.info("fetched %s: HTTP %s%s", response.url, response.status, f", {reason}" if reason else "")
        return None

    def on_error(self, failure):
        status, message = failure_reason(failure, self.settings)
        self.result = Fetched(self.url, status=status, error=message)
        self.logger.info("could not fetch %s: %s", self.url, message)

    def _closed(self, spider, reason: str) -> None:
        self.result.close_reason = reason


def fetch_one(url: str, settings) -> Fetched:
    """Run one FetchSpider crawl in this process (once: Twisted's reactor cannot restart) and return its
    result; `settings` are the crawl's (monitor.check.scrapy_settings)."""
    from scrapy.crawler import CrawlerProcess
    settings = settings.copy()
    settings.set("ITEM_PIPELINES", {}, priority="cmdline")  # nothing is stored
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(FetchSpider)
    process.crawl(crawler, url=url)
    process.start()
    return crawler.spider.result
