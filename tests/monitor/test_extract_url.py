"""`policywatch extract URL`: one live page fetched as the crawl fetches it (real server on 127.0.0.1)."""
from __future__ import annotations

import json
import socket

import pytest

from conftest import SITE, run_cli, write_sources

TAIYUAN = "ty/live/2024903/67541.shtm"
COUNTY = "gov/county_nr.html"
FAST = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "DOWNLOAD_TIMEOUT=5")

XINZHOU = """
# the county site's CMS: article in div.nr
[[profile]]
name = "xinzhou"
domains = ["127.0.0.1"]
detect = "div.nr"
content = ["div.nr"]
title = [".nr-title"]
published = [".nr-time"]
drop = [".nr-title", ".nr-time", ".nr-tools"]
"""


def extract(*args, code: int = 0):
    proc = run_cli("extract", *map(str, args), *FAST)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def extract_json(*args) -> dict:
    return json.loads(extract(*args).stdout)


def one_line_error(proc, code: int) -> str:
    assert proc.returncode == code and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("policywatch: "), proc.stderr
    return proc.stderr.strip()


def test_live_page_is_fetched_like_the_crawl_then_cut_and_extracted(site):
    doc = extract_json(site.url(TAIYUAN))
    assert {"url", "title", "published_at", "region", "plan_year", "facts"} <= set(doc)
    assert doc["profile"] == "bendibao-desktop-detected" and doc["http_status"] == 200
    assert doc["title"] == "太原居民医保缴费截止日期是什么时候?" and doc["published_at"] == "2024-09-03T11:44"
    assert {"kind": "payment_deadline", "value": {"date": "2025-02-25"}}.items() <= next(
        f for f in doc["facts"] if f["kind"] == "payment_deadline").items()
    assert "main_text" not in doc
    (page,) = site.requests_for(TAIYUAN)
    assert page["User-Agent"].startswith("policywatch/")  # spiders/settings.py's User-Agent
    assert site.requests_for("robots.txt")  # robots.txt asked first, as in a crawl


def test_gbk_page_that_claims_utf8_is_decoded(site):
    html = (SITE / "gov/encoding_sample.html").read_text(encoding="utf-8")
    html = html.replace("<head>", '<head><meta charset="utf-8">', 1)
    (site.dir / "gov/gbk.html").write_bytes(html.encode("gbk"))
    doc = extract_json(site.url("gov/gbk.html"), "--text")
    assert doc["encoding"] == "gb18030" and doc["profile"] == "gov-cms"
    assert "个人缴费每人每年400元" in doc["main_text"]
    assert 400 in [f["value"].get("amount") for f in doc["facts"] if f["kind"] == "personal_contribution"]


def test_text_shows_the_cut_main_text_without_boilerplate(site):
    doc = extract_json(site.url(TAIYUAN), "--text")
    assert "按照本年度筹资安排，太原城乡居民医保的个人缴费标准为400元/人/年" in doc["main_text"]
    assert "相关推荐" not in doc["main_text"] and "温馨提示" not in doc["main_text"]
    human = extract(site.url(TAIYUAN), "--text", "--human").stdout
    assert "profile    bendibao-desktop-detected" in human and "── main text (" in human
    assert "payment_deadline 2025年度: {\"date\": \"2025-02-25\"}" in human


def test_profile_name_forces_another_cut(site):
    default = extract_json(site.url(TAIYUAN), "--text")
    generic = extract_json(site.url(TAIYUAN), "--text", "--profile", "generic")
    assert generic["profile"] == "generic" and generic["main_text"] != default["main_text"]
    proc = run_cli("extract", site.url(TAIYUAN), "--profile", "bendibao-dekstop")
    assert "--profile: unknown site profile 'bendibao-dekstop'" in one_line_error(proc, 2)


