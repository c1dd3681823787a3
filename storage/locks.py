"""Named locks in the history database, so two crawls (or two daemons) never run at once.

PostgreSQL: a session advisory lock on a connection held for the lock's life —
the server drops it the moment the holder's connection or process dies.
SQLite: a lease row in `locks` that the holder renews from a background thread;
a row whose lease expired, or whose process is gone on this host, is taken over.
Both write the holder into `locks`, which `policywatch status` shows.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from storage.db import Database, DatabaseError, _first_line
from storage.models import Lock
from storage.types import pid_alive, process_gone, this_host
from storage.types import utcnow

log = logging.getLogger(__name__)

# First half of every policywatch advisory lock key (pg_locks.classid); the second is the name's hash.
ADVISORY_NAMESPACE = 0x70776C6B
LEASE = timedelta(seconds=60)
RENEW_EVERY = 15.0
POLL_EVERY = 0.5


class LockBusy(Exception):
    """The lock is held by someone else; `holder` describes them (host, pid, since)."""

    def __init__(self, name: str, holder: "LockHolder | None") -> None:
        self.name, self.holder = name, holder
        who = holder.describe() if holder else "another process"
        super().__init__(f"{name} lock is held by {who}")


class LockLost(DatabaseError):
    """The lock this process held is gone (its PostgreSQL connection died, or its SQLite lease was taken
    over): whatever it protects must stop before writing anything more."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"lost the {name} lock (its database connection closed, e.g. a server restart); "
                         "stopped without writing more")


@dataclass(frozen=True)
class LockHolder:
    name: str
    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC"


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") & 0x7FFFFFFF


