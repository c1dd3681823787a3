"""ChangeStore: detected changes and the alert outbox, written together in one transaction."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import func, select, update

from storage.bulk import insert_ids
from storage.changekeys import assign_keys
from storage.currentfacts import refresh_snapshot_pages
from storage.db import Database
from storage.factruns import link_snapshots
from storage.models import Alert, Change, Run, Snapshot, Source
from storage.outbox import OutboxStore
from storage.types import SQL_BATCH, chunks, upsert, utcnow


def change_dict(c: Change, source: str) -> dict:
    """A change row as the readers use it (ChangeStore.changes, storage.webqueries.change_feed)."""
    return dict(id=c.id, source=source, url=c.url, type=c.type, kind=c.kind, identity=c.identity,
                old=c.old, new=c.new, severity=c.severity, region=c.region, plan_year=c.plan_year,
                detected_at=c.detected_at, evidence_before=c.evidence_before,
                evidence_after=c.evidence_after, snapshot_before=c.snapshot_before,
                snapshot_after=c.snapshot_after, page_id=c.page_id, run_id=c.run_id, detail=c.detail)


class ChangeStore(OutboxStore):
    """Changes and the alert outbox. Changes and the alerts they cause are written in one transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record_changes(self, changes: Sequence[dict], alerts: Sequence[dict] = (),
                       snapshot_health: dict[int, str] | None = None,
                       conflicts_token: tuple[int, str] | None = None) -> list[int]:
        """Insert changes (dicts of Change columns) and alerts (dicts of Alert columns whose `change_index`
        lists positions in `changes`), and set snapshots' health, atomically; returns the change ids.
        The facts of the snapshots judged healthy are linked into their runs (storage.factruns), and their pages'
        current facts refreshed (storage.currentfacts), in the same transaction; `conflicts_token` (run id,
        token) is stored as what that run's conflict search covered (runs.conflicts_token)."""
        now = utcnow()
        with self.db.session() as s:
            if conflicts_token is not None:
                s.execute(update(Run).where(Run.id == conflicts_token[0]).values(conflicts_token=conflicts_token[1]))
            ids: list[int] = []
            if changes:
                rows = [{"detected_at": now, **c} for c in changes]
                # Numbered within this batch only: the same change stored by another run is refused (0010).
                assign_keys(rows)
                ids = insert_ids(s, Change, rows)
            for alert in alerts:
                row = {k: v for k, v in alert.items() if k != "change_index"}
                if "change_ids" not in row:
                    row["change_ids"] = [ids[i] for i in alert.get("change_index", [])]
                row.update(status="pending", created_at=now, attempts=0, next_attempt_at=now)
                insert_ = upsert(self.db.dialect, Alert)
                s.execute(insert_.values(**row).on_conflict_do_nothing(index_elements=["target_key", "dedupe_key"]))
            by_health: dict[str, list[int]] = {}
            for snapshot_id, health in (snapshot_health or {}).items():
                by_health.setdefault(health, []).append(snapshot_id)
            for health, snapshot_ids in by_health.items():
                for chunk in chunks(snapshot_ids, SQL_BATCH):
                    s.execute(update(Snapshot).where(Snapshot.id.in_(chunk)).values(health=health))
            if snapshot_health:
                link_snapshots(s, list(snapshot_health))  # it takes the healthy ones
                refresh_snapshot_pages(s, [sid for sid, h in snapshot_health.items() if h == "ok"])
            return ids

    def changes(self, since: datetime | None = None, source: str | None = None,
                run_id: int | None = None) -> list[dict]:
        q = (select(Change, Source.name).join(Source, Change.source_id == Source.id).order_by(Change.id))
        if since is not None:
            q = q.where(Change.detected_at >= since)
        if source:
            q = q.where(Source.name == source)
        if run_id is not None:
            q = q.where(Change.run_id == run_id)
        with self.db.session() as s:
            return [change_dict(c, name) for c, name in s.execute(q)]

    def failing_sources(self) -> dict[str, dict]:
        """Sources with a page whose latest health change is `source_failing` (no `source_recovered` since):
        name → detail of its earliest such page."""
        types = ("source_failing", "source_recovered")
        latest = (select(Change.page_id, func.max(Change.id).label("id"))
                  .where(Change.type.in_(types)).group_by(Change.page_id).subquery())
        q = (select(Source.name, Change.detected_at, Change.url, Change.detail)
             .join(latest, Change.id == latest.c.id).join(Source, Source.id == Change.source_id)
             .where(Change.type == "source_failing").order_by(Change.id))
        out: dict[str, dict] = {}
        with self.db.session() as s:
            for name, at, url, detail in s.execute(q):
                out.setdefault(name, dict(since=at, url=url, reason=(detail or {}).get("reason"),
                                          error=(detail or {}).get("error")))
        return out
