"""The error classes found on real documents (issue 11), each with sentences written by us.

Real pages mention resident insurance numbers in passing, beside other subjects' numbers: a fact is read only
when its own clause says what the number is.
"""
from __future__ import annotations

from datetime import datetime

import pytest

from extractors import extract

PUB = datetime(2025, 9, 2, 9, 30)
TOPIC = "城乡居民医保参保缴费工作要点。\n"
CORE = ("personal_contribution", "fiscal_subsidy", "payment_window", "payment_deadline", "coverage_period")


def core(text: str, published=PUB, title=None) -> list[tuple]:
    doc = extract(TOPIC + text, published=published, title=title)
    return sorted((f.kind, f.value.get("amount", f.value.get("date", f.value.get("start"))))
                  for f in doc.facts if f.kind in CORE)


def amounts(text: str, **kw) -> list[tuple]:
    return [(k, v) for k, v in core(text, **kw) if k in ("personal_contribution", "fiscal_subsidy")]


# 1. 个人 + an amount is not a contribution without contribution wording
@pytest.mark.parametrize("sentence", [
    "参保人住院时，先由个人承担一次住院起付标准500元。",
    "使用谈判药品后，经居民医保报销，个人支付约八千元。",
    "调查显示，城镇家庭个人文化娱乐支出平均6150元。",
    "参保居民门诊就医，个人自付部分每次不超过30元。",
])
def test_personal_costs_are_not_contributions(sentence):
    assert amounts(sentence) == []


@pytest.mark.parametrize("sentence", [
    "缴纳的居民医保费可在个人所得税前据实扣除，每人每年最高扣除1200元。",
    "一次缴清有困难的，居民医保费可分期缴纳，首期不低于150元。",
])
def test_tax_deductions_and_instalments_are_not_the_contribution(sentence):
    assert amounts(sentence) == []


@pytest.mark.parametrize("sentence, amount", [
    ("居民医保执行标准为每人每年1040元，其中个人缴纳350元。", 350),
    ("问：个人需要缴纳多少钱？\n答：成年居民每人每年420元。", 420),
    ("到了2025年，每人每年的参保费涨到400元。", 400),
    ("2025年居民个人最低缴费标准提高到400元。", 400),
])
def test_contribution_wordings_are_read(sentence, amount):
    assert ("personal_contribution", amount) in amounts(sentence)


# 2. shares by government level are not the per-capita subsidy
def test_shares_of_government_levels_are_not_the_subsidy():
    found = amounts("居民医保人均财政补助标准不低于700元，其中西部县中央补助560元、省级补助84元、"
                    "市县两级补助不低于56元。")
    assert found == [("fiscal_subsidy", 700)]


def test_a_government_levels_payment_under_a_contribution_heading_is_no_standard():
    found = core("二、个人缴费标准\n省财政按照每人每年150元的标准对各县给予补助。")
    assert [k for k, _ in found if k in ("personal_contribution", "fiscal_subsidy")] == []


def test_an_extra_top_up_is_not_the_subsidy_standard():
    assert amounts("居民医保政府补助标准为每人每年710元，市财政另行安排补助25元。") == [("fiscal_subsidy", 710)]


def test_central_treasury_share_alone_is_no_subsidy_standard():
    assert amounts("中央财政补贴按每人每年420元拨付到各地。") == []


# 3. paired lists after 分别
def test_two_lists_after_respectively_align_with_their_subjects():
    doc = extract(TOPIC + "财政补助和个人缴费标准分别较上年增加30元和10元，每人每年分别不低于700元和410元。",
                  published=PUB)
    got = {(f.kind, f.value["amount"], f.value["change"]) for f in doc.facts
           if f.kind in ("personal_contribution", "fiscal_subsidy")}
    assert got == {("fiscal_subsidy", 700, 30), ("personal_contribution", 410, 10)}


def test_respectively_list_keeps_the_order_as_written():
    assert amounts("个人缴费和财政补助分别为每人每年390元和680元。") == [
        ("fiscal_subsidy", 680), ("personal_contribution", 390)]


def test_a_list_of_increments_alone_states_no_standard():
    assert amounts("财政补助和个人缴费标准分别提高30元和20元。") == []


def test_respectively_across_transcript_lines():
    lines = ["今天我们来聊聊看病的钱"] * 30 + ["财政补助和个人缴费的标准", "分别比上年提高了25元和15元",
                                             "达到每人每年不低于695元和395元", "这个涨幅引起了很多讨论"]
    got = amounts("\n".join(lines))
    assert got == [("fiscal_subsidy", 695), ("personal_contribution", 395)]


# 4. lump sums over several years
def test_a_lump_sum_for_several_years_is_not_the_yearly_standard():
    got = amounts("学生医保每人每年300元，其中个人缴纳100元，同级财政补贴200元，一次性三年300元。")
    assert got == [("fiscal_subsidy", 200), ("personal_contribution", 100)]


# 5. the programme is decided per clause, not per sentence
def test_other_programme_in_an_earlier_clause_does_not_hide_the_fact():
    got = amounts("城乡居民基础养老金每人每月再提高15元，城乡居民医保人均财政补助标准再增加25元，达到每人每年725元。")
    assert got == [("fiscal_subsidy", 725)]


