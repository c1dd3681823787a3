"""`policywatch history`: fact timelines by region (name or code, a province with its cities), kind, year, source."""
from __future__ import annotations

import json

import pytest
from conftest import DEMO_SITE, check, run_cli, write_sources
from historydata import History, day, fact, fee

from storage import Database, SnapshotStore

TAIYUAN = "ty/live/2024903/67541.shtm"
V1 = (DEMO_SITE / "v1" / TAIYUAN).read_text(encoding="utf-8")  # 缴费截止 2025-02-25
V2 = (DEMO_SITE / "v2" / TAIYUAN).read_text(encoding="utf-8")  # extended to 2025-03-31


def history_json(db: str, *args: str) -> list[dict]:
    proc = run_cli("history", "--db", db, "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def shanxi(db_url):
    """Taiyuan (city), Datong (city), the Shanxi province office and Beijing, written through the storage API."""
    h = History(db_url, {"太原医保": "http://127.0.0.1/ty.html", "大同医保": "http://127.0.0.1/dt.html",
                         "山西省医保局": "http://127.0.0.1/sx.html", "北京医保": "http://127.0.0.1/bj.html"})
    h.check("太原医保", day(0), "太原2025年个人缴费400元", [fee(400), fee(380, plan_year=2024)])
    h.check("太原医保", day(1), "太原2025年个人缴费400元")
    h.check("大同医保", day(2), "大同2025年个人缴费400元", [fee(400, region="140200")])
    h.check("山西省医保局", day(3), "全省缴费截止2月25日",
            [fact("payment_deadline", {"date": "2025-02-25"}, "缴费截止日期为2025年2月25日。", region="140000")])
    h.check("北京医保", day(0), "北京个人缴费", [fee(425, region="110000")])
    return db_url


def test_history_follows_real_crawls_of_an_extended_deadline(site, db_url, tmp_path):
    site.route("guide.shtm", body=V1)
    sources = write_sources(tmp_path / "sources.toml", f'''
        [[source]]
        name = "太原本地宝"
        url = "{site.url('guide.shtm')}"
    ''')
    for body in (V1, V1, V2):
        site.route("guide.shtm", body=body)
        assert check(sources, db_url).returncode == 0
    times = [c["checked_at"].isoformat() for c in SnapshotStore(Database(db_url, migrate=False)).checks()]
    rows = history_json(db_url, "--region", "太原", "--kind", "payment_deadline")
    assert [(r["value"], r["first_seen"], r["last_seen"], r["current"]) for r in rows] == [
        ({"date": "2025-02-25"}, times[0], times[1], False),
        ({"date": "2025-03-31"}, times[2], times[2], True)]
    assert {r["source"] for r in rows} == {"太原本地宝"}
    assert "缴费截止日期为2月25日" in rows[0]["evidence"] and "缴费截止日期为3月31日" in rows[1]["evidence"]


@pytest.mark.parametrize("region", ["太原", "太原市", "140100"])
def test_history_region_by_name_or_code(shanxi, region):
    rows = history_json(shanxi, "--region", region)
    assert {(r["region"], r["region_name"]) for r in rows} == {("140100", "太原市")}
    assert sorted(r["plan_year"] for r in rows) == [2024, 2025]


@pytest.mark.parametrize("region", ["山西", "山西省", "140000"])
def test_history_province_includes_its_cities(shanxi, region):
    rows = history_json(shanxi, "--region", region)
    assert sorted({r["region"] for r in rows}) == ["140000", "140100", "140200"]


def test_history_filters_by_kind_plan_year_and_source(shanxi):
    rows = history_json(shanxi, "--kind", "personal_contribution", "--plan-year", "2025")
    assert sorted((r["region"], r["value"]["amount"]) for r in rows) == [("110000", 425), ("140100", 400),
                                                                         ("140200", 400)]
    rows = history_json(shanxi, "--source", "大同医保")
    assert [(r["source"], r["region"]) for r in rows] == [("大同医保", "140200")]


def test_history_json_shape(shanxi):
    [row] = history_json(shanxi, "--region", "大同")
    assert row == {"region": "140200", "region_name": "大同市", "kind": "personal_contribution", "plan_year": 2025,
                   "value": {"amount": 400, "unit": "元/人/年"}, "first_seen": day(2).isoformat(),
                   "published_at": None, "last_seen": day(2).isoformat(), "current": True, "source": "大同医保",
                   "url": "http://127.0.0.1/dt.html", "evidence": "2025年度城乡居民医保个人缴费标准为每人每年400元。",
                   "snapshot_id": row["snapshot_id"], "last_snapshot_id": row["snapshot_id"]}


def test_history_table_shows_region_value_times_and_source(shanxi):
    proc = run_cli("history", "--db", shanxi, "--region", "太原市", "--plan-year", "2025")
    assert proc.returncode == 0, proc.stderr
    line = next(line for line in proc.stdout.splitlines() if "400" in line)
    assert "太原市" in line and "2025-09-01 09:00" in line and "2025-09-02 09:00" in line and "太原医保" in line


def test_history_shows_the_pages_publish_date_beside_the_crawl_time(db_url):
    h = History(db_url, {"太原医保": "http://127.0.0.1/ty.html"})
    h.check("太原医保", day(3), "太原2025年个人缴费400元", [fee(400)], published_at=day(-10))
    [row] = history_json(db_url, "--region", "太原")
    assert (row["first_seen"], row["published_at"]) == (day(3).isoformat(), day(-10).isoformat())
    keys = list(row)
    assert keys[keys.index("first_seen") + 1] == "published_at"
    proc = run_cli("history", "--db", db_url, "--region", "太原")
    assert "published" in proc.stdout
    line = next(line for line in proc.stdout.splitlines() if "400" in line)
    assert "2025-09-04 09:00" in line and "2025-08-22 09:00" in line  # first seen, published (China time)


@pytest.mark.parametrize("args, message", [
    (["--region", "火星"], "unknown region '火星'"),
    (["--region", "999999"], "unknown region '999999'"),
    (["--kind", "fee"], "unknown fact kind 'fee'"),
    (["--source", "没有这个来源"], "no source named '没有这个来源'"),
])
def test_history_unknown_filter_is_a_one_line_error(shanxi, args, message):
    proc = run_cli("history", "--db", shanxi, *args)
    assert proc.returncode == 2
    assert proc.stderr.strip() == proc.stderr.strip().splitlines()[0] and message in proc.stderr
    assert proc.stdout == ""
