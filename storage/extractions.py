"""Extractions: the facts stored with snapshots, one extraction per snapshot and extractor version."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import delete, select

from storage.bulk import insert_ids, insert_rows
from storage.currentfacts import refresh_snapshot_pages
from storage.db import Database
from storage.factruns import link_snapshots
from storage.models import Extraction, FactRow, Page, Snapshot, Source
from storage.types import utcnow


def insert_extractions(s, extractions: Sequence[tuple[int, dict]]) -> None:
    """In session `s`: insert the records [(snapshot id, extraction record)] and their facts."""
    if not extractions:
        return
    now = utcnow()
    rows = [dict(snapshot_id=snap_id, extractor_version=e["version"], plan_year=e.get("plan_year"),
                 region_code=(e.get("region") or {}).get("code"), region_name=(e.get("region") or {}).get("name"),
                 warnings=e.get("warnings") or None, extracted_at=now) for snap_id, e in extractions]
    ids = insert_ids(s, Extraction, rows)
    facts = [dict(extraction_id=ext_id, kind=f["kind"], value=f["value"], plan_year=f.get("plan_year"),
                  region=f.get("region"), evidence=f["evidence"],
                  span_start=f["span"][0] if f.get("span") else None,
                  span_end=f["span"][1] if f.get("span") else None, confidence=f.get("confidence"))
             for ext_id, (_, e) in zip(ids, extractions) for f in e["facts"]]
    if facts:
        insert_rows(s, FactRow, facts)


class ExtractionStore:
    """The extraction read and write methods of SnapshotStore (over its `db`)."""

    db: Database

    def replace_extractions(self, s, extractions: Sequence[tuple[int, dict]]) -> None:
        """In session `s`: the snapshots' extractions of the records' versions replaced by the records (the
        current facts of the pages of healthy ones refreshed: storage.currentfacts)."""
        for snapshot_id, extraction in extractions:
            s.execute(delete(Extraction).where(Extraction.snapshot_id == snapshot_id,
                                               Extraction.extractor_version == extraction["version"]))
        insert_extractions(s, list(extractions))
        refresh_snapshot_pages(s, [snapshot_id for snapshot_id, _ in extractions], healthy_only=True)

    def store_extractions(self, extractions: Sequence[tuple[int, dict]], *, link: bool = True) -> None:
        """Store (or replace) the facts of snapshots, one extraction per snapshot and extractor version.

        `extraction` is {"version", "region": {"name", "code"} | None, "plan_year", "facts": [...]}.
        New facts of snapshots judged healthy already (an extractor upgrade) are linked into their runs
        (storage.factruns) unless `link` is False (reextract links after judging the snapshots again).
        """
        with self.db.session() as s:
            self.replace_extractions(s, extractions)
            if link:
                link_snapshots(s, [snapshot_id for snapshot_id, _ in extractions])

    def snapshots_to_extract(self, version: str, limit: int = 500) -> list[dict]:
        """Snapshots that have no extraction of this extractor version yet (oldest first), with their source's
        configured region (`source_region`), which scopes their facts."""
        done = select(Extraction.id).where(Extraction.snapshot_id == Snapshot.id,
                                           Extraction.extractor_version == version)
        q = (select(Snapshot.id, Snapshot.main_text, Snapshot.final_url, Snapshot.title, Snapshot.published_at,
                    Snapshot.page_meta, Source.region)
             .join(Page, Snapshot.page_id == Page.id).join(Source, Page.source_id == Source.id)
             .where(~done.exists()).order_by(Snapshot.id).limit(limit))
        with self.db.session() as s:
            return [dict(id=r.id, main_text=r.main_text, url=r.final_url, title=r.title, published_at=r.published_at,
                         breadcrumb=(r.page_meta or {}).get("breadcrumb"), source_region=r.region)
                    for r in s.execute(q)]

    def facts(self, snapshot_id: int, version: str | None = None) -> list[dict]:
        """Facts of a snapshot (of the newest extractor version stored, or the given one), in text order."""
        with self.db.session() as s:
            q = select(Extraction).where(Extraction.snapshot_id == snapshot_id)
            if version:
                q = q.where(Extraction.extractor_version == version)
            extraction = s.scalars(q.order_by(Extraction.id.desc()).limit(1)).first()
            if extraction is None:
                return []
            rows = s.scalars(select(FactRow).where(FactRow.extraction_id == extraction.id).order_by(FactRow.id))
            return [dict(kind=f.kind, value=f.value, plan_year=f.plan_year, region=f.region, evidence=f.evidence,
                         span=[f.span_start, f.span_end] if f.span_start is not None else None,
                         confidence=f.confidence, version=extraction.extractor_version) for f in rows]
