"""Read-only SQL views for researchers: fact_history, latest_facts, change_log, source_health.

The same SQL runs on SQLite and PostgreSQL (docs/schema.md describes the columns and the rules):

* fact_history: one row per run of a fact value on a page. A run is a stretch of consecutive healthy
  snapshots of the page (snapshots.health = 'ok'; unhealthy ones are skipped, they neither carry nor
  break a run) whose current extraction (the newest extractions row per snapshot) holds a fact with
  the same kind, region, plan year and value. first_seen is the fetched_at of the run's first snapshot;
  last_seen is the last successful check (any outcome but 'error') at or after the run's last snapshot
  and before the page's next snapshot (healthy or not), i.e. unchanged / not_modified checks extend it.
* latest_facts: the fact_history runs still held by their page's newest healthy snapshot, of enabled
  sources, and per (source, region, kind, plan year) only those of the newest such snapshot (evidence: the
  newest snapshot's sentence).
* change_log: changes with source name, URL and a one-line summary.
* source_health: per source the last check, consecutive errors since the last successful check, counts.

Every window in fact_history is partitioned by (page, kind, region, plan year, value), so a filter on
kind / region / plan_year is pushed down to the facts index instead of computing every history.
Snapshot ids grow with time within a page (record_checks inserts them in check order); the views
order a page's snapshots by id.

SQLite cannot rename a table while a view names it: a later migration that batch-alters sources,
pages, snapshots, checks, extractions, facts or changes must drop these views first and recreate them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Timestamps compare as text on SQLite ('YYYY-MM-DD HH:MM:SS.ffffff') and as timestamps on PostgreSQL;
# these literals sort before / after every stored time on both.
NEVER = "'0001-01-01 00:00:00'"
FOREVER = "'9999-12-31 23:59:59'"

# One row per fact of a healthy snapshot's current extraction, with the page's previous and next healthy
# snapshots.
_FACT_ROWS = """
    SELECT f.id AS fact_id, f.kind, f.region, f.plan_year, CAST(f.value AS TEXT) AS value,
           s.id AS snapshot_id, s.page_id, s.fetched_at,
           (SELECT s2.id FROM snapshots s2
             WHERE s2.page_id = s.page_id AND s2.id < s.id AND s2.health = 'ok'
             ORDER BY s2.id DESC LIMIT 1) AS prev_snapshot_id,
           (SELECT s6.id FROM snapshots s6
             WHERE s6.page_id = s.page_id AND s6.id > s.id AND s6.health = 'ok'
             ORDER BY s6.id LIMIT 1) AS next_snapshot_id
      FROM facts f
      JOIN extractions e ON e.id = f.extraction_id
      JOIN snapshots s ON s.id = e.snapshot_id
     WHERE s.health = 'ok'
       AND NOT EXISTS (SELECT 1 FROM extractions e2 WHERE e2.snapshot_id = e.snapshot_id AND e2.id > e.id)
