"""BackfillStore: imported checks slot into a page's timeline by time; recomputed changes are written atomically."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from storage import ChangeStore, Database, DatabaseError, SnapshotStore
from storage.backfill import PENDING_IMPORT, BackfillStore
from storage.models import Page
from storage.store import CheckRecord, PageContent, SourceSpec

URL = "http://127.0.0.1/a.html"
T0 = datetime(2025, 3, 1, 1, 0, tzinfo=timezone.utc)


def content(text: str) -> PageContent:
    return PageContent(main_text=text, title="标题", published_at=None, final_url=URL, encoding="utf-8",
                       profile="generic", raw=f"<html>{text}</html>".encode())


@pytest.fixture
def stores(db_url):
    db = Database(db_url)
    snapshots = SnapshotStore(db)
    ids = snapshots.sync_sources([SourceSpec(name="太原", url=URL)])
    page_id = next(p.page_id for p in snapshots.pages_to_check())
    # One crawled fetch at T0, with validators.
    first = CheckRecord(page_id=page_id, checked_at=T0, content=content("缴费截止日期为3月31日。"), etag='"v2"',
                        last_modified="Sat, 01 Mar 2025 01:00:00 GMT")
    snapshots.record_checks(None, [first])
    return db, BackfillStore(db), snapshots, ids["太原"], page_id


def page(db, page_id) -> Page:
    with db.session() as s:
        return s.get(Page, page_id)


def test_an_older_import_slots_before_the_crawl_and_does_not_become_current(stores):
    db, backfill, snapshots, _, page_id = stores
    crawled = page(db, page_id)
    run = snapshots.start_run()
    older = T0 - timedelta(days=200)
    assert backfill.record_import(run, page_id, older, content("缴费截止日期为2月25日。"))[0] == "new"
    # The same text a month later: a check, no new snapshot.
    assert backfill.record_import(run, page_id, older + timedelta(days=30), content("缴费截止日期为2月25日。")) \
        == ("unchanged", None)
    assert backfill.record_import(run, page_id, older, content("缴费截止日期为2月25日。")) == ("already", None)
    after = page(db, page_id)
    assert (after.last_snapshot_id, after.last_hash, after.etag, after.last_modified) == \
        (crawled.last_snapshot_id, crawled.last_hash, '"v2"', "Sat, 01 Mar 2025 01:00:00 GMT")
    assert after.first_seen_at == older
    (timeline,) = backfill.timelines([page_id], "1")
    assert [s["fetched_at"] for s in timeline.snapshots] == [older, T0]
    assert [s["health"] for s in timeline.snapshots] == [PENDING_IMPORT, None]
    state = backfill.import_state(page_id, older + timedelta(days=1))
    assert (state.checked_at_exists, state.hash_at, state.waiting) == \
        (False, content("缴费截止日期为2月25日。").content_hash, 1)


def test_a_newer_import_becomes_current_with_validators_cleared(stores):
    db, backfill, snapshots, _, page_id = stores
    run = snapshots.start_run()
    outcome, snapshot_id = backfill.record_import(run, page_id, T0 + timedelta(days=1),
                                                  content("缴费截止日期为4月30日。"))
    after = page(db, page_id)
    assert outcome == "changed" and after.last_snapshot_id == snapshot_id
    assert (after.etag, after.last_modified) == (None, None)
    # The next crawl of the same text is unchanged: the import is the page's current state.
    assert snapshots.record_checks(None, [CheckRecord(page_id=page_id, checked_at=T0 + timedelta(days=2),
                                                      content=content("缴费截止日期为4月30日。"))]) == ["unchanged"]


def test_recomputed_changes_are_written_in_one_transaction(stores):
    db, backfill, _, source_id, page_id = stores
    (snap,) = backfill.timelines([page_id], "1")[0].snapshots
    row = dict(source_id=source_id, page_id=page_id, type="fact_added", kind="payment_deadline", identity="x",
               old=None, new={"date": "2025-03-31"}, severity="high", region=None, plan_year=2025,
               snapshot_before=None, snapshot_after=snap["id"], evidence_before=None, evidence_after="…", url=URL,
               detail={"extractor_version": "1"}, run_id=None)
    (kept,) = ChangeStore(db).record_changes([row])
    with pytest.raises((DatabaseError, ValueError, TypeError)):
        backfill.apply_recompute(delete_ids=[kept], inserts=[dict(row, detected_at=None)], updates={},
                                 health={snap["id"]: "ok"})
    assert [c["id"] for c in ChangeStore(db).changes()] == [kept]  # the delete was rolled back too
    assert backfill.timelines([page_id], "1")[0].snapshots[0]["health"] is None
    backfill.apply_recompute(delete_ids=[], inserts=[], updates={kept: {"severity": "medium"}},
                             health={snap["id"]: "ok"})
    assert ChangeStore(db).changes()[0]["severity"] == "medium"
    assert backfill.page_changes([page_id])[page_id][0]["id"] == kept
