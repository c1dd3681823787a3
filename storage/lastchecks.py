"""Each source's most recent check, for `status` and the web view's 来源 / /api/status: one query,
without the page and snapshot counts of SnapshotStore.source_overview."""
from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from storage.db import Database
from storage.models import Check, Page, Source


def last_checks(db: Database, names: Collection[str] | None = None) -> dict[str, dict]:
    """Source name → its newest check over all its pages ({"checked_at", "outcome", "http_status", "error"}), of
    every source or only of `names`; sources never checked are absent. One (page_id, checked_at) index lookup
    per page, joined to the check by its id."""
    newest = (select(Check.id).where(Check.page_id == Page.id)
              .order_by(Check.checked_at.desc(), Check.id.desc()).limit(1).correlate(Page).scalar_subquery())
    q = (select(Source.name, Check.id, Check.checked_at, Check.outcome, Check.http_status, Check.error)
         .select_from(Page).join(Source, Source.id == Page.source_id).join(Check, Check.id == newest))
    if names is not None:
        q = q.where(Source.name.in_(list(names) or [""]))
    best: dict[str, tuple] = {}
    with db.engine.connect() as conn:
        for name, cid, at, outcome, status, error in conn.execute(q):
            if name not in best or (at, cid) > best[name][:2]:
                best[name] = (at, cid, outcome, status, error)
    return {name: dict(checked_at=at, outcome=outcome, http_status=status, error=error)
            for name, (at, _, outcome, status, error) in best.items()}
