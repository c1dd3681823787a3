"""`policywatch serve`: the 地区 page's date timelines and 来源不一致 marks, and the 事实 page's province roll-up —
the real server over a history where two real sources on 太原 disagree after the second crawl."""
from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from markupsafe import escape

from conftest import check, write_sources
from servehistory import V1, V2, Server, browser, page  # noqa: F401 (fixtures)

# A second 太原 page that keeps the first version (400 元, deadline 2月25日) while 本地宝 moves to 420 / 3月31日;
# its source name carries markup, which every chart title, legend and hover must show as text.
BUREAU = V1.replace("太原本地宝", "太原市医疗保障局")
BUREAU_NAME = "太原医保局<img src=x onerror=alert(1)>"
ESC = str(escape(BUREAU_NAME))


@pytest.fixture(scope="module")
def disagreeing(module_site, module_db, tmp_path_factory):
    """Two real checks of two 太原 sources: they agree in the first, disagree on fee and deadline in the second."""
    site = module_site
    site.route("guide.shtm", body=V1)
    site.route("bureau.shtm", body=BUREAU)
    sources = write_sources(tmp_path_factory.mktemp("cfg") / "sources.toml", f'''
        [[source]]
        name = "太原本地宝"
        url = "{site.url('guide.shtm')}"
        [[source]]
        name = "{BUREAU_NAME}"
        url = "{site.url('bureau.shtm')}"
    ''')
    db = module_db()
    for guide in (V1, V2):
        site.route("guide.shtm", body=guide)
        proc = check(sources, db)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    srv = Server("--sources", str(sources), "--db", db)
    yield srv
    err = srv.stop()
    assert "Traceback" not in err, err


def section(body: str, heading: str) -> str:
    """The SVG under the heading `heading` of the 地区 page."""
    return body.split(f"<h2>{heading}</h2>")[1].split("</svg>")[0]


def test_amount_chart_shades_the_span_where_two_sources_state_different_fees(disagreeing):
    body = page(disagreeing, "/regions/" + quote("太原市"))
    assert "<img" not in body and ESC in body.split('<p class="legend">')[1]  # the name is text, never markup
    chart = section(body, "太原市 · 个人缴费（2025年度）")
    assert len(re.findall(r'<path class="series"', chart)) == 2  # one line per source
    (title,) = re.findall(r'<rect class="conflict"[^>]*><title>([^<]+)</title>', chart)
    assert title.startswith("来源不一致：") and f"{ESC} 400" in title and "太原本地宝 420" in title


def test_date_kinds_get_a_timeline_per_plan_year_with_the_disagreement_marked(disagreeing):
    body = page(disagreeing, "/regions/" + quote("太原市"))
    deadline = section(body, "太原市 · 缴费截止日期（各年度）")
    assert '<text class="row-label"' in deadline and ">2025年度</text>" in deadline
    marks = re.findall(r'<path class="deadline( ended)?"[^>]*><title>([^<]+)</title>', deadline)
    titles = [t for _, t in marks]
    assert any(t.startswith(f"{ESC}：2025-02-25") and "当前" in t for t in titles)
    assert any(t.startswith("太原本地宝：2025-03-31") and "当前" in t for t in titles)
    assert any(e == " ended" and t.startswith("太原本地宝：2025-02-25") for e, t in marks)  # superseded, faded
    (conflict,) = re.findall(r'<rect class="conflict"[^>]*><title>([^<]+)</title>', deadline)
    assert f"{ESC} 2025-02-25" in conflict and "太原本地宝 2025-03-31" in conflict
    window = section(body, "太原市 · 缴费时间（各年度）")
    bars = re.findall(r'<rect class="window[^"]*" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', window)
    assert bars and all(float(w) > 100 for _, w in bars)  # 2024-09-01 至 2025-02-25: half the axis at least
    assert ">上年9月</text>" in window and ">3月</text>" in window  # ticks relative to the plan year


def test_facts_roll_up_counts_the_cities_whose_sources_disagree(disagreeing):
    body = page(disagreeing, "/facts")
    (shanxi,) = re.findall(r'<tr><th><a href="/regions/140000">山西省</a>(.*?)</tr>', body, re.S)
    heads = re.findall(r"<th><a [^>]*>([^<]+)</a>", body.split("</thead>")[0])[1:]
    fee = re.findall(r"<td([^>]*)>(.*?)</td>", shanxi, re.S)[heads.index("个人缴费")]
    assert fee[0] == ' class="conflict"' and "1 地来源不一致" in fee[1] and "下辖 1 地：400–420 元/人/年" in fee[1]
    assert "太原市：400 元/人/年、420 元/人/年（来源不一致）" in fee[1] and "<img" not in body  # the hover names the city's values
    channels = re.findall(r"<td([^>]*)>(.*?)</td>", shanxi, re.S)[heads.index("缴费渠道")]
    assert channels[0] == "" and "来源不一致" not in channels[1]  # several channels per page are no disagreement
    matrix = page(disagreeing, "/facts?region=140000")
    assert '<td class="conflict"><span class="value" title="太原' in matrix and "来源不一致" in matrix


def test_a_real_browser_draws_the_timeline_bars_diamonds_and_conflict_bands(disagreeing, browser, tmp_path):
    from selenium.webdriver.common.by import By
    browser.get(disagreeing.url + "/regions/" + quote("太原市"))
    assert browser.execute_script("return document.scripts.length + document.images.length") == 0
    for selector in ("svg.timeline rect.window", "svg.timeline path.deadline", "svg.timeline rect.conflict",
                     "svg.chart:not(.timeline) rect.conflict"):
        marks = browser.find_elements(By.CSS_SELECTOR, selector)
        assert marks and all(m.size["width"] > 0 and m.size["height"] > 0 for m in marks), selector
    lines = browser.find_elements(By.CSS_SELECTOR, "svg.chart path.series")  # flat steps: no height
    assert len(lines) >= 2 and all(e.size["width"] > 0 for e in lines)
    band = browser.find_elements(By.CSS_SELECTOR, "svg.chart rect.conflict")[0]
    assert band.value_of_css_property("fill") == "rgb(245, 176, 65)"  # style.css drew the band
    browser.save_screenshot(str(tmp_path / "region-conflicts.png"))
    assert (tmp_path / "region-conflicts.png").stat().st_size > 5000
    browser.get(disagreeing.url + "/facts")
    flagged = browser.find_elements(By.CSS_SELECTOR, "table.rollup td.conflict .warn")
    assert flagged and all(e.is_displayed() for e in flagged)
    assert flagged[0].find_element(By.XPATH, "..").value_of_css_property("background-color") == "rgba(253, 242, 233, 1)"
    browser.save_screenshot(str(tmp_path / "facts-rollup.png"))
