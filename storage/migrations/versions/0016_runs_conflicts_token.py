"""runs.conflicts_token: what a check's conflict search covered, so that an unchanged re-check can skip it.

The diff stage of a check looks for conflicts among the newest facts of every enabled source. When nothing was
judged since the previous run, that run was a finished check, and the extractor version, the conflict rules and
the enabled sources are the same (this token), the search would find nothing new: monitor.diff skips it.
NULL: a run that did not search (an import, a reextract, a run from before this migration).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("conflicts_token", sa.String(64), nullable=True))  # no table rebuild on SQLite


def downgrade() -> None:
    op.execute("ALTER TABLE runs DROP COLUMN conflicts_token")
