"""Per-site concurrency: a slow site never sees more parallel requests than CONCURRENT_REQUESTS_PER_DOMAIN."""
from __future__ import annotations

import pytest

from conftest import check, write_sources
from monitor.localsite import LocalSite


@pytest.mark.parametrize("limit", [1, 3])
def test_a_slow_site_sees_at_most_the_per_domain_limit(tmp_path, limit):
    www = tmp_path / "www"
    www.mkdir()
    links = "".join(f"<li><a href='n{i}.html'>第{i}号</a></li>" for i in range(24))
    (www / "list.html").write_text(f"<html><body><ul>{links}</ul></body></html>", encoding="utf-8")
    for i in range(24):
        (www / f"n{i}.html").write_text(f"<html><body><div class='article'><h1>第{i}号通知</h1>"
                                        f"<p>居民医保个人缴费标准为每人每年{400 + i}元。</p></div></body></html>",
                                        encoding="utf-8")
    with LocalSite(www, latency=0.2) as site:
        sources = write_sources(tmp_path / "sources.toml", f'''
            [[source]]
            name = "慢站"
            url = "{site.url('/list.html')}"
            kind = "list"
            follow = "n\\\\d+\\\\.html"
            ''')
        proc = check(sources, f"sqlite:///{tmp_path / 'h.db'}", "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={limit}",
                     "-s", "POLICYWATCH_WORKERS=0")
        assert proc.returncode == 0, proc.stderr
        assert "25 pages checked" in proc.stdout
        # Scrapy 2.19's own downloader started all 24 at once (13-16 measured with limits of 2 and 4).
        assert site.peak_in_flight == limit
