"""The grammar of real notices: numbers, dates, ranges, qualifiers, and the numbers that are not facts."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from extractors import extract
from extractors.dates import find_dates, find_ranges
from extractors.numbers import parse_number

PUB = datetime(2024, 9, 3, 11, 44)
TOPIC = "2025年度城乡居民医保参保缴费工作通知。\n"


def facts(text: str, published=PUB, kind: str | None = None, title=None) -> list[tuple]:
    doc = extract(TOPIC + text, published=published, title=title)
    return [(f.kind, f.value) for f in doc.facts if kind is None or f.kind == kind]


@pytest.mark.parametrize("text, value", [
    ("380", 380), ("３８０", 380), ("三百八十", 380), ("叁佰捌拾", 380), ("30万", 300000), ("1.5万", 15000),
    ("二〇二四", 2024), ("十五", 15), ("一万二千", 12000), ("两千", 2000),
])
def test_numbers_in_every_notation(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["个人缴费标准为每人每年380元。", "个人缴费标准为每人每年３８０元。",
                                  "个人缴费标准为每人每年三百八十元。", "个人缴费标准为每人每年叁佰捌拾元。"])
def test_contribution_in_every_numeral_style(text):
    assert facts(text, kind="personal_contribution") == [
        ("personal_contribution", {"amount": 380, "qualifier": "exact", "change": None})]


@pytest.mark.parametrize("words, qualifier", [("不低于", "at_least"), ("不少于", "at_least"), ("至少", "at_least"),
                                              ("最高", "at_most"), ("不超过", "at_most"), ("约", "approx")])
def test_qualifiers(words, qualifier):
    (fact,) = facts(f"财政补助标准为每人每年{words}640元。", kind="fiscal_subsidy")
    assert fact[1]["qualifier"] == qualifier


def test_raised_from_to_gives_current_value_and_change():
    (fact,) = facts("个人缴费标准从450元提高到610元。", kind="personal_contribution")
    assert fact[1] == {"amount": 610, "qualifier": "exact", "change": 160}


def test_change_over_last_year():
    (fact,) = facts("财政补助标准为每人每年不低于640元，较去年增加30元。", kind="fiscal_subsidy")
    assert fact[1] == {"amount": 640, "qualifier": "at_least", "change": 30}


def test_respectively_aligns_amounts_with_their_nouns():
    found = facts("财政补助和个人缴费标准分别不低于670元和400元。")
    assert ("fiscal_subsidy", {"amount": 670, "qualifier": "at_least", "change": None}) in found
    assert ("personal_contribution", {"amount": 400, "qualifier": "at_least", "change": None}) in found


def test_plan_year_is_never_a_date_or_amount():
    doc = extract("2025年度城乡居民医保个人缴费标准为每人每年400元。", published=PUB)
    assert doc.plan_year == 2025
    assert [(f.kind, f.plan_year) for f in doc.facts] == [("personal_contribution", 2025)]


@pytest.mark.parametrize("mark", ["至", "到", "—", "-", "~", "起至"])
def test_range_marks(mark):
    found = facts(f"集中缴费期为2024年9月1日{mark}2024年12月31日。", kind="payment_window")
    assert found == [("payment_window", {"start": "2024-09-01", "end": "2024-12-31"})]


def test_from_today_starts_on_the_publish_date():
    found = facts("缴费时间为即日起至2024年12月25日。")
    assert ("payment_window", {"start": "2024-09-03", "end": "2024-12-25"}) in found
    assert ("payment_deadline", {"date": "2024-12-25"}) in found


def test_yearless_deadline_resolves_after_publication():
    assert facts("缴费截止日期为2月25日。", kind="payment_deadline") == [("payment_deadline", {"date": "2025-02-25"})]


def test_chinese_numeral_dates():
    found = facts("集中缴费期为二〇二四年九月一日至十二月三十一日。", kind="payment_window")
    assert found == [("payment_window", {"start": "2024-09-01", "end": "2024-12-31"})]


def test_next_year_coverage_and_month_end():
    found = facts("缴费期为2024年9月1日至2025年2月底，参保人员次年1月1日至12月31日享受待遇。")
    assert ("payment_window", {"start": "2024-09-01", "end": "2025-02-28"}) in found
    assert ("coverage_period", {"start": "2025-01-01", "end": "2025-12-31"}) in found


def test_year_end_and_24_hours():
    assert ("payment_deadline", {"date": "2024-12-31"}) in facts("请于今年年底前完成缴费。")
    found = facts("缴费时间为2024年9月1日至2024年12月31日24时。", kind="payment_window")
    assert found == [("payment_window", {"start": "2024-09-01", "end": "2024-12-31"})]


def test_recurring_yearly_window():
    found = facts("居民医保缴费时间为每年9月1日至12月31日。", kind="payment_window")
    assert found == [("payment_window", {"start": "--09-01", "end": "--12-31", "recurring": "yearly"})]


def test_monthly_window():
    assert facts("集中缴费期为每月1-25号。", kind="monthly_window") == [
        ("monthly_window", {"start_day": 1, "end_day": 25})]


@pytest.mark.parametrize("text", [
    "各级财政应于8月10日前将补助资金拨付到位。",            # fiscal transfer date
    "中央财政按80%的比例给予补助，省级财政承担20%。",         # per-level shares
    "城市低保标准为每人每月650元。",                          # 低保 monthly standard
    "截至2024年6月底，全省参保人数达2800万人。",              # head count
    "根据《关于做好2024年居民医保工作的通知》（医保发〔2024〕19号）执行。",  # document number
    "基本公共卫生服务经费人均财政补助标准为94元。",            # another programme
    "养老服务补贴标准为每人每年1200元。",
    "住院报销比例提高5个百分点。",                            # 个百分点 is a change, not a ratio
])
def test_numbers_that_are_not_facts(text):
    assert facts(text) == []


def test_a_page_about_something_else_yields_nothing():
    doc = extract("职工医保个人账户每年划入1200元，可在2024年12月31日前申请家庭共济。", published=PUB)
    assert doc.facts == []


def test_channels_groups_and_exemptions():
    found = facts("可以通过微信、协作银行手机APP、移动POS机、线下缴费等方式进行缴费。"
                  "对特困人员、低保对象、返贫致贫人口给予全额或定额资助。"
                  "新生儿、农村低收入人口、脱贫人口等特殊群体，不设待遇享受等待期。")
    assert [v["name"] for k, v in found if k == "payment_channel"] == ["微信", "协作银行手机APP", "移动POS机", "线下缴费"]
    assert {(v["name"], v["mode"]) for k, v in found if k == "subsidized_group"} == {
        ("特困人员", "full_or_fixed"), ("低保对象", "full_or_fixed"), ("返贫致贫人口", "full_or_fixed")}
    assert [v["name"] for k, v in found if k == "waiting_period_exemption"] == ["新生儿", "农村低收入人口", "脱贫人口"]


def test_national_standard_quoted_in_a_city_page_carries_the_national_code():
    doc = extract("太原市2025年度居民医保个人缴费标准为每人每年400元。国家规定居民医保财政补助标准不低于每人每年700元。",
                  url="http://ty.bendibao.com/live/1.shtm", published=PUB)
    regions = {f.kind: f.region for f in doc.facts}
    assert doc.region == {"name": "太原市", "code": "140100"}
    assert regions == {"personal_contribution": "140100", "fiscal_subsidy": "000000"}


def test_evidence_and_span_point_at_the_sentence():
    text = TOPIC + "缴费截止日期为2月25日。"
    (fact,) = extract(text, published=PUB).facts
    assert text[fact.span[0]:fact.span[1]].strip() == fact.evidence == "缴费截止日期为2月25日。"


def test_find_dates_and_ranges_keep_spans():
    text = "2024年9月1日至2025年2月25日"
    (rng,) = find_ranges(text)
    assert text[rng.span[0]:rng.span[1]] == text
    assert [d.resolve(d.year) for d in find_dates(text)] == [date(2024, 9, 1), date(2025, 2, 25)]


def test_extract_never_fails_on_fragments_of_real_text():
    import random
    from pathlib import Path
    rng = random.Random(20261123)
    corpus = Path(__file__).resolve().parent / "corpus"
    texts = [p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt"))]
    for _ in range(600):
        text = rng.choice(texts)
        a = rng.randrange(len(text))
        fragment = text[a:a + rng.randrange(1, 400)]
        if rng.random() < 0.3:  # shuffle some sentences, drop punctuation
            parts = fragment.split("，")
            rng.shuffle(parts)
            fragment = "，".join(parts).replace("。", rng.choice(["", "。", "\n"]))
        doc = extract(TOPIC + fragment, published=rng.choice([None, PUB]), title=rng.choice([None, fragment[:30]]))
        for fact in doc.facts:
            assert fact.kind and fact.evidence
