"""The reads the diff stage needs: snapshots not judged yet, their page's healthy history, current facts."""
from __future__ import annotations

from typing import Iterator, Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from storage.db import Database
from storage.models import Change, Check, Extraction, FactRow, Page, Run, Snapshot, Source
from storage.types import SQL_BATCH, chunks

HISTORY = 6  # healthy snapshots kept as context (the previous one, and earlier ones for reverts)
HEALTH_TYPES = ("source_failing", "source_recovered")
LAST_ID = 2**63 - 1  # sorts after every check id at the same time


def read_facts(s, snapshot_ids: list[int], version: str, chunk: int = 500,
               kinds: Sequence[str] | None = None) -> dict[int, list[dict]]:
    """Facts of each snapshot's `version` extraction (only those of `kinds` when given), in stored order; a
    snapshot without one is absent (one with an empty extraction, or none of those kinds, maps to [])."""
    out: dict[int, list[dict]] = {}
    joined = FactRow.extraction_id == Extraction.id
    if kinds is not None:
        joined = and_(joined, FactRow.kind.in_(kinds))
    for i in range(0, len(snapshot_ids), chunk):
        # Columns, not FactRow objects: ORM instances cost more than the query on a big first check.
        q = (select(Extraction.snapshot_id, FactRow.id, FactRow.kind, FactRow.value, FactRow.plan_year,
                    FactRow.region, FactRow.evidence, FactRow.confidence)
             .outerjoin(FactRow, joined)
             .where(Extraction.snapshot_id.in_(snapshot_ids[i:i + chunk]), Extraction.extractor_version == version)
             .order_by(FactRow.id))
        for snapshot_id, fact_id, kind, value, plan_year, region, evidence, confidence in s.execute(q):
            facts = out.setdefault(snapshot_id, [])
            if fact_id is not None:
                facts.append(dict(kind=kind, value=value, plan_year=plan_year, region=region,
                                  evidence=evidence, confidence=confidence))
    return out


