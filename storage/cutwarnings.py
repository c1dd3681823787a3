"""Reads of the cut warnings (extractions.warnings) of each source's current snapshots, for status and sources."""
from __future__ import annotations

from sqlalchemy import func, select

from storage.db import Database
from storage.models import Extraction, Page, Snapshot, Source


def current_cut_warnings(db: Database) -> dict[str, list[dict]]:
    """Source name → the warnings of its pages' current snapshots (each page's newest extraction), merged per
    warning code: {"code", "regions" (most pages first), "pages", "profiles", "urls"}; sources without any
    are absent. One query, whatever the number of pages."""
    newest = (select(func.max(Extraction.id)).where(Extraction.snapshot_id == Page.last_snapshot_id)
              .correlate(Page).scalar_subquery())
    q = (select(Source.name, Page.url, Snapshot.profile, Extraction.warnings)
         .join(Page, Page.source_id == Source.id)
         .join(Snapshot, Snapshot.id == Page.last_snapshot_id)
         .join(Extraction, Extraction.id == newest)
         .where(Extraction.warnings.is_not(None)).order_by(Source.name, Page.id))
    out: dict[str, dict[str, dict]] = {}
    with db.session() as s:
        for name, url, profile, warnings in s.execute(q):
            for w in warnings or ():
                merged = out.setdefault(name, {}).setdefault(
                    w["code"], {"code": w["code"], "regions": {}, "pages": 0, "profiles": [], "urls": []})
                merged["pages"] += 1
                merged["urls"].append(url)
                if profile not in merged["profiles"]:
                    merged["profiles"].append(profile)
                for region in w.get("regions", ()):
                    merged["regions"][region] = merged["regions"].get(region, 0) + 1
    return {name: [dict(w, regions=sorted(w["regions"], key=lambda r: -w["regions"][r])) for w in codes.values()]
            for name, codes in out.items()}
