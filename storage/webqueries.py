"""The reads of the web view (`policywatch serve`): recent runs, a filtered change feed, one source's checks,
versions and stored cut text, the current facts (the `latest_facts` view). Read-only: nothing here writes."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger, Integer, String, Text, and_, any_, bindparam, column, func, or_, select, table, text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from storage.db import Database
from storage.history import _prefix_range, index_costs
from storage.timelines import read_timelines
from storage.models import Change, Check, Extraction, FactRow, Page, Run, Snapshot, Source
from storage.changes import change_dict
from storage.currentfacts import region_versions, stored_rows, version as facts_version
from storage.types import UTCDateTime


@dataclass(frozen=True)
class ChangeFilter:
    """Which changes: severity, change type, fact kind, source name, detected on or after `since`, and region —
    one 6-digit code, or every code starting with `region_prefix` (a province's two digits)."""

    severity: str | None = None
    type: str | None = None
    kind: str | None = None
    source: str | None = None
    since: datetime | None = None
    region: str | None = None
    region_prefix: str | None = None


def change_feed(db: Database, f: ChangeFilter, *, limit: int | None = None, newest_first: bool = False,
                after: int | None = None, before: int | None = None) -> list[dict]:
    """Changes matching `f` (the dicts of ChangeStore.changes), oldest first or newest first, at most `limit`;
    only ids above `after` and below `before` when given."""
    q = select(Change, Source.name).join(Source, Change.source_id == Source.id)
    if after is not None:
        q = q.where(Change.id > after)
    if before is not None:
        q = q.where(Change.id < before)
    if f.severity is not None:
        q = q.where(Change.severity == f.severity)
    if f.type is not None:
        q = q.where(Change.type == f.type)
    if f.kind is not None:
        q = q.where(Change.kind == f.kind)
    if f.source is not None:
        # Through the page_id index (its pages, and any change without a page): a filter on the name made the
        # newest-first feed walk the whole changes table back to the source's first change.
        with db.session() as s:
            found = s.execute(select(Source.id).where(Source.name == f.source)).scalar()
            pages = list(s.scalars(select(Page.id).where(Page.source_id == found)))
        q = q.where(or_(Change.page_id.in_(pages or [-1]), and_(Change.page_id.is_(None),
                                                                 Change.source_id == (found or -1))))
    if f.since is not None:
        q = q.where(Change.detected_at >= f.since)
    if f.region is not None:
        q = q.where(Change.region == f.region)
    elif f.region_prefix:
        q = q.where(_prefix_range(Change.region, f.region_prefix))
    q = q.order_by(Change.id.desc() if newest_first else Change.id)
    if limit is not None:
        q = q.limit(limit)
    with db.session() as s:
        return [change_dict(c, name) for c, name in s.execute(q)]


def recent_runs(db: Database, limit: int = 10) -> list[dict]:
    """The newest runs, newest first: id, status, start and end, host, pid, counts."""
    with db.session() as s:
        return [dict(id=r.id, status=r.status, started_at=r.started_at, finished_at=r.finished_at, host=r.host,
                     pid=r.pid, counts=r.counts or {})
                for r in s.scalars(select(Run).order_by(Run.id.desc()).limit(limit))]


def source_row(db: Database, name: str) -> dict | None:
    """One source as stored (name, url, kind, region, profile, encoding, enabled), None when unknown."""
    with db.session() as s:
        src = s.scalars(select(Source).where(Source.name == name)).first()
        if src is None:
            return None
        return dict(id=src.id, name=src.name, url=src.url, kind=src.kind, region=src.region, profile=src.profile,
                    encoding=src.encoding, enabled=src.enabled)


def source_checks(db: Database, source_id: int, limit: int = 200) -> list[dict]:
    """The source's newest `limit` checks (every page), oldest first: time, page, outcome, HTTP status, error."""
    q = (select(Check.id, Check.checked_at, Check.outcome, Check.http_status, Check.error, Check.snapshot_id,
                Page.url)
         .join(Page, Check.page_id == Page.id).where(Page.source_id == source_id)
         .order_by(Check.checked_at.desc(), Check.id.desc()).limit(limit))
    with db.session() as s:
        rows = [dict(id=r.id, checked_at=r.checked_at, outcome=r.outcome, http_status=r.http_status, error=r.error,
                     snapshot_id=r.snapshot_id, url=r.url) for r in s.execute(q)]
    return rows[::-1]


def source_versions(db: Database, source_id: int, limit: int = 200) -> list[dict]:
    """The source's newest `limit` snapshots (versions), newest first, without their text: id, page, fetch and
    publish time, title, profile that cut it, health, text length."""
    q = (select(Snapshot.id, Snapshot.fetched_at, Snapshot.published_at, Snapshot.title, Snapshot.profile,
                Snapshot.health, func.length(Snapshot.main_text).label("chars"), Page.url)
         .join(Page, Snapshot.page_id == Page.id).where(Page.source_id == source_id)
         .order_by(Snapshot.fetched_at.desc(), Snapshot.id.desc()).limit(limit))
    with db.session() as s:
        return [dict(r._mapping) for r in s.execute(q)]


def snapshot_text(db: Database, source_id: int, snapshot_id: int) -> dict | None:
    """One snapshot of the source with its stored cut text (id, url, fetched_at, title, profile, health,
    main_text); None when it does not exist or belongs to another source."""
    q = (select(Snapshot.id, Snapshot.fetched_at, Snapshot.title, Snapshot.profile, Snapshot.health,
                Snapshot.main_text, Page.url)
         .join(Page, Snapshot.page_id == Page.id)
         .where(Page.source_id == source_id, Snapshot.id == snapshot_id))
    with db.session() as s:
        row = s.execute(q).first()
        return dict(row._mapping) if row else None


LATEST_FACTS = table(
    "latest_facts",
    column("source", String), column("url", Text), column("kind", String), column("value", Text),
    column("plan_year", Integer), column("region", String), column("evidence", Text),
    column("snapshot_id", BigInteger), column("first_seen", UTCDateTime), column("last_seen", UTCDateTime),
)


def latest_facts(db: Database, plan_year: int | None = None) -> list[dict]:
    """Rows of the `latest_facts` view (the current value per source, region, kind and plan year; value as JSON
    text), of one plan year or all, by region, kind and source."""
    v = LATEST_FACTS.c
    q = select(LATEST_FACTS).order_by(v.region, v.kind, v.plan_year, v.source, v.value)
    if plan_year is not None:
        q = q.where(v.plan_year == plan_year)
    with db.session() as s:
        return [dict(r._mapping) for r in s.execute(q)]


def fact_plan_years(db: Database) -> list[int]:
    """The plan years the current facts are about, newest first."""
    v = LATEST_FACTS.c
    with db.session() as s:
        return list(s.scalars(select(v.plan_year).where(v.plan_year.is_not(None)).distinct()
                              .order_by(v.plan_year.desc())))


def _current_extractions(s) -> dict[int, tuple[str, object]]:  # s: a Core connection
    """extraction id → (source name, snapshot time) of each enabled page's newest healthy snapshot's current
    (newest) extraction: the rows latest_facts starts from, found in three index-driven steps."""
    sh = aliased(Snapshot)
    newest = (select(sh.id).where(sh.page_id == Page.id, sh.health == "ok")
              .order_by(sh.fetched_at.desc(), sh.id.desc()).limit(1).correlate(Page).scalar_subquery())
    pages = s.execute(select(Source.name, newest.label("snapshot_id")).select_from(Page)
                      .join(Source, Page.source_id == Source.id)
                      .where(Source.enabled.is_(True))).all()
    by_snapshot = {sid: name for name, sid in pages if sid is not None}
    if not by_snapshot:
        return {}
    out = {}
    for cond in _among(s, Extraction.snapshot_id, list(by_snapshot)):
        q = (select(Extraction.snapshot_id, func.max(Extraction.id), func.max(Snapshot.fetched_at))
             .join(Snapshot, Snapshot.id == Extraction.snapshot_id).where(cond).group_by(Extraction.snapshot_id))
        out.update({ext: (by_snapshot[sid], at) for sid, ext, at in s.execute(q)})
    return out


def _among(s, col, ids: list[int]) -> list:
    """Conditions `col` is one of `ids`: on PostgreSQL one `= ANY(array)` (one parameter: 2,000 bound parameters
    cost pg8000 and SQLAlchemy ≈ 0.3 s per 22 k-row query), elsewhere IN lists of at most 5,000 (SQLite's
    bound-parameter limit)."""
    if s.dialect.name == "postgresql":
        return [col == any_(bindparam("ids", ids, type_=ARRAY(BigInteger)))]
    return [col.in_(ids[i:i + 5000]) for i in range(0, len(ids), 5000)]


def current_facts(db: Database, plan_year: int | None = None, *, region_prefix: str | None = None,
                  regions: Sequence[str | None] | None = None, evidence: bool = True) -> list[dict]:
    """What the `latest_facts` view holds (each enabled source's newest healthy statement per region, kind and
    plan year), of one plan year or all, of the regions starting with `region_prefix`, in `regions` or all,
    without its first_seen / last_seen (a check-table walk per page): {"source", "kind", "value" (JSON text),
    "plan_year", "region", "evidence" (None unless `evidence`)} in the order the facts were stored. Read from the
    current_facts table (storage.currentfacts: one query); walk_current_facts computes the same."""
    with db.engine.connect() as conn:
        rows = stored_rows(conn, plan_year=plan_year, evidence=evidence, regions=regions,
                           region_range=_prefix_bounds(region_prefix) if region_prefix else None)
    return [dict(source=r[0], kind=r[1], value=r[2], plan_year=r[3], region=r[4], evidence=r[5]) for r in rows]


def current_facts_version(db: Database) -> tuple[int, int]:
    """A token equal only while the current_facts table holds the same rows (storage.currentfacts.version)."""
    with db.engine.connect() as conn:
        return facts_version(conn)


def current_facts_regions(db: Database) -> dict[str | None, tuple[int, int]]:
    """Region → a token equal only while its current facts are the same (storage.currentfacts.region_versions)."""
    with db.engine.connect() as conn:
        return region_versions(conn)


def _prefix_bounds(prefix: str) -> tuple[str, str]:
    """[low, high) of the codes starting with `prefix`."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def walk_current_facts(db: Database, plan_year: int | None = None, *, region_prefix: str | None = None,
                       evidence: bool = True) -> list[dict]:
    """current_facts computed from snapshots, extractions and facts, without the current_facts table (each
    enabled page's newest healthy snapshot found by index; ≈ 0.15–0.4 s at 2,000 sources): the reference the
    tests compare the table with."""
    cols = [FactRow.id, FactRow.extraction_id, FactRow.kind, FactRow.value.cast(Text), FactRow.plan_year,
            FactRow.region] + ([FactRow.evidence] if evidence else [])
    # A Core connection, not a Session: the ORM's row loading cost ≈ 0.15 s of the 事实 page's 22 k rows.
    with db.engine.connect() as s:
        current = _current_extractions(s)
        rows = []
        for cond in _among(s, FactRow.extraction_id, list(current)):
            q = select(*cols).where(cond).order_by(FactRow.id)
            if plan_year is not None:
                q = q.where(FactRow.plan_year == plan_year)
            if region_prefix:
                q = q.where(_prefix_range(FactRow.region, region_prefix))
            rows += s.execute(q).all()
    # Per (source, region, kind, plan year) only the newest snapshot's facts; a fact stated twice is one row.
    # (Indexed, not unpacked with *: 22 k rows on the 事实 page.)
    newest: dict[tuple, object] = {}
    for r in rows:
        source, at = current[r[1]]
        key = (source, r[5], r[2], r[4])
        known = newest.get(key)
        if known is None or at > known:
            newest[key] = at
    out, seen = [], set()
    for r in rows:
        ext, kind, value, year, region = r[1], r[2], r[3], r[4], r[5]
        source, at = current[ext]
        same = (ext, kind, value, region, year)
        if at != newest[(source, region, kind, year)] or same in seen:
            continue
        seen.add(same)
        out.append(dict(source=source, kind=kind, value=value, plan_year=year, region=region,
                        evidence=r[6] if evidence else None))
    return out


def region_history(db: Database, kinds: Sequence[str], *, region: str | None = None,
                   region_prefix: str | None = None, regions: Sequence[str] | None = None) -> list[dict]:
    """The fact_history timelines of `kinds` in one region code, in the codes `regions`, or in every code
    starting with `region_prefix`, as HistoryStore.history orders them (storage.timelines: set-based, through the
    (kind, region, plan_year) index)."""
    with db.engine.connect() as conn:
        index_costs(conn)
        return read_timelines(conn, kinds=list(kinds), region=region, regions=regions, region_prefix=region_prefix)


def region_codes(db: Database, kinds: Sequence[str], region_prefix: str) -> list[str]:
    """The region codes starting with `region_prefix` that a fact of `kinds` is about: per kind a walk from one
    region to the next through the (kind, region, plan_year) index (a few hundred seeks; DISTINCT over the
    range read every fact of the province: 60 k index entries, 0.25 s with a cold cache on SQLite)."""
    if not kinds:
        return []
    upper = region_prefix[:-1] + chr(ord(region_prefix[-1]) + 1)
    params: dict = {"lo": region_prefix, "hi": upper}
    starts = []
    for i, kind in enumerate(kinds):
        params[f"k{i}"] = kind
        starts.append(f"SELECT CAST(:k{i} AS VARCHAR(40)) AS kind, (SELECT MIN(f.region) FROM facts f"
                      f" WHERE f.kind = :k{i} AND f.region >= :lo AND f.region < :hi) AS region")
    walk = text("WITH RECURSIVE walk(kind, region) AS (" + " UNION ALL ".join(starts) +
                " UNION ALL SELECT w.kind, (SELECT MIN(f.region) FROM facts f WHERE f.kind = w.kind"
                " AND f.region > w.region AND f.region < :hi) FROM walk w WHERE w.region IS NOT NULL)"
                " SELECT DISTINCT region FROM walk WHERE region IS NOT NULL")
    with db.engine.connect() as conn:
        return sorted(conn.execute(walk, params).scalars())


def source_failing(db: Database, source_id: int) -> dict | None:
    """ChangeStore.failing_sources()'s entry for one source (since, url, reason, error of its earliest page whose
    latest health change is `source_failing`), or None: through the page_id index, not a scan of every change."""
    types = ("source_failing", "source_recovered")
    q = (select(Change.page_id, Change.type, Change.detected_at, Change.url, Change.detail, Change.id)
         .join(Page, Change.page_id == Page.id)
         .where(Page.source_id == source_id, Change.type.in_(types)).order_by(Change.id.desc()))
    latest: dict[int, tuple] = {}
    with db.session() as s:
        for row in s.execute(q):
            latest.setdefault(row.page_id, row)
    failing = sorted((r for r in latest.values() if r.type == "source_failing"), key=lambda r: r.id)
    if not failing:
        return None
    first = failing[0]
    return dict(since=first.detected_at, url=first.url, reason=(first.detail or {}).get("reason"),
                error=(first.detail or {}).get("error"))
