"""Every example query of docs/schema.md gives the same rows, in the same order, on SQLite and PostgreSQL over
the same history — one with the ties that make an unordered query answer differently (two sources first
seen at the same time, two values in one snapshot, a fee corrected from 420 to 400)."""
from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import NewDatabase
from historydata import History, day, fact, fee

SCHEMA_MD = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?")
SOURCES = {"太原医保": "http://127.0.0.1/ty.html", "太原本地宝": "http://127.0.0.1/tybdb.html",
           "大同医保": "http://127.0.0.1/dt.html", "阳泉医保": "http://127.0.0.1/yq.html",
           "朔州医保": "http://127.0.0.1/sz.html"}


def deadline(date: str) -> dict:
    return fact("payment_deadline", {"date": date}, f"缴费截止日期为{date}。")


def subsidy(amount: int, region: str = "140100") -> dict:
    return fact("fiscal_subsidy", {"amount": amount, "unit": "元/人/年"}, f"财政补助每人每年{amount}元。",
                region=region)


def seed(url: str) -> History:
    """The same history, at the same times, on either database."""
    h = History(url, SOURCES)
    h.check("太原医保", day(0), "个人缴费420元", [fee(420), subsidy(700)], published_at=day(-2))
    h.check("太原医保", day(3), "更正：个人缴费400元", [fee(400), subsidy(700)], published_at=day(2))
    # Another source first seen at the very same time, with another value: source_id breaks the tie.
    h.check("太原本地宝", day(3), "缴费410元，截止2月25日", [fee(410), deadline("2025-02-25")])
    h.check("太原本地宝", day(4), "缴费410元，截止延长至3月31日", [fee(410), deadline("2025-03-31")])
    h.check("太原本地宝", day(6), "缴费410元，截止更正为3月15日", [fee(410), deadline("2025-03-15")])
    h.check("太原本地宝", day(8), "缴费410元，截止再延长至4月30日", [fee(410), deadline("2025-04-30")])
    h.check("太原本地宝", day(9), "缴费410元，截止再延长至4月30日")
    # Two values in one snapshot (two 档次): the amount breaks the tie.
    h.check("大同医保", day(1), "一档380元，二档350元", [fee(380, "140200"), fee(350, "140200"),
                                                      subsidy(690, "140200"), subsidy(680, "140200")])
    for source in ("朔州医保", "阳泉医保"):
        h.check(source, day(0), "个人缴费400元", [fee(400, "140300")], published_at=day(-1))
        for n in (1, 2, 3):
            h.check(source, day(n), error="HTTP 500")
    page = h.pages["太原本地宝"]
    source_id = next(p.source_id for p in h.store.pages_to_check() if p.source_name == "太原本地宝")
    h.changes.record_changes([
        {"source_id": source_id, "page_id": page, "type": "fact_changed", "kind": "payment_deadline",
         "identity": "d", "old": {"date": old}, "new": {"date": new}, "severity": "high", "region": "140100",
         "plan_year": 2025, "detected_at": day(n)}
        for n, old, new in ((4, "2025-02-25", "2025-03-31"), (6, "2025-03-31", "2025-03-15"),
                            (8, "2025-03-15", "2025-04-30"))])
    return h


def examples() -> list[tuple[str, str | None, str | None]]:
    """(first line, SQLite query, PostgreSQL query) of every example: a `-- sqlite3` block followed by its
    `-- psql` block, an untagged one for both, and the pandas example's SQL (its title starts "pandas: ")."""
    out, pending = [], None
    text = SCHEMA_MD.read_text(encoding="utf-8")
    for lang, body in re.findall(r"```(sql|python)\n(.*?)```", text, re.S):
        if lang == "python":
            [sql] = re.findall(r'sa\.text\("""(.*?)"""\)', body, re.S)
            out.append(("pandas: " + sql.strip().splitlines()[0], sql, sql))
            continue
        sql = body.strip().rstrip(";")
        first = sql.splitlines()[0]
        if first.startswith("-- sqlite3"):
            assert pending is None, f"two SQLite blocks in a row: {first}"
            pending = sql
        elif first.startswith("-- psql"):
            assert pending is not None, f"a psql block without its SQLite form: {sql[:80]}"
            out.append((pending.splitlines()[1], pending, sql))
            pending = None
        else:
            out.append((first, sql, sql))
    assert pending is None
    return out


