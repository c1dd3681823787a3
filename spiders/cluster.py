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


PROTOCOL = 1  # the queue protocol: request meta and lease rules; bumped on any incompatible change


def chosen_protocol(settings) -> int:
    """The queue protocol a worker speaks: POLICYWATCH_QUEUE_PROTOCOL, else this version's."""
    chosen = settings.get("POLICYWATCH_QUEUE_PROTOCOL")
    return PROTOCOL if chosen in (None, "") else int(chosen)


def queue_key(protocol: int = PROTOCOL) -> str:
    """The Redis list of one protocol version: a worker of another version never sees these requests."""
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


class RequestQueue:
    """The run's side of the shared queue: scrapy-redis's own FIFO queue class and serializer, so workers
    read exactly what their Scheduler expects."""

    def __init__(self, server, protocol: int = PROTOCOL) -> None:
        from scrapy_redis.queue import FifoQueue
        from spiders.spiders.watch import WatchSpider
        self.server = server
        self.key = queue_key(protocol)
        self.spider = WatchSpider()  # only to name the callbacks in the serialized requests
        self.queue = FifoQueue(server=server, spider=self.spider, key=self.key)

    def clear(self) -> None:
        self.server.delete(self.key)

    def push(self, run_id: int, pages) -> int:
        """Queue one request per (page_id, url), in one round trip per 500; how many."""
        pages = list(pages)
        for i in range(0, len(pages), 500):
            pipe = self.server.pipeline(transaction=False)
            for page_id, url in pages[i:i + 500]:
                pipe.lpush(self.key, self.queue._encode_request(page_request(self.spider, run_id, page_id, url)))
            pipe.execute()
        return len(pages)

    def __len__(self) -> int:
        return int(self.server.llen(self.key))
