"""A change built on a low-confidence fact is alerted as medium with a note, never as high."""
from __future__ import annotations

from datetime import datetime, timezone

from monitor.alerts import change_line, render
from monitor.diff import conflicts, diff_page

TEXT = "太原市2025年度城乡居民医保个人缴费标准为每人每年400元。缴费时间为2024年9月1日至2024年12月31日。"
PAGE = {"page_id": 1, "source_id": 1, "url": "http://127.0.0.1/p", "source": "太原", "discovered": False}
NOTE = "（置信度低：金额超出该年度合理范围，请人工核对）"


def fee(amount, confidence, region="140100"):
    return {"kind": "personal_contribution", "value": {"amount": amount, "qualifier": "exact", "change": None},
            "plan_year": 2025, "region": region, "evidence": f"个人缴费标准为每人每年{amount}元。",
            "confidence": confidence}


def snap(id_, facts, hash_=None, source_id=1, source="太原"):
    return {"id": id_, "main_text": TEXT, "content_hash": hash_ or f"h{id_}", "url": f"http://127.0.0.1/{source_id}",
            "facts": facts, "source_id": source_id, "page_id": source_id, "source": source}


def fact_changes(changes):
    return [c for c in changes if c["type"] != "text_changed"]


def test_a_fee_changing_to_an_implausible_amount_is_medium_with_a_note():
    _, changes = diff_page(PAGE, [snap(1, [fee(400, 0.9)])], snap(2, [fee(3800, 0.3)]))
    (change,) = fact_changes(changes)
    assert (change["type"], change["severity"]) == ("fact_changed", "medium")
    assert change["detail"]["low_confidence"] == [
        {"side": "new", "kind": "personal_contribution", "confidence": 0.3, "reason": "amount_out_of_range"}]
    assert change_line(change) == "个人缴费 400 → 3800 元/人/年（2025年度）" + NOTE


def test_a_plausible_change_stays_high_without_a_note_and_unassessed_facts_count_as_plausible():
    _, changes = diff_page(PAGE, [snap(1, [fee(400, 0.9)])], snap(2, [fee(420, 0.9)]))
    (change,) = fact_changes(changes)
    assert change["severity"] == "high" and change["detail"] is None and NOTE not in change_line(change)
    _, changes = diff_page(PAGE, [snap(1, [fee(400, None)])], snap(2, [fee(420, None)]))
    assert fact_changes(changes)[0]["severity"] == "high"


def test_a_low_confidence_fact_going_away_is_medium_too():
    _, changes = diff_page(PAGE, [snap(1, [fee(3800, 0.3)])], snap(2, [fee(400, 0.9)]))
    (change,) = fact_changes(changes)
    assert change["severity"] == "medium" and change["detail"]["low_confidence"][0]["side"] == "old"


def test_an_implausible_fact_on_a_new_article_is_added_as_medium():
    _, changes = diff_page({**PAGE, "discovered": True}, [], snap(1, [fee(3800, 0.3), fee(400, 0.9, "140000")]))
    assert [(c["type"], c["severity"]) for c in changes] == [("fact_added", "medium"), ("fact_added", "high")]


def test_a_revert_resting_only_on_low_confidence_facts_is_medium():
    a1, b, a2 = (snap(1, [fee(400, 0.9)], "A"), snap(2, [fee(3800, 0.3)], "B"), snap(3, [fee(400, 0.9)], "A"))
    _, (revert,) = diff_page(PAGE, [a1, b], a2)
    assert (revert["type"], revert["severity"]) == ("revert", "medium")
    assert revert["detail"]["low_confidence"][0]["side"] == "old" and change_line(revert).endswith(NOTE)


def test_a_conflict_with_a_low_confidence_side_is_medium_with_a_note():
    found = conflicts([snap(1, [fee(400, 0.9)], source_id=1, source="太原本地宝"),
                       snap(2, [fee(3800, 0.3)], source_id=2, source="太原医保局")], set())
    (conflict,) = found
    assert conflict["severity"] == "medium" and conflict["detail"]["sources"] == ["太原本地宝", "太原医保局"]
    assert conflict["detail"]["low_confidence"][0]["side"] == "new"
    (plain,) = conflicts([snap(1, [fee(400, 0.9)], source_id=1), snap(2, [fee(420, 0.9)], source_id=2)], set())
    assert plain["severity"] == "high" and "low_confidence" not in plain["detail"]


def test_the_chinese_alert_says_the_value_needs_checking():
    _, changes = diff_page(PAGE, [snap(1, [fee(400, 0.9)])], snap(2, [fee(3800, 0.3)]))
    title, text, markdown = render(fact_changes(changes), datetime(2024, 9, 3, 4, tzinfo=timezone.utc))
    assert NOTE in title and NOTE in text and "置信度低" in markdown
