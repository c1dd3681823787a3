"""The history views (migration 0005) on SQLite and PostgreSQL, over histories written with the storage API."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from historydata import History, day, fact, fee
from storage import HistoryFilter, HistoryStore
from sqlalchemy import inspect, text

from storage.models import Base

VIEWS = {"fact_history", "latest_facts", "change_log", "source_health"}
TIMES = {"first_seen", "last_seen", "detected_at", "last_checked_at", "last_success_at", "last_snapshot_at"}


def rows(h: History, sql: str, **params) -> list[dict]:
    """Rows of a view query, timestamps as aware UTC datetimes (SQLite returns the stored text)."""
    out = []
    with h.db.engine.connect() as conn:
        for r in conn.execute(text(sql), params).mappings():
            d = dict(r)
            for k in TIMES & d.keys():
                if isinstance(d[k], str):
                    d[k] = datetime.fromisoformat(d[k])
                if d[k] is not None:
                    d[k] = d[k].replace(tzinfo=timezone.utc)
            out.append(d)
    return out


def timeline(h: History, where: str = "1=1", **params) -> list[tuple]:
    return [(json.loads(r["value"])["amount"], r["first_seen"], r["last_seen"])
            for r in rows(h, f"SELECT * FROM fact_history WHERE {where} ORDER BY first_seen, source", **params)]


def test_views_exist_and_the_schema_comparison_ignores_them(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    assert VIEWS <= set(inspect(h.db.engine).get_view_names())
    with h.db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_history_last_seen_extends_through_unchanged_checks(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "2025年度个人缴费380元", [fee(380)])
    h.check("太原医保", day(1), "2025年度个人缴费380元")                   # unchanged
    h.check("太原医保", day(2), not_modified=True)                          # HTTP 304
    h.check("太原医保", day(3), error="HTTP 500")                           # a failure confirms nothing
    assert timeline(h) == [(380, day(0), day(2))]


def test_history_ends_at_the_last_check_before_the_next_snapshot(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元", [fee(380)])
    h.check("太原医保", day(1), "个人缴费380元")
    h.check("太原医保", day(2), "个人缴费调整为400元", [fee(400)])
    h.check("太原医保", day(3), not_modified=True)
    assert timeline(h) == [(380, day(0), day(1)), (400, day(2), day(3))]
    assert [r["is_current"] for r in rows(h, "SELECT is_current FROM fact_history ORDER BY first_seen")] == [0, 1]


def test_text_edit_keeping_the_value_keeps_first_seen(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元。", [fee(380)])
    first = h.last_snapshot()
    h.check("太原医保", day(5), "个人缴费380元。另附办理渠道。", [fee(380)])
    [row] = rows(h, "SELECT * FROM fact_history")
    assert (row["first_seen"], row["last_seen"]) == (day(0), day(5))
    assert (row["snapshot_id"], row["last_snapshot_id"]) == (first, h.last_snapshot())
    assert row["evidence"] == fee(380)["evidence"]


def test_unhealthy_snapshots_neither_carry_nor_break_a_value(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元", [fee(380)])
    h.check("太原医保", day(1), "系统维护中，暂停服务", [fee(999)], health="maintenance page")
    h.check("太原医保", day(2), "个人缴费380元", [fee(380)])
    h.check("太原医保", day(3), "个人缴费380元")
    assert timeline(h) == [(380, day(0), day(3))]


def test_a_value_that_returns_is_a_new_timeline(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元", [fee(380)])
    h.check("太原医保", day(1), "个人缴费400元", [fee(400)])
    h.check("太原医保", day(2), "个人缴费380元（更正）", [fee(380)])
    assert timeline(h) == [(380, day(0), day(0)), (400, day(1), day(1)), (380, day(2), day(2))]


def test_newest_extraction_of_a_snapshot_wins(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费标准为每人每年400元", [fee(40)], version="1")
    h.extract(h.last_snapshot(), [fee(400)], version="2")  # a re-extraction with a fixed extractor
    assert timeline(h) == [(400, day(0), day(0))]


def test_an_extractor_upgrade_relinks_first_seen_across_judged_snapshots(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费标准为每人每年400元。", [fee(40)], version="1")
    first = h.last_snapshot()
    h.check("太原医保", day(1), "个人缴费标准为每人每年400元。咨询电话12393。", [fee(400)], version="1")
    assert timeline(h) == [(40, day(0), day(0)), (400, day(1), day(1))]
    # Version 2 reads both snapshots right: one value since day 0, in both views.
    h.extract(first, [fee(400)], version="2")
    h.extract(h.last_snapshot(), [fee(400)], version="2")
    assert timeline(h) == [(400, day(0), day(1))]
    [latest] = rows(h, "SELECT snapshot_id, first_seen FROM latest_facts")
    assert (latest["snapshot_id"], latest["first_seen"]) == (first, day(0))


def test_latest_facts_takes_each_sources_newest_healthy_snapshot(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html", "山西医保": "http://127.0.0.1/b.html",
                         "大同医保": "http://127.0.0.1/c.html"})
    h.check("太原医保", day(0), "个人缴费380元", [fee(380)])
    h.check("太原医保", day(1), "个人缴费400元", [fee(400)])
    h.check("太原医保", day(2), "页面不存在", [], health="soft 404")  # the newest snapshot is broken
    h.check("山西医保", day(0), "太原个人缴费400元，大同380元", [fee(400), fee(380, region="140200")])
    h.check("大同医保", day(0), "2024年度个人缴费380元", [fee(380, region="140200", plan_year=2024)])
    h.check("大同医保", day(3), "2024年度个人缴费380元")
    got = {(r["source"], r["region"], r["plan_year"], json.loads(r["value"])["amount"], r["first_seen"], r["last_seen"])
           for r in rows(h, "SELECT * FROM latest_facts WHERE kind = 'personal_contribution'")}
    assert got == {("太原医保", "140100", 2025, 400, day(1), day(1)),
                   ("山西医保", "140100", 2025, 400, day(0), day(0)),
                   ("山西医保", "140200", 2025, 380, day(0), day(0)),
                   ("大同医保", "140200", 2024, 380, day(0), day(3))}


def test_latest_facts_keeps_every_value_of_the_newest_snapshot(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    group = lambda name: fact("eligible_group", {"name": name}, f"{name}可参保。")
    h.check("太原医保", day(0), "学生、灵活就业人员可参保", [group("学生"), group("灵活就业人员")])
    h.check("太原医保", day(1), "学生、新生儿可参保", [group("学生"), group("新生儿")])
    got = {(json.loads(r["value"])["name"], r["first_seen"])
           for r in rows(h, "SELECT * FROM latest_facts WHERE kind = 'eligible_group'")}
    assert got == {("学生", day(0)), ("新生儿", day(1))}


def test_change_log_names_the_source_and_summarizes(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元", [fee(380)])
    source_id = rows(h, "SELECT id FROM sources")[0]["id"]
    h.changes.record_changes([dict(source_id=source_id, page_id=h.pages["太原医保"], type="fact_changed",
                                   kind="personal_contribution", identity="x", old={"amount": 380},
                                   new={"amount": 400}, severity="high", region="140100", plan_year=2025,
                                   evidence_before="380元", evidence_after="400元")])
    [row] = rows(h, "SELECT * FROM change_log")
    assert (row["source"], row["url"]) == ("太原医保", "http://127.0.0.1/a.html")
    assert row["summary"] == 'fact_changed personal_contribution 140100 2025: {"amount": 380} -> {"amount": 400}'
    assert json.loads(row["new_value"]) == {"amount": 400}


def test_source_health_counts_consecutive_errors_since_the_last_success(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html", "山西医保": "http://127.0.0.1/b.html"})
    h.check("太原医保", day(0), "个人缴费380元", [fee(380)])
    h.check("太原医保", day(1), error="HTTP 500")
    h.check("太原医保", day(2), not_modified=True)
    for n in (3, 4, 5):
        h.check("太原医保", day(n), error="timed out after 30 s")
    h.check("山西医保", day(0), "个人缴费400元", [fee(400)])
    h.check("山西医保", day(1), error="HTTP 503")
    got = {r["source"]: r for r in rows(h, "SELECT * FROM source_health")}
    ty, sx = got["太原医保"], got["山西医保"]
    assert (ty["last_outcome"], ty["last_error"], ty["last_checked_at"]) == ("error", "timed out after 30 s", day(5))
    assert (ty["consecutive_errors"], ty["failing"], ty["last_success_at"]) == (3, 1, day(2))
    assert (ty["checks"], ty["errors"], ty["snapshots"], ty["last_snapshot_at"]) == (6, 4, 1, day(0))
    assert (sx["consecutive_errors"], sx["failing"]) == (1, 0)


def test_latest_facts_agrees_with_the_current_runs_of_fact_history(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html", "山西医保": "http://127.0.0.1/b.html"})
    deadline = lambda d: fact("payment_deadline", {"date": d}, f"缴费截止日期为{d}。")  # noqa: E731
    steps = [("太原医保", "v1", [fee(380), deadline("2025-02-25")], "ok"),
             ("山西医保", "v1", [fee(400)], "ok"),
             ("太原医保", "v2", [fee(380), deadline("2025-03-31")], "ok"),
             ("太原医保", "维护中", [], "maintenance page"),
             ("太原医保", "v3", [fee(380), fee(380), deadline("2025-03-31")], "ok"),  # stated twice
             ("山西医保", "v2", [], "ok"),                                             # the fee vanished
             ("太原医保", "v4", [fee(400), deadline("2025-03-31")], "ok"),
             ("太原医保", "v5", [fee(380), deadline("2025-03-31")], "ok")]             # back to 380
    for n, (source, text_, facts, health) in enumerate(steps):
        h.check(source, day(n), text_, facts, health=health)
        h.check(source, day(n + 0.5), text_)
    columns = "source, kind, value, plan_year, region, snapshot_id, last_snapshot_id, first_seen, last_seen"
    latest = sorted(map(repr, rows(h, f"SELECT {columns} FROM latest_facts")))
    current = sorted(map(repr, rows(h, f"SELECT {columns} FROM fact_history WHERE is_current = 1")))
    assert latest == current and len(latest) == 2
    fees = rows(h, "SELECT value, first_seen FROM latest_facts WHERE kind = 'personal_contribution'")
    assert [(json.loads(r["value"])["amount"], r["first_seen"]) for r in fees] == [(380, day(7))]


def test_migrations_0005_and_0006_downgrade_and_upgrade_again(db_url):
    from alembic import command
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元", [fee(380)])
    h.check("太原医保", day(1), "个人缴费380元。咨询电话12393。", [fee(380)])
    h.check("太原医保", day(2), "个人缴费400元。", [fee(400)])
    expected = [(380, day(0), day(1)), (400, day(2), day(2))]
    cfg = h.db._alembic_config()
    with h.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
    assert "first_snapshot_id" not in {c["name"] for c in inspect(h.db.engine).get_columns("facts")}
    assert timeline(h) == expected  # 0005's views, walking the history
    with h.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    assert not VIEWS & set(inspect(h.db.engine).get_view_names())
    h.db.migrate()  # 0005, then 0006 links the stored history
    assert timeline(h) == expected
    with h.db.engine.connect() as conn:
        links = conn.execute(text("SELECT first_snapshot_id FROM facts ORDER BY id")).scalars().all()
    first, second, third = (c["snapshot_id"] for c in h.store.checks(h.run))
    assert links == [None, first, None]  # a run's first fact has no link; the 380 of day 1 continues day 0's


def test_with_statistics_sqlite_reads_one_sources_history_through_its_pages(tmp_path):
    # Without statistics SQLite takes every index for selective and read a source's deadlines through the
    # index of all facts of that kind (2 s at 1 M facts); refresh_statistics lets it go by the pages.
    sources = {f"医保{n}": f"http://127.0.0.1/{n}.html" for n in range(30)}
    h = History(f"sqlite:///{tmp_path / 'h.db'}", sources)
    deadline = lambda d: fact("payment_deadline", {"date": d}, f"缴费截止日期为{d}。")  # noqa: E731
    for n, name in enumerate(sources):
        for version in range(3):
            h.check(name, day(version), f"v{version} {name}", [fee(380 + version), deadline(f"2025-0{version + 1}-28"),
                                                              fee(390, "140200"), fee(400, "140300")])
    h.db.refresh_statistics()
    store = HistoryStore(h.db)
    query = store.facts_query(HistoryFilter(source="医保7", kind="payment_deadline"))
    sql = str(query.compile(h.db.engine, compile_kwargs={"literal_binds": True}))
    with h.db.engine.connect() as conn:
        plan = [r[3] for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql))]
    assert not any("ix_facts_kind_region_plan_year" in step for step in plan), plan
    assert [r["value"] for r in store.history(HistoryFilter(source="医保7", kind="payment_deadline"))] == \
        [json.dumps({"date": f"2025-0{v + 1}-28"}) for v in range(3)]
