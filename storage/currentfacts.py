"""The current facts as a table (`current_facts`, migration 0015): per page of an enabled source, the facts of its
newest healthy snapshot's current (newest) extraction, a fact stated twice in it once, and per source, region, kind
and plan year only those of its pages' newest snapshot — the rows of the `latest_facts` view (without its first /
last seen) that the web view's 事实 pages read, kept so that reading them is one indexed query instead of a walk
over every page's snapshots and extractions.

Every write that can change them refreshes the sources of the pages it touched, in its own transaction: snapshots judged
(ChangeStore.record_changes), extractions stored or replaced (the extract stage, `reextract`, a recut), a
recomputation's health and runs (BackfillStore.apply_recompute: `reextract`, `import`), a source enabled or
disabled in the sources file (SnapshotStore.sync_sources). A page removed takes its rows with it (ON DELETE
CASCADE; nothing removes pages today: refresh_source_pages its source then). A page whose rows would be the same
facts is not written.

`version(conn)` is a token of the table's content: (row count, largest row id). Row ids are never reused
(AUTOINCREMENT on SQLite, a sequence on PostgreSQL) and a row is never updated, so equal tokens mean the same rows.

Only table and column names that exist since migration 0015 are used here: the migration runs this code.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import (
    BigInteger, Boolean, Integer, String, Text, any_, bindparam, cast, column, delete, func, insert, or_, select,
    table, text,
)

from storage.types import UTCDateTime

_sources = table("sources", column("id", Integer), column("name", String), column("enabled", Boolean))
_pages = table("pages", column("id", Integer), column("source_id", Integer))
_snapshots = table("snapshots", column("id", BigInteger), column("page_id", Integer),
                   column("fetched_at", UTCDateTime), column("health", String))
_extractions = table("extractions", column("id", BigInteger), column("snapshot_id", BigInteger))
_facts = table("facts", column("id", BigInteger), column("extraction_id", BigInteger), column("kind", String),
               column("value", Text), column("plan_year", Integer), column("region", String),
               column("evidence", Text))
CURRENT = table("current_facts", column("id", BigInteger), column("page_id", Integer),
                column("source_id", Integer), column("source", String), column("snapshot_id", BigInteger),
                column("snapshot_at", UTCDateTime), column("fact_id", BigInteger), column("kind", String),
                column("value", Text), column("plan_year", Integer), column("region", String),
                column("evidence", Text))

# First half of the advisory lock keys (two int4) of a source's refresh on PostgreSQL ("pwcf"); the second: its id.
REFRESH_LOCK = 0x70776366
PAGE_CHUNK = 500  # pages per round of statements (IN lists well under SQLite's bound-variable limit)
ROW_FIELDS = ("page_id", "source_id", "source", "snapshot_id", "snapshot_at", "fact_id", "kind", "value",
              "plan_year", "region", "evidence")


def _dialect(conn):
    """The dialect of a Session or Connection."""
    return conn.get_bind().dialect if hasattr(conn, "get_bind") else conn.dialect


def _among(conn, col, ids: list[int]):
    """`col` is one of `ids`: one array parameter on PostgreSQL (`conn`: a Session or Connection), an IN list
    elsewhere."""
    if _dialect(conn).name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY  # only on PostgreSQL: read-only commands stay light
        return col == any_(bindparam("ids", ids, type_=ARRAY(BigInteger), unique=True))
    return col.in_(ids)


def computed_rows(conn, page_ids: Sequence[int]) -> dict[int, list[dict]]:
    """Page id → its current facts as rows (fact id order; [] for a page of a disabled source, one without a
    healthy snapshot or without facts), computed from snapshots, extractions and facts, before newest_only."""
    out: dict[int, list[dict]] = {p: [] for p in page_ids}
    ids = list(page_ids)
    for i in range(0, len(ids), PAGE_CHUNK):
        chunk = ids[i:i + PAGE_CHUNK]
        sh = _snapshots.alias("sh")
        newest = (select(sh.c.id).where(sh.c.page_id == _pages.c.id, sh.c.health == "ok")
                  .order_by(sh.c.fetched_at.desc(), sh.c.id.desc()).limit(1).correlate(_pages).scalar_subquery())
        pages = conn.execute(select(_pages.c.id, _pages.c.source_id, _sources.c.name, newest.label("snapshot_id"))
                             .select_from(_pages.join(_sources, _sources.c.id == _pages.c.source_id))
                             .where(_among(conn, _pages.c.id, chunk), _sources.c.enabled.is_(True))).all()
        by_snapshot = {sid: (page_id, source_id, name) for page_id, source_id, name, sid in pages if sid is not None}
        if not by_snapshot:
            continue
        current = conn.execute(
            select(_extractions.c.snapshot_id, func.max(_extractions.c.id), func.max(_snapshots.c.fetched_at))
            .join(_snapshots, _snapshots.c.id == _extractions.c.snapshot_id)
            .where(_among(conn, _extractions.c.snapshot_id, list(by_snapshot)))
            .group_by(_extractions.c.snapshot_id)).all()
        by_extraction = {ext: (sid, at) for sid, ext, at in current}
        if not by_extraction:
            continue
        q = (select(_facts.c.id, _facts.c.extraction_id, _facts.c.kind, cast(_facts.c.value, Text),
                    _facts.c.plan_year, _facts.c.region, _facts.c.evidence)
             .where(_among(conn, _facts.c.extraction_id, list(by_extraction))).order_by(_facts.c.id))
        seen = set()
        for fact_id, ext, kind, value, year, region, evidence in conn.execute(q):
            if (ext, kind, value, region, year) in seen:  # a fact stated twice in one extraction is one row
                continue
            seen.add((ext, kind, value, region, year))
            sid, at = by_extraction[ext]
            page_id, source_id, name = by_snapshot[sid]
            out[page_id].append(dict(page_id=page_id, source_id=source_id, source=name, snapshot_id=sid,
                                     snapshot_at=at, fact_id=fact_id, kind=kind, value=value, plan_year=year,
                                     region=region, evidence=evidence))
    return out


def newest_only(rows: dict[int, list[dict]]) -> dict[int, list[dict]]:
    """computed_rows of every page of some sources, keeping per (source, region, kind, plan year) only the rows
    of the newest snapshot (a source's pages may state different values: the newest one holds)."""
    newest: dict[tuple, object] = {}
    for page_rows in rows.values():
        for r in page_rows:
            key = (r["source_id"], r["region"], r["kind"], r["plan_year"])
            if key not in newest or r["snapshot_at"] > newest[key]:
                newest[key] = r["snapshot_at"]
    return {page: [r for r in page_rows if newest[(r["source_id"], r["region"], r["kind"], r["plan_year"])]
                   == r["snapshot_at"]] for page, page_rows in rows.items()}


def refresh_pages(conn, page_ids: Iterable[int]) -> int:
    """Make the current_facts rows of every page of these pages' sources what computed_rows and newest_only say,
    within the caller's transaction (`conn`: a Session or Connection); pages whose rows are the same are left
    alone. Returns the pages written."""
    ids = sorted(set(page_ids))
    sources: set[int] = set()
    for i in range(0, len(ids), PAGE_CHUNK):
        sources.update(conn.execute(select(_pages.c.source_id).where(_among(conn, _pages.c.id, ids[i:i + PAGE_CHUNK]))
                                    .distinct()).scalars())
    by_source: dict[int, list[int]] = {}
    ordered = sorted(sources)
    if ordered and _dialect(conn).name == "postgresql":
        # Two transactions refreshing one source (an extractor upgrade's extract beside a check's diff stage)
        # would both insert its rows: the second waits here until the first commits, then reads what it wrote.
        # In id order, so two of them never wait on each other. (SQLite has one writer at a time.)
        conn.execute(text("SELECT pg_advisory_xact_lock(:k, s) FROM unnest(CAST(:ids AS integer[])) AS u(s)"
                          " ORDER BY s"), {"k": REFRESH_LOCK, "ids": ordered})
    for i in range(0, len(ordered), PAGE_CHUNK):
        for page_id, source_id in conn.execute(select(_pages.c.id, _pages.c.source_id)
                                               .where(_among(conn, _pages.c.source_id, ordered[i:i + PAGE_CHUNK]))):
            by_source.setdefault(source_id, []).append(page_id)
    written, batch = 0, []
    for n, source_id in enumerate(ordered):  # whole sources per batch: newest_only compares a source's pages
        batch += by_source.get(source_id, [])
        if len(batch) >= PAGE_CHUNK or n == len(ordered) - 1:
            written += _rewrite(conn, batch)
            batch = []
    return written


_COMPARED = ("fact_id", "snapshot_id", "source_id", "source", "kind", "value", "plan_year", "region", "evidence")


def _rewrite(conn, pages: list[int]) -> int:
    """Rewrite the rows of those of `pages` (whole sources) whose rows differ from what they should be."""
    if not pages:
        return 0
    wanted = newest_only(computed_rows(conn, pages))
    # Rows are compared by what they say, not by fact id alone: a replaced extraction's facts may take the ids the
    # deleted ones had (SQLite gives a new row the table's highest id + 1, and a recut deletes the highest).
    stored: dict[int, list[tuple]] = {}
    compared = [CURRENT.c[name] for name in _COMPARED]
    for i in range(0, len(pages), PAGE_CHUNK):
        for row in conn.execute(select(CURRENT.c.page_id, *compared)
                                .where(_among(conn, CURRENT.c.page_id, pages[i:i + PAGE_CHUNK]))
                                .order_by(CURRENT.c.fact_id)):
            stored.setdefault(row[0], []).append(tuple(row[1:]))
    stale = [p for p in pages if stored.get(p, []) != [tuple(r[name] for name in _COMPARED) for r in wanted[p]]]
    for i in range(0, len(stale), PAGE_CHUNK):
        conn.execute(delete(CURRENT).where(_among(conn, CURRENT.c.page_id, stale[i:i + PAGE_CHUNK])))
    rows = [r for p in stale for r in wanted[p]]
    if rows:
        conn.execute(insert(CURRENT), rows)
    return len(stale)


def refresh_snapshot_pages(conn, snapshot_ids: Iterable[int], *, healthy_only: bool = False) -> int:
    """refresh_pages for the pages of these snapshots (`healthy_only`: of those judged healthy; the facts of
    another snapshot are nobody's current facts)."""
    ids = list(set(snapshot_ids))
    pages: set[int] = set()
    for i in range(0, len(ids), PAGE_CHUNK):
        q = select(_snapshots.c.page_id).where(_among(conn, _snapshots.c.id, ids[i:i + PAGE_CHUNK])).distinct()
        if healthy_only:
            q = q.where(_snapshots.c.health == "ok")
        pages.update(conn.execute(q).scalars())
    return refresh_pages(conn, pages) if pages else 0


def refresh_source_pages(conn, source_ids: Iterable[int]) -> int:
    """refresh_pages for every page of these sources (one was enabled or disabled)."""
    ids = list(set(source_ids))
    if not ids:
        return 0
    pages = conn.execute(select(_pages.c.id).where(_among(conn, _pages.c.source_id, ids))).scalars().all()
    return refresh_pages(conn, pages) if pages else 0


def refresh_all(conn) -> int:
    """refresh_pages for every page (the migration's fill; a repair)."""
    return refresh_pages(conn, conn.execute(select(_pages.c.id)).scalars().all())


def stored_rows(conn, *, plan_year: int | None = None, region_range: tuple[str, str] | None = None,
                regions: Sequence[str | None] | None = None, evidence: bool = True) -> list[list]:
    """[source, kind, value, plan_year, region, evidence or None] of the stored rows in fact id order, of one plan
    year or all, of the region codes in [low, high), in `regions` (None: the facts without a region) or all:
    one query over the table's indexes, its rows
    aggregated into one JSON text by the database (22 k rows decoded one by one cost pg8000 0.4 s; json.loads
    of one text takes a tenth of that)."""
    c = CURRENT.c
    q = select(c.fact_id, c.source, c.kind, c.value, c.plan_year, c.region,
               c.evidence if evidence else cast(None, Text).label("evidence"))
    if plan_year is not None:
        q = q.where(c.plan_year == plan_year)
    if region_range is not None:
        q = q.where(c.region >= region_range[0], c.region < region_range[1])
    if regions is not None:
        codes = [r for r in regions if r is not None]
        q = q.where(or_(c.region.in_(codes), c.region.is_(None)) if None in regions else c.region.in_(codes))
    if _dialect(conn).name == "postgresql":
        from sqlalchemy.dialects.postgresql import aggregate_order_by
        t = q.subquery()
        items = func.json_build_array(t.c.source, t.c.kind, t.c.value, t.c.plan_year, t.c.region, t.c.evidence)
        agg = select(cast(func.json_agg(aggregate_order_by(items, t.c.fact_id)), Text))
    else:  # SQLite 3.40 has no ORDER BY in aggregates: the ordered subquery's rows are aggregated in its order
        t = q.order_by(c.fact_id).subquery()
        agg = select(func.json_group_array(func.json_array(t.c.fact_id, t.c.source, t.c.kind, t.c.value,
                                                           t.c.plan_year, t.c.region, t.c.evidence)))
    found = conn.execute(agg).scalar()
    rows = json.loads(found) if found else []
    if rows and len(rows[0]) == 7:  # SQLite's carry the fact id, to be sure of the order
        if any(rows[i][0] > rows[i + 1][0] for i in range(len(rows) - 1)):
            rows.sort(key=lambda r: r[0])
        rows = [r[1:] for r in rows]
    return rows


def version(conn) -> tuple[int, int]:
    """(rows, largest row id) of current_facts: equal only when its rows are the same."""
    count, top = conn.execute(select(func.count(), func.max(CURRENT.c.id)).select_from(CURRENT)).one()
    return int(count or 0), int(top or 0)


def region_versions(conn) -> dict[str | None, tuple[int, int]]:
    """Region code (None: facts without one) → (rows, largest row id) of its current_facts rows: equal only
    while the region's rows are the same (as version); one pass over the (region, id) index."""
    c = CURRENT.c
    return {region: (int(n), int(top)) for region, n, top in
            conn.execute(select(c.region, func.count(), func.max(c.id)).group_by(c.region))}


def renew_pages(conn, page_ids: Sequence[int]) -> None:
    """Store the current_facts rows of these pages again under new row ids, as the diff stage does when a new
    snapshot states the same facts (bench/web_profile.py --facts-changed: the first request after that)."""
    c = CURRENT.c
    rows = [dict(r._mapping) for r in conn.execute(select(*[c[f] for f in ROW_FIELDS])
                                                   .where(_among(conn, c.page_id, list(page_ids))))]
    conn.execute(delete(CURRENT).where(_among(conn, c.page_id, list(page_ids))))
    if rows:
        conn.execute(insert(CURRENT), rows)


def pages_with_facts(conn) -> list[int]:
    """The pages that have current facts, by id."""
    return list(conn.execute(select(CURRENT.c.page_id).distinct().order_by(CURRENT.c.page_id)).scalars())
