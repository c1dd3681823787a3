"""Migration 0012's research data on SQLite and PostgreSQL: fact_history.published_at, the regions table, JSON
text stored readable (Chinese literal) and the rewrite of values stored escaped before it."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

from alembic import command
from conftest import NewDatabase
from historydata import History, day, fee
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from extractors.regions import load_regions
from storage import Database


def view_rows(h: History, sql: str, **params) -> list[dict]:
    with h.db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def as_time(value):
    """A view's timestamp as an aware UTC datetime (SQLite returns the stored text)."""
    if value is None:
        return None
    return (datetime.fromisoformat(value) if isinstance(value, str) else value).replace(tzinfo=timezone.utc)


def migrate_to(db_url: str, revision: str) -> None:
    db = Database(db_url)
    cfg = db._alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
    db.dispose()


def test_fact_history_gives_the_pages_publish_date_of_the_runs_first_snapshot(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元。", [fee(380)], published_at=day(-20))
    h.check("太原医保", day(5), "个人缴费380元。另附渠道。", [fee(380)], published_at=day(4))  # same run
    h.check("太原医保", day(9), "个人缴费调整为400元。", [fee(400)])                       # no date on the page
    got = [(json.loads(r["value"])["amount"], as_time(r["first_seen"]), as_time(r["published_at"]))
           for r in view_rows(h, "SELECT * FROM fact_history ORDER BY first_seen")]
    assert got == [(380, day(0), day(-20)), (400, day(9), None)]
    columns = list(view_rows(h, "SELECT * FROM fact_history")[0])
    assert columns[columns.index("first_seen") + 1] == "published_at"


def test_regions_table_holds_every_region_of_the_region_file_and_joins_to_facts(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元。", [fee(380), fee(390, region="140200")])
    stored = view_rows(h, "SELECT code, name, short, level, parent FROM regions ORDER BY code")
    assert stored == sorted(({"code": r.code, "name": r.name, "short": r.short, "level": r.level, "parent": r.parent}
                             for r in load_regions()), key=lambda r: r["code"])
    assert len(stored) > 300
    [taiyuan] = view_rows(h, "SELECT * FROM regions WHERE code = '140100'")
    assert taiyuan == {"code": "140100", "name": "太原市", "short": "太原", "level": "prefecture", "parent": "140000"}
    assert view_rows(h, "SELECT level, parent FROM regions WHERE code = '000000'") == [
        {"level": "country", "parent": None}]
    joined = view_rows(h, """SELECT r.name, p.name AS province FROM fact_history f
                              JOIN regions r ON r.code = f.region JOIN regions p ON p.code = r.parent
                             ORDER BY r.code""")
    assert joined == [{"name": "太原市", "province": "山西省"}, {"name": "大同市", "province": "山西省"}]


def test_json_columns_store_chinese_literally_read_with_plain_sqlite3(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    h = History(url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元。", [fee(380)])
    with sqlite3.connect(tmp_path / "h.db") as conn:
        [raw] = conn.execute("SELECT value FROM facts").fetchone()
    assert raw == '{"amount": 380, "unit": "元/人/年"}'
    assert "\\u" not in raw


def test_postgresql_json_text_keeps_chinese_literally(pg_admin_url, request):
    url = NewDatabase("postgresql", None, request)()
    h = History(url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元。", [fee(380)])
    assert view_rows(h, "SELECT CAST(value AS TEXT) AS t FROM facts") == [{"t": '{"amount": 380, "unit": "元/人/年"}'}]
    assert view_rows(h, "SELECT value->>'unit' AS u FROM facts") == [{"u": "元/人/年"}]


def test_upgrade_rewrites_escaped_json_and_a_run_continues_across_it(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元。", [fee(380)])
    migrate_to(db_url, "0011")
    assert "regions" not in inspect(h.db.engine).get_table_names()
    assert "published_at" not in {c["name"] for c in inspect(h.db.engine).get_columns("fact_history")}
    # What 0011 stored: SQLAlchemy's default json.dumps, non-ASCII \u-escaped.
    with h.db.engine.begin() as conn:
        cast = "CAST(:v AS json)" if conn.dialect.name == "postgresql" else ":v"
        conn.execute(text(f"UPDATE facts SET value = {cast}"), {"v": json.dumps(fee(380)["value"])})
        conn.execute(text(f"UPDATE snapshots SET page_meta = {cast}"), {"v": json.dumps({"breadcrumb": ["首页", "医保"]})})
        assert "\\u5143" in conn.execute(text("SELECT CAST(value AS TEXT) FROM facts")).scalar()
    Database(db_url).dispose()  # opening migrates to head: 0012 rewrites them
    with h.db.engine.connect() as conn:
        assert conn.execute(text("SELECT CAST(value AS TEXT) FROM facts")).scalar() == \
            '{"amount": 380, "unit": "元/人/年"}'
        assert conn.execute(text("SELECT CAST(page_meta AS TEXT) FROM snapshots")).scalar() == \
            '{"breadcrumb": ["首页", "医保"]}'
    h.check("太原医保", day(5), "个人缴费380元。另附渠道。", [fee(380)])  # stored by the new serializer
    [row] = view_rows(h, "SELECT * FROM fact_history")
    assert (as_time(row["first_seen"]), as_time(row["last_seen"])) == (day(0), day(5))


def test_sqlite_file_copied_before_0012_opens_with_readable_values(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    h = History(url, {"太原医保": "http://127.0.0.1/a.html"})
    h.check("太原医保", day(0), "个人缴费380元。", [fee(380)])
    migrate_to(url, "0011")
    with sqlite3.connect(make_url(url).database) as conn:
        conn.execute("UPDATE facts SET value = ?", (json.dumps({"name": "微信", "note": "\\u"}),))
    Database(url).dispose()
    with sqlite3.connect(make_url(url).database) as conn:
        [raw] = conn.execute("SELECT value FROM facts").fetchone()
    assert raw == '{"name": "微信", "note": "\\\\u"}'  # an escaped backslash before a u stays as it was


def test_json_text_keeps_chinese_and_falls_back_to_escapes_only_for_a_lone_surrogate():
    from storage.db import json_text
    assert json_text({"unit": "元/人/年", "n": [1, None]}) == '{"unit": "元/人/年", "n": [1, null]}'
    assert json_text({"s": "\ud800"}) == '{"s": "\\ud800"}'  # no UTF-8 column can hold it unescaped
