"""`policywatch import`: archived pages enter the history at their own time, never as alerts."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from conftest import check, run_cli, write_sources
from extractors import EXTRACTOR_VERSION
from monitor.config import load_config
from monitor.diff_stage import diff_and_queue
from monitor.extract_stage import extract_pending
from spiders.processing import cut_page
from storage import ChangeStore, Database, HistoryFilter, HistoryStore, SnapshotStore
from storage.backfill import BackfillStore
from storage.store import CheckRecord, PageContent


def notice(year: int, fee: int, deadline: str = "12月31日", charset: str = "utf-8") -> str:
    """A 城乡居民医保 notice of our own wording: the plan year, the fee and the deadline vary."""
    return (f'<html><head><meta charset="{charset}"><meta name="ArticleTitle" content="{year}年度城乡居民医保缴费通知">'
            f'<meta name="PubDate" content="{year - 1}-08-20 09:00"></head><body><nav>首页 通知公告</nav>'
            f'<div id="zoom"><div class="TRS_Editor"><p>{year}年度城乡居民医保个人缴费标准为每人每年{fee}元。</p>'
            f'<p>集中缴费期为{year - 1}年9月1日至{year - 1}年{deadline}，请参保人按时缴纳。</p>'
            f'<p>参保人可以通过微信、支付宝等方式缴费。</p></div></div>'
            f'<footer>主办单位：某县医疗保障局</footer></body></html>')


@pytest.fixture
def watched(site, tmp_path, receiver):
    """A page source served with validators (a file on the site), alerts to a real webhook receiver."""
    (site.dir / "guide.html").write_text(notice(2025, 420), encoding="utf-8")
    site.route("tz/index.html", body='<html><head><meta charset="utf-8"></head><body><ul></ul></body></html>')
    sources = write_sources(tmp_path / "sources.toml", f'''
        notify = ["{receiver.url()}"]
        [[source]]
        name = "某县医保"
        url = "{site.url('guide.html')}"
        [[source]]
        name = "某县通知公告"
        url = "{site.url('tz/index.html')}"
        kind = "list"
        follow = '/tz/\\d+/t\\d+_\\d+\\.shtml$'
    ''')
    return site, sources


def save(tmp_path, name: str, body: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(body.encode("utf-8") if isinstance(body, str) else body)
    return str(path)


def import_(sources, db, path, url=None, when=None, *extra):
    args = ["import", path, "--sources", str(sources), "--db", db]
    if url:
        args += ["--url", url]
    if when:
        args += ["--fetched-at", when]
    proc = run_cli(*args, *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def page_row(db, url):
    store = BackfillStore(Database(db))
    page_id = store.find_page("某县医保", url)
    return next(p for p in SnapshotStore(Database(db)).pages_to_check() if p.page_id == page_id), page_id


def test_older_import_slots_before_the_crawled_history_without_alerts(watched, db_url, tmp_path, receiver):
    site, sources = watched
    url = site.url("guide.html")
    assert check(sources, db_url).returncode == 0
    state_before, page_id = page_row(db_url, url)
    crawled = SnapshotStore(Database(db_url)).snapshots()
    assert len(crawled) == 1 and state_before.etag

    proc = import_(sources, db_url, save(tmp_path, "2025.html", notice(2025, 400, "11月30日")), url, "2024-09-02")
    assert proc.returncode == 0, proc.stderr
    assert "1 pages imported (1 new snapshots, 0 unchanged)" in proc.stdout and "no alerts" in proc.stdout

    db = Database(db_url)
    snaps = SnapshotStore(db).snapshots()
    imported = next(s for s in snaps if s["id"] != crawled[0]["id"])
    assert imported["fetched_at"] == datetime(2024, 9, 1, 16, 0, tzinfo=timezone.utc)  # 2024-09-02 00:00 +08:00
    assert imported["meta"]["import"]["file"] == "2025.html"
    # The page's current state is still the crawl's: the older import did not become "current".
    state_after, _ = page_row(db_url, url)
    assert (state_after.etag, state_after.last_modified) == (state_before.etag, state_before.last_modified)
    with db.session() as s:
        from storage.models import Page, Run
        page = s.get(Page, page_id)
        assert page.last_snapshot_id == crawled[0]["id"]
        assert page.last_hash == crawled[0]["content_hash"]
        runs = {r.id: (r.status, (r.counts or {}).get("kind")) for r in s.query(Run)}
    # The changes run from the imported (older) version to the crawled one, recorded under the import run.
    every = ChangeStore(db).changes()
    assert {(c["snapshot_before"], c["snapshot_after"]) for c in every} == {(imported["id"], crawled[0]["id"])}
    fee = next(c for c in every if c["kind"] == "personal_contribution")
    assert (fee["type"], fee["old"]["amount"], fee["new"]["amount"]) == ("fact_changed", 400, 420)
    assert {c["detail"]["extractor_version"] for c in every} == {EXTRACTOR_VERSION}
    assert runs[every[0]["run_id"]] == ("imported", "import")
    assert ChangeStore(db).alerts() == [] and receiver.posts == []

    # The next crawl compares with the crawled version (not the imported one): nothing changed, nothing sent.
    again = check(sources, db_url)
    assert again.returncode == 0 and "changes:" not in again.stdout
    assert len(ChangeStore(db).changes()) == len(every) and receiver.posts == []
    # A real change afterwards is diffed against the newest fetch, not the (higher-id) imported snapshot.
    (site.dir / "guide.html").write_text(notice(2025, 450), encoding="utf-8")
    changed = check(sources, db_url)
    assert changed.returncode == 0 and "alerts: 1 sent" in changed.stdout, changed.stdout
    (fee,) = [c for c in ChangeStore(db).changes()
              if c["kind"] == "personal_contribution" and c["id"] > every[-1]["id"]]
    assert (fee["snapshot_before"], fee["old"]["amount"], fee["new"]["amount"]) == (crawled[0]["id"], 420, 450)
    assert len(receiver.posts) == 1 and "个人缴费 420 → 450" in receiver.posts[0][1]["message"]


def sept(day: int) -> datetime:
    return datetime(2024, 9, day, 2, tzinfo=timezone.utc)


def crawl_versions(watched, db_url, fees: dict[int, int]) -> tuple[Database, SnapshotStore, str]:
    """The guide page crawled on chosen September days with those fees, stored and diffed by the crawl's
    own stages: (db, store, url)."""
    site, sources = watched
    url = site.url("guide.html")
    db = Database(db_url)
    store = SnapshotStore(db)
    store.sync_sources([s.spec() for s in load_config(sources).sources])
    page_id = next(p.page_id for p in store.pages_to_check() if p.url == url)
    for day, fee in fees.items():
        body = notice(2025, fee).encode()
        cut = cut_page(body, None, url)
        content = PageContent(main_text=cut.main_text, title=cut.title, published_at=cut.published_at,
                              final_url=url, encoding=cut.encoding, profile=cut.profile, raw=body, meta=cut.meta)
        store.record_checks(None, [CheckRecord(page_id=page_id, checked_at=sept(day), content=content)])
        extract_pending(store, workers=1)
        diff_and_queue(db, None)
    return db, store, url


def test_an_import_between_two_crawled_versions_splits_their_change(watched, db_url, tmp_path):
    _, sources = watched
    db, store, url = crawl_versions(watched, db_url, {1: 380, 20: 420})
    fees = lambda: sorted((c["old"]["amount"], c["new"]["amount"], c["snapshot_before"], c["snapshot_after"])  # noqa: E731
                          for c in ChangeStore(db).changes() if c["kind"] == "personal_contribution")
    first, second = (s["id"] for s in store.snapshots())
    assert fees() == [(380, 420, first, second)]
    proc = import_(sources, db_url, save(tmp_path, "mid.html", notice(2025, 400)), url, "2024-09-10")
    assert proc.returncode == 0, proc.stderr
    middle = store.snapshots()[-1]["id"]
    assert fees() == [(380, 400, first, middle), (400, 420, middle, second)]


def test_an_import_between_two_crawled_versions_takes_its_place_in_the_fact_history(watched, db_url, tmp_path):
    _, sources = watched
    db, store, url = crawl_versions(watched, db_url, {1: 380, 20: 420})
    # An archived copy from 10 September already said 420: the raise happened earlier than the crawl saw.
    assert import_(sources, db_url, save(tmp_path, "mid.html", notice(2025, 420)), url,
                   "2024-09-10 10:00").returncode == 0  # China time: 02:00 UTC
    first, second, imported = (s["id"] for s in store.snapshots())
    fees = [(json.loads(r["value"])["amount"], r["snapshot_id"], r["last_snapshot_id"], r["first_seen"],
             r["last_seen"], r["is_current"])
            for r in HistoryStore(db).history(HistoryFilter(kind="personal_contribution"))]
    assert fees == [(380, first, first, sept(1), sept(1), False), (420, imported, second, sept(10), sept(20), True)]
    deadlines = HistoryStore(db).history(HistoryFilter(kind="payment_deadline"))
    assert [(r["snapshot_id"], r["first_seen"], r["last_seen"]) for r in deadlines] == [(first, sept(1), sept(20))]
    with db.engine.connect() as conn:
        [latest] = conn.execute(text("SELECT snapshot_id, last_snapshot_id FROM latest_facts"
                                     " WHERE kind = 'personal_contribution'")).all()
    assert tuple(latest) == (imported, second)


def test_same_file_and_time_twice_is_already_imported(watched, db_url, tmp_path):
    site, sources = watched
    url = site.url("guide.html")
    path = save(tmp_path, "g.html", notice(2025, 400))
    first = import_(sources, db_url, path, url, "2024-09-02T10:30+08:00")
    assert first.returncode == 0, first.stderr
    store = SnapshotStore(Database(db_url))
    counts = (len(store.snapshots()), len(store.checks()))
    again = import_(sources, db_url, path, url, "2024-09-02T10:30:00")  # the same instant, naive = China time
    assert again.returncode == 0, again.stderr
    assert f"already imported: {path}" in again.stdout and "0 pages imported" in again.stdout
    assert (len(store.snapshots()), len(store.checks())) == counts == (1, 1)
    with store.db.session() as s:
        from storage.models import Run
        assert s.query(Run).count() == 1
    # Another version at the same instant is a conflict, refused without writing.
    other = import_(sources, db_url, save(tmp_path, "h.html", notice(2025, 380)), url, "2024-09-02T10:30")
    assert other.returncode == 2 and "a different version" in other.stderr
    assert (len(store.snapshots()), len(store.checks())) == counts


def test_dry_run_says_what_each_file_would_be_writes_nothing_and_agrees_with_the_import(watched, db_url, tmp_path):
    _, sources = watched
    db, store, url = crawl_versions(watched, db_url, {1: 380, 20: 420})
    folder = tmp_path / "archive"
    folder.mkdir()
    save(folder, "same.html", notice(2025, 380))     # as crawled on 1 September
    save(folder, "raised.html", notice(2025, 400))
    save(folder, "again.html", notice(2025, 400))    # as the file before it in this import
    save(folder, "crawled.html", notice(2025, 380))  # the crawl's own instant
    (folder / "manifest.csv").write_text(
        "file,url,fetched_at\n"
        "again.html,,2024-09-16T10:00\n"
        "same.html,,2024-09-10T10:00\n"
        "raised.html,,2024-09-15T10:00\n"
        "crawled.html,,2024-09-01T10:00\n", encoding="utf-8")
    counts = (len(store.snapshots()), len(store.checks()))
    dry = import_(sources, db_url, str(folder), url, None, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert [line.split(":")[0] for line in dry.stdout.splitlines()[:-1]] == \
        ["already", "unchanged", "changed", "unchanged"]
    assert dry.stdout.splitlines()[-1].startswith(
        "dry run, nothing written: would import 3 pages (1 new snapshots, 2 unchanged), 1 already imported")
    assert (len(store.snapshots()), len(store.checks())) == counts
    real = import_(sources, db_url, str(folder), url, None)
    assert real.returncode == 0, real.stderr
    assert "3 pages imported (1 new snapshots, 2 unchanged), 1 already imported" in real.stdout
    assert [c["outcome"] for c in sorted(store.checks(), key=lambda c: c["checked_at"])] == \
        ["new", "unchanged", "changed", "unchanged", "changed"]


def test_a_directory_with_a_manifest_builds_a_timeline_and_the_newest_becomes_current(watched, db_url, tmp_path):
    site, sources = watched
    url = site.url("guide.html")
    article = site.url("tz/202409/t20240901_7.shtml")
    folder = tmp_path / "archive"
    folder.mkdir()
    save(folder, "a.html", notice(2024, 380))
    save(folder, "b.htm", notice(2025, 400, "11月30日"))
    save(folder, "c.html", notice(2025, 400, "11月30日"))
    save(folder, "n.shtml", notice(2025, 400))
    (folder / "manifest.csv").write_text(
        "file,url,fetched_at\n"
        "b.htm,,2024-10-01\n"  # rows in any order; the timeline is by time
        "a.html,,2023-09-15T08:00\n"
        "c.html,,2024-12-01\n"  # the same text again: a check, no new snapshot
        f"n.shtml,{article},2024-09-01\n", encoding="utf-8")
    proc = import_(sources, db_url, str(folder), url, None)
    assert proc.returncode == 0, proc.stderr
    assert "4 pages imported (3 new snapshots, 1 unchanged)" in proc.stdout
    db = Database(db_url)
    store = SnapshotStore(db)
    snaps = sorted((s for s in store.snapshots() if s["url"] == url), key=lambda s: s["fetched_at"])
    assert [s["meta"]["import"]["file"] for s in snaps] == ["a.html", "b.htm"]
    assert [c["outcome"] for c in sorted((c for c in store.checks() if c["url"] == url),
                                         key=lambda c: c["checked_at"])] == ["new", "changed", "unchanged"]
    changes = [c for c in ChangeStore(db).changes() if c["url"] == url]
    assert all((c["snapshot_before"], c["snapshot_after"]) == (snaps[0]["id"], snaps[1]["id"]) for c in changes)
    assert ("fact_added", "personal_contribution", 2025) in {(c["type"], c["kind"], c["plan_year"]) for c in changes}
    # Nothing was crawled yet, so the newest import is the page's current state.
    state, page_id = page_row(db_url, url)
    with db.session() as s:
        from storage.models import Page
        assert s.get(Page, page_id).last_snapshot_id == snaps[1]["id"] and state.etag is None
    # The article matched the list source's follow pattern: it became one of that source's pages.
    assert [s["source"] for s in store.snapshots() if s["url"] == article] == ["某县通知公告"]
    # A page file missing from the manifest is refused.
    save(folder, "d.html", notice(2026, 420))
    missing = import_(sources, db_url, str(folder), url, None)
    assert missing.returncode == 2 and "d.html is not in manifest.csv" in missing.stderr


def test_a_gbk_page_is_decoded_cut_and_extracted(watched, db_url, tmp_path):
    site, sources = watched
    url = site.url("guide.html")
    body = notice(2025, 400, charset="gbk").encode("gbk")
    assert b"\xb3\xc7\xcf\xe7" in body  # 城乡 in GBK: the file really is GBK
    proc = import_(sources, db_url, save(tmp_path, "gbk.html", body), url, "2024-09-05")
    assert proc.returncode == 0, proc.stderr
    store = SnapshotStore(Database(db_url))
    (snap,) = store.snapshots()
    assert snap["encoding"] == "gb18030" and "个人缴费标准为每人每年400元" in snap["main_text"]
    assert store.raw_html(snap["raw_id"]) == body
    fees = [f["value"]["amount"] for f in store.facts(snap["id"]) if f["kind"] == "personal_contribution"]
    assert fees == [400]


@pytest.mark.parametrize("case", ["missing file", "binary", "garbage", "undecodable", "unknown url", "list page",
                                  "bad time", "future time", "no url", "larger than a crawl accepts"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(watched, db_url, tmp_path, case):
    site, sources = watched
    url = site.url("guide.html")
    good = save(tmp_path, "good.html", notice(2025, 400))
    path, when, expect = good, "2024-09-02", ""
    if case == "missing file":
        path, expect = str(tmp_path / "nope.html"), "no such file"
    elif case == "binary":
        path, expect = save(tmp_path, "x.html", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "binary file"
    elif case == "garbage":
        path, expect = save(tmp_path, "x.html", bytes(range(128, 256)) * 4), "not an HTML page"
    elif case == "undecodable":
        path = save(tmp_path, "x.html", b"<html><body><p>\x80\x80\xff\xfe\x80</p></body></html>")
        expect = "undecodable bytes"
    elif case == "unknown url":
        url, expect = "http://127.0.0.1:9/elsewhere.html", "belongs to no source"
    elif case == "list page":
        url, expect = site.url("tz/index.html"), "is the list page"
    elif case == "bad time":
        when, expect = "2024/09/02", "expected YYYY-MM-DD"
    elif case == "future time":
        when, expect = "2999-01-01", "in the future"
    elif case == "no url":
        url, expect = None, "needs --url and --fetched-at"
    elif case == "larger than a crawl accepts":  # 9 MB: a real page of that size took 10× its size to cut
        path = save(tmp_path, "huge.html", notice(2025, 400))
        with open(path, "r+b") as f:
            f.truncate(9 * 1024 * 1024)
        expect = "larger than the 8 MB a crawl accepts (DOWNLOAD_MAXSIZE)"
    proc = import_(sources, db_url, path, url, when)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and expect in proc.stderr, proc.stderr
    store = SnapshotStore(Database(db_url))
    assert store.snapshots() == [] and store.checks() == []
    with store.db.session() as s:
        from storage.models import Run
        assert s.query(Run).count() == 0


@pytest.mark.parametrize("entry", ["../outside.html", "/ABS", "link.html"])
def test_manifest_entries_outside_the_import_folder_are_refused(tmp_path, entry):
    folder = tmp_path / "pages"
    folder.mkdir()
    outside = tmp_path / "outside.html"
    outside.write_text(notice(2025, 400), encoding="utf-8")
    if entry == "link.html":
        (folder / "link.html").symlink_to(outside)
    name = str(outside) if entry == "/ABS" else entry
    (folder / "manifest.csv").write_text(f"file,url,fetched_at\n{name},http://127.0.0.1:1/a.html,2025-01-02\n",
                                         encoding="utf-8")
    sources = write_sources(tmp_path / "sources.toml", '[[source]]\nname = "甲"\nurl = "http://127.0.0.1:1/a.html"\n')
    proc = run_cli("import", str(folder), "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'h.db'}")
    assert proc.returncode == 2, proc.stderr
    assert "outside the import folder" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "h.db").exists()
