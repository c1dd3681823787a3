"""Dates in a payment notice that are not the residents' payment period: targets and reporting dates set for
the offices, and periods of other activities (a 公示期, a campaign) named in the date's own clause."""
from __future__ import annotations

from datetime import datetime

import pytest

from extractors import extract

PUB = datetime(2025, 9, 2, 9, 30)
TOPIC = "城乡居民医保参保缴费工作要点。\n"


def dates(text: str) -> list[tuple]:
    doc = extract(TOPIC + text, published=PUB)
    return sorted((f.kind, f.value.get("date") or f.value["start"]) for f in doc.facts
                  if f.kind in ("payment_window", "payment_deadline"))


@pytest.mark.parametrize("sentence", [
    "各乡镇要在2025年11月20日前完成全年征缴任务的九成。",
    "各县医保局于2025年10月10日前将参保缴费进度报市医保局。",
    "2025年12月15日前，各地参保缴费完成情况纳入年度考核。",
])
def test_targets_and_reporting_dates_for_the_offices_are_not_deadlines(sentence):
    assert dates(sentence) == []


@pytest.mark.parametrize("sentence", [
    "居民医保个人缴费标准调整方案公示期为2025年8月4日至8月10日。",
    "医保码推广活动于2025年10月1日至10月31日举行，参保缴费的居民可参加抽奖。",
    "居民医保缴费政策进社区宣传于2025年9月1日至9月15日进行。",
])
def test_periods_of_other_activities_are_not_payment_windows(sentence):
    assert dates(sentence) == []


def test_the_payment_window_beside_an_offices_target_is_kept():
    found = dates("2026年度居民医保集中缴费期为2025年9月1日至2025年12月31日，"
                  "各区要在2025年11月30日前完成八成征缴任务。")
    assert found == [("payment_deadline", "2025-12-31"), ("payment_window", "2025-09-01")]


def test_a_payment_window_stated_after_a_publicity_period_is_kept():
    found = dates("缴费标准公示期为2025年8月1日至8月7日；集中缴费期为2025年9月1日至12月31日。")
    assert found == [("payment_deadline", "2025-12-31"), ("payment_window", "2025-09-01")]


def test_a_coverage_period_labelled_as_such_is_not_a_payment_window_though_it_names_paying():
    doc = extract(TOPIC + "待遇享受期：参保缴费年度的次年1月1日至12月31日。", published=PUB)
    assert [f.kind for f in doc.facts if f.kind in ("payment_window", "payment_deadline", "coverage_period")] == [
        "coverage_period"]


def test_a_payment_window_labelled_as_such_stays_one():
    assert dates("缴费时间：2025年9月1日至2025年12月31日，逾期缴费的设置待遇等待期。") == [
        ("payment_deadline", "2025-12-31"), ("payment_window", "2025-09-01")]


def test_a_monthly_window_of_employee_insurance_is_not_read():
    doc = extract(TOPIC + "灵活就业人员按月缴纳职工医保的，缴费时间为每月5日至20日。", published=PUB)
    assert [f for f in doc.facts if f.kind == "monthly_window"] == []


def test_a_monthly_window_of_resident_insurance_is_read():
    doc = extract(TOPIC + "居民医保按月缴费的，缴费时间为每月5日至20日。", published=PUB)
    assert [f.value for f in doc.facts if f.kind == "monthly_window"] == [{"start_day": 5, "end_day": 20}]


def test_a_monthly_window_beside_a_monthly_suspension_is_kept():
    doc = extract(TOPIC + "居民医保每月2日至22日可以缴费，每月23日至月底为银行对账期，暂停缴费。", published=PUB)
    assert [f.value for f in doc.facts if f.kind == "monthly_window"] == [{"start_day": 2, "end_day": 22}]


def test_a_payment_period_that_starts_and_ends_is_a_window():
    assert dates("2026年度居民医保参保缴费工作于2025年9月15日启动，12月25日结束。") == [
        ("payment_deadline", "2025-12-25"), ("payment_window", "2025-09-15")]


@pytest.mark.parametrize("sentence", [
    "参保缴费后，待遇享受期至2026年12月31日结束。",
    "居民医保缴费政策宣传月于2025年9月30日结束。",
])
def test_other_periods_that_end_are_not_deadlines(sentence):
    assert dates(sentence) == []


def test_the_answer_to_when_to_pay_states_the_payment_window():
    assert dates("问：2026年度居民医保什么时候交？\n答：从2025年9月10日开始，到12月20日截止。") == [
        ("payment_deadline", "2025-12-20"), ("payment_window", "2025-09-10")]


@pytest.mark.parametrize("question", ["问：灵活就业人员职工医保什么时候交？", "问：居民医保报销需要多长时间？"])
def test_an_answer_to_another_question_states_no_payment_dates(question):
    assert dates(question + "\n答：从2025年9月10日开始，到12月20日截止。") == []


@pytest.mark.parametrize("sentence", [
    "2025年9月5日至9月25日为参保信息核对期，核对无误后开始缴费。",
    "2025年9月1日至9月20日为摸底准备阶段，此后进入集中缴费。",
])
def test_a_range_named_as_another_period_is_not_a_payment_window(sentence):
    assert dates(sentence) == []


@pytest.mark.parametrize("sentence", [
    "2025年9月5日至12月25日为2026年度居民医保集中参保缴费期。",
    "2025年9月5日至12月25日为集中缴费期，逾期设置等待期。",
])
def test_a_range_named_as_the_payment_period_is_a_payment_window(sentence):
    assert dates(sentence) == [("payment_deadline", "2025-12-25"), ("payment_window", "2025-09-05")]


def test_the_span_of_a_year_glossed_in_brackets_is_not_a_payment_window():
    assert dates("2026年度（2026年1月1日至12月31日）居民医保个人缴费为每人每年410元。") == []


def test_the_former_deadline_named_beside_an_extension_is_not_a_deadline():
    assert dates("缴费时间延长至2026年1月25日（原截止时间为2025年12月25日）。") == [("payment_deadline", "2026-01-25")]


def test_a_date_before_which_some_already_paid_is_no_deadline():
    assert dates("2025年11月20日前已缴费的参保人，无需重复缴纳。") == []


@pytest.mark.parametrize("sentence", [
    "截至2025年10月31日，全市已有126万人完成缴费。",
    "截至2025年11月15日，累计缴费人数达到87.6万人。",
    "截至2025年11月15日，全区共有3.2万户家庭完成参保缴费。",
])
def test_a_count_of_payers_up_to_a_date_is_no_deadline(sentence):
    assert dates(sentence) == []
