"""Region table (GB/T 2260) and region detection in policy pages."""
from __future__ import annotations

import csv
from collections import Counter

import pytest

from extractors.regions import DATA_FILE, NOT_PLACES, Region, RegionTable, detect_region, load_regions


@pytest.fixture(scope="module")
def table() -> RegionTable:
    return load_regions()


def code_of(region: Region | None) -> str | None:
    return region.code if region else None


# -- the data file ------------------------------------------------------------------
def test_data_file_has_the_documented_columns():
    with DATA_FILE.open(encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
    assert header == ["code", "name", "short", "level", "parent", "aliases", "subdomains"]


def test_codes_are_unique_six_digit_strings():
    with DATA_FILE.open(encoding="utf-8", newline="") as f:
        codes = [row["code"] for row in csv.DictReader(f, delimiter="\t")]
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert [code for code, n in Counter(codes).items() if n > 1] == []


def test_table_has_34_provinces_and_all_prefectures(table):
    levels = Counter(region.level for region in table)
    assert levels["country"] == 1
    assert levels["province"] == 34
    assert levels["prefecture"] >= 330


def test_every_parent_exists_and_prefectures_share_their_province_prefix(table):
    for region in table:
        if region.level == "country":
            assert region.parent is None
            continue
        parent = table.by_code(region.parent)
        assert parent is not None, region
        if region.level == "province":
            assert parent.level == "country" and region.code.endswith("0000")
        else:
            assert parent.level == "province"
            assert region.code[:2] == parent.code[:2] and region.code.endswith("00"), region


def test_municipalities_have_no_prefecture_rows(table):
    for code in ("110000", "120000", "310000", "500000"):
        assert [r for r in table if r.parent == code] == []


def test_known_codes_are_current(table):
    expected = {
        "140000": "山西省", "140100": "太原市", "140200": "大同市", "140700": "晋中市", "110000": "北京市",
        "440300": "深圳市", "520500": "毕节市", "520600": "铜仁市", "630200": "海东市", "540200": "日喀则市",
        "222400": "延边朝鲜族自治州", "450000": "广西壮族自治区", "710000": "台湾省", "810000": "香港特别行政区",
    }
    assert {code: table.by_code(code).name for code in expected} == expected
    assert table.by_code("371200") is None  # 莱芜, merged into 济南 in 2019
    assert table.lookup("莱芜") is None


# -- lookup -------------------------------------------------------------------------
@pytest.mark.parametrize("name, code", [
    ("太原市", "140100"), ("太原", "140100"), ("140100", "140100"), (" 太原 ", "140100"),
    ("山西省", "140000"), ("山西", "140000"),
    ("内蒙古自治区", "150000"), ("内蒙古", "150000"), ("内蒙", "150000"),
    ("新疆维吾尔自治区", "650000"), ("新疆", "650000"), ("广西", "450000"), ("宁夏", "640000"), ("西藏", "540000"),
    ("香港特别行政区", "810000"), ("香港", "810000"), ("香港特区", "810000"),
    ("延边朝鲜族自治州", "222400"), ("延边", "222400"), ("延边州", "222400"),
    ("全国", "000000"), ("北京", "110000"), ("襄樊", "420600"),
])
def test_lookup_accepts_full_short_alias_and_code(table, name, code):
    assert code_of(table.lookup(name)) == code


def test_lookup_of_unknown_names_and_codes_is_none(table):
    assert table.lookup("火星") is None
    assert table.lookup("999900") is None
    assert table.lookup("晋") is None  # single-character abbreviations are not names


def test_bare_jilin_is_the_province_and_jilin_shi_the_city(table):
    assert code_of(table.lookup("吉林")) == "220000"
    assert code_of(table.lookup("吉林省")) == "220000"
    assert code_of(table.lookup("吉林市")) == "220200"


def test_bare_hainan_is_the_province_and_hainan_zhou_the_prefecture(table):
    assert code_of(table.lookup("海南")) == "460000"
    assert code_of(table.lookup("海南州")) == "632500"


def test_province_of(table):
    taiyuan, shanxi = table.lookup("太原"), table.lookup("山西")
    assert table.province_of(taiyuan) == shanxi
    assert table.province_of(shanxi) == shanxi


def test_contains(table):
    china, shanxi, taiyuan, guangzhou = (table.lookup(n) for n in ("全国", "山西", "太原", "广州"))
    assert table.contains(china, taiyuan) and table.contains(china, shanxi)
    assert table.contains(shanxi, taiyuan)
    assert table.contains(taiyuan, taiyuan)
    assert not table.contains(shanxi, guangzhou)
    assert not table.contains(taiyuan, shanxi)
    assert table.contains("山西省", "太原市")


# -- hosts --------------------------------------------------------------------------
@pytest.mark.parametrize("host, code", [
    ("ty.bendibao.com", "140100"),
    ("TY.bendibao.com:443", "140100"),
    ("https://ty.bendibao.com/news/2024/1.shtm", "140100"),
    ("m.bendibao.com/ty/news/1.shtm", "140100"),
    ("m.bj.bendibao.com", "110000"),
    ("sz.bendibao.com", "440300"),
    ("suzhou.bendibao.com", "320500"),
    ("jl.bendibao.com", "220200"),
])
def test_from_host_maps_bendibao_subdomains(table, host, code):
    assert code_of(table.from_host(host)) == code


@pytest.mark.parametrize("host", [
    "example.com", "ty.example.com", "ybj.shanxi.gov.cn", "ty.gov.cn", "www.bendibao.com", "m.bendibao.com",
    "unknowncity.bendibao.com", "",
])
def test_from_host_returns_none_for_other_hosts(table, host):
    assert table.from_host(host) is None


# -- mentions -----------------------------------------------------------------------
def test_find_mentions_gives_spans_longest_first(table):
    text = "山西省太原市和吉林市的居民"
    assert [(s, e, r.code) for s, e, r in table.find_mentions(text)] == [
        (0, 3, "140000"), (3, 6, "140100"), (7, 10, "220200"),
    ]
    for start, end, region in table.find_mentions(text):
        assert text[start:end] in (region.name, region.short)


def test_find_mentions_short_names_and_aliases(table):
    mentions = table.find_mentions("太原、内蒙古和延边州的参保人")
    assert [(s, e, r.code) for s, e, r in mentions] == [(0, 2, "140100"), (3, 6, "150000"), (7, 10, "222400")]


def test_find_mentions_skips_idioms_roads_and_districts(table):
    text = "长治久安，大同小异，南京路和中山大学，北京朝阳区，各位来宾"
    assert [r.code for _, _, r in table.find_mentions(text)] == ["110000"]


def test_find_mentions_keeps_region_words_like_quyu(table):
    assert [r.code for _, _, r in table.find_mentions("深圳区域内")] == ["440300"]


def test_find_mentions_on_a_long_text_are_those_of_each_part_shifted(table):
    # Speed is bench/extract_speed.py's job; this pins that one scan of a 3 KB text finds what scanning its
    # parts finds, at the right offsets (no mention lost or invented where parts meet).
    part = ("太原市医疗保障局关于做好2024年度城乡居民基本医疗保险集中缴费工作的通知。根据山西省医疗保障局要求，"
            "参保人员可通过微信、支付宝等渠道缴费，全国统一的医保信息平台已经上线。")
    copies = 3000 // len(part)
    one = [(start, end, r.code) for start, end, r in table.find_mentions(part)]
    assert [code for _, _, code in one] == ["140100", "140000", "000000"]  # 太原市, 山西省, 全国
    whole = [(start, end, r.code) for start, end, r in table.find_mentions(part * copies)]
    assert whole == [(start + k * len(part), end + k * len(part), code) for k in range(copies) for start, end, code in one]



def test_find_mentions_finds_what_one_scan_of_the_names_finds(table):
    # find_mentions tries the names' regex only where a name's first two characters stand; a scan of the
    # whole text by that regex (leftmost-longest, non-overlapping) finds the same names
    table.find_mentions("")
    matcher, names = table._mentions[:2]
    names_in_table = [r.name for r in table] + [r.short for r in table] + list(NOT_PLACES)
    texts = [sep.join(names_in_table) for sep in ("", "、", "路", "区域", "东大街", "的")]
    texts += [text[i:] for text in texts[:2] for i in (1, 2, 3)]
    for text in texts:
        scanned = [(m.start(), m.end(), names[m.group()]) for m in matcher.finditer(text)
                   if names[m.group()] is not None]
        assert table.find_mentions(text) == scanned
        assert len(scanned) > 100

# -- detect_region ------------------------------------------------------------------
def test_detect_region_prefers_the_breadcrumb():
    region = detect_region("北京市居民医保缴费标准", title="北京医保", breadcrumb="太原本地宝 > 办事指南 > 太原社保")
    assert code_of(region) == "140100"


def test_detect_region_from_a_provincial_breadcrumb():
    assert code_of(detect_region("", breadcrumb="山西省医疗保障局 > 通知公告")) == "140000"


def test_detect_region_from_the_title():
    title = "2024年大同市城乡居民医保缴费时间及入口"
    assert code_of(detect_region("缴费时间为9月1日至12月31日。", title=title)) == "140200"


def test_detect_region_from_a_bendibao_title_suffix():
    assert code_of(detect_region("", title="城乡居民医保怎么交 - 吉林本地宝")) == "220200"


def test_detect_region_from_the_url_host():
    assert code_of(detect_region("缴费标准为每人每年380元。", url="http://dt.bendibao.com/live/2024/1.shtm")) == "140200"


def test_detect_region_ignores_gov_hosts_and_falls_back_to_text():
    text = "晋中市医疗保障局提醒：城乡居民医保缴费即将截止，晋中各县区参保群众请尽快缴费。"
    assert code_of(detect_region(text, url="http://ybj.sx.gov.cn/a.html")) == "140700"


def test_detect_region_prefers_the_city_over_its_province():
    text = "根据山西省统一部署，太原市2025年度城乡居民医保集中征缴开始。太原参保群众可通过线上渠道缴费。"
    assert code_of(detect_region(text)) == "140100"


def test_detect_region_keeps_the_province_when_several_cities_are_listed():
    text = "山西省医保局通知：太原市、大同市、晋中市率先开展门诊共济改革。"
    assert code_of(detect_region(text)) == "140000"


def test_detect_region_uses_the_most_frequent_province():
    text = "广州市民注意：广州城乡居民医保开始缴费。外地如北京的政策不同。"
    assert code_of(detect_region(text)) == "440100"


def test_detect_region_only_reads_the_start_of_the_text():
    text = "居民医保" * 300 + "太原市"
    assert detect_region(text) is None


def test_detect_region_national_and_none():
    assert code_of(detect_region("国家医保局：全国统一的医保信息平台全面建成。")) == "000000"
    assert detect_region("城乡居民医保缴费标准") is None
    assert detect_region("") is None
