"""Fact-level diff: health first, facts matched by identity, Chinese-aware text diff, reverts, conflicts."""
from __future__ import annotations

from monitor.diff import conflicts, diff_facts, diff_page, judge_health, text_diff

TEXT = "太原市2025年度城乡居民医保的缴费时间为2024年9月1日至2025年2月25日，缴费截止日期为2月25日。个人缴费标准为400元/人/年。"


def fact(kind, value, plan_year=2025, region="140100", evidence="…"):
    return {"kind": kind, "value": value, "plan_year": plan_year, "region": region, "evidence": evidence}


DEADLINE_A = fact("payment_deadline", {"date": "2025-02-25"})
DEADLINE_B = fact("payment_deadline", {"date": "2025-03-31"})
FEE = fact("personal_contribution", {"amount": 400, "qualifier": "exact", "change": None})
WECHAT = fact("payment_channel", {"name": "微信"})
ALIPAY = fact("payment_channel", {"name": "支付宝"})


def snap(id_, facts, text=TEXT, hash_=None):
    return {"id": id_, "main_text": text, "content_hash": hash_ or f"h{id_}", "url": "http://127.0.0.1/p",
            "facts": facts, "source_id": 1, "page_id": 1, "source": "太原"}


PAGE = {"page_id": 1, "source_id": 1, "url": "http://127.0.0.1/p", "source": "太原", "discovered": False}


def test_same_fact_with_new_value_is_a_change_not_add_and_remove():
    assert diff_facts([DEADLINE_A, FEE], [DEADLINE_B, FEE]) == [("fact_changed", DEADLINE_A, DEADLINE_B)]


def test_list_items_are_added_and_removed_by_name():
    assert diff_facts([WECHAT], [WECHAT, ALIPAY]) == [("fact_added", None, ALIPAY)]
    assert diff_facts([WECHAT, ALIPAY], [ALIPAY]) == [("fact_removed", WECHAT, None)]


def test_high_and_medium_severity_and_a_low_text_change():
    health, changes = diff_page(PAGE, [snap(1, [DEADLINE_A, WECHAT])],
                                snap(2, [DEADLINE_B, WECHAT, ALIPAY], TEXT.replace("2月25日", "3月31日")))
    assert health == "ok"
    assert [(c["type"], c["kind"], c["severity"]) for c in changes] == [
        ("fact_changed", "payment_deadline", "high"), ("fact_added", "payment_channel", "medium"),
        ("text_changed", None, "low")]
    assert changes[0]["old"] == {"date": "2025-02-25"} and changes[0]["new"] == {"date": "2025-03-31"}


def test_first_version_of_a_watched_page_is_the_baseline():
    assert diff_page(PAGE, [], snap(1, [DEADLINE_A])) == ("ok", [])


def test_new_article_on_a_watched_list_reports_its_facts():
    health, changes = diff_page({**PAGE, "discovered": True}, [], snap(1, [DEADLINE_A]))
    assert [(c["type"], c["kind"]) for c in changes] == [("fact_added", "payment_deadline")]


def test_unhealthy_pages_are_never_diffed():
    assert judge_health("系统维护中，请稍后访问。" * 3, [], TEXT, [DEADLINE_A]) == "maintenance page"
    assert judge_health("抱歉，您访问的页面不存在或已被删除，请返回首页。", [], TEXT, [DEADLINE_A]) == "soft 404"
    assert judge_health("请输入验证码后继续访问本站内容，谢谢配合。", [], None, []) == "captcha or block page"
    assert judge_health("", [], None, []) == "empty or truncated page"
    shrunk = "通知公告栏目正在更新，请稍后再来查看相关内容，谢谢。本栏目其他文章列表暂不可用，敬请谅解。"
    assert judge_health(shrunk, [], TEXT * 3, [DEADLINE_A]) == "facts vanished and text shrank"
    health, changes = diff_page(PAGE, [snap(1, [DEADLINE_A])], snap(2, [], "系统维护中，请稍后访问。" * 3))
    assert (health, changes) == ("maintenance page", [])


def test_a_long_notice_mentioning_maintenance_is_healthy():
    text = TEXT * 10 + "缴费系统将于12月30日升级维护。"
    assert judge_health(text, [DEADLINE_A], TEXT, [DEADLINE_A]) == "ok"


def test_a_b_a_is_one_revert():
    a1, b, a2 = snap(1, [DEADLINE_A], hash_="A"), snap(2, [DEADLINE_B], hash_="B"), snap(3, [DEADLINE_A], hash_="A")
    health, changes = diff_page(PAGE, [a1, b], a2)
    assert [(c["type"], c["severity"]) for c in changes] == [("revert", "high")]
    assert changes[0]["detail"]["reverted_to_snapshot"] == 1


def test_text_diff_marks_changed_characters_in_chinese_sentences():
    lines = text_diff("缴费截止日期为2月25日。其他内容不变。", "缴费截止日期为3月31日。其他内容不变。")
    assert lines == ["~ 缴费截止日期为[-2-]{+3+}月[-25-]{+31+}日。"]


