"""storage.timelines: the set-based timeline query gives the fact_history view's rows, on SQLite and PostgreSQL."""
from __future__ import annotations

import json

import pytest
from historydata import History, day, fact, fee
from sqlalchemy import select

from storage import HistoryFilter, HistoryStore
from storage.history import FACT_HISTORY, _prefix_range
from storage.timelines import read_timelines, timelines_query
from storage.webqueries import region_history

SOURCES = {"太原医保": "http://127.0.0.1/a.html", "山西医保": "http://127.0.0.1/b.html",
           "大同医保": "http://127.0.0.1/c.html"}
DATONG = {"name": "大同市", "code": "140200"}


def deadline(d: str, region: str = "140100", plan_year: int | None = 2025) -> dict:
    return fact("payment_deadline", {"date": d}, f"缴费截止日期为{d}。", plan_year, region)


def window(start: str, end: str, plan_year: int | None = 2025) -> dict:
    return fact("payment_window", {"start": start, "end": end}, f"缴费时间为{start}至{end}。", plan_year)


@pytest.fixture
def history(db_url) -> History:
    """Three sources over two plan years: values that change, return (a revert), are stated twice, vanish,
    survive unhealthy snapshots, unchanged checks, errors and 304s, a re-extraction, and a fact without a year."""
    h = History(db_url, SOURCES)
    steps = [
        ("太原医保", "v1", [fee(380), deadline("2025-02-25"), window("2024-09-01", "2025-02-25")], "ok"),
        ("山西医保", "v1", [fee(400, "140000"), fee(380), deadline("2025-02-25", "140000")], "ok"),
        ("大同医保", "v1", [fee(390, "140200"), deadline("--12-31", "140200", None)], "ok"),
        ("太原医保", "v2", [fee(380), deadline("2025-03-31"), window("2024-09-01", "2025-03-31")], "ok"),
        ("太原医保", "维护中", [fee(999)], "maintenance page"),
        ("太原医保", "v3", [fee(380), fee(380), deadline("2025-03-31")], "ok"),            # stated twice
        ("山西医保", "v2", [fee(400, "140000"), fee(400, "140000", 2026)], "ok"),         # 380 vanished
        ("太原医保", "v4", [fee(400), fee(400, plan_year=2026), deadline("2025-03-31")], "ok"),
        ("大同医保", "v2", [fee(390, "140200"), fee(410, "140200", 2026)], "ok"),
        ("太原医保", "v5", [fee(380), fee(400, plan_year=2026), deadline("2025-02-25")], "ok"),  # reverts
        ("山西医保", "v3", [fee(400, "140000"), fee(420, "140000", 2026)], "ok"),
        ("太原医保", "v6", [fee(380), fee(420, plan_year=2026)], "ok"),
    ]
    for n, (source, text_, facts, health) in enumerate(steps):
        region = DATONG if source == "大同医保" else None
        published = day(n - 2.5) if source == "山西医保" else None  # the page's own date
        h.check(source, day(n), f"{source}{text_}", facts, health=health, published_at=published,
                **({"region": region} if region else {}))
        newest = h.last_snapshot()
        h.check(source, day(n + 0.3), f"{source}{text_}")           # unchanged: last_seen moves on
        h.check(source, day(n + 0.5000123), not_modified=True)  # µs: kept by both reads
        h.check(source, day(n + 0.7), error="HTTP 500")              # a failure confirms nothing
    # A fixed extractor reads the newest 太原 snapshot again (its newest extraction wins).
    h.extract(newest, [fee(380), fee(420, plan_year=2026), deadline("2025-02-28")], version="2")
    return h


def view_rows(h: History, *conds) -> list[dict]:
    v = FACT_HISTORY.c
    q = select(FACT_HISTORY).where(*conds).order_by(v.region, v.kind, v.plan_year, v.source, v.first_seen,
                                                    v.page_id, v.value, v.evidence)
    with h.db.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def new_rows(h: History, **kw) -> list[dict]:
    """timelines_query's rows; read_timelines (aggregated into JSON on PostgreSQL) must give the same."""
    with h.db.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(timelines_query(**kw))]
        assert read_timelines(conn, **kw) == [dict(r, is_current=bool(r["is_current"])) for r in rows]
    return rows


def test_every_timeline_equals_the_views_row(history):
    v = FACT_HISTORY.c
    rows = view_rows(history)
    assert len(rows) > 15 and {r["is_current"] for r in rows} == {0, 1}
    assert {r["plan_year"] for r in rows} == {2025, 2026, None}
    assert any(r["published_at"] for r in rows) and any(r["last_seen"].microsecond for r in rows)
    assert new_rows(history) == rows
    # a revert is a new timeline: 太原's 2025 fee 380 → 400 → 380, its deadline 02-25 → 03-31 → 02-25 → 02-28
    fees = view_rows(history, v.source == "太原医保", v.kind == "personal_contribution", v.plan_year == 2025)
    assert [json.loads(r["value"])["amount"] for r in fees] == [380, 400, 380]
    dates = view_rows(history, v.source == "太原医保", v.kind == "payment_deadline")
    assert [json.loads(r["value"])["date"] for r in dates] == ["2025-02-25", "2025-03-31", "2025-02-25", "2025-02-28"]


@pytest.mark.parametrize("filters", [
    dict(region="140100"), dict(region_prefix="14"), dict(kinds=["personal_contribution"], region_prefix="14"),
    dict(kinds=["payment_deadline", "payment_window"], region="140100"), dict(plan_year=2026),
    dict(regions=["140000", "140200"]), dict(kinds=["payment_deadline"]), dict(region="110000"),
])
def test_filtered_timelines_equal_the_views_rows(history, filters):
    v = FACT_HISTORY.c
    conds = []
    if "kinds" in filters:
        conds.append(v.kind.in_(filters["kinds"]))
    if "plan_year" in filters:
        conds.append(v.plan_year == filters["plan_year"])
    if "region" in filters:
        conds.append(v.region == filters["region"])
    if "regions" in filters:
        conds.append(v.region.in_(filters["regions"]))
    if "region_prefix" in filters:
        conds.append(_prefix_range(v.region, filters["region_prefix"]))
    assert new_rows(history, **filters) == view_rows(history, *conds)


def test_history_and_region_history_read_the_same_rows_as_the_view(history):
    v = FACT_HISTORY.c
    store = HistoryStore(history.db)
    by_source = store.history(HistoryFilter(source="太原医保"))
    assert by_source == [dict(r, is_current=bool(r["is_current"])) for r in view_rows(
        history, v.page_id == history.pages["太原医保"])]
    assert len(by_source) > 5
    assert store.history(HistoryFilter(region_prefix="14", kind="personal_contribution", plan_year=2025)) == [
        dict(r, is_current=bool(r["is_current"])) for r in view_rows(
            history, _prefix_range(v.region, "14"), v.kind == "personal_contribution", v.plan_year == 2025)]
    assert region_history(history.db, ["personal_contribution", "payment_deadline"], region="140100") == [
        dict(r, is_current=bool(r["is_current"])) for r in view_rows(
            history, v.region == "140100", v.kind.in_(["personal_contribution", "payment_deadline"]))]
