"""Meta-refresh redirects are Scrapy's, except that a 304's empty body is not decoded and searched (issue 12):
real crawls of a page that refreshes to another and of a plain page, each twice, nothing changed."""
from __future__ import annotations

from conftest import check, write_sources
from storage import Database
from storage.models import Check, Page, Snapshot

TARGET = ("<html><head><meta charset='utf-8'><title>缴费通知</title></head><body><div id='zoom'>"
          "<p>2026年度城乡居民医保个人缴费标准为每人每年420元，请于12月31日前缴费。</p></div></body></html>")


def test_a_page_that_refreshes_is_redirected_and_an_unchanged_page_is_not_modified(site, tmp_path):
    site.route("new.html", body=TARGET)
    (site.dir / "plain.html").write_text(TARGET.replace("420", "400"), encoding="utf-8")  # a file: ETag, 304
    url = site.route("old.html", body=f'<html><head><meta http-equiv="refresh" content="0;url={site.url("new.html")}">'
                                       "</head><body></body></html>")
    sources = write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "跳转"\nurl = "{url}"\n\n'
                                                       f'[[source]]\nname = "通知"\nurl = "{site.url("plain.html")}"\n')
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    assert check(sources, db_url).returncode == 0
    assert check(sources, db_url).returncode == 0
    db = Database(db_url)
    with db.session() as s:
        snapshots = {page: (final, text) for page, final, text in
                     s.query(Page.url, Snapshot.final_url, Snapshot.main_text).join(Page, Snapshot.page_id == Page.id)}
        outcomes = {}
        for page, outcome in s.query(Page.url, Check.outcome).join(Page, Check.page_id == Page.id).order_by(Check.id):
            outcomes.setdefault(page, []).append(outcome)
    assert snapshots[url][0] == site.url("new.html") and "420元" in snapshots[url][1]
    assert outcomes == {url: ["new", "unchanged"], site.url("plain.html"): ["new", "not_modified"]}
