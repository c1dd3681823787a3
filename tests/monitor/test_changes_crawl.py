"""Changes over a sequence of real crawls: moved deadline, raised fee, cosmetic edits, maintenance, revert, conflict."""
from __future__ import annotations

import json

import pytest

from conftest import DEMO_SITE, SITE, check, run_cli, write_sources
from storage import ChangeStore, Database

TAIYUAN = "ty/live/2024903/67541.shtm"
V1 = (DEMO_SITE / "v1" / TAIYUAN).read_text(encoding="utf-8")
V2 = (DEMO_SITE / "v2" / TAIYUAN).read_text(encoding="utf-8").replace("400元/人/年", "420元/人/年")
COSMETIC = V1.replace('id="hits">8264', 'id="hits">9001').replace("<li", "<li class='x'", 4)
MAINTENANCE = (SITE / "other" / "maintenance.html").read_text(encoding="utf-8")
PROVINCE = DEMO_SITE / "v1" / "ybj/tzgg/202409/t20240901_1001.shtml"


@pytest.fixture(scope="module")
def history(module_site, module_db, tmp_path_factory):
    site = module_site
    site.route("guide.shtm", body=V1)
    site.route("province.shtml", body=PROVINCE.read_text(encoding="utf-8"))
    sources = write_sources(tmp_path_factory.mktemp("cfg") / "sources.toml", f'''
        [[source]]
        name = "太原本地宝"
        url = "{site.url('guide.shtm')}"
        [[source]]
        name = "山西省医保局"
        url = "{site.url('province.shtml')}"
    ''')
    db = module_db()
    steps = {}
    for step, body in [("baseline", V1), ("cosmetic", COSMETIC), ("maintenance", MAINTENANCE), ("restored", V1),
                       ("changed", V2), ("reverted", V1)]:
        site.route("guide.shtm", body=body)
        proc = check(sources, db)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        steps[step] = [c for c in ChangeStore(Database(db)).changes() if c["run_id"] == len(steps) + 1]
    return steps, db, sources


def kinds(changes):
    return sorted((c["type"], c["kind"] or "") for c in changes)


def test_province_and_city_disagreeing_is_a_conflict_on_the_first_run(history):
    steps, _, _ = history
    assert ("conflict", "payment_deadline") in kinds(steps["baseline"])
    assert all(c["type"] == "conflict" for c in steps["baseline"])


def test_view_counter_and_related_list_changes_make_no_change(history):
    assert history[0]["cosmetic"] == []


def test_maintenance_page_and_its_restore_make_no_change(history):
    steps, db, _ = history
    assert steps["maintenance"] == [] and steps["restored"] == []


def test_moved_deadline_and_raised_fee_are_high_severity_changes(history):
    changed = [c for c in history[0]["changed"] if c["type"] != "conflict"]
    by_kind = {c["kind"]: c for c in changed if c["type"] == "fact_changed"}
    assert by_kind["payment_deadline"]["old"] == {"date": "2025-02-25"}
    assert by_kind["payment_deadline"]["new"] == {"date": "2025-03-31"}
    assert by_kind["personal_contribution"]["old"]["amount"] == 400
    assert by_kind["personal_contribution"]["new"]["amount"] == 420
    assert {c["severity"] for c in by_kind.values()} == {"high"}
    assert "缴费截止日期为3月31日" in by_kind["payment_deadline"]["evidence_after"]
    assert "缴费截止日期为2月25日" in by_kind["payment_deadline"]["evidence_before"]
    (text,) = [c for c in changed if c["type"] == "text_changed"]
    assert text["severity"] == "low" and any("{+3+}" in line for line in text["detail"]["diff"])


def test_going_back_to_an_earlier_version_is_a_revert(history):
    reverted = [c for c in history[0]["reverted"] if c["type"] != "conflict"]
    assert [c["type"] for c in reverted] == ["revert"]


def test_changes_json_contract(history):
    _, db, _ = history
    proc = run_cli("changes", "--db", db, "--json", "--source", "太原本地宝")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and set(rows[0]) == {"id", "source", "url", "type", "kind", "old", "new", "severity", "detected_at",
                                     "evidence_before", "evidence_after", "low_confidence",
                                     "region", "plan_year", "line", "detail"}  # the last four extend the contract
    (text,) = [r for r in rows if r["type"] == "text_changed" and any("{+3+}" in d for d in r["detail"]["diff"])]
    assert text["line"] == "正文变化"
    fee = next(r for r in rows if r["type"] == "fact_changed" and r["kind"] == "personal_contribution")
    assert fee["line"] == "个人缴费 400 → 420 元/人/年（2025年度）" and fee["region"] == "140100"
    assert {r["source"] for r in rows} == {"太原本地宝"}
    assert {r["type"] for r in rows} <= {"fact_added", "fact_removed", "fact_changed", "text_changed", "conflict",
                                         "revert"}


def test_changes_prints_what_alerts_print(history):
    _, db, _ = history
    proc = run_cli("changes", "--db", db, "--source", "太原本地宝")
    assert proc.returncode == 0, proc.stderr
    blocks = proc.stdout.split("\n\n")
    fee = next(b for b in blocks if "个人缴费 400 → 420 元/人/年（2025年度）" in b)
    assert "high  太原本地宝  [太原市]" in fee and "链接：http://" in fee
    assert "原文（此前）：" in fee and "原文（现在）：" in fee and "{" not in fee.splitlines()[0]
    text = next(b for b in blocks if "正文变化" in b and "{+3+}" in b)
    assert text.splitlines()[1].startswith("    ~ ") or text.splitlines()[1].startswith("    + ")


