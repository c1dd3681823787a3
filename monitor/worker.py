"""`policywatch worker`: a long-running crawler process of a cluster, fed by the shared Redis queue.

The coordinator (`check --redis URL`, or the daemon with `redis =`) queues a run's pages; each worker fetches
and cuts the pages it takes and stores their checks in the shared database. Extraction, diffs and alerts stay
with the coordinator, once per run.
"""
from __future__ import annotations

import argparse
import os
import sys

REDIS_ENV = "POLICYWATCH_REDIS"  # the queue URL (it may hold a password): the environment, never argv


def add_redis_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--redis", metavar="URL", default=None,
                   help=f"{what} (default: ${REDIS_ENV}, then `redis =` in [defaults]); e.g. redis://HOST:6379/0")


def redis_url(args, config=None) -> str | None:
    """--redis, then $POLICYWATCH_REDIS, then the sources file's `redis =`; None: crawl in this process."""
    return getattr(args, "redis", None) or os.environ.get(REDIS_ENV) or getattr(config, "redis", None)


def add_worker_parser(sub) -> None:
    from monitor.options import add_common_options
    w = sub.add_parser("worker", help="a crawler of a cluster: fetch the pages queued on a shared Redis "
                                      "(scrapy-redis) and store their checks in the shared database")
    add_common_options(w, sources_help="not read: a worker takes everything it needs from the database")
    add_redis_option(w, "the shared queue")
    w.add_argument("-s", dest="settings", action="append", metavar="SETTING=VALUE", default=[],
                   help="a Scrapy setting of this worker (repeatable), e.g. -s POLICYWATCH_WORKERS=2")
    w.add_argument("-v", "--verbose", action="store_true", help="show Scrapy's log (INFO level)")


def cmd_worker(args) -> int:
    from monitor.check import parse_overrides
    from monitor.cliutil import open_db
    from monitor.config import ConfigError
    url = redis_url(args)
    if not url:
        raise ConfigError(f"worker needs the queue: --redis redis://HOST:6379/0 (or ${REDIS_ENV})")
    try:
        parse_overrides(args.settings)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    from spiders.cluster import connect_queue
    connect_queue(url)  # unreachable: one line, exit 3, before anything starts
    db = open_db(args.db, create=True)
    return run_worker(db, url, args.settings, args.verbose)


def worker_settings(db_url: str, redis: str, overrides=(), verbose: bool = False):
    """The Scrapy settings of a worker: policywatch's, with scrapy-redis's scheduler on the shared queue."""
    from monitor.check import scrapy_settings
    from monitor.cli import package_version
    from scrapy.settings import Settings
    from spiders.cluster import PROTOCOL, chosen_protocol, queue_key
    base = Settings()
    base.setmodule("spiders.settings", priority="project")
    middlewares = {**base.getdict("DOWNLOADER_MIDDLEWARES"), "spiders.worker.LeaseMiddleware": 50}
    extensions = {**base.getdict("EXTENSIONS"), "spiders.worker.WorkerExtension": 500}
    settings = scrapy_settings(
        db_url, overrides, verbose,
        POLICYWATCH_CLUSTER_WORKER=True, POLICYWATCH_VERSION=package_version(),
        SCHEDULER="spiders.worker.ClusterScheduler", SCHEDULER_PERSIST=True, REDIS_URL=redis,
        SCHEDULER_QUEUE_KEY=queue_key(PROTOCOL), SCHEDULER_QUEUE_CLASS="scrapy_redis.queue.FifoQueue",
        SCHEDULER_DUPEFILTER_KEY=f"policywatch:v{PROTOCOL}:dupefilter",
        DUPEFILTER_CLASS="scrapy_redis.dupefilter.RFPDupeFilter",
        DOWNLOADER_MIDDLEWARES=middlewares, EXTENSIONS=extensions)
    settings.set("SCHEDULER_QUEUE_KEY", queue_key(chosen_protocol(settings)), priority="cmdline")
    return settings


def run_worker(db, redis: str, overrides=(), verbose: bool = False) -> int:
    """Run the worker until SIGTERM / Ctrl-C; 0 after a clean stop."""
    from spiders.spiders.watch import WatchSpider
    from spiders.stopping import PromptStopCrawlerProcess
    process = PromptStopCrawlerProcess(worker_settings(db.url, redis, overrides, verbose))
    failure: list[BaseException] = []
    process.crawl(WatchSpider).addErrback(lambda f: failure.append(f.value))
    print(f"policywatch worker: pid {os.getpid()}, waiting for pages on the queue", file=sys.stderr, flush=True)
    process.start()
    from spiders.pipelines import store_failure
    if store_failure() is not None:  # the database refused the checks (disk full, server gone): exit 3
        raise store_failure()
    if failure:
        from monitor.config import ConfigError
        if isinstance(failure[0], KeyboardInterrupt):
            raise failure[0]
        raise ConfigError(f"could not start the worker: {failure[0]}") from None
    return 0
