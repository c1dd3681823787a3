"""`policywatch extract`: the JSON contract and one-line errors for bad input."""
from __future__ import annotations

import json
import os

import pytest

from conftest import DEMO_SITE, run_cli

TAIYUAN = DEMO_SITE / "v1/ty/live/2024903/67541.shtm"


def extract_json(*args) -> dict:
    proc = run_cli("extract", *map(str, args))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_html_page_runs_main_content_cut_then_extracts():
    doc = extract_json(TAIYUAN, "--url", "http://ty.bendibao.com/live/2024903/67541.shtm")
    # The contract's keys, extended (never renamed) with how the page was read and its plausibility.
    assert set(doc) == {"url", "title", "published_at", "region", "plan_year", "facts", "profile", "encoding",
                        "below_national_minimum"}
    assert doc["profile"] == "bendibao-desktop" and doc["encoding"] == "utf-8"
    assert doc["region"] == {"name": "太原市", "code": "140100"} and doc["plan_year"] == 2025
    assert doc["published_at"] == "2024-09-03T11:44"
    kinds = {(f["kind"], json.dumps(f["value"], ensure_ascii=False)) for f in doc["facts"]}
    assert ("payment_window", '{"start": "2024-09-01", "end": "2025-02-25"}') in kinds
    assert ("payment_deadline", '{"date": "2025-02-25"}') in kinds
    assert ("personal_contribution", '{"amount": 400, "qualifier": "exact", "change": null}') in kinds
    for fact in doc["facts"]:
        assert set(fact) == {"kind", "value", "plan_year", "region", "evidence", "span", "confidence"}
    assert not any("30万元" in f["evidence"] for f in doc["facts"])  # the related list never reaches the extractor


def test_text_file_with_published_option(tmp_path):
    page = tmp_path / "guide.txt"
    page.write_text("太原居民医保缴费时间为即日起至2024年12月25日。\n相关推荐\n福建医保缴费截止日期为12月31日。",
                    encoding="utf-8")
    doc = extract_json(page, "--published", "2024-09-03")
    assert doc["published_at"] == "2024-09-03"
    assert [f["value"] for f in doc["facts"] if f["kind"] == "payment_window"] == [
        {"start": "2024-09-03", "end": "2024-12-25"}]
    assert all("福建" not in f["evidence"] for f in doc["facts"])


def test_gbk_text_file_is_read(tmp_path):
    page = tmp_path / "gbk.txt"
    page.write_bytes("城乡居民医保个人缴费标准为每人每年380元。".encode("gbk"))
    assert extract_json(page)["facts"][0]["value"]["amount"] == 380


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b"\x7fELF\x00\x00\x01binary"), "binary file"),
    (lambda p: p.write_text("   \n", encoding="utf-8"), "no text to extract from"),
    (lambda p: p.write_bytes(b"\xff\xfe\xfd\x80\x81\x82" * 10), "undecodable bytes"),
    (lambda p: (p.write_bytes(b"<html><body>"), os.truncate(p, 9 * 1024 * 1024)), "larger than the 8 MB a crawl"),
])
def test_bad_input_is_one_line_and_nonzero(tmp_path, make, message):
    path = tmp_path / "page.txt"
    make(path)
    proc = run_cli("extract", str(path))
    assert proc.returncode == 2 and message in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_bad_published_value_is_rejected(tmp_path):
    proc = run_cli("extract", str(TAIYUAN), "--published", "yesterday")
    assert proc.returncode == 2 and "--published 'yesterday'" in proc.stderr


def test_saved_file_never_imports_scrapy():
    """Start-up time: Scrapy (and Twisted) are imported only when a URL is fetched."""
    import subprocess
    import sys
    from conftest import ROOT
    code = ("import sys, contextlib, io\nfrom monitor.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['extract', {str(TAIYUAN)!r}]) == 0\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'scrapy', 'twisted'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
