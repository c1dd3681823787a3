"""fact_history on SQLite reaches its facts through the (kind, region, plan_year) index when a query names them.

SQLite's planner took the view's `f.first_snapshot_id IS NULL` to the first_snapshot_id index (the 204 k run
starts of the synthetic 5-year history) even when the query named the kinds and a region, then tested every
run start: 0.18 s for a province with no facts of its own, 0.35 s for a city of 458 timelines (web 地区,
/api/history, `history --region`). A unary `+` keeps that term off the index, so a named kind and region
(3 rows per timeline) are the way in: 0 ms and 0.12 s. PostgreSQL's view is unchanged.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""
from alembic import op

from storage.migrations import load_migration

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

RUN_START = "WHERE s.health = 'ok' AND f.first_snapshot_id IS NULL"


def fact_history_sql(dialect: str) -> str:
    """0012's fact_history; on SQLite its run-start term written so no index is used for it."""
    sql = load_migration("0012_research_data.py").fact_history_sql(load_migration("0006_fact_runs.py"))
    assert RUN_START in sql
    return sql.replace(RUN_START, RUN_START.replace("f.first", "+f.first")) if dialect == "sqlite" else sql


def upgrade() -> None:
    op.execute("DROP VIEW fact_history")
    op.execute(fact_history_sql(op.get_bind().dialect.name))


def downgrade() -> None:
    op.execute("DROP VIEW fact_history")
    op.execute(fact_history_sql("postgresql"))
