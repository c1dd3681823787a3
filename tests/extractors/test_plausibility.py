"""Confidence of facts against the national minimum table, and pages below the national minimum."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from extractors import Fact, extract
from extractors.model import build_fact
from extractors.plausibility import (
    DEFAULT, IMPLAUSIBLE, LOW_CONFIDENCE, PLAUSIBLE, UNUSUAL, NationalMinimums, assess, below_national_minimum,
    confidence, is_low, load_minimums, special_group_rate,
)

URL = "http://ty.bendibao.com/live/2024/1.shtm"
TESTS = Path(__file__).parent


def facts_of(text: str, published: date = date(2024, 8, 20)) -> dict:
    doc = extract(text, url=URL, published=published)
    return {f.kind: f for f in doc.facts} | {"_doc": doc}


def test_the_table_holds_the_national_notices_from_2016_to_2025():
    table = load_minimums()
    assert (table.first, table.last) == (2016, 2025)
    assert table.rows[2019] == {"fiscal_subsidy": 520, "personal_contribution": 250}
    assert table.rows[2024] == {"fiscal_subsidy": 670, "personal_contribution": 400}
    assert table.rows[2025] == {"fiscal_subsidy": 700, "personal_contribution": 400}
    assert table.sources[2024].startswith("医保发〔2024〕19号") and table.sources[2025] == ""


def test_a_3800_yuan_personal_contribution_in_2025_is_low_confidence():
    fee = facts_of("太原市2025年度城乡居民医保个人缴费标准为每人每年3800元。")["personal_contribution"]
    assert fee.value["amount"] == 3800 and fee.confidence == IMPLAUSIBLE < LOW_CONFIDENCE


def test_380_yuan_in_2019_is_above_that_years_minimum_and_plausible():
    fee = facts_of("太原市2019年度城乡居民医保个人缴费标准为每人每年380元。", date(2018, 9, 1))["personal_contribution"]
    assert fee.confidence == PLAUSIBLE


@pytest.mark.parametrize("kind, amount, year, expected", [
    ("personal_contribution", 1150, 2024, PLAUSIBLE),    # a high tier of a rich city
    ("personal_contribution", 160, 2024, PLAUSIBLE),     # a university students' rate
    ("personal_contribution", 1400, 2024, UNUSUAL),
    ("personal_contribution", 40, 2025, IMPLAUSIBLE),    # a 新增40元 read as the rate
    ("fiscal_subsidy", 1650, 2026, PLAUSIBLE),           # after the table: its last year, widened
    ("fiscal_subsidy", 30, 2025, IMPLAUSIBLE),
    ("fiscal_subsidy", 5000, 2025, UNUSUAL),
    ("fiscal_subsidy", 120000, 2025, IMPLAUSIBLE),       # an annual cap, not a subsidy
    ("personal_contribution", 380, None, DEFAULT),       # no plan year: any year of the table
    ("personal_contribution", 38000, None, IMPLAUSIBLE),
])
def test_amounts_are_judged_by_the_band_around_their_plan_years_minimum(kind, amount, year, expected):
    assert assess(kind, {"amount": amount, "qualifier": "exact", "change": None}, year).confidence == expected


def test_years_outside_the_table_use_the_nearest_year_with_a_wider_band():
    table = NationalMinimums({2020: {"fiscal_subsidy": 550, "personal_contribution": 280}}, {2020: ""})
    assert table.nearest(2010, "personal_contribution") == table.nearest(2030, "personal_contribution") == 280
    assert table.floor(2020, "fiscal_subsidy") is None and table.floor(2031, "fiscal_subsidy") == (550, 2020)
    # Plan year 2014 lies three years before the table (its floor year 2013): the band is 1.3 times wider.
    assert assess("personal_contribution", {"amount": 40}, 2014).confidence == PLAUSIBLE
    assert assess("personal_contribution", {"amount": 40}, 2017).confidence == UNUSUAL


def test_a_payment_window_longer_than_14_months_is_low_confidence():
    window = facts_of("太原市2025年度城乡居民医保缴费时间为2024年9月1日至2026年3月31日。")["payment_window"]
    assert window.confidence == IMPLAUSIBLE
    usual = facts_of("太原市2025年度城乡居民医保缴费时间为2024年9月1日至2025年2月28日。")
    assert usual["payment_window"].confidence == usual["payment_deadline"].confidence == PLAUSIBLE


def test_a_deadline_far_from_the_plan_year_is_low_confidence():
    deadline = facts_of("太原市2025年度城乡居民医保缴费截止日期为2028年12月31日。")["payment_deadline"]
    assert deadline.confidence == IMPLAUSIBLE
    assert assess("payment_deadline", {"date": "2026-03-31"}, 2025).confidence == UNUSUAL
    assert assess("payment_deadline", {"date": "2023-12-31"}, 2025).confidence == UNUSUAL
    assert assess("payment_deadline", {"date": "--12-31"}, 2025).confidence == DEFAULT  # a yearly date


def test_reversed_periods_and_impossible_days_are_low_confidence():
    assert assess("coverage_period", {"start": "2025-12-31", "end": "2025-01-01"}, 2025).reason == "period_reversed"
    assert assess("coverage_period", {"start": "2025-01-01", "end": "2025-12-31"}, 2025).confidence == PLAUSIBLE
    assert assess("monthly_window", {"start_day": 1, "end_day": 45}, 2025).confidence == IMPLAUSIBLE
    assert assess("monthly_window", {"start_day": 1, "end_day": 20}, 2025).confidence == DEFAULT


def test_other_kinds_keep_the_default_and_a_fact_built_by_hand_is_unassessed():
    doc = extract("太原市2025年度城乡居民医保缴费渠道：可通过支付宝缴费。", url=URL, published=date(2024, 8, 20))
    assert [(f.kind, f.confidence) for f in doc.facts] == [("payment_channel", DEFAULT)]
    fact = Fact("payment_channel", {"name": "支付宝"}, 2025, "140100", "…", None)
    assert fact.confidence is None and fact.to_json()["confidence"] is None and not is_low(None)
    assert fact.key == doc.facts[0].key  # the same statement, assessed or not


def test_confidence_is_not_part_of_a_facts_identity():
    a = Fact("payment_channel", {"name": "支付宝"}, 2025, "140100", "…", None, confidence=0.3)
    b = Fact("payment_channel", {"name": "支付宝"}, 2025, "140100", "…", None, confidence=0.9)
    assert a.key == b.key and a.to_json()["confidence"] == 0.3


def test_a_2025_page_asking_350_yuan_is_below_the_national_minimum():
    doc = facts_of("太原市2025年度城乡居民医保个人缴费标准为每人每年350元，财政补助标准为每人每年不低于670元。")["_doc"]
    assert doc.to_json()["below_national_minimum"] == [{
        "kind": "personal_contribution", "plan_year": 2025, "amount": 350, "qualifier": "exact", "minimum": 400,
        "national_year": 2024, "evidence": doc.facts[0].evidence}]


def test_a_plan_year_follows_the_previous_years_notice():
    # 2024年度 is collected in autumn 2023, at the 2023 notice's 380 yuan: not below the minimum.
    doc = facts_of("太原市2024年度城乡居民医保个人缴费标准为每人每年380元。", date(2023, 8, 20))["_doc"]
    assert doc.below_national_minimum == []


def test_special_group_rates_national_and_quoted_facts_are_not_below_the_minimum():
    text = ("2025年度北京市城乡居民医保个人缴费标准：学生儿童每人每年345元，劳动年龄内居民每人每年690元，"
            "老年人每人每年395元。")
    doc = extract(text, url="http://bj.bendibao.com/live/1.shtm", published=date(2024, 8, 20))
    assert sorted(f.value["amount"] for f in doc.facts if f.kind == "personal_contribution") == [345, 395, 690]
    assert doc.below_national_minimum == []
    national = facts_of("国家规定2025年度城乡居民医保个人缴费标准为每人每年350元。")["_doc"]
    assert national.facts[0].region == "000000" and national.below_national_minimum == []
    stated = {"kind": "personal_contribution", "value": {"amount": 160, "qualifier": "exact"}, "plan_year": 2025,
              "region": "310000", "evidence": "答：在沪高校全日制大学生个人缴费标准为每人每年160元，由学校统一代收。"}
    assert special_group_rate(stated) and below_national_minimum([stated], "310000") == []
    general = dict(stated, evidence="个人缴费标准为每人每年160元。")
    assert below_national_minimum([general], "310000")[0]["minimum"] == 400
    assert below_national_minimum([general], "000000") == [] and below_national_minimum([general], None) == []
    assert below_national_minimum([dict(general, confidence=IMPLAUSIBLE)], "310000") == []
    assert below_national_minimum([dict(general, value={"amount": 160, "qualifier": "at_most"})], "310000") == []


@pytest.mark.parametrize("corpus", ["corpus", "heldout"])
def test_no_gold_fact_of_the_corpora_is_low_confidence(corpus):
    for path in sorted((TESTS / corpus).glob("*.json")):
        for f in json.loads(path.read_text(encoding="utf-8"))["facts"]:
            assert not is_low(assess(f["kind"], f["value"], f["plan_year"]).confidence), (path.name, f)


@pytest.mark.parametrize("corpus", ["corpus", "heldout"])
def test_no_extracted_fact_of_the_corpora_is_low_and_no_page_is_below_the_minimum(corpus):
    from monitor.extract import extract_file
    for path in sorted((TESTS / corpus).glob("*.json")):
        page = next(p for p in path.parent.glob(path.stem + ".*") if p.suffix != ".json")
        inp = json.loads(path.read_text(encoding="utf-8")).get("input", {})
        doc = extract_file(page, url=inp.get("url"), published=inp.get("published"), title=inp.get("title"))
        assert [f for f in doc.facts if f.confidence is None or is_low(f.confidence)] == [], page.name
        assert doc.below_national_minimum == [], page.name


# Values around every band edge and date check, in and outside the table's years, and the odd ones.
_CASES = [(kind, {"amount": amount, "qualifier": "exact"}, year)
          for kind in ("personal_contribution", "fiscal_subsidy")
          for amount in (0, 1, 9, 30, 45, 60, 61, 99, 100, 180, 250, 380, 400, 640, 700, 1150, 1600, 3800, 9000, 40.5,
                         True, None, "400")
          for year in (None, 2010, 2016, 2017, 2020, 2025, 2026, 2031)]
_CASES += [(kind, value, year)
           for kind in ("payment_window", "coverage_period")
           for value in ({"start": "2024-09-01", "end": "2024-12-31"}, {"start": "2025-01-01", "end": "2025-12-31"},
                         {"start": "2024-12-31", "end": "2024-09-01"}, {"start": "2024-01-01", "end": "2025-06-30"},
                         {"start": "2022-03-01", "end": "2022-04-30"}, {"start": "2026-11-01", "end": "2026-12-01"},
                         {"start": "--09-01", "end": "--12-31", "recurring": "yearly"}, {"start": None, "end": "x"},
                         {"start": "2024-02-30", "end": "2024-12-31"}, {})
           for year in (None, 2023, 2025, 2026)]
_CASES += [("payment_deadline", {"date": day}, year) for day in ("2024-12-31", "2023-05-01", "2026-08-01", None, "bad")
           for year in (None, 2024, 2025)]
_CASES += [("monthly_window", value, None) for value in ({"start_day": 1, "end_day": 25}, {"start_day": 0, "end_day": 25},
                                                        {"start_day": 1, "end_day": 32}, {"start_day": "1"}, {})]
_CASES += [("payment_channel", {"name": "微信"}, 2025), ("eligible_group", {"name": "学生"}, None)]


def test_a_facts_confidence_is_its_assessments_to_two_decimals():
    assert len(_CASES) > 400
    assert [case for case in _CASES if confidence(*case) != round(assess(*case).confidence, 2)] == []


def test_a_fact_built_at_once_equals_one_built_by_its_dataclass():
    fields = ("payment_deadline", {"date": "2025-02-25"}, 2025, "140100", "缴费截止日期为2月25日。", (118, 166), 0.9)
    built, made = build_fact(*fields), Fact(*fields)
    assert built == made and hash(built.key) == hash(made.key) and repr(built) == repr(made)
    assert vars(built) == vars(made) and list(vars(built)) == list(vars(made)) and built.to_json() == made.to_json()
    with pytest.raises(AttributeError):
        built.kind = "annual_cap"  # (frozen: dataclasses.FrozenInstanceError)
