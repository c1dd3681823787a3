"""facts.confidence (migration 0007): written by the extract stage, read back by the store and the diff reads."""
from __future__ import annotations

from sqlalchemy import inspect, text

from historydata import TAIYUAN, History, day, fee
from spiders.processing import facts_of
from storage import Database
from storage.diffdata import read_facts

PAGE = "太原市2025年度城乡居民医保个人缴费标准为每人每年3800元，缴费时间为2024年9月1日至2024年12月31日。"


def test_the_extract_stage_stores_each_facts_confidence_and_the_diff_reads_it(db_url):
    h = History(db_url, {"太原": "http://127.0.0.1/a.html"})
    h.check("太原", day(0), text=PAGE, facts=[])
    snapshot_id = h.last_snapshot()
    record = facts_of(PAGE, "http://ty.bendibao.com/live/1.shtm", None, None, None)
    h.store.store_extractions([(snapshot_id, record)])
    stored = {f["kind"]: f["confidence"] for f in h.store.facts(snapshot_id, record["version"])}
    assert stored == {"personal_contribution": 0.3, "payment_window": 0.9, "payment_deadline": 0.9}
    with h.db.session() as s:
        read = read_facts(s, [snapshot_id], record["version"])[snapshot_id]
    assert {f["kind"]: f["confidence"] for f in read} == stored


def test_facts_stored_without_a_confidence_read_back_as_none(db_url):
    h = History(db_url, {"太原": "http://127.0.0.1/a.html"})
    h.check("太原", day(0), text="第一版。" * 20, facts=[fee(400)])
    assert [f["confidence"] for f in h.store.facts(h.last_snapshot())] == [None]


def test_0007_adds_the_column_and_its_downgrade_keeps_the_facts(db_url):
    from alembic import command
    h = History(db_url, {"太原": "http://127.0.0.1/a.html"})
    h.check("太原", day(0), text="第一版。" * 20, facts=[dict(fee(400), confidence=0.9)], region=TAIYUAN)
    db = Database(db_url)
    cfg = db._alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    assert "confidence" not in {c["name"] for c in inspect(db.engine).get_columns("facts")}
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT kind, plan_year FROM facts")).all() == [("personal_contribution", 2025)]
        assert conn.execute(text("SELECT COUNT(*) FROM latest_facts")).scalar() == 1  # the views still work
    db.dispose()
    reopened = Database(db_url)
    assert reopened.current_revision() == reopened.head_revision()
    assert [f["confidence"] for f in h.store.facts(h.last_snapshot())] == [None]  # not assessed any more
