"""DatabaseLock: one holder at a time across processes, on SQLite (lease row) and PostgreSQL (advisory lock)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from conftest import ROOT
from storage import Database, SnapshotStore
from storage.locks import DatabaseLock, LockBusy, current_holder
from storage.models import Lock
from storage.types import utcnow

HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from storage import Database, SnapshotStore
from storage.locks import DatabaseLock
lock = DatabaseLock(Database({url!r}), "check")
lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


def hold_in_child(db_url: str) -> subprocess.Popen:
    """Another process that takes the lock and keeps it until killed."""
    child = subprocess.Popen([sys.executable, "-c", HOLD.format(root=str(ROOT), url=db_url)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    return child


def test_lock_held_by_another_process_is_busy_and_names_it(db_url):
    child = hold_in_child(db_url)
    try:
        lock = DatabaseLock(Database(db_url), "check")
        with pytest.raises(LockBusy) as busy:
            lock.acquire()
        assert busy.value.holder.pid == child.pid
        assert f"pid {child.pid}" in str(busy.value)
        # Another name is independent.
        with DatabaseLock(Database(db_url), "daemon"):
            pass
    finally:
        child.kill()
        child.wait()


def test_lock_of_a_killed_holder_is_taken_over(db_url):
    child = hold_in_child(db_url)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    lock = DatabaseLock(Database(db_url), "check")
    lock.acquire(wait=10)  # PostgreSQL frees it with the connection; SQLite sees the dead pid
    assert current_holder(lock.db, "check").pid == os.getpid()
    lock.release()
    assert current_holder(lock.db, "check") is None


def test_wait_gets_the_lock_when_the_holder_lets_go(db_url):
    child = hold_in_child(db_url)
    started = time.monotonic()
    try:
        lock = DatabaseLock(Database(db_url), "check")
        with pytest.raises(LockBusy):
            lock.acquire(wait=1)
        assert time.monotonic() - started >= 1
        # The holder exits while we wait (its parent reaps it, as init does for cron's children).
        threading.Timer(1.0, lambda: (child.terminate(), child.wait())).start()
        lock.acquire(wait=30)
        assert lock.held and child.returncode is not None
        lock.release()
    finally:
        child.kill()
        child.wait()


def test_sqlite_expired_lease_is_taken_over_even_from_a_live_process(tmp_path):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    child = hold_in_child(url)
    try:
        db = Database(url)
        with db.session() as s:  # as if the holder had stopped renewing a minute ago
            s.execute(update(Lock).values(expires_at=utcnow() - timedelta(seconds=1)))
        lock = DatabaseLock(db, "check")
        lock.acquire()
        assert current_holder(db, "check").pid == os.getpid()
        lock.release()
    finally:
        child.kill()
        child.wait()


def test_released_lock_leaves_no_row(db_url):
    db = Database(db_url)
    with DatabaseLock(db, "check"):
        assert current_holder(db, "check").pid == os.getpid()
    with db.session() as s:
        assert s.query(Lock).count() == 0


def _lose(db: Database, name: str = "check") -> None:
    """PostgreSQL: the server drops the lock's connection (a restart); SQLite: another process took the lease."""
    from sqlalchemy import text
    from storage.locks import ADVISORY_NAMESPACE, _advisory_key
    other = Database(db.url, migrate=False)
    with other.engine.begin() as conn:
        if db.dialect == "postgresql":
            assert conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid::bigint = :ns AND objid::bigint = :k"),
                {"ns": ADVISORY_NAMESPACE, "k": _advisory_key(name)}).scalar() == 1
        else:
            conn.execute(update(Lock).where(Lock.name == name).values(host="crawler-2", pid=4711))
    other.dispose()


def test_a_lost_lock_refuses_the_next_write_and_commits_nothing(db_url):
    from storage.locks import LockLost
    from storage.store import SourceSpec
    db = Database(db_url)
    store = SnapshotStore(db)
    lock = DatabaseLock(db, "check")
    lock.acquire()
    lock.protect(db)
    store.sync_sources([SourceSpec(name="a", url="http://127.0.0.1/a")])
    assert store.pages_to_check()  # reading is fine
    _lose(db)
    with pytest.raises(LockLost, match="^lost the check lock"):
        store.sync_sources([SourceSpec(name="a", url="http://127.0.0.1/a"),
                            SourceSpec(name="b", url="http://127.0.0.1/b")])
    lock.release()
    assert db.write_guard is None
    assert [p.source_name for p in SnapshotStore(Database(db_url)).pages_to_check()] == ["a"]
    if db.dialect == "sqlite":  # the new holder's row is left alone
        assert current_holder(db, "check").pid == 4711
