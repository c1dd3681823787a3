"""Fact timelines of a filtered set of facts: the rows of the `fact_history` view (migration 0012), computed
set-based on PostgreSQL, without the view's per-timeline subqueries.

The view finds each run's end with one subquery per run start: every fact linked to the start's snapshot
(`first_snapshot_id = s.id`, all kinds and regions of the page, the whole length of the run), each tested for
being the same fact. For a province's 1,166 timelines of one kind that is ≈ 0.2 s on SQLite and 0.3 s on
PostgreSQL. Here all the rows of the runs are read once, for the same filter as their starts (a run's rows share
its kind, region, plan year and page, so the filter that picks the starts picks their continuations too),
through the same indexes, and one window over each run (its start's snapshot and its fact) picks its newest
healthy snapshot; last_seen and is_current are the view's own expressions, once per timeline. SQLite answers the view as fast for a province and twice as fast
for a city (its nested loops are cheap; the window's sort is not), so there the view is read.
`tests/storage/test_timelines.py` checks the rows equal the view's on both databases.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone

from sqlalchemy import BigInteger, Connection, Integer, String, Text, bindparam, column, select, table, text
from sqlalchemy.sql.elements import TextClause

from storage.types import UTCDateTime

FOREVER = "'9999-12-31 23:59:59'"  # sorts after every stored time on SQLite and PostgreSQL (as in the view)
TYPES = (("source_id", Integer), ("source", String), ("page_id", Integer), ("url", Text), ("kind", String),
         ("value", Text), ("plan_year", Integer), ("region", String), ("evidence", Text), ("snapshot_id", BigInteger),
         ("last_snapshot_id", BigInteger), ("first_seen", UTCDateTime), ("published_at", UTCDateTime),
         ("last_seen", UTCDateTime), ("is_current", Integer))
NAMES = tuple(name for name, _ in TYPES)
# The view (migration 0012), typed for HistoryStore's reads and untyped for read_timelines on SQLite.
FACT_HISTORY = table("fact_history", *(column(name, type_) for name, type_ in TYPES))
RAW_VIEW = table("fact_history", *(column(name) for name in NAMES))
# HistoryStore.facts_query's order: a page's two channels seen together, one order on every database.
ORDER = "r.region, r.kind, r.plan_year, src.name, r.first_seen, r.page_id, r.value, r.evidence"
AGG_ORDER = "t.region, t.kind, t.plan_year, t.source, t.first_seen, t.page_id, t.value, t.evidence"  # the same


def _newest_extraction(e: str) -> str:
    return f"NOT EXISTS (SELECT 1 FROM extractions {e}x WHERE {e}x.snapshot_id = {e}.snapshot_id AND {e}x.id > {e}.id)"


def _conditions(f: str, s: str, kinds, plan_year, page_ids, region, regions, region_prefix) -> list[str]:
    conds = []
    if kinds is not None:
        conds.append(f"{f}.kind IN :kinds")
    if plan_year is not None:
        conds.append(f"{f}.plan_year = :plan_year")
    if region is not None:
        conds.append(f"{f}.region = :region")
    elif regions is not None:
        conds.append(f"{f}.region IN :regions")
    elif region_prefix:
        conds.append(f"{f}.region >= :region_lo AND {f}.region < :region_hi")  # a range: indexed on PostgreSQL too
    if page_ids is not None:
        conds.append(f"{s}.page_id IN :page_ids")
    return conds


def _select(kinds, plan_year, page_ids, region, regions, region_prefix) -> tuple[str, list]:
    """The SELECT of the timelines (no ORDER BY) and its bound parameters."""
    where = " AND ".join(_conditions("f", "s", kinds, plan_year, page_ids, region, regions, region_prefix)
                         + ["s.health = 'ok'", _newest_extraction("e")])
    sql = f"""
