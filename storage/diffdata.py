"""The reads the diff stage needs: snapshots not judged yet, their page's healthy history, current facts."""
from __future__ import annotations

from typing import Iterator

from sqlalchemy import and_, func, or_, select

from storage.db import Database
from storage.models import Change, Check, Extraction, FactRow, Page, Snapshot, Source

HISTORY = 6  # healthy snapshots kept as context (the previous one, and earlier ones for reverts)


class DiffData:
    """Read-only queries for monitor.diff; writes go through ChangeStore.record_changes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _facts(self, s, snapshot_ids: list[int], version: str) -> dict[int, list[dict]]:
        out: dict[int, list[dict]] = {i: [] for i in snapshot_ids}
        if not snapshot_ids:
            return out
        q = (select(Extraction.snapshot_id, FactRow).join(FactRow, FactRow.extraction_id == Extraction.id)
             .where(Extraction.snapshot_id.in_(snapshot_ids), Extraction.extractor_version == version)
             .order_by(FactRow.id))
        for snapshot_id, f in s.execute(q):
            out[snapshot_id].append(dict(kind=f.kind, value=f.value, plan_year=f.plan_year, region=f.region,
                                         evidence=f.evidence))
        return out

    @staticmethod
    def _snapshot(snap: Snapshot, page: Page, source: Source, facts: list[dict]) -> dict:
        return dict(id=snap.id, main_text=snap.main_text, content_hash=snap.content_hash, url=snap.final_url or page.url,
                    facts=facts, source_id=source.id, page_id=page.id, source=source.name, health=snap.health)

    def pages_to_diff(self, version: str) -> Iterator[tuple[dict, list[dict], list[dict]]]:
        """(page, healthy history oldest first, snapshots to judge oldest first) for pages with unjudged snapshots
        whose facts of `version` are stored."""
        with self.db.session() as s:
            extracted = select(Extraction.id).where(Extraction.snapshot_id == Snapshot.id,
                                                    Extraction.extractor_version == version).exists()
            page_ids = list(s.scalars(select(Snapshot.page_id).where(Snapshot.health.is_(None), extracted)
                                      .group_by(Snapshot.page_id).order_by(Snapshot.page_id)))
            for page_id in page_ids:
                page, source = s.execute(select(Page, Source).join(Source, Page.source_id == Source.id)
                                         .where(Page.id == page_id)).one()
                # Time order, not id order: an imported (backfilled) snapshot has a newer id than its time says.
                pending = list(s.scalars(select(Snapshot).where(Snapshot.page_id == page_id, Snapshot.health.is_(None),
                                                                extracted).order_by(Snapshot.fetched_at, Snapshot.id)))
                first = pending[0]
                earlier = or_(Snapshot.fetched_at < first.fetched_at,
                              and_(Snapshot.fetched_at == first.fetched_at, Snapshot.id < first.id))
                history = list(s.scalars(select(Snapshot).where(Snapshot.page_id == page_id, Snapshot.health == "ok",
                                                                earlier)
                                         .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc())
                                         .limit(HISTORY)))[::-1]
                facts = self._facts(s, [x.id for x in history + pending], version)
                info = dict(page_id=page.id, source_id=source.id, url=page.url, source=source.name,
                            discovered=self._discovered(s, page, source))
                yield (info, [self._snapshot(x, page, source, facts[x.id]) for x in history],
                       [self._snapshot(x, page, source, facts[x.id]) for x in pending])

    @staticmethod
    def _discovered(s, page: Page, source: Source) -> bool:
        """An article that appeared on its list page after the list's first check (not part of the baseline)."""
        if source.kind != "list" or page.role != "article":
            return False
        earlier_list_checks = s.scalar(
            select(func.count()).select_from(Check).join(Page, Check.page_id == Page.id)
            .where(Page.source_id == source.id, Page.role == "list", Check.checked_at < page.first_seen_at))
        return earlier_list_checks >= 2

    def latest_healthy(self, version: str, pending_health: dict[int, str] | None = None) -> list[dict]:
        """The newest snapshot of every page of the enabled sources, when it is healthy (judged or being judged)."""
        pending_health = pending_health or {}
        with self.db.session() as s:
            # The page's current snapshot (an older imported one may have a higher id).
            rows = list(s.execute(select(Snapshot, Page, Source).join(Page, Snapshot.id == Page.last_snapshot_id)
                                  .join(Source, Page.source_id == Source.id).where(Source.enabled.is_(True))))
            healthy = [(snap, page, src) for snap, page, src in rows
                       if pending_health.get(snap.id, snap.health) == "ok"]
            facts = self._facts(s, [snap.id for snap, _, _ in healthy], version)
            return [self._snapshot(snap, page, src, facts[snap.id]) for snap, page, src in healthy]

    def recent_check_health(self, run_id: int, pending_health: dict[int, str] | None = None,
                            limit: int = 60) -> list[tuple[dict, list[tuple[bool, str]]]]:
        """For each page checked in `run_id`: (page, [(healthy, reason)] of its recent checks, oldest first).

        A check is unhealthy when it failed, when its new snapshot was judged unhealthy, or when it found the
        page unchanged while the page's current snapshot is an unhealthy one (a maintenance page served again).
        """
        pending_health = pending_health or {}
        with self.db.session() as s:
            checked = select(Check.page_id).where(Check.run_id == run_id).distinct()
            # The newest `limit` checks of every page checked in this run, in one query.
            recent = (select(Check.page_id, Check.id.label("check_id"), Check.outcome, Check.error, Check.http_status,
                             Check.snapshot_id,
                             func.row_number().over(
                                 partition_by=Check.page_id,
                                 order_by=(Check.checked_at.desc(), Check.id.desc())).label("n"),
                             Check.checked_at)
                      .where(Check.page_id.in_(checked)).subquery())
            rows = s.execute(select(recent.c.page_id, recent.c.outcome, recent.c.error, recent.c.http_status,
                                    Snapshot.id, Snapshot.health)
                             .outerjoin(Snapshot, recent.c.snapshot_id == Snapshot.id)
                             .where(recent.c.n <= limit)
                             .order_by(recent.c.page_id, recent.c.checked_at, recent.c.check_id)).all()
            pages = {p.id: (p, src) for p, src in s.execute(
                select(Page, Source).join(Source, Page.source_id == Source.id).where(Page.id.in_(checked)))}
        by_page: dict[int, list] = {}
        for row in rows:
            by_page.setdefault(row[0], []).append(row[1:])
        out = []
        for page_id, checks in by_page.items():
            states, current = [], "ok"
            for outcome, error, status, snapshot_id, health in checks:
                if outcome == "error":
                    states.append((False, error or f"HTTP {status}"))
                    continue
                if outcome in ("new", "changed"):
                    current = pending_health.get(snapshot_id, health) or "ok"
                states.append((current == "ok", current))
            page, source = pages[page_id]
            out.append((dict(page_id=page.id, source_id=source.id, url=page.url, source=source.name), states))
        return out

    def known_conflicts(self) -> set[str]:
        with self.db.session() as s:
            return set(s.scalars(select(Change.identity).where(Change.type == "conflict")))
