"""Research data: fact_history.published_at, the regions table, JSON text without \\u escapes.

* fact_history gains `published_at` beside `first_seen`: the page's own publish date (snapshots.published_at)
  of the run's first snapshot, NULL when the page states none. first_seen stays the crawl time.
* `regions` (code, name, short, level, parent) is filled from extractors/data/regions.tsv (storage/regions.py),
  so SQL users can join the GB/T 2260 codes of facts and changes to names.
* JSON columns are written by storage.db.json_text from now on (Chinese kept literal). The views and the
  stored runs compare fact values as text, so every stored value holding a `\\u` escape is rewritten the same
  way here, keeping its key order and separators: a value stored before and the same value stored after the
  upgrade are one text, and a fact's run continues across the upgrade. PostgreSQL's `json` type (what
  sa.JSON is there) keeps the input text verbatim, escapes included, so it is rewritten on both databases.
  The downgrade leaves the readable text (the same JSON values).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""
import json

import sqlalchemy as sa
from alembic import op

from storage.db import json_text
from storage.migrations import load_migration
from storage.regions import fill_regions

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# table → (primary key, its JSON columns), as they are at 0012.
JSON_COLUMNS = {
    "runs": ("id", ("counts",)),
    "snapshots": ("id", ("page_meta",)),
    "extractions": ("id", ("warnings",)),
    "facts": ("id", ("value",)),
    "changes": ("id", ("old", "new", "detail")),
    "alerts": ("id", ("change_ids",)),
    "cluster_runs": ("run_id", ("allow_hosts",)),
}
BATCH = 5000


def fact_history_sql(m) -> str:
    """0006's fact_history with `published_at` (the run's first snapshot's) after first_seen."""
    return f"""
CREATE VIEW fact_history AS
SELECT p.source_id, src.name AS source, s.page_id, p.url, f.kind, CAST(f.value AS TEXT) AS value, f.plan_year,
       f.region, f.evidence, s.id AS snapshot_id, ls.id AS last_snapshot_id, s.fetched_at AS first_seen,
       s.published_at AS published_at,
       {m._last_seen("s.page_id", "ls")} AS last_seen,
       CASE WHEN ls.id = {m._newest_healthy("s.page_id")} THEN 1 ELSE 0 END AS is_current
  FROM facts f
  JOIN extractions e ON e.id = f.extraction_id
  JOIN snapshots s ON s.id = e.snapshot_id
  JOIN snapshots ls ON ls.id = COALESCE(
       (SELECT s3.id FROM facts f3
          JOIN extractions e3 ON e3.id = f3.extraction_id
          JOIN snapshots s3 ON s3.id = e3.snapshot_id
         WHERE f3.first_snapshot_id = s.id AND s3.health = 'ok' AND {m._same_fact("f3", "f")}
           AND {m._newest_extraction("e3")}
         ORDER BY s3.fetched_at DESC, s3.id DESC LIMIT 1), s.id)
  JOIN pages p ON p.id = s.page_id
  JOIN sources src ON src.id = p.source_id
 WHERE s.health = 'ok' AND f.first_snapshot_id IS NULL
   AND {m._newest_extraction("e")} AND {m._first_statement("f")}
"""


def readable(stored: str) -> str:
    """Stored JSON text as json_text writes it (the same value, Chinese literal)."""
    return json_text(json.loads(stored))


def rewrite_json(conn, table: str, key: str, col: str) -> int:
    """Rewrite the `\\u`-escaped JSON texts of table.col readably, one key range of BATCH ids at a time (a primary
    key range scan each, whatever the plan); returns how many rows changed."""
    low, high = conn.execute(sa.text(f"SELECT MIN({key}), MAX({key}) FROM {table}")).one()
    if low is None:
        return 0
    # ESCAPE '!': the backslash is a plain character in the pattern on both databases.
    find = sa.text(f"SELECT {key}, CAST({col} AS TEXT) FROM {table}"
                   f" WHERE {key} >= :lo AND {key} < :hi AND CAST({col} AS TEXT) LIKE :pattern ESCAPE '!'")
    done = 0
    for lo in range(low, high + 1, BATCH):
        rows = conn.execute(find, {"lo": lo, "hi": lo + BATCH, "pattern": "%\\u%"}).all()
        updates = [(k, new) for k, old in rows if (new := readable(old)) != old]
        if not updates:
            continue
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"UPDATE {table} SET {col} = CAST(v.t AS json)"
                                 f" FROM unnest(CAST(:keys AS bigint[]), CAST(:texts AS text[])) AS v(k, t)"
                                 f" WHERE {table}.{key} = v.k"),
                         {"keys": [k for k, _ in updates], "texts": [t for _, t in updates]})
        else:
            conn.execute(sa.text(f"UPDATE {table} SET {col} = :t WHERE {key} = :k"),
                         [{"k": k, "t": t} for k, t in updates])
        done += len(updates)
    return done


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("short", sa.String(50), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent", sa.String(6)),
        sa.PrimaryKeyConstraint("code", name="pk_regions"),
    )
    op.create_index("ix_regions_parent", "regions", ["parent"])
    conn = op.get_bind()
    fill_regions(conn)
    for table, (key, cols) in JSON_COLUMNS.items():
        for col in cols:
            rewrite_json(conn, table, key, col)
    op.execute("DROP VIEW fact_history")
    op.execute(fact_history_sql(load_migration("0006_fact_runs.py")))


def downgrade() -> None:
    op.execute("DROP VIEW fact_history")
    op.execute(load_migration("0006_fact_runs.py").FACT_HISTORY)
    op.drop_index("ix_regions_parent", table_name="regions")
    op.drop_table("regions")
