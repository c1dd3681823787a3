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


def test_means_of_reminding_or_publicising_are_not_payment_channels():
    text = ("各地要核对未参保人员名单，通过社区网格员入户、电话和短信等方式做好提醒，确保各缴费渠道运行平稳。"
            "要通过电视、广播、政务公众号等方式广泛宣传参保缴费政策。")
    assert names(text, "payment_channel") == []


def test_means_of_paying_listed_before_fangshi_stay_channels():
    assert names("居民可选择微信、支付宝、银行柜台等方式缴费。", "payment_channel") == ["微信", "支付宝", "银行柜台"]
