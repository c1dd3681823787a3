"""Database sizes for the growth-per-unchanged-check figure: SQLite files, or a throw-away PostgreSQL database."""
from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path


def pg_driver(url: str) -> str:
    return re.sub(r"^postgres(ql)?://", "postgresql+pg8000://", url)


def sqlite_bytes(path: Path) -> int:
    """Size of the SQLite file plus its WAL after a TRUNCATE checkpoint."""
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return sum(p.stat().st_size for p in (path, Path(str(path) + "-wal")) if p.exists())


def sqlite_distinct_snapshots(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(DISTINCT content_hash) FROM snapshots").fetchone()[0]
    finally:
        con.close()


class PgDatabase:
    """A new database on the server of POLICYWATCH_BENCH_PG, dropped afterwards unless kept."""

    def __init__(self, admin_url: str) -> None:
        import sqlalchemy as sa
        self.sa = sa
        self.admin_url = pg_driver(admin_url)
        self.name = "pwbench_" + uuid.uuid4().hex[:10]
        admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {self.name}"))
        admin.dispose()
        self.url = sa.engine.make_url(self.admin_url).set(database=self.name).render_as_string(hide_password=False)

    def size(self) -> tuple[int, int, dict[str, int]]:
        """(sum of pg_total_relation_size over the public tables, pg_database_size, per-table sizes)."""
        sa = self.sa
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                per_table = dict(conn.execute(sa.text(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
                )).all())
                database = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
        finally:
            engine.dispose()
        return int(sum(per_table.values())), int(database), {k: int(v) for k, v in per_table.items()}

    def drop(self) -> None:
        sa = self.sa
        admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {self.name}"))
        admin.dispose()
