"""New articles of a watched list keep their `fact_added` when the run that found them is killed between
registering them and storing the list's check (a real crawl, SIGKILL at that moment)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from conftest import FAST, ROOT, check, write_sources
from storage import ChangeStore, Database
from storage.models import Page


def notice(year: int, fee: int) -> str:
    return (f'<html><head><meta charset="utf-8"><meta name="ArticleTitle" content="关于{year}年度城乡居民医保参保缴费的通知">'
            f'<meta name="PubDate" content="{year - 1}-09-01 09:00"></head><body><div id="zoom"><div class="TRS_Editor">'
            f'<p>{year}年度城乡居民医保个人缴费标准为每人每年{fee}元，集中缴费期为{year - 1}年9月1日至{year - 1}年12月31日。</p>'
            f'</div></div></body></html>')


def listing(*links: str) -> str:
    items = "".join(f'<li><a href="{href}">通知</a></li>' for href in links)
    return f'<html><head><meta charset="utf-8"></head><body><ul class="list">{items}</ul></body></html>'


def articles(db_url: str) -> int:
    db = Database(db_url)
    try:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(Page).where(Page.role == "article"))
    finally:
        db.dispose()


def test_articles_found_by_a_run_killed_before_the_lists_check_is_stored_are_still_new(site, db_url, tmp_path):
    old, new = "/tz/202409/t20240901_1.shtml", ["/tz/202509/t20250901_2.shtml", "/tz/202509/t20250902_3.shtml"]
    site.route(old, body=notice(2025, 400))
    for i, path in enumerate(new):
        site.route(path, body=notice(2026, 420 + i))
    site.route("tz/index.html", body=listing(old))
    sources = write_sources(tmp_path / "sources.toml", f'''
        [[source]]
        name = "通知公告"
        url = "{site.url('tz/index.html')}"
        kind = "list"
        follow = '/tz/\\d+/t\\d+_\\d+\\.shtml$'
    ''')
    assert check(sources, db_url).returncode == 0  # the baseline: the list and its one article
    site.route("tz/index.html", body=listing(*new, old))
    # Checks are buffered for 10 minutes: the kill comes after the new articles are registered and before
    # the pipeline writes anything else.
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "check", "--sources", str(sources), "--db", db_url,
                             "--progress", "line", *FAST, "-s", "POLICYWATCH_STORE_INTERVAL=600",
                             "-s", "POLICYWATCH_STORE_BATCH=1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while articles(db_url) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the new articles were never registered"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert check(sources, db_url).returncode == 0
    added = {(c["kind"], c["plan_year"], c["url"]) for c in ChangeStore(Database(db_url)).changes()
             if c["type"] == "fact_added"}
    assert {("personal_contribution", 2026, site.url(p.lstrip("/"))) for p in new} <= added
    assert not any(url == site.url(old.lstrip("/")) for _, _, url in added)


def test_articles_of_a_list_whose_first_check_failed_are_the_baseline(site, db_url, tmp_path):
    site.route("tz/202409/t20240901_1.shtml", body=notice(2025, 400))
    site.route("tz/index.html", status=503, body="<h1>503</h1>")
    sources = write_sources(tmp_path / "sources.toml", f'''
        [[source]]
        name = "通知公告"
        url = "{site.url('tz/index.html')}"
        kind = "list"
        follow = '/tz/\\d+/t\\d+_\\d+\\.shtml$'
    ''')
    assert check(sources, db_url).returncode == 1
    site.route("tz/index.html", body=listing("/tz/202409/t20240901_1.shtml"))
    assert check(sources, db_url).returncode == 0  # the list read for the first time: its article is the baseline
    assert check(sources, db_url).returncode == 0
    assert [c for c in ChangeStore(Database(db_url)).changes() if c["type"] == "fact_added"] == []
