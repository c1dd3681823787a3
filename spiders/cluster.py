"""The crawl side of a cluster run: scrapy-redis's scheduler, page leases and the worker's heartbeat.

A coordinator (`policywatch check --redis URL`) pushes one request per planned page to the shared queue;
every `policywatch worker` runs the watch spider with scrapy-redis's Scheduler on that queue. Requests carry
only the run id, the page id and the protocol version: the worker claims the page's lease in the database
(storage.cluster) and reads the page's state there, so a request never holds stale validators.
"""
from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path


PROTOCOL = 2  # the queue protocol: key layout, request meta and lease rules; bumped on any incompatible change
# 1: one list for every site; 2: one list per site (SiteQueues)


def chosen_protocol(settings) -> int:
    """The queue protocol a worker speaks: POLICYWATCH_QUEUE_PROTOCOL, else this version's."""
    chosen = settings.get("POLICYWATCH_QUEUE_PROTOCOL")
    return PROTOCOL if chosen in (None, "") else int(chosen)


def queue_key(protocol: int = PROTOCOL) -> str:
    """The Redis key prefix of one protocol version's queue: a worker of another version never sees these
    requests."""
    return f"policywatch:v{protocol}:requests"


def page_request(spider, run_id: int, page_id: int, url: str):
    """The queued Request of one planned page (callbacks are the watch spider's, found by name on a worker)."""
    from scrapy.http import Request
    return Request(url, callback=spider.parse_page, errback=spider.on_error, dont_filter=True,
                   meta={"pw_run": run_id, "pw_page": page_id, "pw_v": PROTOCOL, "handle_httpstatus_list": [304]})


class ClusterWorker:
    """The database side of one worker process: its row in `workers`, its claims, its check writes."""

    def __init__(self, db, protocol: int = PROTOCOL) -> None:
        from storage.cluster import ClusterStore
        self.store = ClusterStore(db)
        self.protocol = protocol
        self.worker_id: int | None = None
        self._options: dict[int, dict] = {}  # run id → fetch options (read once; a run's options never change)

    def register(self, version: str) -> int:
        self.worker_id = self.store.register_worker(self.protocol, version)
        return self.worker_id

    def claim(self, run_id: int, page_id: int):
        state = self.store.claim(run_id, page_id, self.worker_id)
        if state is not None and run_id not in self._options:
            self._options[run_id] = self._load_options(run_id)
        return state

    def options(self, run_id: int) -> dict:
        return self._options[run_id]

    def _load_options(self, run_id: int) -> dict:
        options = self.store.run_options(run_id) or dict(force=False, allow_hosts={}, profiles_toml=None)
        options["profiles_path"] = _profiles_file(options.pop("profiles_toml", None))
        return options

    def record_checks(self, run_id: int, records) -> list[str | None]:
        return self.store.record_checks(self.worker_id, run_id, records)

    def record_list_check(self, run_id: int, record, source_id: int, urls):
        return self.store.record_list_check(self.worker_id, run_id, record, source_id, urls)


def _profiles_file(text: str | None) -> str | None:
    """The coordinator's user profiles as a local file the page cutter reads (a cache named by content)."""
    if not text:
        return None
    path = Path(tempfile.gettempdir()) / f"policywatch-profiles-{hashlib.sha256(text.encode()).hexdigest()[:16]}.toml"
    if not path.exists():
        tmp = path.with_suffix(f".{time.monotonic_ns()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return str(path)




class QueueUnavailable(Exception):
    """The shared Redis queue cannot be reached; str() is one line."""


def connect_queue(url: str, timeout: float = 5.0):
    """A Redis client for `url` that answered a PING; QueueUnavailable names the URL (password hidden)."""
    import redis
    from storage.db import safe_url
    try:
        server = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout * 2)
        server.ping()
    except ValueError as exc:
        raise QueueUnavailable(f"bad Redis URL {safe_url(url)}: {exc}") from None
    except redis.exceptions.RedisError as exc:
        raise QueueUnavailable(f"Redis queue {safe_url(url)} unreachable: {exc}") from None
    return server


