"""Runs of a fact value on a page, stored as links: facts.first_snapshot_id.

A run is a stretch of consecutive healthy snapshots of a page (in fetch-time order; unhealthy ones are
skipped) whose current extraction (the newest extractions row of the snapshot) states the same fact: same
kind, region, plan year and value. Every fact of a healthy snapshot's current extraction that continues a
run begun in an earlier snapshot points at that run's first snapshot; a fact whose run starts in its own
snapshot keeps NULL (so does every fact not judged yet). The history views thus read a value's first_seen
without walking back through the page's history, and find the run starts as `first_snapshot_id IS NULL`,
which the planners estimate well from the column's statistics. The links are set when snapshots are judged (the diff stage), when facts are stored
for judged snapshots (an extractor upgrade), and by reextract / import, which replay whole timelines.

Only table and column names that exist since migration 0006 are used here: the migration runs this code.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Mapping, Sequence

from sqlalchemy import BigInteger, Integer, String, Text, bindparam, cast, column, func, select, table, text, update

from storage.types import UTCDateTime

_snapshots = table("snapshots", column("id", BigInteger), column("page_id", Integer),
                   column("fetched_at", UTCDateTime), column("health", String))
_extractions = table("extractions", column("id", BigInteger), column("snapshot_id", BigInteger))
_facts = table("facts", column("id", BigInteger), column("extraction_id", BigInteger), column("kind", String),
               column("region", String), column("plan_year", Integer), column("value", Text),
               column("first_snapshot_id", BigInteger))

PAGE_CHUNK = 200
ID_CHUNK = 500
UPDATE_CHUNK = 5000

FactKey = tuple  # (kind, region, plan_year, value as stored JSON text)


def run_starts(snapshots: Sequence[tuple[int, Sequence[tuple[int, FactKey]]]],
               seed: Mapping[FactKey, int] | None = None) -> dict[int, int]:
    """Fact id → first snapshot of its run, for `snapshots` [(snapshot id, [(fact id, key)])] of one page in
    time order; `seed` maps the facts of the healthy snapshot just before them to their run starts."""
    out: dict[int, int] = {}
    previous = dict(seed or {})
    for snapshot_id, facts in snapshots:
        current: dict[FactKey, int] = {}
        for fact_id, key in facts:
            start = current.setdefault(key, previous.get(key, snapshot_id))
            out[fact_id] = start
        previous = current
    return out


def link_runs(s, starts: Mapping[int, datetime | None]) -> int:
    """Recompute facts.first_snapshot_id (see the module's docstring) for page id → from when (None: the whole history), within the caller's
    transaction: the healthy snapshots fetched at or after that time, continuing the runs of the page's last
    healthy snapshot before it. Rows already right are not written; returns how many were."""
    written = 0
    pages = sorted(starts)
    for i in range(0, len(pages), PAGE_CHUNK):
        written += _link_chunk(s, {p: starts[p] for p in pages[i:i + PAGE_CHUNK]})
    return written


def link_snapshots(s, snapshot_ids: Iterable[int]) -> int:
    """link_runs for the pages of these snapshots, from the earliest healthy one of them on each page (a
    snapshot not judged yet, or unhealthy, is in no run)."""
    ids = list(snapshot_ids)
    starts: dict[int, datetime] = {}
    for i in range(0, len(ids), ID_CHUNK):
        q = (select(_snapshots.c.page_id, func.min(_snapshots.c.fetched_at))
             .where(_snapshots.c.id.in_(ids[i:i + ID_CHUNK]),
                    _snapshots.c.health == "ok")
             .group_by(_snapshots.c.page_id))
        for page_id, at in s.execute(q):
            starts[page_id] = min(at, starts.get(page_id, at))
    return link_runs(s, starts) if starts else 0


def _link_chunk(s, starts: dict[int, datetime | None]) -> int:
    healthy: dict[int, list[tuple[datetime, int]]] = {}
    for page_id, fetched_at, snapshot_id in s.execute(
            select(_snapshots.c.page_id, _snapshots.c.fetched_at, _snapshots.c.id)
            .where(_snapshots.c.page_id.in_(list(starts)), _snapshots.c.health == "ok")):
        healthy.setdefault(page_id, []).append((fetched_at, snapshot_id))
    timelines: dict[int, tuple[int | None, list[int]]] = {}  # page → (seed snapshot, snapshots to link)
    for page_id, snaps in healthy.items():
        snaps.sort()
        start = starts[page_id]
        before = [sid for at, sid in snaps if start is not None and at < start]
        timelines[page_id] = (before[-1] if before else None, [sid for at, sid in snaps[len(before):]])
    wanted = [sid for seed, ids in timelines.values() for sid in ([seed] if seed else []) + ids]
    facts = _current_facts(s, wanted)
    updates: dict[int, int | None] = {}
    for seed, ids in timelines.values():
        seed_starts = {key: first or seed for _, key, first in facts.get(seed, [])} if seed else {}
        linked = run_starts([(sid, [(fid, key) for fid, key, _ in facts.get(sid, [])]) for sid in ids], seed_starts)
        for sid in ids:
            for fid, _, stored in facts.get(sid, []):
                wanted = None if linked[fid] == sid else linked[fid]
                if stored != wanted:
                    updates[fid] = wanted
    _write(s, updates)
    return len(updates)


def _write(s, updates: dict[int, int | None]) -> None:
    """Set first_snapshot_id of fact id → value (None: the run starts in the fact's own snapshot): in one statement per 5,000 rows on PostgreSQL (arrays joined
    to the table; a statement per row costs a round trip each), executemany on SQLite (in process)."""
    ordered = sorted(updates)
    dialect = s.get_bind().dialect if hasattr(s, "get_bind") else s.dialect
    if dialect.name == "postgresql":
        for i in range(0, len(ordered), UPDATE_CHUNK):
            ids = ordered[i:i + UPDATE_CHUNK]
            s.execute(text("UPDATE facts SET first_snapshot_id = v.start"
                           " FROM unnest(CAST(:ids AS bigint[]), CAST(:starts AS bigint[])) AS v(id, start)"
                           " WHERE facts.id = v.id"), {"ids": ids, "starts": [updates[f] for f in ids]})
    elif ordered:
        s.execute(update(_facts).where(_facts.c.id == bindparam("fact_id"))
                  .values(first_snapshot_id=bindparam("start")),
                  [{"fact_id": f, "start": updates[f]} for f in ordered])


def _current_facts(s, snapshot_ids: list[int]) -> dict[int, list[tuple[int, FactKey, int | None]]]:
    """Snapshot id → [(fact id, key, stored first_snapshot_id)] of its newest extraction, in stored order."""
    out: dict[int, list] = {}
    for i in range(0, len(snapshot_ids), ID_CHUNK):
        newest = (select(func.max(_extractions.c.id))
                  .where(_extractions.c.snapshot_id.in_(snapshot_ids[i:i + ID_CHUNK]))
                  .group_by(_extractions.c.snapshot_id))
        q = (select(_extractions.c.snapshot_id, _facts.c.id, _facts.c.kind, _facts.c.region, _facts.c.plan_year,
                    cast(_facts.c.value, Text), _facts.c.first_snapshot_id)
             .join(_facts, _facts.c.extraction_id == _extractions.c.id)
             .where(_extractions.c.id.in_(newest)).order_by(_facts.c.id))
        for snapshot_id, fact_id, kind, region, plan_year, value, first in s.execute(q):
            out.setdefault(snapshot_id, []).append((fact_id, (kind, region, plan_year, value), first))
    return out
