"""The coordinator of a cluster run (`check --redis URL`): queue the run's pages, wait for the workers, requeue
what dead workers or a restarted Redis lost; the caller then extracts, diffs and alerts once, as for a
single-process crawl."""
from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from storage import Database, SnapshotStore
from storage.cluster import ClusterStore
from storage.types import utcnow

log = logging.getLogger(__name__)

POLL = 1.0  # seconds between looks at the run's progress
REQUEUE_AFTER = 5.0  # seconds an unclaimed page may sit before it is queued again when the queue is empty
DEFAULT_WAIT_WORKERS = 30.0


class NoWorkers(Exception):
    """No compatible worker took the run's pages in time; str() is one line."""


def crawl_on_workers(config, db: Database, store: SnapshotStore, selected, run_id: int, result, *, redis_url: str,
                     wait_workers: float = DEFAULT_WAIT_WORKERS, force: bool = False, reporter=None) -> None:
    """Crawl the run's pages on the workers of the queue at `redis_url`; fills `result` (counts, planned,
    failures) when every planned page has its check. QueueUnavailable or NoWorkers (one line) otherwise."""
    from redis.exceptions import RedisError
    from spiders.cluster import PROTOCOL, QueueUnavailable, RequestQueue, connect_queue
    from storage.db import safe_url
    server = connect_queue(redis_url)
    queue = RequestQueue(server)
    cluster = ClusterStore(db)
    pages = store.pages_to_check([s.name for s in selected])
    profiles = Path(config.profiles_path).read_text(encoding="utf-8") if config.profiles_path else None
    allow = {s.name: list(s.allow_hosts) for s in config.sources if s.allow_hosts}
    queue.clear()  # we hold the check lock: anything queued is a dead run's
    cluster.plan_run(run_id, queue.key, pages, force=force, allow_hosts=allow, profiles_toml=profiles)
    queue.push(run_id, [(p.page_id, p.url) for p in pages])
    result.planned = len(pages)
    if reporter:
        reporter.planned(len(pages))
        reporter.start()
    started = last_worker = time.monotonic()
    redis_down_since: float | None = None
    try:
        while True:
            done, total = cluster.progress(run_id)
            result.planned = total
            if reporter:
                reporter.checked(done, total)
            if done >= total:
                break
            if cluster.live_workers(PROTOCOL):
                last_worker = time.monotonic()
            elif time.monotonic() - last_worker > wait_workers:
                raise NoWorkers(_no_worker_message(cluster, PROTOCOL, wait_workers, done, total))
            try:
                _requeue(cluster, queue, run_id)
                if redis_down_since is not None:
                    log.warning("Redis %s reachable again", safe_url(redis_url))
                redis_down_since = None
            except RedisError as exc:
                redis_down_since = redis_down_since or time.monotonic()
                if time.monotonic() - redis_down_since > wait_workers:
                    raise QueueUnavailable(f"Redis queue {safe_url(redis_url)} unreachable for "
                                           f"{wait_workers:g} s: {exc}") from None
            time.sleep(POLL)
    finally:
        if reporter:
            reporter.stop(result)
    result.counts, result.failures = cluster.outcomes(run_id)
    log.info("cluster run %d: %d pages in %.1f s", run_id, result.planned, time.monotonic() - started)


def _requeue(cluster: ClusterStore, queue, run_id: int) -> None:
    """Queue again the pages of workers that are gone, and, when the queue is empty, pages nobody claimed
    (Redis restarted without them); a page delivered twice is fetched by the first worker to claim it."""
    orphans = cluster.release_orphans(run_id)
    if orphans:
        log.warning("run %d: %d pages of stopped workers queued again", run_id, len(orphans))
        queue.push(run_id, orphans)
    if len(queue) == 0:
        lost = cluster.unclaimed(run_id, utcnow() - timedelta(seconds=REQUEUE_AFTER))
        if lost:
            log.warning("run %d: %d unclaimed pages missing from the queue, queued again", run_id, len(lost))
            queue.push(run_id, lost)


def _no_worker_message(cluster: ClusterStore, protocol: int, waited: float, done: int, total: int) -> str:
    others = [w for w in cluster.workers() if w["alive"] and w["protocol"] != protocol]
    also = ""
    if others:
        named = ", ".join(f"{w['host']} pid {w['pid']} (protocol {w['protocol']}, {w['version']})" for w in others[:3])
        also = f"; incompatible workers running: {named}: upgrade them"
    return (f"no worker took the run's pages for {waited:g} s ({done}/{total} checked): start "
            f"`policywatch worker --redis URL` on a crawler machine, or use --wait-workers{also}")
