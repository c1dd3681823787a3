"""Reads and writes of re-extraction and backfill: page timelines in time order, imported pages,
and replacing a page's recomputed changes. No alerts are ever written here."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from sqlalchemy import delete, func, insert, select, update

from storage.changekeys import assign_keys, base_key
from storage.db import Database, decompress
from storage.diffdata import DiffData, read_facts
from storage.currentfacts import refresh_pages
from storage.factruns import link_runs
from storage.models import Change, Check, Extraction, FactRow, Page, RawPage, Snapshot, Source
from storage.store import PageContent, SnapshotStore
from storage.types import chunks, utcnow

# Health of an imported snapshot until the import has judged it: not None, so a check's diff stage
# (which judges health-None snapshots and alerts their changes) never picks it up.
PENDING_IMPORT = "pending (import)"
# The change types computed between consecutive snapshots of one page (recomputable from facts).
DIFF_TYPES = ("fact_added", "fact_removed", "fact_changed", "text_changed", "revert")
CONTENT_OUTCOMES = ("new", "changed", "unchanged", "not_modified")


@dataclass
class PageTimeline:
    """A page and all its snapshots oldest first (by fetch time); `facts` is None without an extraction
    of the requested version."""

    page: dict
    snapshots: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class ImportState:
    """What the history says about a page at one instant, before an import writes anything."""

    checked_at_exists: bool  # a check at exactly that time is stored
    hash_at: str | None  # content hash of the page's version at that time (newest snapshot not after it)
    waiting: int  # snapshots of crawls not judged yet (a check's diff stage still owes them)
    version_at: datetime | None = None  # fetched_at of that version


def import_outcome(previous_hash: str | None, content_hash: str) -> str:
    """The check outcome of an imported page against the page's version at its time (None: no version yet)."""
    if previous_hash is None:
        return "new"
    return "unchanged" if previous_hash == content_hash else "changed"