def test_profile_file_is_tried_before_the_bundled_profiles(site, tmp_path):
    before = extract_json(site.url(COUNTY), "--text")
    assert before["profile"] == "generic" and "350元" in before["main_text"]
    (tmp_path / "my-profiles.toml").write_text(XINZHOU, encoding="utf-8")
    after = extract_json(site.url(COUNTY), "--text", "--profile", tmp_path / "my-profiles.toml")
    assert after["profile"] == "xinzhou"
    assert after["main_text"] == "2025年度城乡居民医保个人缴费标准为每人每年400元。"
    assert after["title"] == "2025年度居民医保缴费通知" and after["published_at"] == "2024-09-05"


def test_profile_file_that_matches_nothing_says_so(site, tmp_path):
    (tmp_path / "p.toml").write_text(XINZHOU.replace("127.0.0.1", "xinzhou.example.cn"), encoding="utf-8")
    proc = extract(site.url(COUNTY), "--profile", tmp_path / "p.toml")
    assert json.loads(proc.stdout)["profile"] == "generic"
    assert "no profile of" in proc.stderr and "it was cut with 'generic'" in proc.stderr


def test_broken_profile_file_names_file_and_line_before_fetching(site, tmp_path):
    (tmp_path / "my-profiles.toml").write_text(XINZHOU.replace('content = ["div.nr"]', 'content = ["div..nr"]'),
                                               encoding="utf-8")
    proc = run_cli("extract", site.url(COUNTY), "--profile", "my-profiles.toml", cwd=tmp_path)
    assert one_line_error(proc, 2) == ("policywatch: my-profiles.toml:7: profile 'xinzhou': bad CSS selector "
                                       "'div..nr': Expected ident, got <DELIM '.' at 4>")
    assert site.requests_for(COUNTY) == []


def test_sources_file_brings_user_profiles_and_the_sources_profile(site, tmp_path):
    (tmp_path / "my-profiles.toml").write_text(XINZHOU.replace('domains = ["127.0.0.1"]\n', ""), encoding="utf-8")
    sources = write_sources(tmp_path / "sources.toml", f'''
        profiles = "my-profiles.toml"
        [[source]]
        name = "忻府区医保局"
        url = "{site.url(COUNTY)}"
        profile = "xinzhou"
        ''')
    doc = extract_json(site.url(COUNTY), "--sources", sources)
    assert doc["profile"] == "xinzhou" and [f["value"]["amount"] for f in doc["facts"]] == [400]
    # a user profile name is valid for --profile when --sources names its file (here: a page of no source)
    (site.dir / "gov/copy.html").write_bytes((site.dir / COUNTY).read_bytes())
    assert extract_json(site.url("gov/copy.html"))["profile"] == "generic"
    assert extract_json(site.url("gov/copy.html"), "--sources", sources, "--profile", "xinzhou")["profile"] == "xinzhou"


def test_robots_txt_refusal_is_one_line_and_never_fetched(site):
    proc = run_cli("extract", site.url("private/secret.html"), *FAST)
    assert one_line_error(proc, 1) == f"policywatch: {site.url('private/secret.html')}: blocked by robots.txt"
    assert site.requests_for("private/secret.html") == []


def test_unreachable_port_is_one_line(site):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("extract", f"http://127.0.0.1:{port}/notice.html", *FAST)
    assert one_line_error(proc, 1) == f"policywatch: http://127.0.0.1:{port}/notice.html: connection refused"


def test_http_error_is_one_line(site):
    proc = run_cli("extract", site.url("err/404.html"), *FAST)
    assert one_line_error(proc, 1) == f"policywatch: {site.url('err/404.html')}: HTTP 404"


@pytest.mark.parametrize("body, content_type, reason", [
    (b"%PDF-1.4\n%binary", "application/pdf", "not an HTML page (application/pdf)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png", "not an HTML page (image/png)"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00" * 20, "text/html", "not an HTML page (binary content served as text/html)"),
], ids=["pdf", "image", "binary-as-html"])
def test_non_html_answer_is_one_line(site, body, content_type, reason):
    url = site.route("attachment", body=body, content_type=content_type)
    assert one_line_error(run_cli("extract", url, *FAST), 1) == f"policywatch: {url}: {reason}"
