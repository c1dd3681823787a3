"""The current_facts table (migration 0015, storage/currentfacts.py) holds what walk_current_facts computes from
snapshots, extractions and facts after every path that changes them — judged snapshots, extractions stored or
replaced, reextract, the sources file's sync, a page removed, the migration's fill — on SQLite and PostgreSQL."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from historydata import History, day, fact, fee
from storage.backfill import BackfillStore
from storage.currentfacts import region_versions, renew_pages, version
from storage.store import SourceSpec
from storage.webqueries import current_facts, walk_current_facts

SOURCES = {"太原医保": "http://127.0.0.1/a.html", "太原本地宝": "http://127.0.0.1/b.html",
           "大同医保": "http://127.0.0.1/c.html"}


def deadline(date: str, region: str = "140100") -> dict:
    return fact("payment_deadline", {"date": date}, f"缴费截止日期为{date}。", 2025, region)


def same(h: History) -> list[dict]:
    """The table's rows, asserted equal (order and evidence too) to what the walk computes; returned."""
    stored = current_facts(h.db)
    assert stored == walk_current_facts(h.db)
    for prefix in ("14", "140200"):
        assert current_facts(h.db, region_prefix=prefix) == walk_current_facts(h.db, region_prefix=prefix)
    assert current_facts(h.db, plan_year=2025, evidence=False) == walk_current_facts(h.db, plan_year=2025,
                                                                                       evidence=False)
    return stored


def token(h: History) -> tuple:
    with h.db.engine.connect() as conn:
        return version(conn)


def values(rows: list[dict]) -> set[tuple]:
    return {(r["source"], r["kind"], r["value"]) for r in rows}


def history(db_url: str) -> History:
    h = History(db_url, SOURCES)
    h.check("太原医保", day(0), "个人缴费380元，截止2025-02-28", [fee(380), deadline("2025-02-28")])
    h.check("太原本地宝", day(0), "个人缴费400元", [fee(400), fee(400)])  # stated twice: one row
    h.check("大同医保", day(0), "大同个人缴费380元", [fee(380, region="140200")])
    return h


def test_judged_snapshots_and_their_health_keep_the_table(db_url):
    h = history(db_url)
    assert len(same(h)) == 4
    h.check("太原医保", day(1), "个人缴费400元，截止2025-02-28", [fee(400), deadline("2025-02-28")])
    assert ('太原医保', 'personal_contribution', '{"amount": 400, "unit": "元/人/年"}') in values(same(h))
    before = token(h)
    h.check("太原医保", day(2), "系统维护中", [fee(999)], health="maintenance page")  # unhealthy: not current
    assert token(h) == before and "999" not in str(same(h))
    h.check("太原医保", day(3), "个人缴费400元，截止2025-02-28。", [fee(400), deadline("2025-02-28")])
    assert len(same(h)) == 4 and token(h) != before


def test_a_sources_newer_page_holds_over_its_older_one(db_url):
    h = history(db_url)
    source_id = h.store.pages_to_check()[0].source_id
    [page] = h.store.add_discovered_pages(source_id, ["http://127.0.0.1/a2.html"])
    h.pages["太原医保#2"] = page.page_id
    h.check("太原医保#2", day(1), "个人缴费420元", [fee(420)])
    rows = same(h)
    assert sorted(r["value"] for r in rows if r["source"] == "太原医保" and r["kind"] == "personal_contribution") \
        == ['{"amount": 420, "unit": "元/人/年"}']
    assert any(r["kind"] == "payment_deadline" for r in rows)  # the older page's other facts still hold


def test_extractions_stored_again_and_reextract_keep_the_table(db_url):
    from monitor.reextract import reextract
    h = history(db_url)
    h.extract(h.last_snapshot(), [fee(390, region="140200")], version="2")  # an extractor upgrade
    assert ('大同医保', 'personal_contribution', '{"amount": 390, "unit": "元/人/年"}') in values(same(h))

    def extractor(text, url, title, published_at, breadcrumb):
        return {"version": "3", "region": None, "plan_year": 2025, "facts": [fee(500)] if "400" in text else []}
    reextract(h.db, version="3", extractor=extractor, workers=1)
    with h.db.engine.connect() as conn:
        health = dict(conn.execute(sa.text("SELECT id, health FROM snapshots")).all())
    rows = same(h)
    assert values(rows) <= {("太原本地宝", "personal_contribution", '{"amount": 500, "unit": "元/人/年"}')}, health
    assert rows or "ok" not in health.values(), health  # the judged again may be found unhealthy: then none


