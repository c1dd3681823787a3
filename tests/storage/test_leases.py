"""ClusterStore: one check per page and run whatever the queue delivers, and orphaned leases freed."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from storage import Database, SnapshotStore
from storage.cluster import ClusterStore
from storage.models import Worker
from storage.store import CheckRecord, PageContent, SourceSpec


def now():
    return datetime.now(timezone.utc)


@pytest.fixture
def planned(db_url):
    """A running cluster run with three planned pages; returns (cluster, snapshot store, run id, pages)."""
    db = Database(db_url)
    store = SnapshotStore(db)
    store.sync_sources([SourceSpec(name=f"市{i}", url=f"http://127.0.0.1/p{i}.html") for i in range(3)])
    pages = store.pages_to_check()
    run = store.start_run()
    cluster = ClusterStore(db)
    cluster.plan_run(run, "policywatch:v1:requests", pages)
    return cluster, store, run, pages


def check(page, text="2026年个人缴费标准为每人每年400元。"):
    return CheckRecord(page_id=page.page_id, checked_at=now(), http_status=200,
                       content=PageContent(main_text=text, title="通知", published_at=None, final_url=page.url,
                                           encoding="utf-8", profile="generic", raw=text.encode()))


def test_a_page_delivered_twice_is_claimed_once(planned):
    cluster, _, run, pages = planned
    a, b = cluster.register_worker(1, "t"), cluster.register_worker(1, "t")
    assert cluster.claim(run, pages[0].page_id, a).url == pages[0].url
    assert cluster.claim(run, pages[0].page_id, b) is None
    assert cluster.claim(run, pages[0].page_id, a) is None  # a duplicate delivery to the same worker too


def test_a_check_of_a_page_held_by_another_worker_is_discarded(planned):
    cluster, store, run, pages = planned
    a, b = cluster.register_worker(1, "t"), cluster.register_worker(1, "t")
    cluster.claim(run, pages[0].page_id, a)
    assert cluster.record_checks(b, run, [check(pages[0])]) == [None]
    assert store.checks(run) == []
    assert cluster.record_checks(a, run, [check(pages[0])]) == ["new"]
    assert cluster.record_checks(a, run, [check(pages[0])]) == [None]  # stored once, even by its holder
    assert [c["outcome"] for c in store.checks(run)] == ["new"]
    assert cluster.progress(run) == (1, 3)


def test_requests_of_a_run_that_is_not_running_are_refused(planned):
    cluster, store, run, pages = planned
    store.finish_run(run, {}, "interrupted")
    w = cluster.register_worker(1, "t")
    assert cluster.claim(run, pages[0].page_id, w) is None


def test_leases_of_a_dead_worker_are_freed_for_requeue(planned):
    cluster, _, run, pages = planned
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = cluster.register_worker(1, "t")
    w = cluster.register_worker(1, "t")
    with cluster.db.session() as s:  # the worker row of a process of this host that has exited
        s.execute(update(Worker).where(Worker.id == w).values(pid=dead.pid))
    cluster.claim(run, pages[0].page_id, w)
    cluster.claim(run, pages[1].page_id, alive)
    assert cluster.release_orphans(run) == [(pages[0].page_id, pages[0].url)]
    assert cluster.claim(run, pages[0].page_id, alive) is not None  # free again, the live one takes it
    assert cluster.release_orphans(run) == []


def test_a_stale_heartbeat_frees_leases_and_hides_the_worker(planned):
    cluster, _, run, pages = planned
    w = cluster.register_worker(1, "t")
    cluster.claim(run, pages[2].page_id, w)
    with cluster.db.session() as s:  # seen a minute ago (another host would be judged only by this)
        s.execute(update(Worker).where(Worker.id == w).values(last_seen=now() - timedelta(minutes=1)))
    assert cluster.live_workers(1) == 0
    assert [p for p, _ in cluster.release_orphans(run)] == [pages[2].page_id]


def test_unclaimed_pages_are_returned_once_per_wait(planned):
    cluster, _, run, pages = planned
    later = now() + timedelta(seconds=1)
    assert sorted(p for p, _ in cluster.unclaimed(run, later)) == sorted(p.page_id for p in pages)
    assert cluster.unclaimed(run, now() - timedelta(seconds=5)) == []  # just queued again: not yet


def test_a_list_check_adds_leases_for_its_new_articles(db_url):
    db = Database(db_url)
    store = SnapshotStore(db)
    store.sync_sources([SourceSpec(name="列表", url="http://127.0.0.1/list/", kind="list", follow=r"/t\d+")])
    (lst,) = store.pages_to_check()
    run = store.start_run()
    cluster = ClusterStore(db)
    cluster.plan_run(run, "k", [lst])
    w = cluster.register_worker(1, "t")
    cluster.claim(run, lst.page_id, w)
    record = CheckRecord(page_id=lst.page_id, checked_at=now(), http_status=200, links_hash="h1")
    outcome, new = cluster.record_list_check(w, run, record, lst.source_id, ["http://127.0.0.1/t1", "http://127.0.0.1/t2"])
    assert outcome == "new" and len(new) == 2
    assert cluster.progress(run) == (1, 3)
    assert cluster.record_list_check(w, run, record, lst.source_id, ["http://127.0.0.1/t3"]) == (None, [])
    assert cluster.progress(run) == (1, 3)
