"""Facts scoped to the source's region: other places' facts are foreign, and a cut made mostly of them is flagged."""
from __future__ import annotations

import pytest

from extractors.scope import foreign_warning, scope_facts, source_region
from spiders.processing import facts_of, scoped

XINZHOU, YANGQUAN, SHUOZHOU, SHANXI, HEBEI_SJZ, NATIONAL = "140900", "140300", "140600", "140000", "130100", "000000"


def fact(kind: str, region: str | None, amount: int = 380) -> dict:
    return {"kind": kind, "value": {"amount": amount}, "plan_year": 2025, "region": region, "evidence": "…",
            "span": [0, 1]}


@pytest.mark.parametrize("region, foreign", [
    (XINZHOU, False),  # the source's own region
    (SHANXI, False),  # its province
    (NATIONAL, False),  # the national rule
    (None, False),  # nothing says it is about another place
    ("999999", False),  # not a known code: left alone
    (YANGQUAN, True),  # a sibling city
    (HEBEI_SJZ, True),  # a city of another province
    ("130000", True),  # another province
])
def test_a_city_source_keeps_its_own_its_province_and_national_facts(region, foreign):
    kept, dropped = scope_facts([fact("personal_contribution", region)], "忻州市")
    assert (dropped != []) is foreign and (kept != []) is not foreign


def test_a_province_source_keeps_its_cities_facts_but_not_other_provinces():
    facts = [fact("personal_contribution", YANGQUAN), fact("personal_contribution", HEBEI_SJZ)]
    kept, foreign = scope_facts(facts, "山西省")
    assert [f["region"] for f in kept] == [YANGQUAN] and [f["region"] for f in foreign] == [HEBEI_SJZ]


@pytest.mark.parametrize("name, code", [("忻州市", XINZHOU), ("忻州", XINZHOU), ("140900", XINZHOU),
                                        ("山西省忻州市", XINZHOU), ("全国", NATIONAL), ("", None), ("火星", None)])
def test_the_configured_region_is_read_by_name_short_name_code_or_a_longer_name(name, code):
    region = source_region(name)
    assert (region.code if region else None) == code


def test_without_a_known_source_region_nothing_changes():
    facts = [fact("personal_contribution", YANGQUAN)]
    assert scope_facts(facts, None) == (facts, []) and scope_facts(facts, "火星") == (facts, [])


def test_the_flag_needs_two_foreign_core_facts_that_are_at_least_half():
    own, other = fact("payment_deadline", XINZHOU), fact("personal_contribution", YANGQUAN)
    assert foreign_warning([own], [other]) is None  # one foreign fact: dropped, not flagged
    assert foreign_warning([own, own, own], [other, fact("fiscal_subsidy", SHUOZHOU)]) is None  # 2 of 5
    channel = dict(fact("payment_channel", SHUOZHOU), value={"name": "微信"})
    assert foreign_warning([], [other, channel]) is None  # channels are not core facts
    warning = foreign_warning([own, own], [other, fact("personal_contribution", SHUOZHOU, 390),
                                           fact("payment_deadline", YANGQUAN)])
    assert warning == {"code": "foreign_facts", "regions": ["阳泉市", "朔州市"], "foreign": 3, "core_foreign": 3,
                       "core": 5}


def test_the_extraction_record_leaves_out_other_cities_and_says_so():
    text = ("阳泉市2025年城乡居民医保个人缴费标准为每人每年380元。\n朔州市2025年城乡居民医保个人缴费标准为每人每年390元。\n"
            "长治市2025年城乡居民医保个人缴费标准为每人每年400元。")
    plain = facts_of(text, "http://127.0.0.1/a.html", "忻州市居民医保", None, None)
    assert {f["region"] for f in plain["facts"]} == {"140300", "140600", "140400"} and plain["warnings"] == []
    record = facts_of(text, "http://127.0.0.1/a.html", "忻州市居民医保", None, None, "忻州市")
    assert record["facts"] == [] and record["warnings"][0]["regions"] == ["阳泉市", "朔州市", "长治市"]
    assert scoped(record, "忻州市") == record  # scoping twice changes nothing