def test_an_extraction_replaced_by_facts_that_take_the_same_ids_keeps_the_table(db_url):
    # A recut replaces the newest snapshot's extraction of the same version: on SQLite the new facts take the ids
    # the deleted ones had (the table's highest), so the rows must be compared by what they say, not by ids.
    h = history(db_url)
    h.extract(h.last_snapshot(), [fee(385, region="140200")], version="1")
    assert ('大同医保', 'personal_contribution', '{"amount": 385, "unit": "元/人/年"}') in values(same(h))


def test_a_recomputed_health_keeps_the_table(db_url):
    h = history(db_url)
    h.check("太原医保", day(1), "个人缴费400元", [fee(400)])
    newest = h.last_snapshot()
    BackfillStore(h.db).apply_recompute(delete_ids=[], inserts=[], updates={}, health={newest: "soft 404"},
                                        link_pages=[h.pages["太原医保"]])
    assert ('太原医保', 'payment_deadline', '{"date": "2025-02-28"}') in values(same(h))  # the older one again


def test_sources_disabled_and_enabled_in_the_sources_file_keep_the_table(db_url):
    h = history(db_url)
    specs = [SourceSpec(name=n, url=u) for n, u in SOURCES.items()]
    h.store.sync_sources([s for s in specs if s.name != "太原本地宝"])  # removed from the file
    assert "太原本地宝" not in {r["source"] for r in same(h)}
    h.store.sync_sources([SourceSpec(name=s.name, url=s.url, enabled=s.name != "大同医保") for s in specs])
    assert {r["source"] for r in same(h)} == {"太原医保", "太原本地宝"}
    h.store.sync_sources(specs)
    assert len(same(h)) == 4


def test_a_removed_page_takes_its_rows(db_url):
    h = history(db_url)
    with h.db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM pages WHERE id = :p"), {"p": h.pages["大同医保"]})
    assert "大同医保" not in {r["source"] for r in same(h)}


def test_the_migration_fills_the_table_of_an_existing_history(db_url):
    h = history(db_url)
    expected = same(h)
    cfg = h.db._alembic_config()
    with h.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0014")
    assert not sa.inspect(h.db.engine).has_table("current_facts")
    with h.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert same(h) == expected and len(expected) == 4


def test_region_tokens_change_only_with_their_regions_rows(db_url):
    h = history(db_url)
    with h.db.engine.begin() as conn:
        before = region_versions(conn)
        renew_pages(conn, [h.pages["大同医保"]])  # the same facts under new row ids
        after = region_versions(conn)
    assert set(before) == {"140100", "140200"}
    assert before["140100"] == after["140100"] and before["140200"] != after["140200"]
    assert same(h)


def test_the_status_pages_token_follows_what_the_minimum_report_reads(db_url):
    from storage.standards import current_facts as page_standards, current_pages_token
    h = history(db_url)
    first = current_pages_token(h.db, "1")
    h.check("太原医保", day(1), "个人缴费380元，截止2025-02-28")  # unchanged: the same current pages
    assert current_pages_token(h.db, "1") == first
    h.check("太原医保", day(2), "个人缴费300元", [fee(300)])
    second = current_pages_token(h.db, "1")
    amounts = [f["value"]["amount"] for p in page_standards(h.db, "1", ["personal_contribution"]) for f in p["facts"]]
    assert second != first and 300 in amounts
    h.check("太原医保", day(3), "系统维护中", [], health="maintenance page")  # its newest is not healthy now
    assert current_pages_token(h.db, "1") not in (first, second)
    h.store.sync_sources([SourceSpec(name=n, url=u) for n, u in SOURCES.items() if n != "大同医保"])
    assert len(current_pages_token(h.db, "1")) == 1