def normal(value):
    """One value as both databases give it: SQLite's stored timestamp text and PostgreSQL's datetimes and
    numerics become the same."""
    if isinstance(value, str) and TIMESTAMP.fullmatch(value):
        return datetime.fromisoformat(value)
    if isinstance(value, Decimal):
        return int(value) if value == int(value) else float(value)
    return value


def run(h: History, sql: str) -> list[tuple]:
    with h.db.engine.connect() as conn:
        return [tuple(normal(v) for v in row) for row in conn.exec_driver_sql(sql)]


@pytest.fixture(scope="module")
def both(pg_admin_url, tmp_path_factory, request):
    sqlite = seed(NewDatabase("sqlite", tmp_path_factory.mktemp("db"), request)())
    pg = seed(NewDatabase("postgresql", None, request)())
    yield sqlite, pg
    sqlite.db.dispose()
    pg.db.dispose()


def test_schema_md_has_its_examples_in_runnable_blocks():
    found = examples()
    assert len(found) >= 7
    assert sum(1 for _, a, b in found if a != b) >= 3  # the SQLite / psql pairs


EXAMPLES = examples()


@pytest.mark.parametrize("title, on_sqlite, on_postgresql", EXAMPLES, ids=[e[0][:60] for e in EXAMPLES])
def test_example_gives_the_same_rows_on_sqlite_and_postgresql(both, title, on_sqlite, on_postgresql):
    sqlite, pg = both
    got, want = run(sqlite, on_sqlite), run(pg, on_postgresql)
    assert got, f"{title}: no rows over the seeded history"
    if title.startswith("pandas: "):  # its rows are sorted by pandas (below), ties included
        got, want = sorted(got, key=repr), sorted(want, key=repr)
    assert got == want


def find(part: str) -> str:
    """The SQLite form of the one example containing `part`."""
    [sql] = [a for _, a, _ in EXAMPLES if part in a]
    return sql


def test_extension_example_counts_later_dates_only(both):
    [row] = run(both[0], find("SUM(later)"))
    assert row == ("太原本地宝", 2, "2025-02-25 → 2025-03-31 → 2025-03-15 → 2025-04-30")


def test_publish_example_gives_publish_dates_not_crawl_times(both):
    rows = run(both[0], find("f.published_at, f.first_seen"))
    assert [(r[0], r[2], r[3], r[4]) for r in rows][:3] == [
        ("140100", "太原医保", 420, day(-2).replace(tzinfo=None)),
        ("140100", "太原医保", 400, day(2).replace(tzinfo=None)),
        ("140100", "太原本地宝", 410, None)]


def test_pandas_example_rows_give_one_newest_fee_per_city_and_year(both):
    """What the pandas example's sort and pivot_table(aggfunc="last") compute, over the rows of its query."""
    [sql] = [a for title, a, _ in EXAMPLES if title.startswith("pandas: ")]
    answers = []
    for h in both:
        cols = ["region", "source_id", "source", "page_id", "plan_year", "value", "first_seen"]
        rows = [dict(zip(cols, r), yuan=json.loads(r[5]).get("amount")) for r in run(h, sql)]
        rows.sort(key=lambda r: (r["first_seen"], r["source_id"], r["page_id"], r["yuan"]))
        answers.append({(r["region"], r["plan_year"]): r["yuan"] for r in rows})  # the last row wins
    assert answers[0] == answers[1] == {("140100", 2025): 410, ("140200", 2025): 380, ("140300", 2025): 400}
