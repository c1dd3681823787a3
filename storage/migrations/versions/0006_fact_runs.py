"""Stored fact runs: facts.first_snapshot_id, and fact_history / latest_facts read it.

Each fact of a healthy snapshot's current extraction that continues a run begun in an earlier snapshot
points at that first snapshot; a run's own first fact keeps NULL (see storage/factruns.py), so the views no longer walk back through a page's history to find when a value
was first seen: latest_facts costs one lookup per current fact, whatever the length of the history.
The existing history is linked here, page by page in fetch-time order.

The views also order a page's snapshots by fetch time (fetched_at, then id) instead of by id, so
snapshots imported into the past (`policywatch import`) sit where their time puts them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from storage.factruns import link_runs
from storage.migrations import load_migration

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

FOREVER = "'9999-12-31 23:59:59'"  # sorts after every stored time on SQLite and PostgreSQL


def _same_fact(a: str, b: str) -> str:
    """SQL: fact row `a` states the same fact as `b` (kind, value, region, plan year; NULL equals NULL)."""
    # `|| ''` keeps the planners from reaching `a` through the (kind, region, plan_year) index: `a` is always
    # reached through its extraction or its run (a dozen rows), never through every fact of that kind.
    return (f"{a}.kind || '' = {b}.kind AND CAST({a}.value AS TEXT) = CAST({b}.value AS TEXT)"
            f" AND ({a}.region = {b}.region OR ({a}.region IS NULL AND {b}.region IS NULL))"
            f" AND ({a}.plan_year = {b}.plan_year OR ({a}.plan_year IS NULL AND {b}.plan_year IS NULL))")


def _newest_extraction(e: str) -> str:
    """SQL: extractions row `e` is its snapshot's newest (the snapshot's current facts)."""
    return f"NOT EXISTS (SELECT 1 FROM extractions {e}x WHERE {e}x.snapshot_id = {e}.snapshot_id AND {e}x.id > {e}.id)"


def _first_statement(f: str) -> str:
    """SQL: fact row `f` is the first statement of its fact in its extraction (a fact stated twice is one row)."""
    return (f"NOT EXISTS (SELECT 1 FROM facts {f}0 WHERE {f}0.extraction_id = {f}.extraction_id AND {f}0.id < {f}.id"
            f" AND {_same_fact(f + '0', f)})")


def _last_seen(page: str, snapshot: str) -> str:
    """SQL: the last successful check (any outcome but 'error') at or after snapshot row `snapshot` and before
    the page's next snapshot in time (healthy or not)."""
    return f"""(SELECT c.checked_at FROM checks c
         WHERE c.page_id = {page} AND c.outcome <> 'error' AND c.checked_at >= {snapshot}.fetched_at
           AND c.checked_at < COALESCE((SELECT MIN(sn.fetched_at) FROM snapshots sn
                                         WHERE sn.page_id = {page} AND sn.fetched_at > {snapshot}.fetched_at),
                                       {FOREVER})
         ORDER BY c.checked_at DESC LIMIT 1)"""


def _newest_healthy(page: str) -> str:
    """SQL: the id of the page's newest healthy snapshot in time."""
    return (f"(SELECT sh.id FROM snapshots sh WHERE sh.page_id = {page} AND sh.health = 'ok'"
            f" ORDER BY sh.fetched_at DESC, sh.id DESC LIMIT 1)")


# A run's start row is the fact with no link (first_snapshot_id NULL: its run starts in its own snapshot), its
# other rows are the facts linked to that snapshot, and its end is the newest snapshot holding one of them.
FACT_HISTORY = f"""
CREATE VIEW fact_history AS
SELECT p.source_id, src.name AS source, s.page_id, p.url, f.kind, CAST(f.value AS TEXT) AS value, f.plan_year,
       f.region, f.evidence, s.id AS snapshot_id, ls.id AS last_snapshot_id, s.fetched_at AS first_seen,
       {_last_seen("s.page_id", "ls")} AS last_seen,
       CASE WHEN ls.id = {_newest_healthy("s.page_id")} THEN 1 ELSE 0 END AS is_current
  FROM facts f
  JOIN extractions e ON e.id = f.extraction_id
  JOIN snapshots s ON s.id = e.snapshot_id
  JOIN snapshots ls ON ls.id = COALESCE(
       (SELECT s3.id FROM facts f3
          JOIN extractions e3 ON e3.id = f3.extraction_id
          JOIN snapshots s3 ON s3.id = e3.snapshot_id
         WHERE f3.first_snapshot_id = s.id AND s3.health = 'ok' AND {_same_fact("f3", "f")}
           AND {_newest_extraction("e3")}
         ORDER BY s3.fetched_at DESC, s3.id DESC LIMIT 1), s.id)
  JOIN pages p ON p.id = s.page_id
  JOIN sources src ON src.id = p.source_id
 WHERE s.health = 'ok' AND f.first_snapshot_id IS NULL
   AND {_newest_extraction("e")} AND {_first_statement("f")}
"""