class DiffData:
    """Read-only queries for monitor.diff; writes go through ChangeStore.record_changes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _snapshot(snap: Snapshot, page: Page, source: Source, facts: list[dict]) -> dict:
        return dict(id=snap.id, main_text=snap.main_text, content_hash=snap.content_hash, url=snap.final_url or page.url,
                    facts=facts, source_id=source.id, page_id=page.id, source=source.name, health=snap.health)

    def pages_to_diff(self, version: str, chunk: int = 200) -> Iterator[tuple[dict, list[dict], list[dict]]]:
        """(page, healthy history oldest first, snapshots to judge oldest first) for pages with unjudged snapshots
        whose facts of `version` are stored. Reads `chunk` pages at a time in a fixed number of queries."""
        with self.db.session() as s:
            extracted = select(Extraction.id).where(Extraction.snapshot_id == Snapshot.id,
                                                    Extraction.extractor_version == version).exists()
            page_ids = list(s.scalars(select(Snapshot.page_id).where(Snapshot.health.is_(None), extracted)
                                      .group_by(Snapshot.page_id).order_by(Snapshot.page_id)))
            for i in range(0, len(page_ids), chunk):
                yield from self._diff_chunk(s, page_ids[i:i + chunk], version, extracted)

    def _diff_chunk(self, s, page_ids: list[int], version: str, extracted) -> Iterator[tuple[dict, list, list]]:
        pages = {page.id: (page, source) for page, source in s.execute(
            select(Page, Source).join(Source, Page.source_id == Source.id).where(Page.id.in_(page_ids)))}
        # Time order, not id order: an imported (backfilled) snapshot has a newer id than its time says.
        pending: dict[int, list[Snapshot]] = {}
        for snap in s.scalars(select(Snapshot).where(Snapshot.page_id.in_(page_ids), Snapshot.health.is_(None),
                                                     extracted)
                              .order_by(Snapshot.page_id, Snapshot.fetched_at, Snapshot.id)):
            pending.setdefault(snap.page_id, []).append(snap)
        # The last HISTORY healthy snapshots before each page's first pending one: pick by key, then load.
        healthy: dict[int, list[tuple]] = {}
        for page_id, fetched_at, snap_id in s.execute(
                select(Snapshot.page_id, Snapshot.fetched_at, Snapshot.id)
                .where(Snapshot.page_id.in_(page_ids), Snapshot.health == "ok")):
            healthy.setdefault(page_id, []).append((fetched_at, snap_id))
        history_ids: dict[int, list[int]] = {}
        for page_id, snaps in pending.items():
            first = (snaps[0].fetched_at, snaps[0].id)
            history_ids[page_id] = [i for _, i in sorted(k for k in healthy.get(page_id, []) if k < first)[-HISTORY:]]
        wanted = [i for ids in history_ids.values() for i in ids]
        loaded = {snap.id: snap for snap in s.scalars(select(Snapshot).where(Snapshot.id.in_(wanted)))} if wanted else {}
        facts = read_facts(s, wanted + [x.id for snaps in pending.values() for x in snaps], version)
        discovered = self.discovered(s, list(pages.values()))
        for page_id in page_ids:
            if page_id not in pending:
                continue
            page, source = pages[page_id]
            history = [loaded[i] for i in history_ids[page_id]]
            info = dict(page_id=page.id, source_id=source.id, url=page.url, source=source.name,
                        discovered=discovered[page.id])
            yield (info, [self._snapshot(x, page, source, facts.get(x.id, [])) for x in history],
                   [self._snapshot(x, page, source, facts.get(x.id, [])) for x in pending[page_id]])

    @staticmethod
    def discovered(s, pages: list[tuple[Page, Source]]) -> dict[int, bool]:
        """Per page id: an article that appeared on its list page after the list's first successful check (not
        part of the baseline), i.e. first seen at or after the list's second successful check (an article is
        first seen at the time of the list check that found it, stored with it). One query for all the pages."""
        articles = [(p, src) for p, src in pages if src.kind == "list" and p.role == "article"]
        second: dict[int, object] = {}
        if articles:
            ranked = (select(Page.source_id, Check.checked_at,
                             func.row_number().over(partition_by=Page.source_id,
                                                    order_by=(Check.checked_at, Check.id)).label("n"))
                      .join(Page, Check.page_id == Page.id)
                      .where(Page.source_id.in_({src.id for _, src in articles}), Page.role == "list",
                             Check.outcome != "error").subquery())
            second = dict(s.execute(select(ranked.c.source_id, ranked.c.checked_at).where(ranked.c.n == 2)).all())
        flags = {p.id: False for p, _ in pages}
        for p, src in articles:
            flags[p.id] = src.id in second and second[src.id] <= p.first_seen_at
        return flags

    def latest_healthy(self, version: str, pending_health: dict[int, str] | None = None,
                       kinds: Sequence[str] | None = None) -> list[dict]:
        """The newest snapshot of every page of the enabled sources, when it is healthy (judged or being judged),
        with its facts (of `kinds` only, when given); without its main text."""
        pending_health = pending_health or {}
        with self.db.session() as s:
            # The page's current snapshot (an older imported one may have a higher id). Columns only: the
            # main texts of every watched page are not needed here and would be most of what is read.
            rows = s.execute(select(Snapshot.id, Snapshot.health, Snapshot.content_hash, Snapshot.final_url,
                                    Page.id, Page.url, Source.id, Source.name)
                             .join(Page, Snapshot.id == Page.last_snapshot_id)
                             .join(Source, Page.source_id == Source.id).where(Source.enabled.is_(True)))
            healthy = [r for r in rows if pending_health.get(r[0], r[1]) == "ok"]
            facts = read_facts(s, [r[0] for r in healthy], version, kinds=kinds)
            return [dict(id=snap_id, content_hash=content_hash, url=final_url or url, facts=facts.get(snap_id, []),
                         source_id=source_id, page_id=page_id, source=source, health=health)
                    for snap_id, health, content_hash, final_url, page_id, url, source_id, source in healthy]

    def check_health(self, run_id: int, pending_health: dict[int, str] | None = None, limit: int = 60
                     ) -> list[tuple[dict, list[tuple[bool, str, int]], tuple[str, int] | None]]:
        """For each page checked in `run_id`, or in the runs since the last finished one before it (a run killed
        before its diff stage): (page, [(healthy, reason, check id)] of its recent checks oldest first, its newest
        health transition as (type, index of the last of those checks it covers; -1 = older) or None).

        A check is unhealthy when it failed, when its new snapshot was judged unhealthy, or when it found the
        page unchanged while the page's current snapshot is an unhealthy one (a maintenance page served again).
        """
        pending_health = pending_health or {}
        with self.db.session() as s:
            since = s.scalar(select(func.max(Run.id)).where(Run.id < run_id, Run.status == "finished"))
            runs = select(Run.id).where(Run.id >= since) if since is not None else select(Run.id)
            # a subquery, not a list of ids: a run may check more pages than a statement takes variables
            checked = select(Check.page_id).where(or_(Check.run_id == run_id, Check.run_id.in_(runs))).distinct()
            candidates = self._health_candidates(s, checked, pending_health)
            states: dict[int, list] = {}
            last: dict[int, tuple[str, tuple]] = {}
            pages: dict[int, tuple[Page, Source]] = {}
            for chunk in chunks(candidates, SQL_BATCH):
                states.update(self._check_states(s, chunk, pending_health, limit))
                last.update(self._last_transitions(s, chunk))
                pages.update({p.id: (p, src) for p, src in s.execute(
                    select(Page, Source).join(Source, Page.source_id == Source.id).where(Page.id.in_(chunk)))})
        out = []
        for page_id, checks in states.items():
            transition = None
            if page_id in last:
                type_, ref = last[page_id]
                transition = (type_, sum(1 for key, _ in checks if key <= ref) - 1)
            page, source = pages[page_id]
            out.append((dict(page_id=page.id, source_id=source.id, url=page.url, source=source.name,
                              source_region=source.region),
                        [state for _, state in checks], transition))
        return out

    @staticmethod
    def _health_candidates(s, checked, pending_health: dict[int, str]) -> list[int]:
        """The pages of `checked` (a select of page ids) that can have a health transition to record, in id
        order; for every other one monitor.diff.health_changes finds none, so their checks are not read. A
        transition needs an outstanding `source_failing` (a recovery), or a newest check that is unhealthy: an
        error, or a page whose snapshot (stored, or judged in this pass) is unhealthy."""
        newer = aliased(Check)
        is_newer = or_(newer.checked_at > Check.checked_at, and_(newer.checked_at == Check.checked_at,
                                                                   newer.id > Check.id))
        found = set(s.scalars(select(Check.page_id).where(
            Check.page_id.in_(checked), Check.outcome == "error",
            ~select(newer.id).where(newer.page_id == Check.page_id, is_newer).exists())))
        found.update(s.scalars(select(Snapshot.page_id).where(
            Snapshot.page_id.in_(checked), Snapshot.health.is_not(None), Snapshot.health != "ok").distinct()))
        unhealthy = [i for i, health in pending_health.items() if health != "ok"]
        for chunk in chunks(unhealthy, SQL_BATCH):
            found.update(s.scalars(select(Snapshot.page_id).where(Snapshot.id.in_(chunk), Snapshot.page_id.in_(checked))))
        latest = (select(Change.page_id, func.max(Change.id).label("id"))
                  .where(Change.page_id.in_(checked), Change.type.in_(HEALTH_TYPES))
                  .group_by(Change.page_id).subquery())
        found.update(s.scalars(select(Change.page_id).join(latest, Change.id == latest.c.id)
                               .where(Change.type == "source_failing")))
        return sorted(found)

    @staticmethod
    def _check_states(s, page_ids, pending_health: dict[int, str], limit: int) -> dict[int, list]:
        """Page id → [((checked_at, check id), (healthy, reason, check id))] of the newest `limit` checks of the
        pages of `page_ids` (a select of page ids)."""
        recent = (select(Check.page_id, Check.id.label("check_id"), Check.outcome, Check.error, Check.http_status,
                         Check.snapshot_id, Check.checked_at,
                         func.row_number().over(partition_by=Check.page_id,
                                                order_by=(Check.checked_at.desc(), Check.id.desc())).label("n"))
                  .where(Check.page_id.in_(page_ids)).subquery())
        rows = s.execute(select(recent.c.page_id, recent.c.check_id, recent.c.checked_at, recent.c.outcome,
                                recent.c.error, recent.c.http_status, Snapshot.id, Snapshot.health)
                         .outerjoin(Snapshot, recent.c.snapshot_id == Snapshot.id)
                         .where(recent.c.n <= limit)
                         .order_by(recent.c.page_id, recent.c.checked_at, recent.c.check_id)).all()
        out: dict[int, list] = {}
        current: dict[int, str] = {}
        for page_id, check_id, checked_at, outcome, error, status, snapshot_id, health in rows:
            if outcome == "error":
                state = (False, error or f"HTTP {status}", check_id)
            else:
                if outcome in ("new", "changed"):
                    current[page_id] = pending_health.get(snapshot_id, health) or "ok"
                now = current.get(page_id, "ok")
                state = (now == "ok", now, check_id)
            out.setdefault(page_id, []).append(((checked_at, check_id), state))
        return out

    @staticmethod
    def _last_transitions(s, page_ids, chunk: int = 500) -> dict[int, tuple[str, tuple]]:
        """Page id (of the select `page_ids`) → (type, (checked_at, check id) of the last check it covers) of its
        newest source_failing / source_recovered. A change recorded before transitions named their check covers
        the checks made before it was detected."""
        latest = (select(Change.page_id, func.max(Change.id).label("id"))
                  .where(Change.page_id.in_(page_ids), Change.type.in_(HEALTH_TYPES))
                  .group_by(Change.page_id).subquery())
        rows = s.execute(select(Change.page_id, Change.type, Change.detail, Change.detected_at)
                         .join(latest, Change.id == latest.c.id)).all()
        ids = [(d or {}).get("check_id") for _, _, d, _ in rows]
        ids = [i for i in ids if isinstance(i, int)]
        times: dict[int, object] = {}
        for i in range(0, len(ids), chunk):
            times.update(s.execute(select(Check.id, Check.checked_at).where(Check.id.in_(ids[i:i + chunk]))).all())
        out: dict[int, tuple[str, tuple]] = {}
        for page_id, type_, detail, detected_at in rows:
            check_id = (detail or {}).get("check_id")
            out[page_id] = (type_, (times[check_id], check_id) if check_id in times else (detected_at, LAST_ID))
        return out

    def enabled_sources(self) -> list[tuple[int, str]]:
        """(id, name) of every enabled source, by id: whose newest facts the conflict search compares."""
        with self.db.session() as s:
            return [tuple(r) for r in s.execute(select(Source.id, Source.name).where(Source.enabled.is_(True))
                                                .order_by(Source.id))]

    def conflicts_settled(self, run_id: int, token: str) -> bool:
        """Whether the run before `run_id` (any kind) is a finished check whose conflict search covered `token`:
        then, with nothing judged since, a search now would find nothing new. An import or reextract in between
        (their own runs), a check killed before its end or one of an older version say no."""
        with self.db.session() as s:
            row = s.execute(select(Run.status, Run.conflicts_token).where(Run.id < run_id)
                            .order_by(Run.id.desc()).limit(1)).first()
        return row is not None and row[0] == "finished" and row[1] == token

    def known_conflicts(self) -> set[str]:
        with self.db.session() as s:
            return set(s.scalars(select(Change.identity).where(Change.type == "conflict")))

