"""Scrapy side of bench/crawl.py: a timing extension and the bare-Scrapy baseline.

BenchStats (enabled with -s EXTENSIONS={"scrapyhelp.BenchStats": 0} and
-s BENCH_STATS_FILE=...; bench/ must be on PYTHONPATH) writes, when the engine
stops: crawl_seconds = monotonic time from spider_opened to engine_stopped
(every request, every item pipeline flush and the spider close are inside),
the first/last response times, the Scrapy stats and the process's peak RSS.
With -s BENCH_PROFILE_FILE=... it also runs cProfile over exactly that window.
The same extension times both bare Scrapy and `policywatch check`.

The baseline: python bench/scrapyhelp.py URLS_FILE -s KEY=VALUE ...
fetches every URL once (dont_filter) and only counts the responses.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from datetime import datetime

import scrapy
from scrapy import signals


class BenchStats:
    def __init__(self, crawler) -> None:
        self.crawler = crawler
        self.path = crawler.settings.get("BENCH_STATS_FILE")
        self.profile_path = crawler.settings.get("BENCH_PROFILE_FILE")
        self.profiler = None
        self.t_open = self.t_first = self.t_last = None
        self.responses = 0
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_opened(self, spider) -> None:
        if self.profile_path:
            import cProfile
            self.profiler = cProfile.Profile()
            self.profiler.enable()
        self.t_open = time.monotonic()

    def response_received(self, response, request, spider) -> None:
        now = time.monotonic()
        if self.t_first is None:
            self.t_first = now
        self.t_last = now
        self.responses += 1

    def engine_stopped(self) -> None:
        t_stop = time.monotonic()
        if self.profiler:
            self.profiler.disable()
            self.profiler.dump_stats(self.profile_path)
        if not self.path:
            return
        stats = {k: (v.isoformat() if isinstance(v, datetime) else v)
                 for k, v in self.crawler.stats.get_stats().items()}
        rel = lambda t: None if t is None or self.t_open is None else t - self.t_open  # noqa: E731
        out = dict(crawl_seconds=rel(t_stop), first_response=rel(self.t_first), last_response=rel(self.t_last),
                   responses=self.responses, maxrss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   stats=stats)
        with open(self.path, "w") as f:
            json.dump(out, f, indent=1, default=str)


class BareSpider(scrapy.Spider):
    """Fetch each URL once and count it; nothing else."""

    name = "bare"

    def __init__(self, urls: list[str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.count = 0

    async def start(self):
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, dont_filter=True)

    def parse(self, response):
        self.count += 1
        return None


def main(argv: list[str]) -> int:
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings

    urls_file, rest = argv[0], argv[1:]
    with open(urls_file) as f:
        urls = [line.strip() for line in f if line.strip()]
    settings = Settings()
    # Everything the policywatch project settings set that concerns fetching, so both fetch alike.
    settings.setdict({
        "USER_AGENT": "policywatch/0.1 (+https://github.com/policywatch/policywatch; policy page monitor)",
        "ROBOTSTXT_OBEY": True, "COOKIES_ENABLED": False, "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False, "HTTPCACHE_ENABLED": False, "DOWNLOAD_TIMEOUT": 30,
        "DOWNLOAD_MAXSIZE": 8 * 1024 * 1024, "DOWNLOAD_WARNSIZE": 2 * 1024 * 1024,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "LOG_LEVEL": "CRITICAL",
    }, priority="project")
    for item in rest:
        if item == "-s":
            continue
        key, _, value = item.partition("=")
        settings.set(key, value, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, urls=urls)
    process.start()
    print(f"bare: {crawler.spider.count} responses", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
