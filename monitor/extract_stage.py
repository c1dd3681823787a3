"""The extract stage of a check: facts for every snapshot that has none of the current extractor version.

A crawl's new snapshots are stored with their facts (computed with the cut, spiders.processing), so this
stage finds the others: those of a crawl that did not extract (POLICYWATCH_EXTRACT_DURING_CRAWL=False) or
of an older extractor version. Runs after the crawl, in worker processes; a run killed in between leaves
snapshots without facts, which the next run picks up — no state besides the database.
"""
from __future__ import annotations

import os

from extractors import EXTRACTOR_VERSION
from spiders.processing import facts_of, worker_pool
from storage import SnapshotStore

BATCH = 200


def _extract(row: dict) -> tuple[int, dict]:
    return row["id"], facts_of(row["main_text"], row["url"], row["title"], row["published_at"], row["breadcrumb"],
                               row.get("source_region"))


def extract_pending(store: SnapshotStore, workers: int | None = None) -> int:
    """Extract and store facts for pending snapshots; returns how many snapshots were done."""
    workers = (os.cpu_count() or 1) if workers is None else workers
    done = 0
    pool = None
    try:
        while True:
            rows = store.snapshots_to_extract(EXTRACTOR_VERSION, BATCH)
            if not rows:
                return done
            if workers > 1 and len(rows) > 20 and pool is None:
                pool = worker_pool(workers)  # its workers exit if this process is killed
            results = list(pool.map(_extract, rows, chunksize=10)) if pool else [_extract(r) for r in rows]
            store.store_extractions(results)
            done += len(results)
    finally:
        if pool is not None:
            try:
                pool.shutdown(cancel_futures=True)
            except RuntimeError:
                # A stop signal landed while the pool was starting its manager thread ("cannot join thread
                # before it is started"): the signal's own exception goes on; the workers die with us.
                pass
