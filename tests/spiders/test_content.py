"""Main-content cutting: each site profile keeps the article and drops the boilerplate around it."""
from __future__ import annotations

from datetime import datetime

import pytest

from conftest import DEMO_SITE, SITE
from spiders.content import CHINA_TZ, extract_main, normalize_text, parse_datetime

V1, V2 = DEMO_SITE / "v1", DEMO_SITE / "v2"
TAIYUAN = "ty/live/2024903/67541.shtm"


def cut(path, url: str = "http://127.0.0.1:8000/page.html", **kw):
    return extract_main(path.read_text(encoding="utf-8"), url, **kw)


# (page, url the page really lives at, profile chosen there, profile chosen on our 127.0.0.1 site,
#  sentences that must be kept, boilerplate that must be gone)
PAGES = [
    (V1 / TAIYUAN, "http://ty.bendibao.com/live/2024903/67541.shtm", "bendibao-desktop", "bendibao-desktop-detected",
     ["太原市2025年度城乡居民医保的缴费时间为2024年9月1日至2025年2月25日，集中缴费期为每月1-25号，缴费截止日期为2月25日。",
      "目前太原居民医保支持以下四类缴费渠道：微信、协作银行手机APP、移动POS机、线下缴费，参保人任选其一即可。",
      "按照本年度筹资安排，太原城乡居民医保的个人缴费标准为400元/人/年，其余部分由各级财政给予补助。"],
     ["温馨提示", "手机访问", "扫一扫", "大同市2025年度居民医保集中缴费截至2024年12月20日", "30万元", "70%-75%",
      "广告", "相关推荐", "我要纠错"]),
    (V1 / "m" / TAIYUAN, "http://m.bendibao.com/live/2024903/67541.shtm", "bendibao-mobile", "bendibao-mobile-detected",
     ["每个月26号以后系统要做对账，这几天一般交不了，所以最好在当月25号前交完。",
      "本年度太原城乡居民医保的个人缴费标准为400元/人/年。"],
     ["温馨提示", "下载本地宝APP", "点击查看全文", "点击查看更多", "社保医保公积金，一个APP全搞定", "来源："]),
    (V1 / "ybj/tzgg/202409/t20240901_1001.shtml", "https://ybj.shanxi.gov.cn/ywdt/tzgg/202409/t20240901_1001.shtml",
     "gov-cms", "gov-cms",
     ["（一）2025年度全省居民医保个人缴费标准为每人每年380元。",
      "（二）2025年度居民医保集中缴费期为2024年9月1日至2024年12月25日。",
      "（三）各级财政应于8月10日前将本级应承担的居民医保补助资金足额拨付至医保基金财政专户，确保补助资金按时到位。"],
     ["打印本页", "网站标识码", "浏览次数", "分享到"]),
    (V1 / "ybj/tzgg/202408/t20240815_1002.shtml", "https://ybj.shanxi.gov.cn/x.shtml", "gov-cms", "gov-cms",
     ["长期备案人员在备案地就医时执行就医地的支付范围，起付标准、支付比例和最高支付限额执行参保地政策。",
      "参保人员可拨打12393医保服务热线，或到就近的医保经办服务窗口咨询。"],
     ["打印本页", "关闭窗口", "工作时间", "ICP备"]),
    (V2 / "ybj/tzgg/202502/t20250210_1003.shtml", "https://ybj.shanxi.gov.cn/y.shtml", "gov-cms", "gov-cms",
     ["全省2025年度城乡居民医保集中缴费期延长至2025年3月31日。",
      "延长期内个人缴费标准仍为每人每年380元，财政补助标准仍不低于每人每年640元。"],
     ["打印本页"]),
    (SITE / "gov/trs_ucap.html", "https://www.example.gov.cn/art/2024/10/18/art_1.html", "gov-cms", "gov-cms",
     ["2025年度城乡居民医保个人缴费标准为每人每年400元，各级财政补助标准不低于每人每年670元。"],
     ["多地居民医保集中缴费期延长至2025年2月28日", "责任编辑", "大病保险最高支付30万元"]),
    (SITE / "gov/article_content.html", "https://www.example.gov.cn/a.html", "gov-cms", "gov-cms",
     ["答：2025年度个人缴费标准为每人每年380元，财政补助标准不低于每人每年640元。",
      "答：晋中市2025年度城乡居民医保集中缴费期为2024年9月1日至2024年12月31日，请参保群众在集中缴费期内按时缴费。"],
     ["职工医保个人账户家庭共济每年最多可用3000元", "阅读次数"]),
    (SITE / "gov/encoding_sample.html", "https://www.example.gov.cn/e.html", "gov-cms", "gov-cms",
     ["一、缴费标准：个人缴费每人每年400元，在校学生和未成年人同样执行此标准。"],
     ["打印本页", "鑫溥社区便民服务站夏季作息时间调整公告"]),
    (V1 / "news/2024/yibao-guide.html", "https://news.example.com/2024/yibao-guide.html", "generic", "generic",
     ["大同市2025年度居民医保集中缴费期从2024年9月1日开始，到2024年12月20日结束。",
      "今年大同市居民医保的个人缴费标准是每人每年380元，和全省统一。"],
     ["回复老王", "350元是去年的标准", "大同失业金标准上调", "本站信息仅供参考", "热门文章"]),
    # Word-pasted article (every paragraph's text in <span>) beside a 热点政策 list of other cities' fees.
    (SITE / "city/xinzhou_guide.html", "http://ybj.xinzhou.example.gov.cn/tzgg/2024/0910.html", "generic", "generic",
     ["忻州市2025年度城乡居民医保个人缴费标准为每人每年380元，各级财政补助标准不低于每人每年700元。",
      "集中缴费期为2024年9月1日至2024年12月28日，请参保群众在集中缴费期内按时缴费。"],
     ["阳泉市", "朔州市", "长治市", "山西省2025年", "网站标识码", "通知公告"]),
]
IDS = [p[0].name if p[0].parent.name not in ("2024903",) else p[1].split("//")[1][:14] for p in PAGES]


