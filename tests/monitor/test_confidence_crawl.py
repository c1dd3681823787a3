"""Confidence end to end: real crawls of a local site, facts stored with their confidence, a fee misread as
3800 yuan alerted as medium with a note, and a stale page below the national minimum in `sources` / `status`."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from conftest import DEMO_SITE, Receiver, check, run_cli, write_sources
from storage import ChangeStore, Database

TAIYUAN = (DEMO_SITE / "v1" / "ty/live/2024903/67541.shtm").read_text(encoding="utf-8")
MISREAD = TAIYUAN.replace("个人缴费标准为400元/人/年", "个人缴费标准为3800元/人/年")
STALE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>大同市2025年度城乡居民医保缴费标准</title></head>
<body><div class="header"><a href="/">首页</a> &gt; 社保</div>
<div class="content" id="bo">
<h1>大同市2025年度城乡居民医保缴费标准</h1>
<p>大同市2025年度城乡居民基本医疗保险集中缴费期为2024年9月1日至2024年12月31日。</p>
<p>大同市2025年度城乡居民医保个人缴费标准为每人每年350元，在校学生每人每年300元。</p>
<p>参保人可通过“山西税务”微信公众号、云缴费或协作银行营业网点缴费。</p>
</div><div class="footer">版权所有</div></body></html>"""


@pytest.fixture(scope="module")
def crawled(module_site, module_db, tmp_path_factory):
    site = module_site
    receiver = Receiver().start()
    site.route("ty/guide.shtm", body=TAIYUAN)
    site.route("dt/guide.shtm", body=STALE)
    sources = write_sources(tmp_path_factory.mktemp("cfg") / "sources.toml", f'''
        notify = ["{receiver.url()}"]
        [[source]]
        name = "太原本地宝"
        url = "{site.url('ty/guide.shtm')}"
        [[source]]
        name = "大同本地宝"
        url = "{site.url('dt/guide.shtm')}"
    ''')
    db = module_db()
    for body in (TAIYUAN, MISREAD):
        site.route("ty/guide.shtm", body=body)
        proc = check(sources, db)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    yield db, sources, receiver
    receiver.stop()


def test_a_fee_misread_as_3800_yuan_is_a_medium_change_with_a_note(crawled):
    db, _, receiver = crawled
    (change,) = [c for c in ChangeStore(Database(db)).changes() if c["kind"] == "personal_contribution"]
    assert (change["type"], change["old"]["amount"], change["new"]["amount"]) == ("fact_changed", 400, 3800)
    assert change["severity"] == "medium"
    assert change["detail"]["low_confidence"] == [
        {"side": "new", "kind": "personal_contribution", "confidence": 0.3, "reason": "amount_out_of_range"}]
    proc = run_cli("changes", "--db", db, "--json")
    (listed,) = [c for c in json.loads(proc.stdout) if c["kind"] == "personal_contribution"]
    assert listed["severity"] == "medium" and listed["low_confidence"] == change["detail"]["low_confidence"]
    (post,) = receiver.posts
    assert "个人缴费 400 → 3800 元/人/年（2025年度）（置信度低：金额超出该年度合理范围，请人工核对）" in post[1]["message"]


def test_the_stored_facts_carry_their_confidence(crawled):
    db, _, _ = crawled
    with Database(db).engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, confidence FROM facts")).all()
    assert {c for _, c in rows} <= {0.3, 0.8, 0.9} and ("personal_contribution", 0.3) in rows
    assert all(c is not None for _, c in rows)


def test_a_page_below_the_national_minimum_is_reported_by_sources_and_status(crawled):
    db, sources, _ = crawled
    proc = run_cli("sources", "--sources", str(sources), "--db", db, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["太原本地宝"]["below_national_minimum"] == []  # 3800 is low confidence, not a stale standard
    (item,) = rows["大同本地宝"]["below_national_minimum"]  # the students' 300 is a special group's rate
    assert {k: item[k] for k in ("kind", "plan_year", "amount", "minimum", "national_year")} == {
        "kind": "personal_contribution", "plan_year": 2025, "amount": 350, "minimum": 400, "national_year": 2024}
    assert item["url"].endswith("dt/guide.shtm")
    table = run_cli("sources", "--sources", str(sources), "--db", db)
    assert "below national minimum (低于国家最低标准): 大同本地宝" in table.stdout
    assert "个人缴费 350 < 400 元" in table.stdout
    status = run_cli("status", "--sources", str(sources), "--db", db, "--json")
    by_name = {s["name"]: s for s in json.loads(status.stdout)["sources"]}
    assert [i["amount"] for i in by_name["大同本地宝"]["below_national_minimum"]] == [350]
    assert status.returncode == 0  # a stale page is reported, not a failure