"""
_SAME_FACT = "PARTITION BY page_id, kind, region, plan_year, value ORDER BY snapshot_id, fact_id"

# A run starts at a row whose previous row of the same fact is not in the page's previous healthy snapshot,
# and ends at a row whose next one is not in the next healthy snapshot. Only those boundary rows go on to
# the second window (a start row's end is itself or the next boundary row): the facts are sorted only once.
# Window functions only, no GROUP BY: SQLite pushes a filter on kind / region / plan_year down through
# windows partitioned by those columns, but not through a GROUP BY over a windowed subquery.
FACT_HISTORY = f"""
CREATE VIEW fact_history AS
SELECT p.source_id, src.name AS source, g.page_id, p.url, g.kind, g.value, g.plan_year, g.region,
       ff.evidence, g.snapshot_id, g.last_snapshot_id, g.fetched_at AS first_seen,
       (SELECT c.checked_at FROM checks c
         WHERE c.page_id = g.page_id AND c.outcome <> 'error' AND c.checked_at >= ls.fetched_at
           AND c.checked_at < COALESCE((SELECT s3.fetched_at FROM snapshots s3
                                         WHERE s3.page_id = g.page_id AND s3.id > g.last_snapshot_id
                                         ORDER BY s3.id LIMIT 1), {FOREVER})
         ORDER BY c.checked_at DESC LIMIT 1) AS last_seen,
       CASE WHEN g.last_snapshot_id = (SELECT s4.id FROM snapshots s4
                                        WHERE s4.page_id = g.page_id AND s4.health = 'ok'
                                        ORDER BY s4.id DESC LIMIT 1) THEN 1 ELSE 0 END AS is_current
  FROM (SELECT b.*,
               CASE WHEN b.is_end = 1 THEN b.snapshot_id ELSE LEAD(b.snapshot_id) OVER ({_SAME_FACT}) END
                 AS last_snapshot_id
          FROM (SELECT q.*,
                       CASE WHEN LAG(snapshot_id) OVER ({_SAME_FACT}) IN (prev_snapshot_id, snapshot_id)
                            THEN 0 ELSE 1 END AS is_start,
                       CASE WHEN LEAD(snapshot_id) OVER ({_SAME_FACT}) IN (next_snapshot_id, snapshot_id)
                            THEN 0 ELSE 1 END AS is_end
                  FROM ({_FACT_ROWS}) q) b
         WHERE b.is_start = 1 OR b.is_end = 1) g
  JOIN pages p ON p.id = g.page_id
  JOIN sources src ON src.id = p.source_id
  JOIN snapshots ls ON ls.id = g.last_snapshot_id
  JOIN facts ff ON ff.id = g.fact_id
 WHERE g.is_start = 1
"""


def _same_fact(a: str, b: str, b_value: str | None = None) -> str:
    """SQL: fact row `a` states the same fact as `b` (kind, value, region, plan year; NULL equals NULL).
    `b_value` is b's value as text (default: `b.value`, already text)."""
    # `|| ''` keeps the planners from reaching `a` through the (kind, region, plan_year) index: `a` is always
    # reached through its extraction (a dozen rows), never through every fact of that kind.
    return (f"{a}.kind || '' = {b}.kind AND CAST({a}.value AS TEXT) = {b_value or b + '.value'}"
            f" AND ({a}.region = {b}.region OR ({a}.region IS NULL AND {b}.region IS NULL))"
            f" AND ({a}.plan_year = {b}.plan_year OR ({a}.plan_year IS NULL AND {b}.plan_year IS NULL))")


# SQL: extractions row `n` is its snapshot's newest.
_NEWEST_EXTRACTION = ("NOT EXISTS (SELECT 1 FROM extractions {n}x"
                      " WHERE {n}x.snapshot_id = {n}.snapshot_id AND {n}x.id > {n}.id)")

