"""`policywatch serve`: the 事实 and 地区 pages (tables, server-side SVG step charts) and a real headless Chromium
over every page — the real server over a history made by real crawls (tests/monitor/servehistory.py)."""
from __future__ import annotations

import re
from urllib.parse import quote, urlencode

from servehistory import HOSTILE_NAME, browser, history, page, server  # noqa: F401 (fixtures)


def test_a_real_browser_draws_every_page_with_its_stylesheet_and_no_script(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    pages = {"overview": ("/", "概览"), "changes": ("/changes", "变化"), "sources": ("/sources", "来源"),
             "source": ("/sources/" + quote("太原本地宝"), "来源：太原本地宝"),
             "hostile": ("/sources/" + quote(HOSTILE_NAME, safe=""), "来源：" + HOSTILE_NAME),
             "facts": ("/facts", "事实"), "facts-province": ("/facts?region=140000", "事实"),
             "region": ("/regions/" + quote("山西") + "?cities=all", "地区：山西省")}
    for name, (path, heading) in pages.items():
        browser.get(server.url + path)
        assert browser.find_element(By.TAG_NAME, "h1").text == heading, name
        assert browser.execute_script("return document.scripts.length") == 0, name
        header = browser.find_element(By.TAG_NAME, "header")
        assert header.value_of_css_property("background-color") == "rgba(36, 52, 71, 1)", name  # style.css applied
        browser.save_screenshot(str(tmp_path / f"{name}.png"))
    browser.get(server.url + "/changes?" + urlencode({"source": "太原本地宝"}))
    inserted = browser.find_elements(By.CSS_SELECTOR, "ol.diff ins")
    assert any(e.text == "3" for e in inserted)
    assert inserted[0].value_of_css_property("background-color") == "rgba(213, 245, 227, 1)"
    before, after = browser.find_elements(By.CSS_SELECTOR, ".evidence .before")[0], \
        browser.find_elements(By.CSS_SELECTOR, ".evidence .after")[0]
    assert before.location["y"] == after.location["y"] and before.location["x"] < after.location["x"]  # side by side
    browser.get(server.url + "/sources/" + quote("太原本地宝"))
    cells = browser.find_elements(By.CSS_SELECTOR, ".strip .cell")
    assert len(cells) == 2 and all(c.size["width"] > 0 and c.size["height"] > 0 for c in cells)
    browser.get(server.url + "/regions/" + quote("山西"))
    lines = browser.find_elements(By.CSS_SELECTOR, "svg.chart path.series")
    assert lines and all(e.size["width"] > 0 for e in lines)  # every chart drew its line
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart line.minimum")
    assert all((tmp_path / f"{name}.png").stat().st_size > 5000 for name in pages)


def matrix_rows(body: str) -> dict[str, str]:
    table = body.split('<table class="matrix">')[1].split("</table>")[0]
    return {re.sub(r"<[^>]+>", "", m.group(1)): m.group(2)
            for m in re.finditer(r"<tr><th>(.*?)</th>(.*?)</tr>", table.split("</thead>")[1], re.S)}


def test_facts_page_of_a_province_is_a_region_by_kind_table_of_current_values(server):
    body = page(server, "/facts?" + urlencode({"region": "山西"}))
    assert "<h1>事实</h1>" in body and '<option value="2025" selected>2025年度</option>' in body
    rows = matrix_rows(body)
    assert "太原市" in rows and "山西省" in rows
    assert "420 元/人/年" in rows["太原市"] and "400 元/人/年" not in rows["太原市"]  # the current value only
    assert "个人缴费" in body.split("<thead>")[1].split("</thead>")[0]
    regions = list(rows)
    assert regions[:2] == ["山西省", "太原市"]  # by region code
    by_fee = list(matrix_rows(page(server, "/facts?plan_year=2025&region=140000&sort=personal_contribution")))
    assert by_fee.index("太原市") < by_fee.index("山西省")  # 420 before 380: largest first
    assert list(matrix_rows(page(server, "/facts?region=000000")))[:2] == ["山西省", "太原市"]  # 全国: every region
    assert "没有当前事实" in page(server, "/facts?plan_year=1999")
    assert server.get("/facts?plan_year=abc")[0] == 400
    assert server.get("/facts?" + urlencode({"region": "火星"}))[0] == 404


def test_facts_page_rolls_each_province_up_over_its_cities(server):
    body = page(server, "/facts")
    table = body.split('<table class="matrix rollup">')[1].split("</table>")[0]
    (shanxi,) = re.findall(r'<tr><th><a href="/regions/140000">山西省</a>(.*?)</tr>', table, re.S)
    assert '<a class="expand" href="/facts?plan_year=2025&amp;region=140000">展开 1 个下辖地区</a>' in shanxi
    heads = re.findall(r"<th><a [^>]*>([^<]+)</a>", table.split("</thead>")[0])[1:]
    fee = re.findall(r"<td[^>]*>(.*?)</td>", shanxi, re.S)[heads.index("个人缴费")]
    assert "本级：380 元/人/年" in fee and "下辖 1 地：420 元/人/年" in fee
    assert 'title="太原市：420 元/人/年"' in fee  # hover: each city's value


def test_region_page_draws_a_step_chart_per_amount_with_the_national_minimum(server):
    body = page(server, "/regions/" + quote("太原市"))
    assert "<h1>地区：太原市</h1>" in body and "太原市 · 个人缴费（2025年度）" in body
    chart = body.split("太原市 · 个人缴费（2025年度）")[1].split("</svg>")[0]
    (path,) = re.findall(r'<path class="series" d="([^"]+)"', chart)  # one source, two values: 400 then 420
    assert len(re.findall(r"[ML][\d.]+,[\d.]+ H[\d.]+", path)) == 2
    assert re.search(r'class="minimum-label"[^>]*>国家最低 \d+', chart)
    assert "<title>太原本地宝：420（" in chart
    table = body.split("全部事实")[1]
    assert "420 元/人/年" in table and "400 元/人/年" in table and "（已结束）" in table
    province = page(server, "/regions/" + quote("山西"))
    assert '<a href="/regions/140100">太原市</a>' in province  # a province lists its cities
    assert "山西省 · 个人缴费（2025年度）" in province and "太原市 · 个人缴费（2025年度）" not in province
    every = page(server, "/regions/" + quote("山西") + "?cities=all")  # every city's charts, one region a page
    assert "山西省 · 个人缴费（2025年度）" in every and "太原市 · 个人缴费（2025年度）" not in every
    assert 'href="/regions/140000?cities=all&amp;page=2">下一页</a>' in every
    assert "太原市 · 个人缴费（2025年度）" in page(server, "/regions/" + quote("山西") + "?cities=all&page=2")
    code, _, body = server.get("/regions/" + quote("火星"))
    assert code == 404 and "未知地区" in body
    assert '<a href="/regions/140100">太原市</a>' in page(server, "/facts?region=140000")


def test_a_region_downloads_as_csv_jsonl_and_parquet_equal_to_export(server, history, tmp_path):
    import urllib.request
    import pyarrow.parquet as pq
    from conftest import run_cli
    db, _ = history
    for fmt in ("csv", "jsonl", "parquet"):
        with urllib.request.urlopen(server.url + f"/regions/140100/facts.{fmt}", timeout=30) as response:
            got = response.read()
            assert f"policywatch-140100-facts.{fmt}" in response.headers["Content-Disposition"]
        out = tmp_path / f"export.{fmt}"
        proc = run_cli("export", "--db", db, "--format", fmt, "--out", str(out), "--region", "太原市")
        assert proc.returncode == 0, proc.stderr
        if fmt == "parquet":
            (tmp_path / "got.parquet").write_bytes(got)
            assert pq.read_table(tmp_path / "got.parquet").to_pylist() == pq.read_table(out).to_pylist()
        else:
            assert got == out.read_bytes() and "420".encode() in got
    assert server.get("/regions/140100/facts.xlsx")[0] == 404
    assert 'href="/regions/140100/facts.csv"' in page(server, "/regions/140100")
