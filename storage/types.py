"""Column types shared by the models and the migrations."""
from __future__ import annotations

import os
from datetime import datetime, timezone

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timestamp stored as naive UTC and returned as an aware UTC datetime.

    SQLite keeps no time zone; PostgreSQL would convert to the session zone.
    Storing naive UTC on both keeps the two databases byte-for-byte comparable.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; attach a time zone")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (our own pid counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


def this_host() -> str:
    """This machine's name as stored with runs, locks, claims and workers."""
    import socket
    return socket.gethostname()[:255]


def process_gone(host: str, pid: int) -> bool:
    """Whether (host, pid) names a process of this machine that no longer exists (another host's is unknown)."""
    return host == this_host() and not pid_alive(pid)


SQL_BATCH = 2000  # rows or IN-list values per statement, well under SQLite's and PostgreSQL's limits


def chunks(items: list, size: int):
    """`items` in consecutive slices of at most `size` (statements stay under bound-variable limits)."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


def upsert(dialect: str, table):
    """An INSERT of `table` with the dialect's ON CONFLICT clauses (`on_conflict_do_nothing`, …); the dialect's
    module is imported on first use (the PostgreSQL one loads every PostgreSQL driver, ~0.1 s)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)
