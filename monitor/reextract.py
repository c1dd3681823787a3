"""`policywatch reextract`: facts of stored snapshots under the current extractor version, and the changes
between consecutive snapshots recomputed from them — recorded, never alerted.

Pages are processed in batches; each batch stores its facts in one transaction and its recomputed
changes in another, so a killed run leaves whole batches behind and a re-run finishes the job
(facts already stored are not extracted again; recomputing a page whose changes already match
writes nothing). The recomputation is shared with `policywatch import`.
"""
from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Sequence

from extractors import EXTRACTOR_VERSION
from monitor.diff import diff_page
from monitor.extract_stage import _extract
from monitor.recut import apply_fields, cut_again, job_for, recut_fields
from spiders.processing import scoped, worker_pool
from storage import Database, SnapshotStore
from storage.backfill import BackfillStore, PageTimeline, change_key

PAGE_BATCH = 100  # pages per batch (a page holds one snapshot per version of its text)
FACT_KEYS = ("kind", "value", "plan_year", "region", "evidence", "confidence")
# Fields of a kept change that follow the facts without changing what the change is.
MUTABLE = ("severity", "detail", "evidence_before", "evidence_after", "url")

# facts_of's signature without the source region: (main_text, url, title, published_at, breadcrumb) →
# {"version", "region", "plan_year", "facts"}; its facts are scoped to the source's region afterwards.
Extractor = Callable[[str, str, "str | None", "datetime | None", "str | None"], dict]


class ReextractError(ValueError):
    """Unusable options (an unknown source); str() is one line."""