@pytest.mark.parametrize("path, real_url, profile, local_profile, kept, gone", PAGES, ids=IDS)
def test_profile_keeps_article_and_drops_boilerplate(path, real_url, profile, local_profile, kept, gone):
    for url, expected in ((real_url, profile), ("http://127.0.0.1:8000/page.html", local_profile)):
        main = cut(path, url)
        assert main.profile == expected
        for sentence in kept:
            assert sentence in main.main_text, (url, sentence)
        for junk in gone:
            assert junk not in main.main_text, (url, junk)


def test_bendibao_desktop_metadata():
    main = cut(V1 / TAIYUAN, "http://ty.bendibao.com/live/2024903/67541.shtm")
    assert main.title == "太原居民医保缴费截止日期是什么时候?"
    assert main.published_at == datetime(2024, 9, 3, 11, 44, tzinfo=CHINA_TZ)
    assert main.breadcrumb.startswith("太原本地宝 > 办事指南")
    assert main.lead.startswith("【导语】") and main.main_text.startswith(main.lead)


def test_bendibao_mobile_metadata():
    main = cut(V1 / "m" / TAIYUAN, "http://m.bendibao.com/live/2024903/67541.shtm")
    assert main.published_at == datetime(2024, 9, 3, 11, 44, tzinfo=CHINA_TZ)
    assert main.title.startswith("太原居民医保缴费截止日期")


def test_gov_cms_takes_title_time_and_source_from_meta_tags():
    main = cut(V1 / "ybj/tzgg/202409/t20240901_1001.shtml")
    assert main.title == "关于做好2025年度城乡居民基本医疗保险参保缴费工作的通知"
    assert main.published_at == datetime(2024, 9, 1, 9, 30, tzinfo=CHINA_TZ)
    assert main.meta["source"] == "山西省医疗保障局"


def test_generic_fallback_finds_title_and_time():
    main = cut(V1 / "news/2024/yibao-guide.html")
    assert main.title.startswith("大同市2025年度居民医保")
    assert main.published_at is not None and main.published_at.date().isoformat() == "2024-09-06"


def test_profile_can_be_forced_by_name():
    main = cut(V1 / TAIYUAN, profile="generic")
    assert main.profile == "generic"
    with pytest.raises(KeyError, match="unknown site profile"):
        cut(V1 / TAIYUAN, profile="nope")


def test_version_two_changes_only_what_changed():
    old, new = cut(V1 / TAIYUAN), cut(V2 / TAIYUAN)
    assert old.main_text != new.main_text
    assert "缴费截止日期已由原定的2月25日顺延至3月31日" in new.main_text
    assert new.published_at == datetime(2025, 2, 20, 10, 5, tzinfo=CHINA_TZ)


@pytest.mark.parametrize("html", ["", "   ", "<html></html>", "<script>var a=1;</script>", "\x00\x01garbage\xff",
                                  "<?xml version='1.0' encoding='utf-8'?><html><body><p>只有一句话。</p></body></html>",
                                  "<div><p>未闭合的段落<div><table><tr><td>表格里的文字，也算正文。"])
def test_garbage_pages_do_not_crash(html):
    main = extract_main(html, "http://127.0.0.1/x.html")
    assert isinstance(main.main_text, str)
    assert "var a" not in main.main_text


def test_broken_markup_keeps_its_text():
    main = extract_main("<div><p>未闭合的段落<div><table><tr><td>表格里的文字，也算正文。", "http://127.0.0.1/x")
    assert "表格里的文字，也算正文。" in main.main_text


def test_normalize_text_collapses_spaces_and_blank_lines():
    assert normalize_text("  \u3000\u3000第一段  文字\n\n\n\t第二段\u00a0 \n") == "第一段 文字\n第二段"


@pytest.mark.parametrize("text, expected", [
    ("2024-09-03 11:44", datetime(2024, 9, 3, 11, 44, tzinfo=CHINA_TZ)),
    ("发布时间：2024年9月1日 09:30:15", datetime(2024, 9, 1, 9, 30, 15, tzinfo=CHINA_TZ)),
    ("2024/10/18", datetime(2024, 10, 18, tzinfo=CHINA_TZ)),
    ("无日期", None), ("2024-13-45", None),
])
def test_parse_datetime_reads_china_time(text, expected):
    assert parse_datetime(text) == expected


@pytest.mark.parametrize("heading", ["热点政策", "热点关注：", "精彩推荐", "猜你想看", "相关专题"])
def test_other_cities_list_under_a_hot_topics_heading_is_cut(heading):
    html = ("<html><body><div class='article'><p>忻州市2025年度城乡居民医保集中缴费期为9月1日至12月31日。</p>"
            f"<p>{heading}</p><p>阳泉市居民医保个人缴费标准为每人每年380元。</p></div></body></html>")
    text = extract_main(html, "http://127.0.0.1/x").main_text
    assert "忻州市" in text and "阳泉" not in text