# The fact_history runs that reach each page's newest healthy snapshot (is_current = 1), computed from those
# snapshots' facts only: a run's start is found by walking back from the newest snapshot to the last healthy
# one without the fact, so the cost grows with the number of pages, not with the whole history.
# Evidence is the newest snapshot's sentence (fact_history: the first snapshot's).
# The COUNT(*) OVER windows are fences: a subquery with a window is not inlined by SQLite or PostgreSQL, so a
# correlated subquery in it runs once per row there instead of once per use further up. Each fence is used
# (`fence > 0`, always true): PostgreSQL drops unused window columns, and with them the fence.
LATEST_FACTS = f"""
CREATE VIEW latest_facts AS
SELECT source_id, source, page_id, url, kind, value, plan_year, region, evidence, snapshot_id,
       last_snapshot_id, first_seen, last_seen
  FROM (SELECT v.*, (SELECT fs.fetched_at FROM snapshots fs WHERE fs.id = v.snapshot_id) AS first_seen,
               MAX(v.snapshot_at) OVER (PARTITION BY v.source_id, v.region, v.kind, v.plan_year) AS newest_at
          FROM (SELECT g.*,
                       (SELECT s5.id FROM snapshots s5
                         WHERE s5.page_id = g.page_id AND s5.health = 'ok' AND s5.id > COALESCE(g.gap_id, 0)
                         ORDER BY s5.id LIMIT 1) AS snapshot_id
                  FROM (SELECT cur.*,
                               (SELECT s2.id FROM snapshots s2
                                 WHERE s2.page_id = cur.page_id AND s2.id < cur.last_snapshot_id AND s2.health = 'ok'
                                   AND NOT EXISTS (SELECT 1 FROM facts f2
                                                    WHERE f2.extraction_id = (SELECT e2.id FROM extractions e2
                                                                               WHERE e2.snapshot_id = s2.id
                                                                               ORDER BY e2.id DESC LIMIT 1)
                                                      AND {_same_fact("f2", "cur")})
                                 ORDER BY s2.id DESC LIMIT 1) AS gap_id,
                               COUNT(*) OVER (PARTITION BY cur.kind, cur.region, cur.plan_year) AS fence2
                          FROM (SELECT pl.source_id, pl.source, pl.page_id, pl.url, f.kind,
                                       CAST(f.value AS TEXT) AS value, f.plan_year, f.region, f.evidence,
                                       pl.last_snapshot_id, pl.snapshot_at, pl.last_seen
                                  FROM (SELECT pn.*, s.fetched_at AS snapshot_at,
                                               (SELECT c.checked_at FROM checks c
                                                 WHERE c.page_id = pn.page_id AND c.outcome <> 'error'
                                                   AND c.checked_at >= s.fetched_at
                                                   AND c.checked_at < COALESCE(
                                                       (SELECT s3.fetched_at FROM snapshots s3
                                                         WHERE s3.page_id = pn.page_id AND s3.id > pn.last_snapshot_id
                                                         ORDER BY s3.id LIMIT 1), {FOREVER})
                                                 ORDER BY c.checked_at DESC LIMIT 1) AS last_seen,
                                               COUNT(*) OVER (PARTITION BY pn.page_id) AS fence1
                                          FROM (SELECT p.source_id, src.name AS source, p.id AS page_id, p.url,
                                                       (SELECT s1.id FROM snapshots s1
                                                         WHERE s1.page_id = p.id AND s1.health = 'ok'
                                                         ORDER BY s1.id DESC LIMIT 1) AS last_snapshot_id
                                                  FROM pages p JOIN sources src ON src.id = p.source_id
                                                 WHERE src.enabled = TRUE) pn
                                          CROSS JOIN snapshots s
                                         WHERE s.id = pn.last_snapshot_id) pl
                                  -- CROSS JOIN: SQLite keeps this order (pages drive; never every fact)
                                  CROSS JOIN extractions e CROSS JOIN facts f
                                 WHERE pl.fence1 > 0
                                   AND e.snapshot_id = pl.last_snapshot_id AND f.extraction_id = e.id
                                   AND {_NEWEST_EXTRACTION.format(n="e")}
                                   -- a fact stated twice in one snapshot is one row
                                   AND NOT EXISTS (SELECT 1 FROM facts f0
                                                    WHERE f0.extraction_id = f.extraction_id AND f0.id < f.id
                                                      AND {_same_fact("f0", "f", "CAST(f.value AS TEXT)")})) cur) g
                 WHERE g.fence2 > 0) v
       ) t
 WHERE snapshot_at = newest_at
"""