# One scrapy-redis FIFO list per site (`BASE:site:HOST`) and a set of the sites that have requests
# (`BASE:sites`). A worker pops only from sites where it has room in its share of the site's budget, so a
# request never waits in its downloader behind others of the same site while other sites' requests wait in
# Redis (with one shared list, 4 workers reached 0.66 of linear speed-up; see docs/cluster.md).
# Popping the last request and leaving the set is one atomic script, and a push adds to the set after the
# list, so a site with requests is always in the set.
_POP = """
local request = redis.call('RPOP', KEYS[1])
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) end
return request
"""


def site_of(request) -> str:
    """The site a request is queued and budgeted under: its host name, as Scrapy's downloader slot key."""
    from scrapy.utils.httpobj import urlparse_cached
    return urlparse_cached(request).hostname or ""


def _sites(server, base: str) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else s for s in server.smembers(f"{base}:sites")]


def queued(server, base: str) -> int:
    """Requests waiting in the queue `base` (every site's list), in one round trip."""
    sites = _sites(server, base)
    if not sites:
        return 0
    pipe = server.pipeline(transaction=False)
    for site in sites:
        pipe.llen(f"{base}:site:{site}")
    return sum(int(n) for n in pipe.execute())


class SiteQueues:
    """The shared queue `base`: one scrapy-redis FifoQueue per site, with scrapy-redis's serializer, so what
    the coordinator pushes is what a worker's scheduler decodes."""

    def __init__(self, server, base: str, spider, serializer=None) -> None:
        from scrapy_redis.queue import FifoQueue
        self.server = server
        self.base = base
        self.sites_key = f"{base}:sites"
        self.codec = FifoQueue(server=server, spider=spider, key=f"{base}:site:", serializer=serializer)
        self._pop = server.register_script(_POP)

    def key(self, site: str) -> str:
        return f"{self.base}:site:{site}"

    def push(self, requests) -> int:
        """Queue `requests` under their sites, 500 per round trip (each batch one MULTI); how many."""
        requests = list(requests)
        for i in range(0, len(requests), 500):
            pipe = self.server.pipeline(transaction=True)
            sites = set()
            for request in requests[i:i + 500]:
                site = site_of(request)
                pipe.lpush(self.key(site), self.codec._encode_request(request))
                sites.add(site)
            pipe.sadd(self.sites_key, *sites)
            pipe.execute()
        return len(requests)

    def pop(self, site: str):
        """The oldest request of `site`, or None when it has none left."""
        data = self._pop(keys=[self.key(site), self.sites_key], args=[site])
        return None if data is None else self.codec._decode_request(data)

    def sites(self) -> list[str]:
        """The sites that have queued requests, in a stable order."""
        return sorted(_sites(self.server, self.base))

    def has_requests(self) -> bool:
        return bool(self.server.scard(self.sites_key))

    def clear(self) -> None:
        """Drop every queued request of this queue (and a one-list queue of the same name)."""
        keys = [self.base, *self.server.scan_iter(match=f"{self.base}:*", count=1000)]
        for i in range(0, len(keys), 1000):
            self.server.delete(*keys[i:i + 1000])

    def __len__(self) -> int:
        return queued(self.server, self.base)


class RequestQueue:
    """The run's side of the shared queue: its pages as the watch spider's requests, queued by site."""

    def __init__(self, server, protocol: int = PROTOCOL) -> None:
        from spiders.spiders.watch import WatchSpider
        self.server = server
        self.key = queue_key(protocol)
        self.spider = WatchSpider()  # only to name the callbacks in the serialized requests
        self.queues = SiteQueues(server, self.key, self.spider)

    def clear(self) -> None:
        self.queues.clear()

    def push(self, run_id: int, pages) -> int:
        """Queue one request per (page_id, url); how many."""
        return self.queues.push(page_request(self.spider, run_id, page_id, url) for page_id, url in pages)

    def __len__(self) -> int:
        return len(self.queues)