@dataclass
class RecomputeStats:
    """What one recomputation did (or, in a dry run, would do)."""

    extracted: int = 0  # snapshots whose facts of the version were computed now
    already: int = 0  # snapshots in scope that had facts of the version already
    facts_before: int = 0  # facts of the newest earlier extraction of the re-extracted snapshots
    facts_after: int = 0  # their facts under the version
    pages: int = 0
    added: int = 0
    removed: int = 0
    kept: int = 0
    waiting: int = 0  # crawl snapshots left to the next check's diff stage
    recut: int = 0  # snapshots cut again from their raw page (--recut)
    recut_changed: int = 0  # of them, those whose cut differs from what was stored (rewritten)
    lines: list[str] = field(default_factory=list)  # per page, for --dry-run

    def add(self, other: "RecomputeStats") -> None:
        for name in ("extracted", "already", "facts_before", "facts_after", "pages", "added", "removed", "kept",
                     "waiting", "recut", "recut_changed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.lines += other.lines


@dataclass
class ReextractResult(RecomputeStats):
    version: str = EXTRACTOR_VERSION
    run_id: int | None = None
    dry_run: bool = False
    recut_mode: bool = False

    def summary(self) -> str:
        """One line: snapshots re-cut (--recut), re-extracted, facts before/after, changes recomputed."""
        head = (f"dry run, nothing written: extractor version {self.version} would re-extract"
                if self.dry_run else f"reextract run {self.run_id} (extractor version {self.version}):")
        if self.recut_mode:
            head += f" {self.recut} snapshots re-cut ({self.recut_changed} cut differently),"
        line = (f"{head} {self.extracted} snapshots (already done: {self.already}), facts {self.facts_before} → "
                f"{self.facts_after}; changes recomputed on {self.pages} pages: {self.added} added, "
                f"{self.removed} removed, {self.kept} unchanged; no alerts")
        if self.waiting:
            line += f"; {self.waiting} snapshots left to the next check (not diffed yet)"
        return line


def _scope(timeline: PageTimeline, start: datetime | None) -> tuple[list[dict], dict | None, int]:
    """(snapshots to judge, the healthy one before them, crawl snapshots left to the check) of a page.

    A snapshot with health None is a crawl's, waiting for its check's diff stage (which alerts its
    changes): it and everything after it are left alone.
    """
    judge, anchor = [], None
    for i, snap in enumerate(timeline.snapshots):
        if snap["health"] is None:
            return judge, anchor, len(timeline.snapshots) - i
        if start is not None and snap["fetched_at"] < start:
            if snap["health"] == "ok":
                anchor = snap
            continue
        judge.append(snap)
    return judge, anchor, 0


def recompute_page(timeline: PageTimeline, start: datetime | None = None) -> tuple[list[dict], dict[int, str]]:
    """Judge and diff a page's snapshots from `start` on, in time order: (changes, snapshot id → health).

    Every judged snapshot and the last healthy one before `start` must carry facts.
    """
    judge, _, _ = _scope(timeline, start)
    # Only the newest of the earlier versions is compared by facts; older ones count for reverts by hash.
    history = [dict(s, facts=s["facts"] if s["facts"] is not None else []) for s in timeline.snapshots
               if start is not None and s["fetched_at"] < start and s["health"] == "ok"]
    changes, health = [], {}
    for snap in judge:
        state, found = diff_page(timeline.page, history, snap)
        health[snap["id"]] = state
        changes += found
        if state == "ok":
            history.append(snap)
    return changes, health


def reconcile(existing: list[dict], recomputed: list[dict], judged: set[int], version: str,
              run_id: int | None) -> tuple[list[int], list[dict], dict[int, dict], int]:
    """Match recomputed changes with the stored ones of the judged snapshots: (ids to delete, rows to insert,
    id → fields to update, how many kept). A stored change equal in what it says keeps its row and id."""
    pool: dict[tuple, list[dict]] = {}
    for c in existing:
        if c["snapshot_after"] in judged:
            pool.setdefault(change_key(c), []).append(c)
    inserts, updates, kept = [], {}, 0
    for c in recomputed:
        c = dict(c, detail={**(c.get("detail") or {}), "extractor_version": version})
        same = pool.get(change_key(c))
        if same:
            old = same.pop(0)
            kept += 1
            diff = {k: c[k] for k in MUTABLE if c[k] != old[k]}
            if diff:
                updates[old["id"]] = diff
        else:
            inserts.append(dict(c, run_id=run_id))
    deletes = [c["id"] for rest in pool.values() for c in rest]
    return deletes, inserts, updates, kept


class Recomputer:
    """Extracts missing facts and recomputes the changes of batches of pages under one extractor version."""

    def __init__(self, db: Database, *, version: str = EXTRACTOR_VERSION, extractor: Extractor | None = None,
                 workers: int | None = None, dry_run: bool = False, run_id: int | None = None,
                 recut: bool = False, profiles_path: str | None = None) -> None:
        self.store = BackfillStore(db)
        self.snapshots = SnapshotStore(db)
        self.version, self.extractor, self.dry_run, self.run_id = version, extractor, dry_run, run_id
        self.recut, self.profiles_path = recut, profiles_path
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self.pool: ProcessPoolExecutor | None = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None

    def _map(self, fn, items: list) -> list:
        """fn over items, in worker processes when there are many."""
        if self.workers > 1 and len(items) > 20 and self.pool is None:
            self.pool = worker_pool(self.workers)  # its workers exit if this process is killed
        return list(self.pool.map(fn, items, chunksize=10)) if self.pool else [fn(x) for x in items]

    def _extract(self, rows: list[dict]) -> list[tuple[int, dict]]:
        if self.extractor is not None:
            results = [(r["id"], scoped(self.extractor(r["main_text"], r["url"], r["title"], r["published_at"],
                                                       r["breadcrumb"]), r["source_region"])) for r in rows]
        else:
            results = self._map(_extract, rows)
        return [(snapshot_id, dict(e, version=self.version)) for snapshot_id, e in results]

    def _recut(self, timelines: list[PageTimeline], scopes: dict) -> tuple[dict[int, dict], dict[int, str], int]:
        """Cut the judged snapshots of the pages again from their raw pages: (snapshot id → columns to rewrite,
        page id → its new last_hash when its current snapshot's text changed, snapshots cut). Timeline snapshots
        are updated in place and lose their facts (all are extracted again: the source's region may have changed)."""
        judged = [(t.page, s) for t in timelines for s in scopes[t.page["page_id"]][0] if s["raw_id"] is not None]
        raws = self.store.raw_pages({s["raw_id"] for _, s in judged})
        cuts = dict(self._map(cut_again, [job_for(s, page, raws[s["raw_id"]], self.profiles_path)
                                          for page, s in judged]))
        rewrites, hashes = {}, {}
        for page, s in judged:
            fields = recut_fields(s, cuts[s["id"]], self.run_id)
            if fields is not None:
                rewrites[s["id"]] = fields
                apply_fields(s, fields)
                if page["last_snapshot_id"] == s["id"]:
                    hashes[page["page_id"]] = fields["content_hash"]
        for t in timelines:
            for s in scopes[t.page["page_id"]][0]:
                s["facts"] = None
        return rewrites, hashes, len(judged)

    def pages(self, page_ids: Sequence[int], start: datetime | None = None) -> RecomputeStats:
        """Recompute the given pages: facts for the snapshots in scope that lack them, then their changes."""
        stats = RecomputeStats()
        timelines = self.store.timelines(page_ids, self.version)
        scopes = {t.page["page_id"]: _scope(t, start) for t in timelines}
        rewrites, hashes, stats.recut = self._recut(timelines, scopes) if self.recut else ({}, {}, 0)
        stats.recut_changed = len(rewrites)
        missing = [s for judge, anchor, _ in scopes.values() for s in judge + ([anchor] if anchor else [])
                   if s["facts"] is None]
        stats.already = sum(1 for judge, _, _ in scopes.values() for s in judge if s["facts"] is not None)
        stats.waiting = sum(waiting for _, _, waiting in scopes.values())
        if missing:
            before = self.store.newest_fact_counts([s["id"] for s in missing])
            results = self._extract([dict(id=s["id"], main_text=s["main_text"], url=s["url"], title=s["title"],
                                          published_at=s["published_at"], breadcrumb=s["breadcrumb"],
                                          source_region=s["source_region"]) for s in missing])
            if not self.dry_run:
                # One transaction for a recut's new texts and their facts: a kill never leaves one without the
                # other. Linked below, after judging.
                self.store.store_recut(rewrites, hashes, results)
            by_id = dict(results)
            for s in missing:
                s["facts"] = [{k: f.get(k) for k in FACT_KEYS} for f in by_id[s["id"]]["facts"]]
            stats.extracted = len(missing)
            stats.facts_before = sum(before.values())
            stats.facts_after = sum(len(e["facts"]) for e in by_id.values())
        existing = self.store.page_changes([t.page["page_id"] for t in timelines])
        deletes, inserts, updates, health = [], [], {}, {}
        for t in timelines:
            judge = scopes[t.page["page_id"]][0]
            if not judge:
                continue
            changes, judged_health = recompute_page(t, start)
            d, i, u, kept = reconcile(existing[t.page["page_id"]], changes, set(judged_health), self.version,
                                      self.run_id)
            stored = {s["id"]: s["health"] for s in judge}
            health.update({sid: h for sid, h in judged_health.items() if h != stored[sid]})
            deletes += d
            inserts += i
            updates.update(u)
            stats.pages += 1
            stats.added, stats.removed, stats.kept = stats.added + len(i), stats.removed + len(d), stats.kept + kept
            if i or d:
                kinds = Counter(f"{c['type']}" + (f" {c['kind']}" if c["kind"] else "") for c in i)
                stats.lines.append(f"{t.page['source']} {t.page['url']}: +{len(i)} -{len(d)} changes"
                                   + (" (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")" if kinds else ""))
        if not self.dry_run:
            # Links always: a re-run after a kill between storing facts and this step still links them.
            self.store.apply_recompute(delete_ids=deletes, inserts=inserts, updates=updates, health=health,
                                       link_pages=[t.page["page_id"] for t in timelines])
        return stats


def reextract(db: Database, *, since: datetime | None = None, source: str | None = None,
              version: str = EXTRACTOR_VERSION, extractor: Extractor | None = None, dry_run: bool = False,
              workers: int | None = None, page_batch: int = PAGE_BATCH,
              progress: Callable[[RecomputeStats], None] | None = None, recut: bool = False,
              profiles_path: str | None = None) -> ReextractResult:
    """Re-extract the stored snapshots (fetched since `since`, of `source`) under `version` and recompute
    the changes between them, page batch by page batch, without queueing alerts.

    `extractor` (facts_of's signature) and `version` let tests run another extractor; the CLI always
    uses the code's own EXTRACTOR_VERSION. `progress` is called with the running totals after each batch.
    With `recut`, every snapshot in scope is first cut again from its raw page under the bundled profiles
    and those of `profiles_path` (monitor.recut), and all their facts are extracted again.
    """
    backfill = BackfillStore(db)
    source_id = None
    if source is not None:
        source_id = backfill.source_id(source)
        if source_id is None:
            raise ReextractError(f"no source named {source!r} in the database")
    result = ReextractResult(version=version, dry_run=dry_run, recut_mode=recut)
    runs = SnapshotStore(db)
    if not dry_run:
        result.run_id = runs.start_run()
    worker = Recomputer(db, version=version, extractor=extractor, workers=workers, dry_run=dry_run,
                        run_id=result.run_id, recut=recut, profiles_path=profiles_path)
    status = "interrupted"
    try:
        after = 0
        while True:
            page_ids = backfill.page_ids(since=since, source_id=source_id, after=after, limit=page_batch)
            if not page_ids:
                break
            result.add(worker.pages(page_ids, since))
            after = page_ids[-1]
            if progress is not None:
                progress(result)
        if not dry_run:
            db.refresh_statistics()
        status = "reextracted"
    finally:
        worker.close()
        if result.run_id is not None:
            runs.finish_run(result.run_id, dict(kind="reextract", version=version, snapshots=result.extracted,
                                                facts_before=result.facts_before, facts_after=result.facts_after,
                                                pages=result.pages, added=result.added, removed=result.removed,
                                                **(dict(recut=result.recut, recut_changed=result.recut_changed)
                                                   if recut else {})),
                            status)
    return result
