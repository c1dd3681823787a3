"""Names in lists (channels, eligible and subsidized groups, waiting-period exemptions) are what they name:
the lead words of the list and the conditions after a name are not part of it."""
from __future__ import annotations

from extractors import extract

TOPIC = "城乡居民医保参保缴费工作要点。\n"


def names(text: str, kind: str) -> list[str]:
    return [f.value["name"] for f in extract(TOPIC + text).facts if f.kind == kind]


def test_a_group_whose_name_starts_with_zai_keeps_it():
    assert names("参保范围包括：农村居民、城镇未就业居民、在校学生、在读研究生等。", "eligible_group") == [
        "农村居民", "城镇未就业居民", "在校学生", "在读研究生"]


def test_a_channel_after_only_keeps_no_lead_word():
    assert names("请认准官方缴费渠道，缴费渠道仅有税务APP和银行网点。", "payment_channel") == ["税务APP", "银行网点"]


def test_an_exempt_group_drops_the_time_condition_after_it():
    assert names("新生儿、刑满释放人员在取得相应身份后3个月内参保的，不设待遇等待期。",
                 "waiting_period_exemption") == ["新生儿", "刑满释放人员"]