# Per enabled page its newest healthy snapshot and that snapshot's current facts, each with its run's first
# snapshot; per (source, region, kind, plan year) only the facts of the newest such snapshot. Evidence is the
# newest snapshot's sentence (fact_history: the first snapshot's).
# The COUNT(*) OVER windows are fences: a subquery with a window is not pulled up into the query around it, so
# the page-level subqueries run once per page, not once per fact or per use. Each fence is used (`> 0`, always
# true): PostgreSQL drops unused window columns, and with them the fence.
LATEST_FACTS = f"""
CREATE VIEW latest_facts AS
SELECT source_id, source, page_id, url, kind, value, plan_year, region, evidence, snapshot_id, last_snapshot_id,
       first_seen, last_seen
  FROM (SELECT n.source_id, n.source, n.page_id, n.url, f.kind, CAST(f.value AS TEXT) AS value, f.plan_year,
               f.region, f.evidence, COALESCE(f.first_snapshot_id, n.last_snapshot_id) AS snapshot_id,
               n.last_snapshot_id,
               (SELECT fs.fetched_at FROM snapshots fs WHERE fs.id = COALESCE(f.first_snapshot_id, n.last_snapshot_id))
                 AS first_seen,
               n.last_seen, n.snapshot_at,
               MAX(n.snapshot_at) OVER (PARTITION BY n.source_id, f.region, f.kind, f.plan_year) AS newest_at
          FROM (SELECT pl.source_id, pl.source, pl.page_id, pl.url, pl.last_snapshot_id, ls.fetched_at AS snapshot_at,
                       (SELECT MAX(e.id) FROM extractions e WHERE e.snapshot_id = ls.id) AS extraction_id,
                       {_last_seen("pl.page_id", "ls")} AS last_seen,
                       COUNT(*) OVER (PARTITION BY pl.page_id) AS fence2
                  FROM (SELECT p.source_id, src.name AS source, p.id AS page_id, p.url,
                               {_newest_healthy("p.id")} AS last_snapshot_id,
                               COUNT(*) OVER (PARTITION BY p.id) AS fence1
                          FROM pages p
                          JOIN sources src ON src.id = p.source_id
                         WHERE src.enabled = TRUE) pl
                  JOIN snapshots ls ON ls.id = pl.last_snapshot_id
                 WHERE pl.fence1 > 0) n
          JOIN facts f ON f.extraction_id = n.extraction_id
         WHERE n.fence2 > 0 AND {_first_statement("f")}) t
 WHERE snapshot_at = newest_at
"""


def upgrade() -> None:
    op.execute("DROP VIEW fact_history")
    op.execute("DROP VIEW latest_facts")
    op.add_column("facts", sa.Column("first_snapshot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                     nullable=True))
    conn = op.get_bind()
    pages = [row[0] for row in conn.execute(sa.text("SELECT DISTINCT page_id FROM snapshots WHERE health = 'ok'"))]
    link_runs(conn, dict.fromkeys(pages))
    op.create_index("ix_facts_first_snapshot_id", "facts", ["first_snapshot_id"])
    op.execute(FACT_HISTORY)
    op.execute(LATEST_FACTS)


def downgrade() -> None:
    op.execute("DROP VIEW fact_history")
    op.execute("DROP VIEW latest_facts")
    op.drop_index("ix_facts_first_snapshot_id", table_name="facts")
    with op.batch_alter_table("facts") as batch:
        batch.drop_column("first_snapshot_id")
    old = load_migration("0005_history_views.py")
    op.execute(old.FACT_HISTORY)
    op.execute(old.LATEST_FACTS)
