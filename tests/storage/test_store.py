"""SnapshotStore: outcomes, snapshots only on change, deduplicated raw pages, atomic batches."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from storage import Database, DatabaseError, SnapshotStore
from storage.store import CheckRecord, PageContent, SourceSpec


def now():
    return datetime.now(timezone.utc)


@pytest.fixture
def store(db_url):
    store = SnapshotStore(Database(db_url))
    store.sync_sources([SourceSpec(name="太原", url="http://127.0.0.1/a.html"),
                        SourceSpec(name="山西", url="http://127.0.0.1/list/", kind="list", follow=r"/t\d+")])
    return store


def content(text: str, raw: bytes = b"<html>raw</html>") -> PageContent:
    return PageContent(main_text=text, title="标题", published_at=None, final_url="http://127.0.0.1/a.html",
                       encoding="utf-8", profile="generic", raw=raw)


def page_id(store, url="http://127.0.0.1/a.html") -> int:
    return next(p.page_id for p in store.pages_to_check() if p.url == url)


def test_outcomes_follow_the_main_text(store):
    pid, run = page_id(store), store.start_run()
    record = lambda **kw: CheckRecord(page_id=pid, checked_at=now(), **kw)  # noqa: E731
    outcomes = [store.record_checks(run, [r])[0] for r in (
        record(content=content("缴费截止日期为2月25日。")),
        record(content=content("缴费截止日期为2月25日。", raw=b"<html>other ad</html>")),
        record(not_modified=True, http_status=304),
        record(content=content("缴费截止日期为3月31日。")),
        record(error="HTTP 500", http_status=500),
    )]
    assert outcomes == ["new", "unchanged", "not_modified", "changed", "error"]
    assert [s["main_text"] for s in store.snapshots()] == ["缴费截止日期为2月25日。", "缴费截止日期为3月31日。"]
    assert [c["outcome"] for c in store.checks(run)] == outcomes


def test_validators_are_kept_from_the_last_good_fetch(store):
    pid = page_id(store)
    store.record_checks(None, [CheckRecord(page_id=pid, checked_at=now(), content=content("正文"),
                                           etag='"abc"', last_modified="Tue, 03 Sep 2024 03:44:00 GMT")])
    store.record_checks(None, [CheckRecord(page_id=pid, checked_at=now(), error="timed out after 30 s")])
    state = next(p for p in store.pages_to_check() if p.page_id == pid)
    assert (state.etag, state.last_modified) == ('"abc"', "Tue, 03 Sep 2024 03:44:00 GMT")


def test_identical_raw_pages_are_stored_once(store):
    a = page_id(store)
    new = store.add_discovered_pages(store.pages_to_check()[0].source_id, ["http://127.0.0.1/list/t1"])
    b = new[0].page_id
    raw = b"<html>" + "相同的页面".encode() * 100 + b"</html>"
    store.record_checks(None, [CheckRecord(page_id=a, checked_at=now(), content=content("一", raw)),
                               CheckRecord(page_id=b, checked_at=now(), content=content("二", raw))])
    snaps = store.snapshots()
    assert len(snaps) == 2 and snaps[0]["raw_id"] == snaps[1]["raw_id"]
    assert store.raw_html(snaps[0]["raw_id"]) == raw


def test_discovered_pages_are_registered_once(store):
    source_id = next(p.source_id for p in store.pages_to_check() if p.role == "list")
    first = store.add_discovered_pages(source_id, ["http://127.0.0.1/list/t1", "http://127.0.0.1/list/t2"])
    again = store.add_discovered_pages(source_id, ["http://127.0.0.1/list/t2", "http://127.0.0.1/list/t3"])
    assert [p.url for p in first] == ["http://127.0.0.1/list/t1", "http://127.0.0.1/list/t2"]
    assert [p.url for p in again] == ["http://127.0.0.1/list/t3"]
    assert sum(1 for p in store.pages_to_check() if p.role == "article" and "/list/" in p.url) == 3


def test_a_failing_batch_writes_nothing(store):
    pid = page_id(store)
    good = CheckRecord(page_id=pid, checked_at=now(), content=content("正文"))
    broken = CheckRecord(page_id=pid, checked_at=None, content=content("另一个"))  # checked_at is required
    with pytest.raises((DatabaseError, ValueError, TypeError)):
        store.record_checks(None, [good, broken])
    assert store.snapshots() == [] and store.checks() == []
    assert next(p for p in store.pages_to_check() if p.page_id == pid).etag is None


def test_removed_sources_are_disabled_not_deleted(store):
    store.sync_sources([SourceSpec(name="太原", url="http://127.0.0.1/a.html")])
    rows = {r["name"]: r for r in store.source_overview()}
    assert rows["山西"]["enabled"] is False and rows["太原"]["enabled"] is True
    assert {p.source_name for p in store.pages_to_check()} == {"太原"}


def test_changed_source_url_watches_the_new_url(store):
    store.sync_sources([SourceSpec(name="太原", url="http://127.0.0.1/b.html")])
    assert [p.url for p in store.pages_to_check(["太原"])] == ["http://127.0.0.1/b.html"]


def test_the_same_change_cannot_be_stored_twice(store):
    """Two runs that diffed the same versions: the second insert is refused by the change key (0010)."""
    from storage import ChangeStore
    pid = page_id(store)
    with store.db.engine.connect() as conn:
        source_id = conn.exec_driver_sql(f"SELECT source_id FROM pages WHERE id = {pid}").scalar()
    change = dict(source_id=source_id, page_id=pid, type="fact_added", kind="payment_channel",
                  identity='["payment_channel", null, null, "支付宝"]', old=None, new={"name": "支付宝"},
                  severity="medium", snapshot_before=None, snapshot_after=1)
    changes = ChangeStore(store.db)
    twin = dict(change)  # two equal facts on one page are two changes of one diff
    changes.record_changes([change, twin])
    with pytest.raises(DatabaseError):
        changes.record_changes([dict(change)])
    changes.record_changes([dict(change, snapshot_before=1, snapshot_after=2)])  # the next version's diff
    assert len(changes.changes()) == 3


def test_a_source_is_failing_while_any_of_its_pages_is(store):
    from storage import ChangeStore
    source_id = next(p.source_id for p in store.pages_to_check() if p.source_name == "山西")
    (article,) = store.add_discovered_pages(source_id, ["http://127.0.0.1/list/t1"])
    listing = page_id(store, "http://127.0.0.1/list/")

    def health(type_: str, pid: int, url: str) -> dict:
        return dict(source_id=source_id, page_id=pid, type=type_, severity="high", url=url,
                    detail={"reason": "HTTP 503"} if type_ == "source_failing" else {})
    changes = ChangeStore(store.db)
    changes.record_changes([health("source_failing", listing, "http://127.0.0.1/list/"),
                            health("source_failing", article.page_id, article.url),
                            health("source_recovered", article.page_id, article.url)])
    failing = changes.failing_sources()
    assert list(failing) == ["山西"] and failing["山西"]["url"] == "http://127.0.0.1/list/"


def test_a_list_with_tens_of_thousands_of_links_is_registered_in_batches(store):
    source_id = next(p.source_id for p in store.pages_to_check() if p.source_name == "山西")
    # 20,000 rows are 80,000 bound variables in one statement, over both databases' limits (PostgreSQL 65,535;
    # one statement per call hit "too many SQL variables" from 17,000 links on)
    urls = [f"http://127.0.0.1/list/t{i}" for i in range(20_000)]
    new = store.add_discovered_pages(source_id, urls)
    assert len(new) == 20_000
    assert store.add_discovered_pages(source_id, urls[:5] + ["http://127.0.0.1/list/extra"])[0].url.endswith("extra")
