"""bench/crawl.py's parts that need no timing: urlwatch's input files and report parsing, the whole-process table."""
from __future__ import annotations

import sys

import pytest
import yaml

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
from crawlbench.report import targets, whole_table  # noqa: E402
from crawlbench.urlwatchrun import config_yaml, hooks_py, report_counts, urls_yaml  # noqa: E402

URLS = [f"http://127.0.0.1:8123/p/{i:04d}.html" for i in (1, 2, 3)]


def test_urls_yaml_holds_one_url_job_per_page_in_order():
    jobs = list(yaml.safe_load_all(urls_yaml(URLS, 30)))
    assert jobs == [{"url": u, "timeout": 30} for u in URLS]


@pytest.mark.parametrize("url", ["http://example.org/p.html", "https://127.0.0.1/p.html",
                                 "http://127.0.0.1.example.org/p.html", "file:///etc/passwd", "http://[::1]:80/"])
def test_urls_yaml_refuses_anything_but_http_on_127_0_0_1(url):
    with pytest.raises(ValueError, match="127.0.0.1"):
        urls_yaml(URLS + [url], 30)


def test_config_enables_the_stdout_reporter_alone_and_hides_page_text():
    config = yaml.safe_load(config_yaml())
    enabled = {name for name, cfg in config["report"].items() if cfg.get("enabled")}
    assert enabled == {"stdout"}
    assert config["report"]["stdout"]["color"] is False
    assert config["report"]["text"]["details"] is False
    assert config["display"]["unchanged"] is True  # so the re-run can be counted


def test_hooks_set_urlwatch_thread_pool_size():
    assert hooks_py(32).splitlines() == ["import urlwatch.worker", "urlwatch.worker.MAX_WORKERS = 32"]


def test_report_counts_reads_urlwatch_summary_lines():
    out = ("=" * 75 + "\n01. NEW: http://127.0.0.1:1/a\n02. ERROR: http://127.0.0.1:1/b\n"
           "600. UNCHANGED: http://127.0.0.1:1/c\nNEW: not a summary line\n" + "=" * 75 + "\n")
    assert report_counts(out) == dict(new=1, changed=0, unchanged=1, error=1)


def run(bare: float, first: float, second: float, uw_first: float | None = None, uw_second: float | None = None):
    r = dict(bare_wall=bare, first_wall=first, second_wall=second, bare_whole_pps=600 / bare,
             first_whole_pps=600 / first, second_whole_pps=600 / second,
             first_whole_ratio=bare / first, second_whole_ratio=bare / second)
    if uw_first is not None:
        r.update(urlwatch_first_wall=uw_first, urlwatch_second_wall=uw_second, urlwatch_first_pps=600 / uw_first,
                 urlwatch_second_pps=600 / uw_second, urlwatch_first_ratio=bare / uw_first,
                 urlwatch_second_ratio=bare / uw_second, first_vs_urlwatch=uw_first / first,
                 second_vs_urlwatch=uw_second / second)
    return r


def test_whole_table_shows_median_and_range_over_repeats():
    rows = whole_table([run(3.0, 6.0, 4.0, 8.0, 5.0), run(4.0, 4.0, 4.0, 8.0, 3.0)])
    first = next(r for r in rows if r.startswith("policywatch check, first"))
    assert "5.0 (4.0–6.0)" in first and "125 (100–150)" in first  # wall s, pages/s
    assert "75% (50%–100%)" in first  # pages/s ÷ bare's, per repeat
    assert "1.67 (1.33–2.00)×" in first  # urlwatch's wall ÷ ours
    unchanged = next(r for r in rows if r.startswith("policywatch check, unchanged"))
    assert "1.00 (0.75–1.25)×" in unchanged


def test_whole_table_leaves_out_urlwatch_rows_when_it_did_not_run():
    rows = whole_table([run(3.0, 6.0, 4.0)])
    assert len(rows) == 4  # header, bare, first, unchanged
    assert not any(r.startswith("urlwatch") for r in rows)
    assert rows[2].split()[-2:] == ["50%", "-"]  # vs bare Scrapy, vs urlwatch


def test_urlwatch_targets_are_not_measured_without_urlwatch():
    med = dict(first_rss_mb=150, second_rss_mb=120, first_ratio=0.72, first_whole_ratio=0.3,
               unchanged_bytes_per_page=100, second_pps=800, first_pps=300)
    verdicts = {key: (ok, value) for key, _, ok, value in targets(med, "not run: pip failed")}
    assert verdicts["whole first check faster than urlwatch's first run"] == (None, "not measured (urlwatch not run: pip failed)")
    assert verdicts["whole first check ≥ 70% of bare Scrapy"] == (False, "30%")
    assert verdicts["first crawl ≥ 70% of bare Scrapy"] == (True, "72%")
