"""SnapshotStore: the write and read paths of the crawl history.

All state a crawl needs (conditional-GET validators, the last content hash,
discovered pages) lives in the database, so several crawler machines can share it.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import and_, func, insert, or_, select, update

from storage.bulk import insert_ids
from storage.currentfacts import refresh_source_pages
from storage.db import Database, compress, decompress
from storage.extractions import ExtractionStore, insert_extractions
from storage.models import Check, Page, RawPage, Run, Snapshot, Source
from storage.types import SQL_BATCH, chunks, pid_alive, this_host, upsert, utcnow


@dataclass(frozen=True)
class SourceSpec:
    """What storage needs to know of a configured source."""

    name: str
    url: str
    kind: str = "page"
    region: str | None = None
    follow: str | None = None
    profile: str | None = None
    encoding: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class PageState:
    """A page to fetch, with the validators of its last good fetch."""

    page_id: int
    source_id: int
    source_name: str
    url: str
    role: str
    etag: str | None = None
    last_modified: str | None = None
    follow: str | None = None
    profile: str | None = None
    encoding: str | None = None
    region: str | None = None  # the source's configured region (it scopes the page's facts)


@dataclass(eq=False)
class PageContent:
    """The cut-out main content of a fetched page (hashes and compression may be precomputed by a worker)."""

    main_text: str
    title: str | None
    published_at: datetime | None
    final_url: str
    encoding: str | None
    profile: str | None
    raw: bytes
    meta: dict = field(default_factory=dict)
    content_hash: str = ""
    raw_sha256: str = ""
    raw_zlib: bytes = b""
    extraction: dict | None = None  # the snapshot's extraction record, when it was computed with the cut

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = hashlib.sha256(self.main_text.encode("utf-8")).hexdigest()
        if not self.raw_sha256:
            self.raw_sha256 = hashlib.sha256(self.raw).hexdigest()
        if not self.raw_zlib:
            self.raw_zlib = compress(self.raw)


@dataclass(eq=False)
class CheckRecord:
    """One fetch attempt, ready to store. Exactly one of error / not_modified / content describes the result."""

    page_id: int
    checked_at: datetime
    duration_ms: int | None = None
    http_status: int | None = None
    error: str | None = None
    not_modified: bool = False
    content: PageContent | None = None
    etag: str | None = None
    last_modified: str | None = None
    links_hash: str | None = None  # list pages: hash of the sorted matching links


class SnapshotStore(ExtractionStore):
    """Reads what to crawl and writes what was crawled, one transaction per batch of checks (the extraction
    methods: storage.extractions)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- sources and pages -------------------------------------------------
    def sync_sources(self, specs: Sequence[SourceSpec]) -> dict[str, int]:
        """Upsert the configured sources by name, disable the ones no longer configured; return name → id. The
        current facts of a source enabled or disabled are refreshed (storage.currentfacts)."""
        now = utcnow()
        with self.db.session() as s:
            existing = {src.name: src for src in s.scalars(select(Source))}
            configured: dict[str, Source] = {}
            flipped = set()  # sources enabled or disabled now
            for spec in specs:
                src = existing.get(spec.name)
                if src is None:
                    src = Source(name=spec.name, created_at=now, url=spec.url, kind=spec.kind)
                    s.add(src)
                configured[spec.name] = src
                values = dict(url=spec.url, kind=spec.kind, region=spec.region, follow=spec.follow,
                              profile=spec.profile, encoding=spec.encoding, enabled=spec.enabled)
                if any(getattr(src, k, None) != v for k, v in values.items()) or src.id is None:
                    if src.id is not None and src.enabled != spec.enabled:
                        flipped.add(src.id)
                    for k, v in values.items():
                        setattr(src, k, v)
                    src.updated_at = now
            for name, src in existing.items():
                if name not in configured and src.enabled:
                    src.enabled = False
                    src.updated_at = now
                    flipped.add(src.id)
            s.flush()
            refresh_source_pages(s, flipped)
            ids = {name: src.id for name, src in configured.items()}
            # Every source's own page, in a few statements (one per source cost 2 round trips × thousands).
            rows = [dict(source_id=ids[spec.name], url=spec.url, role="list" if spec.kind == "list" else "article",
                         first_seen_at=now) for spec in specs]
            for chunk in chunks(rows, SQL_BATCH // 4):  # 4 bound variables per row
                s.execute(self._insert(Page).values(chunk).on_conflict_do_nothing(index_elements=["source_id", "url"]))
        return ids

    def _ensure_pages(self, s, source_id: int, urls: Iterable[str], role: str, now: datetime) -> list[int]:
        urls = list(dict.fromkeys(urls))
        if not urls:
            return []
        ids = []
        # In batches: one statement per 100,000 links exceeded SQLite's and PostgreSQL's bound-variable limits.
        for chunk in chunks(urls, SQL_BATCH):
            rows = [dict(source_id=source_id, url=u, role=role, first_seen_at=now) for u in chunk]
            s.execute(self._insert(Page).values(rows).on_conflict_do_nothing(index_elements=["source_id", "url"]))
            ids += s.scalars(select(Page.id).where(Page.source_id == source_id, Page.url.in_(chunk)))
        return ids

    def _insert(self, model):
        return upsert(self.db.dialect, model)

    def pages_to_check(self, source_names: Sequence[str] | None = None) -> list[PageState]:
        """Every page of the enabled sources (optionally only the named ones), list pages first."""
        # A page source watches exactly its configured URL; a list source also its discovered articles.
        current = or_(Page.url == Source.url, and_(Source.kind == "list", Page.role == "article"))
        q = (select(Page, Source).join(Source, Page.source_id == Source.id)
             .where(Source.enabled.is_(True), current).order_by(Page.role.desc(), Page.id))
        if source_names:
            q = q.where(Source.name.in_(list(source_names)))
        with self.db.session() as s:
            return [self._state(page, src) for page, src in s.execute(q)]

    @staticmethod
    def _state(page: Page, src: Source) -> PageState:
        return PageState(page_id=page.id, source_id=src.id, source_name=src.name, url=page.url,
                         role=page.role, etag=page.etag, last_modified=page.last_modified,
                         follow=src.follow, profile=src.profile, encoding=src.encoding, region=src.region)

    def add_discovered_pages(self, source_id: int, urls: Sequence[str]) -> list[PageState]:
        """Register article URLs found on a list page; return the states of the ones not seen before."""
        with self.db.session() as s:
            return self._discover(s, source_id, urls, utcnow())

    def record_list_check(self, run_id: int | None, record: CheckRecord, source_id: int,
                          urls: Sequence[str]) -> tuple[str, list[PageState]]:
        """Store a list page's check and register the article URLs it links to (first seen at the check's
        time) in one transaction; returns the check's outcome and the states of the new articles. A run
        killed around it leaves both or neither, so "new since the list was first watched" holds."""
        with self.db.session() as s:
            (outcome,) = self._record_checks(s, run_id, [record])
            return outcome, self._discover(s, source_id, urls, record.checked_at)

    def _discover(self, s, source_id: int, urls: Sequence[str], now: datetime) -> list[PageState]:
        urls = list(dict.fromkeys(urls))
        known: set[str] = set()
        for chunk in chunks(urls, SQL_BATCH):
            known.update(s.scalars(select(Page.url).where(Page.source_id == source_id, Page.url.in_(chunk))))
        new = [u for u in urls if u not in known]
        self._ensure_pages(s, source_id, new, "article", now)
        src = s.get(Source, source_id)
        rows = []
        for chunk in chunks(new, SQL_BATCH):
            rows += s.scalars(select(Page).where(Page.source_id == source_id, Page.url.in_(chunk))).all()
        return [self._state(p, src) for p in rows]

    # -- runs ----------------------------------------------------------------
    def start_run(self) -> int:
        with self.db.session() as s:
            run = Run(started_at=utcnow(), status="running", host=this_host(), pid=os.getpid())
            s.add(run)
            s.flush()
            return run.id

    def finish_run_if_running(self, run_id: int, status: str = "interrupted") -> None:
        """End a run that was never recorded as ended (its counts stay as they were)."""
        with self.db.session() as s:
            s.execute(update(Run).where(Run.id == run_id, Run.status == "running")
                      .values(finished_at=utcnow(), status=status))

    def finish_run(self, run_id: int, counts: dict[str, int], status: str = "finished") -> None:
        with self.db.session() as s:
            s.execute(update(Run).where(Run.id == run_id)
                      .values(finished_at=utcnow(), status=status, counts=dict(counts)))

    # -- the write path ------------------------------------------------------
    def record_checks(self, run_id: int | None, records: Sequence[CheckRecord]) -> list[str]:
        """Store a batch of checks atomically and return each one's outcome.

        Outcome: error, not_modified (HTTP 304), new (first snapshot), changed
        (main text differs from the page's last snapshot) or unchanged. A handful
        of set-based statements per batch, whatever its size; a page row is only
        rewritten when something about it changed (keeps PostgreSQL from bloating).
        """
        if not records:
            return []
        with self.db.session() as s:
            return self._record_checks(s, run_id, records)

    def _record_checks(self, s, run_id: int | None, records: Sequence[CheckRecord]) -> list[str]:
        ids = list({r.page_id for r in records})
        state = {row.id: row for row in s.execute(
            select(Page.id, Page.etag, Page.last_modified, Page.last_snapshot_id,
                   Page.last_hash).where(Page.id.in_(ids)))}
        outcomes: list[str] = []
        page_rows: dict[int, dict] = {}
        snapshot_recs: list[CheckRecord] = []
        for rec in records:
            row = state[rec.page_id]
            current = page_rows.get(rec.page_id) or dict(
                id=row.id, etag=row.etag, last_modified=row.last_modified,
                last_snapshot_id=row.last_snapshot_id, last_hash=row.last_hash)
            new_values = dict(current)
            if rec.error is not None:
                outcome = "error"
            elif rec.not_modified:
                outcome = "not_modified"
            else:
                digest = rec.content.content_hash if rec.content is not None else rec.links_hash
                new_values.update(etag=rec.etag, last_modified=rec.last_modified, last_hash=digest)
                if digest == current["last_hash"]:
                    outcome = "unchanged"
                else:
                    outcome = "new" if current["last_hash"] is None else "changed"
                    if rec.content is not None:
                        snapshot_recs.append(rec)
            if new_values != current or rec.page_id in page_rows:
                page_rows[rec.page_id] = new_values
            outcomes.append(outcome)
        snapshot_ids = self._insert_snapshots(s, snapshot_recs)
        for rec, snap_id in snapshot_ids.items():
            page_rows[rec.page_id]["last_snapshot_id"] = snap_id
        s.execute(insert(Check), [
            dict(run_id=run_id, page_id=rec.page_id, checked_at=rec.checked_at, outcome=outcome,
                 http_status=rec.http_status, duration_ms=rec.duration_ms,
                 snapshot_id=snapshot_ids.get(rec), error=rec.error)
            for rec, outcome in zip(records, outcomes)])
        if page_rows:
            s.execute(update(Page), list(page_rows.values()))
        return outcomes

    def _insert_snapshots(self, s, recs: list[CheckRecord]) -> dict:
        if not recs:
            return {}
        raw_ids = self._store_raws(s, [r.content for r in recs])
        rows = [dict(page_id=r.page_id, fetched_at=r.checked_at, content_hash=r.content.content_hash,
                     title=r.content.title, published_at=r.content.published_at, main_text=r.content.main_text,
                     final_url=r.content.final_url, encoding=r.content.encoding, profile=r.content.profile,
                     page_meta=r.content.meta or None, raw_id=raw_ids[r.content.raw_sha256])
                for r in recs]
        new_ids = insert_ids(s, Snapshot, rows)
        # Facts computed with the cut are stored with their snapshot; the others are left to the extract stage.
        insert_extractions(s, [(snap_id, r.content.extraction) for r, snap_id in zip(recs, new_ids)
                               if r.content.extraction is not None])
        return dict(zip(recs, new_ids))

    def _store_raws(self, s, contents: list[PageContent]) -> dict[str, int]:
        """Raw pages by SHA-256: existing rows reused, missing ones inserted once."""
        wanted = {c.raw_sha256: c for c in contents}
        found = dict(s.execute(select(RawPage.sha256, RawPage.id).where(RawPage.sha256.in_(list(wanted)))).all())
        missing = [dict(sha256=d, size=len(c.raw), compression="zlib", data=c.raw_zlib)
                   for d, c in wanted.items() if d not in found]
        if missing:
            s.execute(self._insert(RawPage).on_conflict_do_nothing(index_elements=["sha256"]), missing)
            found.update(s.execute(select(RawPage.sha256, RawPage.id)
                                   .where(RawPage.sha256.in_([m["sha256"] for m in missing]))).all())
        return found

    # -- reads -----------------------------------------------------------------
    def source_overview(self) -> list[dict]:
        """One row per source: pages, snapshots and its most recent check (a fixed number of queries)."""
        with self.db.session() as s:
            sources = list(s.scalars(select(Source).order_by(Source.id)))
            pages = dict(s.execute(select(Page.source_id, func.count()).group_by(Page.source_id)).all())
            snaps = dict(s.execute(select(Page.source_id, func.count()).select_from(Snapshot)
                                   .join(Page, Snapshot.page_id == Page.id).group_by(Page.source_id)).all())
            # Each page's newest check through the (page_id, checked_at) index (one lookup per page: a
            # (page_id, checked_at) IN list scanned the whole checks table on SQLite), then the newest per source.
            newest = (select(Check.id).where(Check.page_id == Page.id)
                      .order_by(Check.checked_at.desc(), Check.id.desc()).limit(1).scalar_subquery())
            page_check = {cid: source_id for source_id, cid in s.execute(select(Page.source_id, newest))
                          if cid is not None}
            last: dict[int, object] = {}
            ids = list(page_check)
            for i in range(0, len(ids), 1000):
                for row in s.execute(select(Check.id, Check.checked_at, Check.outcome, Check.http_status,
                                            Check.error).where(Check.id.in_(ids[i:i + 1000]))):
                    source_id = page_check[row.id]
                    if source_id not in last or (row.checked_at, row.id) > (last[source_id].checked_at,
                                                                            last[source_id].id):
                        last[source_id] = row
            rows = []
            for src in sources:
                check = last.get(src.id)
                rows.append(dict(name=src.name, url=src.url, kind=src.kind, region=src.region,
                                 enabled=src.enabled, pages=pages.get(src.id, 0), snapshots=snaps.get(src.id, 0),
                                 last_checked_at=check.checked_at if check else None,
                                 last_outcome=check.outcome if check else None,
                                 last_status=check.http_status if check else None,
                                 last_error=check.error if check else None))
            return rows

    def snapshots(self, source_name: str | None = None) -> list[dict]:
        """All snapshots, oldest first, with their page URL and source name."""
        q = (select(Snapshot, Page.url, Source.name).join(Page, Snapshot.page_id == Page.id)
             .join(Source, Page.source_id == Source.id).order_by(Snapshot.id))
        if source_name:
            q = q.where(Source.name == source_name)
        with self.db.session() as s:
            return [dict(id=snap.id, source=name, url=url, fetched_at=snap.fetched_at, title=snap.title,
                         published_at=snap.published_at, main_text=snap.main_text, final_url=snap.final_url,
                         encoding=snap.encoding, profile=snap.profile, content_hash=snap.content_hash,
                         meta=snap.page_meta, raw_id=snap.raw_id)
                    for snap, url, name in s.execute(q)]

    def checks(self, run_id: int | None = None) -> list[dict]:
        q = select(Check, Page.url).join(Page, Check.page_id == Page.id).order_by(Check.id)
        if run_id is not None:
            q = q.where(Check.run_id == run_id)
        with self.db.session() as s:
            return [dict(id=c.id, run_id=c.run_id, url=url, outcome=c.outcome, http_status=c.http_status,
                         error=c.error, snapshot_id=c.snapshot_id, checked_at=c.checked_at,
                         duration_ms=c.duration_ms) for c, url in s.execute(q)]

    def raw_html(self, raw_id: int) -> bytes:
        with self.db.session() as s:
            raw = s.get(RawPage, raw_id)
            return decompress(raw.data, raw.compression)

    def last_run(self) -> dict | None:
        """The most recent run (any status)."""
        with self.db.session() as s:
            run = s.scalars(select(Run).order_by(Run.id.desc()).limit(1)).first()
            return None if run is None else dict(id=run.id, status=run.status, started_at=run.started_at,
                                                 finished_at=run.finished_at, host=run.host, pid=run.pid,
                                                 counts=run.counts or {})

    def interrupt_stale_runs(self) -> int:
        """Mark runs of this host whose process is gone as interrupted; return how many."""
        host = this_host()
        n = 0
        with self.db.session() as s:
            for run in s.scalars(select(Run).where(Run.status == "running", Run.host == host)):
                if run.pid and not pid_alive(run.pid):
                    run.status = "interrupted"
                    run.finished_at = run.finished_at or utcnow()  # a run killed after its crawl keeps its end
                    n += 1
        return n

    def record_killed_run(self, host: str, pid: int, started_after: datetime, source_names: Sequence[str],
                          error: str) -> int | None:
        """Close the run a killed crawl process left behind and record `error` for the pages it never checked.

        Returns the run id, or None when the process died before starting a run (e.g. waiting for the lock).
        """
        with self.db.session() as s:
            run = s.scalars(select(Run).where(Run.host == host[:255], Run.pid == pid,
                                              Run.started_at >= started_after)
                            .order_by(Run.id.desc()).limit(1)).first()
            if run is None:
                return None
            checked = select(Check.page_id).where(Check.run_id == run.id)
            missing = s.scalars(select(Page.id).join(Source, Page.source_id == Source.id)
                                .where(Source.name.in_(list(source_names)), Source.enabled.is_(True),
                                       Page.id.not_in(checked))).all()
            now = utcnow()
            if missing:
                s.execute(insert(Check), [dict(run_id=run.id, page_id=page_id, checked_at=now, outcome="error",
                                               error=error) for page_id in missing])
            counts = dict(run.counts or {})
            counts["error"] = counts.get("error", 0) + len(missing)
            run.counts = counts
            run.status = "timeout"
            run.finished_at = run.finished_at or now
            return run.id