WITH facts_of AS (
  SELECT f.id, f.extraction_id, f.first_snapshot_id, f.kind, CAST(f.value AS TEXT) AS value, f.plan_year, f.region,
         f.evidence, s.id AS snapshot_id, s.page_id, s.fetched_at AS first_seen, s.published_at,
         FIRST_VALUE(s.id) OVER (
           PARTITION BY COALESCE(f.first_snapshot_id, s.id), f.kind, CAST(f.value AS TEXT), f.region, f.plan_year
           ORDER BY CASE WHEN f.first_snapshot_id IS NULL THEN 1 ELSE 0 END, s.fetched_at DESC, s.id DESC
         ) AS last_snapshot_id,
         -- a fact stated twice in one extraction is one timeline: its first row (the view's NOT EXISTS)
         ROW_NUMBER() OVER (PARTITION BY f.extraction_id, f.kind, CAST(f.value AS TEXT), f.region, f.plan_year
                            ORDER BY f.id) AS statement
    FROM facts f
    JOIN extractions e ON e.id = f.extraction_id
    JOIN snapshots s ON s.id = e.snapshot_id
   WHERE {where})
SELECT p.source_id, src.name AS source, r.page_id, p.url, r.kind, r.value, r.plan_year, r.region, r.evidence,
       r.snapshot_id, ls.id AS last_snapshot_id, r.first_seen, r.published_at,
       (SELECT c.checked_at FROM checks c
         WHERE c.page_id = r.page_id AND c.outcome <> 'error' AND c.checked_at >= ls.fetched_at
           AND c.checked_at < COALESCE((SELECT MIN(sn.fetched_at) FROM snapshots sn
                                         WHERE sn.page_id = r.page_id AND sn.fetched_at > ls.fetched_at),
                                       {FOREVER})
         ORDER BY c.checked_at DESC LIMIT 1) AS last_seen,
       CASE WHEN ls.id = (SELECT sh.id FROM snapshots sh WHERE sh.page_id = r.page_id AND sh.health = 'ok'
                           ORDER BY sh.fetched_at DESC, sh.id DESC LIMIT 1) THEN 1 ELSE 0 END AS is_current
  FROM facts_of r
  JOIN snapshots ls ON ls.id = r.last_snapshot_id
  JOIN pages p ON p.id = r.page_id
  JOIN sources src ON src.id = p.source_id
 WHERE r.first_snapshot_id IS NULL AND r.statement = 1
"""
    params: dict = {}
    lists = {}
    if kinds is not None:
        lists["kinds"] = list(kinds) or [""]
    if plan_year is not None:
        params["plan_year"] = plan_year
    if region is not None:
        params["region"] = region
    elif regions is not None:
        lists["regions"] = list(regions) or [""]
    elif region_prefix:
        params["region_lo"] = region_prefix
        params["region_hi"] = region_prefix[:-1] + chr(ord(region_prefix[-1]) + 1)
    if page_ids is not None:
        lists["page_ids"] = list(page_ids) or [-1]
    binds = [bindparam(name, value=value, expanding=True) for name, value in lists.items()]
    binds += [bindparam(name, value=value) for name, value in params.items()]
    return sql, binds


def timelines_query(*, kinds: Sequence[str] | None = None, plan_year: int | None = None,
                    page_ids: Sequence[int] | None = None, region: str | None = None,
                    regions: Sequence[str] | None = None, region_prefix: str | None = None) -> TextClause:
    """The fact_history rows (its columns, is_current 0/1) of the facts of `kinds`, `plan_year`, the pages
    `page_ids` and one region code, the codes `regions` or the codes starting with `region_prefix` (each None:
    any), in HistoryStore.facts_query's order."""
    sql, binds = _select(kinds, plan_year, page_ids, region, regions, region_prefix)
    return text(sql + f" ORDER BY {ORDER}").bindparams(*binds).columns(*(column(n, t) for n, t in TYPES))


def _view_query(kinds, plan_year, page_ids, region, regions, region_prefix):
    """The same rows read from the fact_history view itself, its columns untyped (raw driver values)."""
    v = RAW_VIEW.c
    q = select(RAW_VIEW)
    if kinds is not None:
        q = q.where(v.kind.in_(list(kinds) or [""]))
    if plan_year is not None:
        q = q.where(v.plan_year == plan_year)
    if region is not None:
        q = q.where(v.region == region)
    elif regions is not None:
        q = q.where(v.region.in_(list(regions) or [""]))
    elif region_prefix:
        q = q.where(v.region >= region_prefix, v.region < region_prefix[:-1] + chr(ord(region_prefix[-1]) + 1))
    if page_ids is not None:
        q = q.where(v.page_id.in_(list(page_ids) or [-1]))
    return q.order_by(v.region, v.kind, v.plan_year, v.source, v.first_seen, v.page_id, v.value, v.evidence)


def read_timelines(conn: Connection, *, kinds: Sequence[str] | None = None, plan_year: int | None = None,
                   page_ids: Sequence[int] | None = None, region: str | None = None,
                   regions: Sequence[str] | None = None, region_prefix: str | None = None) -> list[dict]:
    """The fact_history rows of timelines_query's filters as dicts (is_current a bool, times aware UTC), in its
    order, as HistoryStore.history gives them. PostgreSQL: timelines_query, its rows aggregated by the database
    into one JSON text (pg8000 decoding 1,166 rows of 15 columns one by one cost more than the query). SQLite:
    the view, which SQLite answers as fast as the set-based query for a province (≈ 0.1 s of CPU for 1,152
    timelines) and twice as fast for a city, read without SQLAlchemy's per-value result processing."""
    args = (kinds, plan_year, page_ids, region, regions, region_prefix)
    if conn.dialect.name == "postgresql":
        sql, binds = _select(*args)
        items = ", ".join(f"t.{name}" for name in NAMES)
        agg = text(f"SELECT CAST(json_agg(json_build_array({items}) ORDER BY {AGG_ORDER}) AS TEXT) FROM ({sql}) t")
        found = conn.execute(agg.bindparams(*binds)).scalar()
        rows = json.loads(found) if found else ()
    else:
        rows = conn.execute(_view_query(*args)).all()
    out = []
    for row in rows:
        d = dict(zip(NAMES, row))
        d["first_seen"], d["published_at"], d["last_seen"] = _utc(row[11]), _utc(row[12]), _utc(row[13])
        d["is_current"] = bool(row[14])
        out.append(d)
    return out


def _utc(stamp: str | None) -> datetime | None:
    """A timestamp as json_agg or SQLite gives it (ISO 8601 text, naive UTC) → an aware UTC datetime, as
    UTCDateTime gives it."""
    return datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc) if stamp else None
