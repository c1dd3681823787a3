"""Fact timelines computed set-based: the rows of the `fact_history` view (migration 0012) for a filtered set of
facts, without the view's per-timeline subqueries.

The view finds each run's end with one subquery per run start: every fact linked to the start's snapshot
(`first_snapshot_id = s.id`, all kinds and regions of the page, the whole length of the run), each tested for
being the same fact. For a province's 1,166 timelines of one kind that is ≈ 0.2 s on SQLite and 0.3 s on
PostgreSQL. Here the continuation rows are read once for the same filter as the starts (a run's rows share its
kind, region, plan year and page, so the filter that picks the starts picks their continuations too), through
the same indexes, and ROW_NUMBER picks each run's newest healthy snapshot; last_seen and is_current are the
view's own expressions, once per timeline. `tests/storage/test_timelines.py` checks the rows equal the view's.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone

from sqlalchemy import BigInteger, Connection, Integer, String, Text, bindparam, column, text
from sqlalchemy.sql.elements import TextClause

from storage.types import UTCDateTime

FOREVER = "'9999-12-31 23:59:59'"  # sorts after every stored time on SQLite and PostgreSQL (as in the view)
COLUMNS = (
    column("source_id", Integer), column("source", String), column("page_id", Integer), column("url", Text),
    column("kind", String), column("value", Text), column("plan_year", Integer), column("region", String),
    column("evidence", Text), column("snapshot_id", BigInteger), column("last_snapshot_id", BigInteger),
    column("first_seen", UTCDateTime), column("published_at", UTCDateTime), column("last_seen", UTCDateTime),
    column("is_current", Integer),
)
NAMES = tuple(c.name for c in COLUMNS)
# HistoryStore.facts_query's order: a page's two channels seen together, one order on every database.
ORDER = "r.region, r.kind, r.plan_year, src.name, r.first_seen, r.page_id, r.value, r.evidence"
AGG_ORDER = "t.region, t.kind, t.plan_year, t.source, t.first_seen, t.page_id, t.value, t.evidence"  # the same


def _newest_extraction(e: str) -> str:
    return f"NOT EXISTS (SELECT 1 FROM extractions {e}x WHERE {e}x.snapshot_id = {e}.snapshot_id AND {e}x.id > {e}.id)"


def _same(a: str, b: str, col: str) -> str:
    return f"({a}.{col} = {b}.{col} OR ({a}.{col} IS NULL AND {b}.{col} IS NULL))"


def _first_statement(f: str) -> str:
    """A fact stated twice in one extraction is one timeline: the row with the lowest id."""
    return (f"NOT EXISTS (SELECT 1 FROM facts {f}0 WHERE {f}0.extraction_id = {f}.extraction_id AND {f}0.id < {f}.id"
            f" AND {f}0.kind || '' = {f}.kind AND CAST({f}0.value AS TEXT) = CAST({f}.value AS TEXT)"
            f" AND {_same(f + '0', f, 'region')} AND {_same(f + '0', f, 'plan_year')})")


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
         ) AS last_snapshot_id
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
 WHERE r.first_snapshot_id IS NULL AND {_first_statement("r")}
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
    return text(sql + f" ORDER BY {ORDER}").bindparams(*binds).columns(*COLUMNS)


def read_timelines(conn: Connection, *, kinds: Sequence[str] | None = None, plan_year: int | None = None,
                   page_ids: Sequence[int] | None = None, region: str | None = None,
                   regions: Sequence[str] | None = None, region_prefix: str | None = None) -> list[dict]:
    """timelines_query's rows as dicts (is_current a bool), as HistoryStore.history gives them. On PostgreSQL the
    database aggregates them into one JSON text: pg8000 decoding 1,166 rows of 15 columns one by one, each
    timestamp in Python, cost more than the query."""
    sql, binds = _select(kinds, plan_year, page_ids, region, regions, region_prefix)
    if conn.dialect.name != "postgresql":
        query = text(sql + f" ORDER BY {ORDER}").bindparams(*binds).columns(*COLUMNS)
        return [dict(r._mapping, is_current=bool(r.is_current)) for r in conn.execute(query)]
    items = ", ".join(f"t.{c.name}" for c in COLUMNS)
    agg = text(f"SELECT CAST(json_agg(json_build_array({items}) ORDER BY {AGG_ORDER}) AS TEXT) FROM ({sql}) t")
    found = conn.execute(agg.bindparams(*binds)).scalar()
    out = []
    for row in json.loads(found) if found else ():
        d = dict(zip(NAMES, row))
        d["first_seen"], d["published_at"], d["last_seen"] = _utc(row[11]), _utc(row[12]), _utc(row[13])
        d["is_current"] = bool(row[14])
        out.append(d)
    return out


def _utc(stamp: str | None) -> datetime | None:
    """A timestamp as json_agg writes it (ISO 8601, naive UTC) → an aware UTC datetime, as UTCDateTime gives."""
    return datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc) if stamp else None
