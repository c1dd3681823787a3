"""extractions.warnings: what the extract stage found suspicious about a cut (JSON list, NULL = nothing).

The first warning is `foreign_facts` (extractors.scope): most core facts of the page named other regions
than its source's, so they were not stored and the cut probably took a sidebar. `policywatch status` and
`sources` show it for a page's current snapshot.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: no table rebuild, so the views of 0005/0006 stay as they are.
    op.add_column("extractions", sa.Column("warnings", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Not a batch rebuild: SQLite cannot rename a table that the history views name (see 0005), and its
    # native DROP COLUMN (3.35+) leaves them alone since they do not use the column.
    op.execute("ALTER TABLE extractions DROP COLUMN warnings")
