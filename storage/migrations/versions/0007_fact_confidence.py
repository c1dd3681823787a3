"""facts.confidence: how plausible each fact's value is for its plan year (extractors.plausibility).

A float in [0, 1]; NULL for the facts stored before this revision (not assessed: their extractor version
had no confidence). The views are untouched: they name their columns.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("facts", sa.Column("confidence", sa.Float(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite >= 3.35, PostgreSQL): a batch copy of `facts` would break the views that read it.
    op.execute("ALTER TABLE facts DROP COLUMN confidence")
