"""History database: SQLAlchemy models, sessions, migrations and query functions.

Nothing outside this package writes SQL. Storage imports no Scrapy code.
"""
from storage.db import Database, DatabaseError, resolve_db_url
from storage.history import HistoryFilter, HistoryStore
from storage.changes import ChangeStore
from storage.extractions import ExtractionStore
from storage.store import CheckRecord, PageState, SnapshotStore

__all__ = ["ChangeStore", "Database", "DatabaseError", "ExtractionStore", "resolve_db_url", "CheckRecord",
           "HistoryFilter", "HistoryStore", "PageState", "SnapshotStore"]
