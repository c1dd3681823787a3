"""A change of standard names last year's amount beside this year's: the old amount is never read as a
standard of its own (it would be stored, and alerted, as a second current value)."""
from __future__ import annotations

import pytest

from extractors import extract

TOPIC = "城乡居民医保参保缴费工作要点。\n"


def standards(text: str) -> list[tuple]:
    doc = extract(TOPIC + text)
    return sorted((f.kind, f.value["amount"], f.value["change"]) for f in doc.facts
                  if f.kind in ("personal_contribution", "fiscal_subsidy"))


@pytest.mark.parametrize("sentence, expected", [
    ("居民个人缴费标准由2023年的350元调整为2024年的380元。", [("personal_contribution", 380, 30)]),
    ("个人缴费标准从2024年度的每人每年380元提高到2025年度的每人每年400元。",
     [("personal_contribution", 400, 20)]),
    ("人均财政补助标准由上年度的640元提高至本年度的670元。", [("fiscal_subsidy", 670, 30)]),
    ("居民个人缴费标准由2022年350元下调为2023年330元。", [("personal_contribution", 330, -20)]),
])
def test_the_old_standard_of_a_change_with_years_is_not_a_standard(sentence, expected):
    assert standards(sentence) == expected


def test_the_old_standard_is_skipped_even_when_the_new_one_is_said_apart():
    found = standards("个人缴费标准由每人每年360元提高，调整后为每人每年380元。")
    assert ("personal_contribution", 360, None) not in found


@pytest.mark.parametrize("sentence, amount", [
    ("个人缴费标准提高到每人每年400元（上年为380元）。", 400),
    ("今年个人缴费标准为每人每年410元，去年是390元。", 410),
])
def test_last_years_standard_quoted_in_passing_is_not_a_standard(sentence, amount):
    assert [a for _, a, _ in standards(sentence)] == [amount]


def test_two_years_stated_each_with_its_standard_are_both_read():
    doc = extract(TOPIC + "2024年度个人缴费360元，2025年度提高到380元。")
    assert sorted((f.plan_year, f.value["amount"]) for f in doc.facts if f.kind == "personal_contribution") == [
        (2024, 360), (2025, 380)]


def test_the_old_amount_of_a_rise_said_with_zhang_is_not_a_standard():
    assert standards("个人缴费标准由2024年的380元涨到了2025年的400元。") == [("personal_contribution", 400, 20)]


@pytest.mark.parametrize("sentence", [
    "个人缴费从2016年的150元涨到了今年的400元。",
    "居民医保个人缴费标准逐年上调，八年间从190元提高到400元。",
])
def test_a_rise_over_many_years_is_not_the_years_change(sentence):
    assert standards(sentence) == [("personal_contribution", 400, None)]


@pytest.mark.parametrize("sentence", [
    "防止返贫监测对象参保个人缴费部分按每人每年180元给予补贴，个人实际缴纳220元。",
    "重度残疾人参保由民政部门代缴个人缴费每人每年400元。",
])
def test_what_a_group_of_payers_gets_or_actually_pays_is_not_the_standard(sentence):
    assert standards(sentence) == []


def test_a_standard_equal_to_a_named_years_is_unchanged():
    assert standards("2025年度个人缴费标准为每人每年380元，与2024年度持平。") == [("personal_contribution", 380, 0)]


def test_the_year_in_a_cited_documents_title_is_not_the_standards_plan_year():
    doc = extract("2026年度城乡居民医保参保缴费工作要点。\n"
                  "依据《关于做好2024年城乡居民基本医疗保障工作的通知》，个人缴费标准为每人每年410元。")
    assert [(f.kind, f.value["amount"], f.plan_year) for f in doc.facts
            if f.kind == "personal_contribution"] == [("personal_contribution", 410, 2026)]


@pytest.mark.parametrize("sentence", [
    "2026年居民医保个人缴费标准暂按2025年标准执行，每人每年410元。",
    "2026年度个人缴费继续参照2025年度标准，为每人每年410元。",
])
def test_the_year_of_a_standard_followed_is_not_the_plan_year(sentence):
    doc = extract(TOPIC + sentence)
    assert [(f.value["amount"], f.plan_year) for f in doc.facts if f.kind == "personal_contribution"] == [(410, 2026)]


def test_a_standard_kept_with_its_amount_inside_is_unchanged():
    assert standards("个人缴费标准保持每人每年410元不变。") == [("personal_contribution", 410, 0)]


@pytest.mark.parametrize("sentence", [
    "当年新农合个人缴费标准只有15元时，人均财政补助不少于40元。",
    "个人缴费标准还是120元的时候，报销比例只有五成。",
])
def test_a_sentence_about_the_time_a_standard_was_so_states_no_standard(sentence):
    assert standards(sentence) == []