CHANGE_LOG = """
CREATE VIEW change_log AS
SELECT c.id, c.detected_at, c.run_id, c.source_id, src.name AS source, c.page_id, COALESCE(c.url, p.url) AS url,
       c.type, c.kind, c.severity, c.region, c.plan_year,
       CAST(c.old AS TEXT) AS old_value, CAST(c.new AS TEXT) AS new_value,
       c.evidence_before, c.evidence_after, c.snapshot_before, c.snapshot_after,
       c.type || COALESCE(' ' || c.kind, '') || COALESCE(' ' || c.region, '')
         || COALESCE(' ' || CAST(c.plan_year AS TEXT), '')
         || CASE WHEN c.old IS NULL AND c.new IS NULL THEN ''
                 ELSE ': ' || COALESCE(CAST(c.old AS TEXT), '-') || ' -> ' || COALESCE(CAST(c.new AS TEXT), '-')
            END AS summary
  FROM changes c
  JOIN sources src ON src.id = c.source_id
  LEFT JOIN pages p ON p.id = c.page_id
"""

FAILING_AFTER = 3  # as monitor.diff.FAILING_AFTER: consecutive failed checks before a source counts as failing

SOURCE_HEALTH = f"""
CREATE VIEW source_health AS
SELECT y.source_id, y.source, y.url, y.kind, y.region, y.enabled, y.pages,
       lc.checked_at AS last_checked_at, lc.outcome AS last_outcome, lc.http_status AS last_http_status,
       lc.error AS last_error, y.last_success_at, y.consecutive_errors,
       CASE WHEN y.consecutive_errors >= {FAILING_AFTER} THEN 1 ELSE 0 END AS failing,
       y.checks, y.errors, y.snapshots, y.unhealthy_snapshots, y.last_snapshot_at
  FROM (SELECT x.*,
               (SELECT COUNT(*) FROM checks c JOIN pages p ON p.id = c.page_id
                 WHERE p.source_id = x.source_id AND c.outcome = 'error'
                   AND c.checked_at > COALESCE(x.last_success_at, {NEVER})) AS consecutive_errors
          FROM (SELECT src.id AS source_id, src.name AS source, src.url, src.kind, src.region,
                       CASE WHEN src.enabled THEN 1 ELSE 0 END AS enabled,
                       (SELECT COUNT(*) FROM pages p WHERE p.source_id = src.id) AS pages,
                       (SELECT c.id FROM checks c JOIN pages p ON p.id = c.page_id WHERE p.source_id = src.id
                         ORDER BY c.checked_at DESC, c.id DESC LIMIT 1) AS last_check_id,
                       (SELECT MAX(c.checked_at) FROM checks c JOIN pages p ON p.id = c.page_id
                         WHERE p.source_id = src.id AND c.outcome <> 'error') AS last_success_at,
                       (SELECT COUNT(*) FROM checks c JOIN pages p ON p.id = c.page_id
                         WHERE p.source_id = src.id) AS checks,
                       (SELECT COUNT(*) FROM checks c JOIN pages p ON p.id = c.page_id
                         WHERE p.source_id = src.id AND c.outcome = 'error') AS errors,
                       (SELECT COUNT(*) FROM snapshots s JOIN pages p ON p.id = s.page_id
                         WHERE p.source_id = src.id) AS snapshots,
                       (SELECT COUNT(*) FROM snapshots s JOIN pages p ON p.id = s.page_id
                         WHERE p.source_id = src.id AND s.health <> 'ok') AS unhealthy_snapshots,
                       (SELECT MAX(s.fetched_at) FROM snapshots s JOIN pages p ON p.id = s.page_id
                         WHERE p.source_id = src.id) AS last_snapshot_at
                  FROM sources src) x) y
  LEFT JOIN checks lc ON lc.id = y.last_check_id
"""

VIEWS = ("fact_history", "latest_facts", "change_log", "source_health")


def upgrade() -> None:
    # A page's snapshots by id, with health: the previous / next / newest healthy snapshot is an index-only probe.
    op.create_index("ix_snapshots_page_id_id_health", "snapshots", ["page_id", "id", "health"])
    for sql in (FACT_HISTORY, LATEST_FACTS, CHANGE_LOG, SOURCE_HEALTH):
        op.execute(sql)


def downgrade() -> None:
    for name in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_index("ix_snapshots_page_id_id_health", table_name="snapshots")
