"""Scrapy settings for policywatch (data only; override per run with `policywatch check -s KEY=VALUE`)."""

BOT_NAME = "policywatch"
SPIDER_MODULES = ["spiders.spiders"]
NEWSPIDER_MODULE = "spiders.spiders"

USER_AGENT = "policywatch/0.1 (+https://github.com/policywatch/policywatch; policy page monitor)"
ROBOTSTXT_OBEY = True

# Politeness: few parallel requests per site, adaptive delay, bounded waits and sizes.
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOADER = "spiders.downloader.PoliteDownloader"  # enforces CONCURRENT_REQUESTS_PER_DOMAIN (see its docstring)
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024

# Retries with exponential backoff (spiders.middlewares.BackoffRetryMiddleware).
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_BACKOFF_BASE = 2.0
RETRY_BACKOFF_MAX = 60.0
RETRY_AFTER_MAX = 120.0  # a 429/503's Retry-After is obeyed up to this many seconds

# Scrapy starts CONCURRENT_ITEMS asyncio tasks for every response of an async callback;
# with the default 100 that was the largest cost of a crawl. Our callbacks yield one item.
CONCURRENT_ITEMS = 2

COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19 opens a remote-control HTTP port and writes job files by default; a monitor needs neither.
REMOTE_CONTROL_ENABLED = False
# Never use Scrapy's HTTP cache for monitoring: it can serve a stale page for days.
HTTPCACHE_ENABLED = False
LOG_LEVEL = "INFO"

# Components a monitor never uses, left out of Scrapy's base lists by monitor.check.scrapy_settings: Scrapy
# imports every component named there (to merge the lists) even when it is disabled, and these cost start-up
# time on every check (telnet pulls in twisted.conch, the cookie middleware tldextract, remote control aiohttp).
UNUSED_COMPONENTS = [
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.extensions.memdebug.MemoryDebugger",
    "scrapy.extensions.feedexport.FeedExporter",
    "scrapy.extensions.spiderstate.SpiderState",
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
]
DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "spiders.middlewares.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "spiders.middlewares.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "spiders.middlewares.MetaRefreshMiddleware": 580,  # Scrapy's, except on a 304
    "spiders.stopping.StopGuardMiddleware": 990,  # last before the download: nothing new starts once stopping
}
ITEM_PIPELINES = {
    "spiders.pipelines.StorePipeline": 300,
}

# policywatch's own settings.
POLICYWATCH_MAX_LIST_LINKS = 2000  # matching links watched per list page (the first ones)
POLICYWATCH_STOP_GRACE = 3.0  # on SIGTERM, seconds in-flight downloads may take (queued ones are dropped)
POLICYWATCH_DB = None            # database URL; None → $POLICYWATCH_DB or sqlite:///policywatch.db
POLICYWATCH_SOURCES = []         # restrict the crawl to these source names
POLICYWATCH_RUN_ID = None        # set by `policywatch check`; created by the spider otherwise
POLICYWATCH_STORE_BATCH = 100    # checks written per transaction
POLICYWATCH_STORE_INTERVAL = 1.0  # seconds between flushes of a partial batch
POLICYWATCH_PROFILES = None      # path of a user profiles file, merged over spiders/profiles.toml
POLICYWATCH_FORCE = False        # True: ignore stored ETag / Last-Modified (no conditional GET) this run
POLICYWATCH_WORKERS = None       # page-processing processes; None → cores - 1 (cores when extracting), 0 → inline
POLICYWATCH_EXTRACT_DURING_CRAWL = True  # facts computed with the cut (False: all left to the extract stage)
POLICYWATCH_QUEUE_PROTOCOL = None  # `worker`: the queue protocol it speaks; None → this version's (tests of old ones)

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