class DatabaseLock:
    """A named lock shared by every process using one database; use as a context manager or acquire/release.

    `acquire(wait=None)` fails at once with LockBusy when held; `wait=seconds` keeps trying that long;
    `wait=float('inf')` waits until it is free. As a context manager it waits as given to the constructor.
    """

    def __init__(self, db: Database, name: str, wait: float | None = None) -> None:
        self.db, self.name, self.wait = db, name, wait
        self.host = this_host()
        self.pid = os.getpid()
        self._conn = None  # PostgreSQL: the connection holding the advisory lock
        self._renewer: threading.Thread | None = None
        self._stop = threading.Event()
        self._verifying = threading.Lock()  # verify() may be called from the crawl's writer thread
        self.held = False
        self.lost = False
        self._guarded: list[Database] = []

    # -- public ------------------------------------------------------------------
    def acquire(self, wait: float | None = None) -> None:
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            if self._try_acquire():
                self.held = True
                return
            if deadline is None or time.monotonic() >= deadline:
                raise LockBusy(self.name, self.holder())
            time.sleep(min(POLL_EVERY, max(0.0, deadline - time.monotonic())))

    def verify(self) -> None:
        """Raise LockLost unless this process still holds the lock: on PostgreSQL asked on the lock's own
        connection (pg_locks), on SQLite by reading the lease row."""
        with self._verifying:
            if self.lost or not self.held:
                raise LockLost(self.name)
            try:
                with _quiet_pool():
                    still = self._still_advisory() if self._conn is not None else self._still_lease()
            except Exception:  # noqa: BLE001 - a dead connection fails in driver-specific ways
                still = False
            if not still:
                self.lost = True
                log.debug("the %s lock was lost", self.name)
                raise LockLost(self.name)

    def protect(self, db: Database) -> None:
        """Make every transaction of `db` that writes check the lock before it commits (Database.write_guard)."""
        db.write_guard = self.guard()
        self._guarded.append(db)

    def guard(self) -> "WriteGuard":
        """A callable running verify(), for a Database's write_guard (it survives Scrapy's settings copies)."""
        return WriteGuard(self)

    def release(self) -> None:
        for db in self._guarded:
            db.write_guard = None
        self._guarded.clear()
        if not self.held:
            return
        self.held = False
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        if self.lost:  # nothing of ours is left to clear; the row may be the new holder's
            self._drop_connection()
            return
        try:
            with self.db.session() as s:
                s.execute(delete(Lock).where(Lock.name == self.name, Lock.host == self.host,
                                             Lock.pid == self.pid))
        except DatabaseError as exc:  # the lease simply expires; nothing else depends on this row
            log.warning("could not clear the %s lock row: %s", self.name, exc)
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(CAST(:ns AS integer), CAST(:k AS integer))"),
                                   {"ns": ADVISORY_NAMESPACE, "k": _advisory_key(self.name)})
                self._conn.commit()
            except SQLAlchemyError:
                pass
            finally:
                self._drop_connection()

    def _drop_connection(self) -> None:
        if self._conn is None:
            return
        try:
            with _quiet_pool():
                if self.lost:
                    self._conn.invalidate()  # no reset on a dead connection
                self._conn.close()
        except Exception:  # noqa: BLE001 - the connection may already be dead
            pass
        self._conn = None

    def holder(self) -> LockHolder | None:
        """Who holds the lock now, or None when it is free (stale rows are ignored)."""
        return current_holder(self.db, self.name)

    def __enter__(self) -> "DatabaseLock":
        self.acquire(self.wait)
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # -- implementation ------------------------------------------------------------
    def _try_acquire(self) -> bool:
        try:
            if self.db.dialect == "postgresql":
                return self._try_advisory()
            return self._try_lease()
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot take the {self.name} lock: {_first_line(exc)}") from exc

    def _try_advisory(self) -> bool:
        conn = self.db.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(CAST(:ns AS integer), CAST(:k AS integer))"),
                           {"ns": ADVISORY_NAMESPACE, "k": _advisory_key(self.name)}).scalar()
        conn.commit()
        if not got:
            conn.close()
            return False
        self._conn = conn
        now = utcnow()
        # The advisory lock is the authority; the row only tells `status` who holds it.
        with self.db.session() as s:
            s.execute(delete(Lock).where(Lock.name == self.name))
            s.add(Lock(name=self.name, holder=f"{self.host}:{self.pid}", host=self.host, pid=self.pid,
                       acquired_at=now, expires_at=now + timedelta(days=3650)))
        return True

    def _still_advisory(self) -> bool:
        held = self._conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() "
            "AND classid::bigint = :ns AND objid::bigint = :k AND objsubid = 2"),
            {"ns": ADVISORY_NAMESPACE, "k": _advisory_key(self.name)}).scalar()
        self._conn.commit()
        return bool(held)

    def _still_lease(self) -> bool:
        with self.db.engine.connect() as conn:  # not a session: the write guard must not call itself
            row = conn.execute(select(Lock.host, Lock.pid).where(Lock.name == self.name)).first()
        return row is not None and (row.host, row.pid) == (self.host, self.pid)

    def _try_lease(self) -> bool:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        now = utcnow()
        with self.db.session() as s:
            row = s.execute(select(Lock.host, Lock.pid, Lock.acquired_at, Lock.expires_at)
                            .where(Lock.name == self.name)).first()
            if row is not None:
                if not self._stale(row, now):
                    return False
                # Conditional delete: if another process took the stale lease first, this deletes nothing.
                s.execute(delete(Lock).where(Lock.name == self.name, Lock.host == row.host,
                                             Lock.pid == row.pid, Lock.acquired_at == row.acquired_at))
            got = s.execute(sqlite_insert(Lock).values(
                name=self.name, holder=f"{self.host}:{self.pid}", host=self.host, pid=self.pid,
                acquired_at=now, expires_at=now + LEASE).on_conflict_do_nothing(index_elements=["name"])).rowcount
        if got != 1:
            return False
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, name=f"lock-{self.name}", daemon=True)
        self._renewer.start()
        return True

    def _stale(self, row, now: datetime) -> bool:
        if row.expires_at <= now:
            return True
        return row.host == self.host and row.pid != self.pid and not pid_alive(row.pid)

    def _renew(self) -> None:
        while not self._stop.wait(RENEW_EVERY):
            try:
                with self.db.session() as s:
                    n = s.execute(update(Lock).where(Lock.name == self.name, Lock.host == self.host,
                                                     Lock.pid == self.pid)
                                  .values(expires_at=utcnow() + LEASE)).rowcount
                if n == 0:  # taken over after it expired: the next write raises LockLost (one line)
                    log.debug("the %s lock lease was lost (taken over after it expired)", self.name)
                    self.lost = True
                    return
            except DatabaseError as exc:
                log.warning("could not renew the %s lock lease: %s", self.name, exc)


class WriteGuard:
    """Database.write_guard of a lock: calls its verify(); copies (Scrapy deep-copies settings) are itself."""

    def __init__(self, lock: DatabaseLock) -> None:
        self.lock = lock

    def __call__(self) -> None:
        self.lock.verify()

    def __copy__(self) -> "WriteGuard":
        return self

    def __deepcopy__(self, memo) -> "WriteGuard":
        return self


@contextmanager
def _quiet_pool():
    """SQLAlchemy's pool logs a traceback when it cannot close a connection the server already dropped."""
    pool_log = logging.getLogger("sqlalchemy.pool")
    level = pool_log.level
    pool_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        pool_log.setLevel(level)


def current_holder(db: Database, name: str) -> LockHolder | None:
    """The live holder of lock `name`, or None; on PostgreSQL checked against pg_locks."""
    with db.session() as s:
        row = s.scalar(select(Lock).where(Lock.name == name))
        if db.dialect == "postgresql":
            held = s.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                                  "AND classid::bigint = :ns AND objid::bigint = :k AND objsubid = 2"),
                             {"ns": ADVISORY_NAMESPACE, "k": _advisory_key(name)}).scalar()
            if not held:
                return None
        elif row is not None:
            if row.expires_at <= utcnow() or process_gone(row.host, row.pid):
                return None
    if row is None:
        return LockHolder(name, "?", 0, utcnow(), utcnow()) if db.dialect == "postgresql" else None
    return LockHolder(row.name, row.host, row.pid, row.acquired_at, row.expires_at)
