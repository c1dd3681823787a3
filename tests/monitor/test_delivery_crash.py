"""A sender killed while its POST is in flight: never resent blindly, only by `alerts --retry`, marked in Chinese.

A real `policywatch alerts --retry` child delivers to a real receiver on 127.0.0.1 that holds the first request
until the child has been killed with SIGKILL, so the receiver has the message and the outbox never heard back.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

from conftest import ROOT, run_cli, write_sources
from monitor.delivery import DUPLICATE_MARK, deliver_due
from monitor.localsite import WebhookReceiver
from storage import Database
from storage.changes import ChangeStore
from storage.store import SnapshotStore, SourceSpec
from storage.types import utcnow
from test_alerts import PAGE, change, record

import pytest


@pytest.fixture
def db(db_url):
    database = Database(db_url)
    ids = SnapshotStore(database).sync_sources([SourceSpec(name="太原本地宝·居民医保", url=PAGE, region="太原市")])
    database.source_id = ids["太原本地宝·居民医保"]
    with database.engine.connect() as conn:
        database.page_id = conn.exec_driver_sql("SELECT id FROM pages").scalar()
    yield database
    database.dispose()


@pytest.fixture
def holding():
    server = WebhookReceiver(hold=True).start()
    yield server
    server.stop()


def _alerts_retry_args(sources, db_url: str, targets: list[str]) -> list[str]:
    notify = [arg for t in targets for arg in ("--notify", t)]
    return ["alerts", "--retry", "--sources", str(sources), "--db", db_url, *notify]


def _kill_during_first_post(db, holding, tmp_path) -> tuple[ChangeStore, list[str], object]:
    """Queue one alert per target (/a, /b), let a child deliver them and SIGKILL it while /a is in flight."""
    targets = [holding.url("/a"), holding.url("/b")]
    store = record(db, [change(db)], targets)
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[source]]
        name = "太原本地宝·居民医保"
        url = "{PAGE}"
        """)
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    child = subprocess.Popen([sys.executable, "-m", "monitor", *_alerts_retry_args(sources, db.url, targets)],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert holding.received.wait(90), child.communicate(timeout=30)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    holding.release.set()
    assert [path for path, _ in holding.posts] == ["/a"]
    return store, targets, sources


def _by_path(store: ChangeStore) -> dict[str, dict]:
    return {a["target"].rsplit("/", 1)[1]: a for a in store.alerts()}


def test_alert_whose_send_was_killed_is_not_resent_by_a_later_check(db, holding, tmp_path):
    store, targets, _ = _kill_during_first_post(db, holding, tmp_path)
    for later in (timedelta(0), timedelta(minutes=11), timedelta(days=1)):
        deliver_due(store, targets, now=utcnow() + later)  # what every check and the daemon run
    assert [path for path, _ in holding.posts].count("/a") == 1
    alert = _by_path(store)["a"]
    assert alert["status"] == "unknown" and "unknown" in alert["last_error"]
    assert alert["claimed_by"] and alert["attempted_at"] is not None


def test_alert_claimed_by_a_killed_run_is_sent_at_once_by_the_next_check(db, holding, tmp_path):
    store, targets, _ = _kill_during_first_post(db, holding, tmp_path)
    assert deliver_due(store, targets)["sent"] == 1  # no 10-minute lease: its claimer is dead
    assert [path for path, _ in holding.posts] == ["/a", "/b"]
    assert _by_path(store)["b"]["status"] == "sent"
    assert DUPLICATE_MARK not in holding.posts[1][1]["title"]


def test_alerts_retry_resends_an_unknown_delivery_once_marked_as_a_possible_duplicate(db, holding, tmp_path):
    store, targets, sources = _kill_during_first_post(db, holding, tmp_path)
    deliver_due(store, targets)
    proc = run_cli(*_alerts_retry_args(sources, db.url, targets))
    assert proc.returncode == 0, proc.stderr
    paths = [path for path, _ in holding.posts]
    assert sorted(paths) == ["/a", "/a", "/b"]
    first, resent = [payload for path, payload in holding.posts if path == "/a"]
    assert DUPLICATE_MARK not in first["title"]
    assert resent["title"].startswith(DUPLICATE_MARK) and resent["message"].startswith(DUPLICATE_MARK)
    assert first["message"] in resent["message"] and "可能重复" in resent["message"][len(DUPLICATE_MARK):]
    assert {a["status"] for a in store.alerts()} == {"sent"}
    assert run_cli(*_alerts_retry_args(sources, db.url, targets)).returncode == 0
    assert len(holding.posts) == 3  # nothing is sent a third time