def test_other_programme_after_the_amount_does_not_hide_it():
    assert amounts("各级财政人均补助标准提高到每人每年不低于730元，新增部分的一半用于大病保险。") == [
        ("fiscal_subsidy", 730)]


def test_numbers_of_the_other_programme_are_still_ignored():
    assert amounts("城乡居民医保个人缴费标准为400元，大病保险筹资标准为每人每年65元。") == [
        ("personal_contribution", 400)]


# 6. wordings
@pytest.mark.parametrize("sentence, amount", [
    ("国家财政对居民参保的补助增加到不低于700元。", 700),
    ("各地财政补助不低于每人每年700元。", 700),
    ("政府补助标准为每人每年不低于700元。", 700),
])
def test_subsidy_wordings_are_read(sentence, amount):
    assert amounts(sentence) == [("fiscal_subsidy", amount)]


def test_transcript_subject_and_value_on_two_lines():
    lines = ["下面说说医保"] * 30 + ["到了今年各地财政补助", "不低于每人每年700元", "听起来不少"]
    assert amounts("\n".join(lines)) == [("fiscal_subsidy", 700)]


def test_transcript_value_on_its_own_line_has_no_subject():
    lines = ["下面说说物价"] * 30 + ["居民医保的报销越来越方便", "一箱苹果卖到了120元"]
    assert amounts("\n".join(lines)) == []


# 7. suspensions, refunds and other programmes' windows are not payment windows
@pytest.mark.parametrize("sentence", [
    "因系统升级，2025年12月20日至12月22日全市暂停办理居民医保缴费业务。",
    "2025年11月3日至11月5日系统维护期间，居民医保缴费停止受理。",
    "重复缴费的退费申请时间为2025年10月8日至10月31日。",
    "职工医保补缴时间为2025年10月1日至10月31日。",
    "灵活就业人员养老保险缴费截止日期为2025年12月25日。",
])
def test_periods_when_no_one_pays_are_not_payment_windows(sentence):
    assert [k for k, _ in core(sentence) if k.startswith("payment")] == []


def test_a_conditional_maintenance_note_keeps_the_window():
    found = core("集中缴费期为2025年9月1日至12月31日，期间如遇系统维护将另行通知。")
    assert ("payment_window", "2025-09-01") in found and ("payment_deadline", "2025-12-31") in found


# 8. regions and plan years from incidental mentions
def test_a_year_quoted_in_passing_is_not_the_plan_year():
    doc = extract("新农合2003年起步，2016年与城镇居民医保整合为城乡居民医保。2024年个人缴费标准为400元。",
                  published=PUB)
    assert doc.plan_year == 2024


def test_a_provincial_standard_for_named_cities_is_those_cities_fact():
    text = ("2026年度全省城乡居民医保个人缴费标准为每人每年400元。"
            "其中，大同市、朔州市个人缴费标准为每人每年390元。太原市医保局负责做好宣传，缴费标准为每人每年400元。")
    doc = extract(text, title="山西省2026年度城乡居民医保缴费标准", published=PUB)
    assert doc.region["code"] == "140000"
    assert sorted((f.value["amount"], f.region) for f in doc.facts if f.kind == "personal_contribution") == [
        (390, "140200"), (390, "140600"), (400, "140000")]


def test_national_story_with_a_place_in_passing_is_national():
    text = ("国家医保局、财政部近日发布通知。另据报道，北京市一处公园新开放。"
            "我国城乡居民医保人均财政补助标准达到每人每年不低于700元。全国各地陆续启动征缴。")
    doc = extract(text, published=PUB)
    assert doc.region["name"] == "全国"
    assert {f.region for f in doc.facts if f.kind == "fiscal_subsidy"} == {"000000"}


def test_digest_spread_over_provinces_names_no_single_province():
    text = ("今日要闻：江苏南京发布暴雨预警；四川成都新开地铁线路；广东深圳举办展会；湖北武汉樱花开放。"
            "国务院常务会议部署工作；国家医保局通报：城乡居民医保个人缴费标准为每人每年400元。")
    assert extract(text, published=PUB).region["name"] == "全国"


def test_local_notice_citing_national_bodies_stays_local():
    text = ("根据国家医保局、财政部、国家税务总局有关通知要求，现就做好我市2025年度城乡居民医保参保工作通知如下。"
            "太原市2025年度个人缴费标准为每人每年400元。")
    assert extract(text, published=PUB).region["name"] == "太原市"


def test_a_premium_that_includes_critical_illness_cover_is_still_resident_insurance():
    assert amounts("居民医保个人缴费标准（含大病保险）为每人每年410元。") == [("personal_contribution", 410)]
    assert amounts("财政补助标准提高到每人每年不低于710元（含大病保险）。") == [("fiscal_subsidy", 710)]


def test_the_part_of_a_premium_for_another_programme_is_not_a_standard():
    assert amounts("个人缴费标准为每人每年410元，其中大病保险60元。") == [("personal_contribution", 410)]
