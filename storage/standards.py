"""The amounts each watched page currently states, for the national-minimum report of `sources` and `status`."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import select

from storage.db import Database
from storage.models import Extraction, FactRow, Page, Snapshot, Source


def current_facts(db: Database, version: str, kinds: Sequence[str]) -> list[dict]:
    """Per enabled page whose current snapshot is healthy and extracted under `version`: {"source", "url",
    "region" (the extraction's page region code), "facts": its facts of `kinds`} — pages with none left out."""
    # Columns, not FactRow entities: 4,000 ORM objects cost more than the query on the 5-year history.
    q = (select(Source.name, Page.id, Page.url, Extraction.region_code, FactRow.kind, FactRow.value,
                FactRow.plan_year, FactRow.region, FactRow.evidence, FactRow.confidence)
         .join(Page, Page.source_id == Source.id)
         .join(Snapshot, Snapshot.id == Page.last_snapshot_id)
         .join(Extraction, (Extraction.snapshot_id == Snapshot.id) & (Extraction.extractor_version == version))
         .join(FactRow, FactRow.extraction_id == Extraction.id)
         .where(Source.enabled.is_(True), Snapshot.health == "ok", FactRow.kind.in_(list(kinds)))
         .order_by(Source.name, Page.id, FactRow.id))
    pages: dict[int, dict] = {}
    with db.engine.connect() as conn:
        for source, page_id, url, region, kind, value, year, fact_region, evidence, confidence in conn.execute(q):
            page = pages.setdefault(page_id, dict(source=source, url=url, region=region, facts=[]))
            page["facts"].append(dict(kind=kind, value=value, plan_year=year, region=fact_region,
                                      evidence=evidence, confidence=confidence))
    return list(pages.values())


def current_pages_token(db: Database, version: str) -> tuple:
    """A token of what current_facts(db, version, …) reads: the (page, snapshot, extraction) of every page it
    would take, without their facts (an extraction's facts never change: a new one gets a new id). Equal tokens
    mean equal current_facts answers, for any kinds."""
    q = (select(Page.id, Snapshot.id, Extraction.id)
         .join(Source, Page.source_id == Source.id)
         .join(Snapshot, Snapshot.id == Page.last_snapshot_id)
         .join(Extraction, (Extraction.snapshot_id == Snapshot.id) & (Extraction.extractor_version == version))
         .where(Source.enabled.is_(True), Snapshot.health == "ok")
         .order_by(Page.id))
    with db.engine.connect() as conn:
        return tuple(tuple(r) for r in conn.execute(q))
