"""A token that changes whenever anything is committed to the database, for the web view's caches of reads over
the whole history: SQLite's `PRAGMA data_version` on one connection kept for it (it changes when any other
connection commits), PostgreSQL's current snapshot (`txid_current_snapshot()`: the next transaction id and the
ones in progress — equal tokens mean the same committed transactions; any write in the cluster changes it)."""
from __future__ import annotations

import threading

from sqlalchemy import text

from storage.db import Database


class DataVersion:
    """`current()` → a string equal to the previous one only if nothing was committed in between."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._conn = None  # SQLite: the one connection whose data_version is compared

    def current(self) -> str:
        """The token now (one cheap query)."""
        if self.db.dialect == "postgresql":
            with self.db.engine.connect() as conn:
                return "pg:" + conn.execute(text("SELECT txid_current_snapshot()::text")).scalar()
        with self._lock:
            if self._conn is None:
                self._conn = self.db.engine.raw_connection()
            cur = self._conn.cursor()
            try:
                cur.execute("PRAGMA data_version")
                return f"sqlite:{id(self._conn)}:{cur.fetchone()[0]}"
            finally:
                cur.close()

    def close(self) -> None:
        """Give the kept connection back."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