def test_404_three_times_then_back_is_one_failing_and_one_recovered(site, db_url, tmp_path):
    site.route("flaky.shtm", body=V1)
    sources = write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "太原"\nurl = "{site.url("flaky.shtm")}"\n')
    seen = []
    for status in (200, 404, 404, 404, 404, 200):
        site.route("flaky.shtm", body=V1 if status == 200 else "<h1>404</h1>", status=status)
        check(sources, db_url)
        run = len(seen) + 1
        seen.append([c["type"] for c in ChangeStore(Database(db_url)).changes() if c["run_id"] == run])
    assert seen == [[], [], [], ["source_failing"], [], ["source_recovered"]]


def test_check_alerts_the_change_once_and_retries_when_the_receiver_was_down(site, db_url, tmp_path):
    from conftest import Receiver
    receiver = Receiver().start()
    site.route("guide.shtm", body=V1)
    sources = write_sources(tmp_path / "sources.toml", f'''
        notify = ["{receiver.url()}"]
        [[source]]
        name = "太原本地宝"
        url = "{site.url('guide.shtm')}"
    ''')
    check(sources, db_url)  # baseline: nothing to alert
    assert receiver.posts == []
    site.route("guide.shtm", body=V2)
    proc = check(sources, db_url)
    assert "alerts: 1 sent" in proc.stdout
    ((path, body),) = receiver.posts
    assert "缴费截止日期 2025-02-25 → 2025-03-31" in body["message"]
    assert "个人缴费 400 → 420 元/人/年" in body["message"]
    port = receiver.port
    receiver.stop()  # the target is down when the page changes back
    site.route("guide.shtm", body=V1)
    down = check(sources, db_url)
    assert down.returncode == 0 and "1 retried" in down.stdout
    pending = json.loads(run_cli("alerts", "--sources", str(sources), "--db", db_url, "--json",
                                 "--status", "pending").stdout)
    assert len(pending) == 1 and pending[0]["last_error"]
    assert "127.0.0.1" in pending[0]["target"]
    receiver = Receiver(port).start()
    try:
        retry = run_cli("alerts", "--sources", str(sources), "--db", db_url, "--retry")
        assert retry.returncode == 0 and "1 sent" in retry.stdout
        again = run_cli("alerts", "--sources", str(sources), "--db", db_url, "--retry")
        assert "0 sent" in again.stdout
        assert len(receiver.posts) == 1 and "恢复" in receiver.posts[0][1]["message"]
    finally:
        receiver.stop()


def notice(title: str, body: str) -> str:
    return (f'<html><head><meta charset="utf-8"><meta name="ArticleTitle" content="{title}">'
            f'<meta name="PubDate" content="2025-09-01 09:00"></head><body><nav>首页 通知公告</nav>'
            f'<div id="zoom"><div class="TRS_Editor">{body}</div></div><footer>主办单位：某市医疗保障局</footer>'
            f'</body></html>')


def listing(*links: str) -> str:
    items = "".join(f'<li><a href="{href}">通知</a></li>' for href in links)
    return f'<html><head><meta charset="utf-8"></head><body><ul class="list">{items}</ul></body></html>'


def test_raised_subsidy_added_channel_and_new_plan_year_notice(site, db_url, tmp_path):
    guide_v1 = notice("2025年度居民医保缴费指南", "<p>2025年度城乡居民医保个人缴费标准为每人每年400元，财政补助标准为每人每年不低于640元。</p>"
                                               "<p>参保人可以通过微信、支付宝等方式缴费。</p>")
    guide_v2 = notice("2025年度居民医保缴费指南", "<p>2025年度城乡居民医保个人缴费标准为每人每年400元，财政补助标准为每人每年不低于670元。</p>"
                                               "<p>参保人可以通过微信、支付宝、云闪付等方式缴费。</p>")
    old_notice = notice("关于2025年度城乡居民医保参保缴费的通知",
                        "<p>2025年度城乡居民医保个人缴费标准为每人每年400元。</p>")
    new_notice = notice("关于2026年度城乡居民医保参保缴费的通知",
                        "<p>2026年度城乡居民医保个人缴费标准为每人每年420元，集中缴费期为2025年9月1日至2025年12月31日。</p>")
    site.route("guide.html", body=guide_v1)
    site.route("tz/index.html", body=listing("/tz/202409/t20240901_1.shtml"))
    site.route("tz/202409/t20240901_1.shtml", body=old_notice)
    site.route("tz/202509/t20250901_2.shtml", body=new_notice)
    sources = write_sources(tmp_path / "sources.toml", f'''
        [[source]]
        name = "指南"
        url = "{site.url('guide.html')}"
        [[source]]
        name = "通知公告"
        url = "{site.url('tz/index.html')}"
        kind = "list"
        follow = '/tz/\\d+/t\\d+_\\d+\\.shtml$'
    ''')
    assert check(sources, db_url).returncode == 0
    site.route("guide.html", body=guide_v2)
    site.route("tz/index.html", body=listing("/tz/202509/t20250901_2.shtml", "/tz/202409/t20240901_1.shtml"))
    assert check(sources, db_url).returncode == 0
    run2 = [c for c in ChangeStore(Database(db_url)).changes() if c["run_id"] == 2 and c["type"] != "text_changed"]
    found = {(c["type"], c["kind"], json.dumps(c["new"], ensure_ascii=False), c["plan_year"]) for c in run2}
    assert ("fact_changed", "fiscal_subsidy", '{"amount": 670, "qualifier": "at_least", "change": null}', 2025) in found
    assert ("fact_added", "payment_channel", '{"name": "云闪付"}', 2025) in found
    assert ("fact_added", "personal_contribution", '{"amount": 420, "qualifier": "exact", "change": null}', 2026) in found
    assert ("fact_added", "payment_deadline", '{"date": "2025-12-31"}', 2026) in found