class BackfillStore:
    """Storage side of `policywatch reextract` and `policywatch import`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.snapshots = SnapshotStore(db)

    # -- reads ---------------------------------------------------------------------
    def source_id(self, name: str) -> int | None:
        with self.db.session() as s:
            return s.scalar(select(Source.id).where(Source.name == name))

    def page_ids(self, *, since: datetime | None = None, source_id: int | None = None, after: int = 0,
                 limit: int = 100) -> list[int]:
        """Ids of pages with snapshots (fetched on or after `since`), ascending from `after`, at most `limit`."""
        q = select(Snapshot.page_id).where(Snapshot.page_id > after)
        if since is not None:
            q = q.where(Snapshot.fetched_at >= since)
        if source_id is not None:
            q = q.join(Page, Snapshot.page_id == Page.id).where(Page.source_id == source_id)
        q = q.group_by(Snapshot.page_id).order_by(Snapshot.page_id).limit(limit)
        with self.db.session() as s:
            return list(s.scalars(q))

    def timelines(self, page_ids: Sequence[int], version: str) -> list[PageTimeline]:
        """The pages with every snapshot in time order and its facts of `version` (None when not extracted)."""
        if not page_ids:
            return []
        with self.db.session() as s:
            out: dict[int, PageTimeline] = {}
            pages = list(s.execute(select(Page, Source).join(Source, Page.source_id == Source.id)
                                   .where(Page.id.in_(list(page_ids))).order_by(Page.id)))
            discovered = DiffData.discovered(s, pages)
            for page, source in pages:
                out[page.id] = PageTimeline(dict(page_id=page.id, source_id=source.id, url=page.url,
                                                 source=source.name, discovered=discovered[page.id],
                                                 source_region=source.region, profile=source.profile,
                                                 encoding=source.encoding, last_snapshot_id=page.last_snapshot_id))
            snaps = list(s.scalars(select(Snapshot).where(Snapshot.page_id.in_(list(out)))
                                   .order_by(Snapshot.page_id, Snapshot.fetched_at, Snapshot.id)))
            facts = read_facts(s, [x.id for x in snaps], version)
            for x in snaps:
                page = out[x.page_id].page
                out[x.page_id].snapshots.append(dict(
                    id=x.id, fetched_at=x.fetched_at, main_text=x.main_text, content_hash=x.content_hash,
                    url=x.final_url or page["url"], title=x.title, published_at=x.published_at,
                    breadcrumb=(x.page_meta or {}).get("breadcrumb"), health=x.health, facts=facts.get(x.id),
                    source_id=page["source_id"], page_id=x.page_id, source=page["source"],
                    source_region=page["source_region"], raw_id=x.raw_id, encoding=x.encoding, profile=x.profile,
                    page_meta=x.page_meta))
            return list(out.values())

    def raw_pages(self, raw_ids) -> dict[int, bytes]:
        """Raw response bytes by raw_pages id, decompressed."""
        out: dict[int, bytes] = {}
        with self.db.session() as s:
            for chunk in chunks(sorted(raw_ids), 200):
                for raw in s.scalars(select(RawPage).where(RawPage.id.in_(chunk))):
                    out[raw.id] = decompress(raw.data, raw.compression)
        return out

    def newest_fact_counts(self, snapshot_ids: Sequence[int]) -> dict[int, int]:
        """Facts in each snapshot's newest stored extraction (any version); snapshots without one are absent."""
        out: dict[int, int] = {}
        with self.db.session() as s:
            for chunk in chunks(list(snapshot_ids), 500):
                newest = (select(func.max(Extraction.id)).where(Extraction.snapshot_id.in_(chunk))
                          .group_by(Extraction.snapshot_id))
                q = (select(Extraction.snapshot_id, func.count(FactRow.id))
                     .outerjoin(FactRow, FactRow.extraction_id == Extraction.id)
                     .where(Extraction.id.in_(newest)).group_by(Extraction.snapshot_id))
                out.update(dict(s.execute(q).all()))
        return out

    def page_changes(self, page_ids: Sequence[int]) -> dict[int, list[dict]]:
        """The diff-type changes (not conflicts or source health) of the pages, oldest first."""
        out: dict[int, list[dict]] = {p: [] for p in page_ids}
        with self.db.session() as s:
            q = (select(Change).where(Change.page_id.in_(list(page_ids)), Change.type.in_(DIFF_TYPES))
                 .order_by(Change.id))
            for c in s.scalars(q):
                out[c.page_id].append(dict(
                    id=c.id, type=c.type, kind=c.kind, identity=c.identity, old=c.old, new=c.new,
                    severity=c.severity, snapshot_before=c.snapshot_before, snapshot_after=c.snapshot_after,
                    evidence_before=c.evidence_before, evidence_after=c.evidence_after, url=c.url,
                    detail=c.detail, region=c.region, plan_year=c.plan_year))
        return out

    # -- writes of a recomputation ----------------------------------------------------
    def store_recut(self, rewrites: dict[int, dict], last_hashes: dict[int, str],
                    extractions: Sequence[tuple[int, dict]]) -> None:
        """In one transaction: rewrite re-cut snapshots (`rewrites`: snapshot id → Snapshot columns), set the
        pages' last_hash where their current snapshot was rewritten (so the next check of an unchanged page is
        `unchanged`), and store the snapshots' new extractions (not linked: apply_recompute links them)."""
        with self.db.session() as s:
            for snapshot_id, values in rewrites.items():
                s.execute(update(Snapshot).where(Snapshot.id == snapshot_id).values(**values))
            for page_id, content_hash in last_hashes.items():
                s.execute(update(Page).where(Page.id == page_id).values(last_hash=content_hash))
            self.snapshots.replace_extractions(s, extractions)

    def apply_recompute(self, *, delete_ids: Sequence[int], inserts: Sequence[dict],
                        updates: dict[int, dict], health: dict[int, str], link_pages: Sequence[int] = ()) -> None:
        """Delete superseded changes, insert recomputed ones, update kept ones, set snapshot health and
        relink the whole fact runs of `link_pages` (storage.factruns) and refresh their current facts
        (storage.currentfacts), in one transaction (no alerts)."""
        now = utcnow()
        with self.db.session() as s:
            for chunk in chunks(list(delete_ids), 500):
                s.execute(delete(Change).where(Change.id.in_(chunk)))
            if inserts:
                rows = [{"detected_at": now, **c} for c in inserts]
                bases = list({k for k in map(base_key, rows) if k is not None})
                taken = [key for chunk in chunks(bases, 500) for key in s.scalars(
                    select(Change.change_key).where(func.substr(Change.change_key, 1, 64).in_(chunk)))]
                assign_keys(rows, taken)  # a kept row with the same key (two equal facts): numbered after it
                s.execute(insert(Change), rows)
            for change_id, values in updates.items():
                s.execute(update(Change).where(Change.id == change_id).values(**values))
            for snapshot_id, value in health.items():
                s.execute(update(Snapshot).where(Snapshot.id == snapshot_id).values(health=value))
            if link_pages:
                link_runs(s, dict.fromkeys(link_pages))
                refresh_pages(s, link_pages)

    # -- imports ---------------------------------------------------------------------
    def find_page(self, source_name: str, url: str) -> int | None:
        with self.db.session() as s:
            return s.scalar(select(Page.id).join(Source, Page.source_id == Source.id)
                            .where(Source.name == source_name, Page.url == url))

    def import_page(self, source_id: int, url: str, seen_at: datetime, role: str = "article") -> int:
        """The page of `url` in the source, registered (first seen at `seen_at`) if new."""
        with self.db.session() as s:
            page = s.scalar(select(Page).where(Page.source_id == source_id, Page.url == url))
            if page is None:
                page = Page(source_id=source_id, url=url, role=role, first_seen_at=seen_at)
                s.add(page)
                s.flush()
            return page.id

    def import_state(self, page_id: int, at: datetime) -> ImportState:
        with self.db.session() as s:
            exists = s.scalar(select(func.count()).select_from(Check)
                              .where(Check.page_id == page_id, Check.checked_at == at)) > 0
            version = self._version_at(s, page_id, at)
            return ImportState(exists, version.content_hash if version else None,
                               s.scalar(select(func.count()).select_from(Snapshot)
                                        .where(Snapshot.page_id == page_id, Snapshot.health.is_(None))),
                               version.fetched_at if version else None)

    @staticmethod
    def _version_at(s, page_id: int, at: datetime):
        return s.execute(select(Snapshot.id, Snapshot.content_hash, Snapshot.fetched_at)
                         .where(Snapshot.page_id == page_id, Snapshot.fetched_at <= at)
                         .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc()).limit(1)).first()

    def record_import(self, run_id: int, page_id: int, at: datetime, content: PageContent,
                      meta: dict | None = None) -> tuple[str, int | None]:
        """Store one imported page as a check at `at` (and a snapshot when its text differs from the
        version current at `at`), atomically; returns (outcome, snapshot id). Outcome `already` when
        a check at exactly `at` is stored. The page's current state (last snapshot, hash, validators)
        moves only when `at` is newer than every fetch of the page; its first_seen_at moves back to `at`
        when the import is older (the page existed then)."""
        with self.db.session() as s:
            if s.scalar(select(func.count()).select_from(Check)
                        .where(Check.page_id == page_id, Check.checked_at == at)):
                return "already", None
            previous = self._version_at(s, page_id, at)
            newest = s.scalar(select(func.max(Check.checked_at))
                              .where(Check.page_id == page_id, Check.outcome.in_(CONTENT_OUTCOMES)))
            snapshot_id = None
            outcome = import_outcome(previous.content_hash if previous else None, content.content_hash)
            if outcome != "unchanged":
                raw_id = self.snapshots._store_raws(s, [content])[content.raw_sha256]
                snapshot_id = s.scalar(insert(Snapshot).returning(Snapshot.id).values(
                    page_id=page_id, fetched_at=at, content_hash=content.content_hash, title=content.title,
                    published_at=content.published_at, main_text=content.main_text, final_url=content.final_url,
                    encoding=content.encoding, profile=content.profile,
                    page_meta={**(content.meta or {}), "import": meta or {}}, raw_id=raw_id,
                    health=PENDING_IMPORT))
            s.execute(insert(Check).values(run_id=run_id, page_id=page_id, checked_at=at, outcome=outcome,
                                           snapshot_id=snapshot_id))
            page = s.get(Page, page_id)
            if at < page.first_seen_at:
                page.first_seen_at = at
            if newest is None or at > newest:
                if page.last_hash != content.content_hash:
                    # The validators describe the previous content; a 304 must not confirm the imported one.
                    page.etag = page.last_modified = None
                page.last_hash = content.content_hash
                page.last_snapshot_id = snapshot_id or previous.id
            return outcome, snapshot_id



def change_key(c: dict) -> tuple:
    """What makes a recomputed change the same as a stored one (kept with its id, so alerts still point at it)."""
    return (c["type"], c["kind"], c["identity"], c["snapshot_before"], c["snapshot_after"],
            json.dumps(c["old"], sort_keys=True), json.dumps(c["new"], sort_keys=True))


__all__ = ["BackfillStore", "DIFF_TYPES", "ImportState", "PENDING_IMPORT", "PageTimeline", "change_key"]