def test_two_sources_disagreeing_is_one_conflict_until_a_side_changes():
    province = {**snap(10, [fact("payment_deadline", {"date": "2024-12-25"}, region="140000")]),
                "source_id": 2, "source": "山西省医保局"}
    city = snap(11, [DEADLINE_A])
    known: set[str] = set()
    first = conflicts([province, city], known)
    assert [(c["type"], c["kind"], c["old"], c["new"]) for c in first] == [
        ("conflict", "payment_deadline", {"date": "2024-12-25"}, {"date": "2025-02-25"})]
    assert conflicts([province, city], known) == []  # recorded once
    moved = snap(12, [DEADLINE_B])
    assert len(conflicts([province, moved], known)) == 1  # a side changed: a new conflict


def test_other_provinces_and_national_floors_are_not_conflicts():
    other = {**snap(20, [fact("payment_deadline", {"date": "2024-12-31"}, region="110000")]), "source_id": 3}
    national = {**snap(21, [fact("payment_deadline", {"date": "2024-12-31"}, region="000000")]), "source_id": 4}
    assert conflicts([other, national, snap(11, [DEADLINE_A])], set()) == []


def test_three_failures_make_one_failing_and_one_recovered_change():
    from monitor.diff import health_changes
    bad, good = (False, "HTTP 404"), (True, "ok")
    seen, last = [], None
    states = [good]
    for state in [bad, bad, bad, bad, bad, good, good]:
        states.append(state)
        for c in health_changes(PAGE, states, last):
            seen.append(c["type"])
            last = (c["type"], len(states) - 1)  # what the stored change covers
    assert seen == ["source_failing", "source_recovered"]


def _table(rows: int, fee: int) -> str:
    return "\n".join(f"第{i}行 第{i}社区 参保人数{i * 3 + fee % 7}人 个人缴费{fee}元。" for i in range(rows))


def test_text_diff_of_a_changed_big_table_pairs_each_row_with_its_own_row():
    lines = text_diff(_table(2000, 380), _table(2000, 400))
    assert len(lines) == 20
    assert lines[:2] == ["~ 第0行 第0社区 参保人数[-2-]{+1+}人 个人缴费[-38-]{+40+}0元。",
                         "~ 第1行 第1社区 参保人数[-5-]{+4+}人 个人缴费[-38-]{+40+}0元。"]


def test_text_diff_work_is_bounded_by_its_line_limit(monkeypatch):
    import difflib
    calls = []
    real_ratio = difflib.SequenceMatcher.ratio
    monkeypatch.setattr(difflib.SequenceMatcher, "ratio", lambda self: calls.append(1) or real_ratio(self))
    text_diff(_table(2000, 380), _table(2000, 400), limit=20)
    assert len(calls) <= 20 * 17  # at most 2 × PAIR_WINDOW + 1 candidates per shown line (it was 2000 × 2000)


def test_text_diff_of_a_long_unpunctuated_sentence_is_removed_and_added():
    old = "甲乙丙丁" * 2000
    new = old[:4000] + "戊" + old[4000:]
    assert text_diff(old, new) == ["- " + old, "+ " + new]


def test_text_diff_keeps_a_repeated_unchanged_head_out_of_the_diff():
    old = "\n".join(["附件。"] * 3000 + ["缴费标准为380元。"])
    new = "\n".join(["附件。"] * 3000 + ["缴费标准为400元。"])
    assert text_diff(old, new) == ["~ 缴费标准为[-38-]{+40+}0元。"]


def test_health_transitions_are_judged_from_the_stored_checks_not_the_current_count():
    from monitor.diff import health_changes
    bad, good = (False, "HTTP 503"), (True, "ok")
    # the 3rd error's run died before its diff stage: the 4th still reports the failure, once
    (failing,) = health_changes(PAGE, [good, bad, bad, bad, bad])
    assert failing["type"] == "source_failing" and failing["detail"]["checks"] == 4
    assert health_changes(PAGE, [good, bad, bad, bad, bad], ("source_failing", 3)) == []
    # the first healthy check's run died: the next healthy one reports the recovery
    (recovered,) = health_changes(PAGE, [bad, bad, bad, good, good], ("source_failing", 2))
    assert recovered["type"] == "source_recovered" and recovered["detail"]["after_checks"] == 3
    assert health_changes(PAGE, [bad, bad, bad, good, good], ("source_recovered", 3)) == []
    # recovered and failing again while no diff stage ran: both, in order
    assert [c["type"] for c in health_changes(PAGE, [bad, bad, bad, good, bad, bad, bad], ("source_failing", 2))] \
        == ["source_recovered", "source_failing"]
    # a failure reported before the window of checks read: recovered at the first healthy check
    assert [c["type"] for c in health_changes(PAGE, [bad, good], ("source_failing", -1))] == ["source_recovered"]


def test_health_alerts_carry_the_sources_configured_region():
    from monitor.diff import health_changes
    bad = (False, "HTTP 503")
    page = dict(PAGE, source_region="运城市")
    (failing,) = health_changes(page, [bad, bad, bad])
    assert failing["region"] == "140800"
    (unknown,) = health_changes(dict(PAGE, source_region="不存在的地方"), [bad, bad, bad])
    assert unknown["region"] is None
