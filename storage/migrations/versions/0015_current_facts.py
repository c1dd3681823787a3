"""The current facts as a table: `current_facts` (storage/currentfacts.py), filled here for existing databases.

Per page of an enabled source, the facts of its newest healthy snapshot's newest extraction (a fact stated twice
there once): what the web view's 事实 pages read on every request after a write, which computed them by walking
every page's snapshots and extractions (22 k rows of the synthetic 5-year history: 0.15–0.4 s per request).
The writes that change them keep it in their own transaction from now on.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

from storage.currentfacts import refresh_all
from storage.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "current_facts",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("snapshot_id", BigId, nullable=False),
        sa.Column("snapshot_at", UTCDateTime(), nullable=False),
        sa.Column("fact_id", BigId, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("plan_year", sa.Integer()),
        sa.Column("region", sa.String(6)),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], name="fk_current_facts_page_id_pages",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_current_facts"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_current_facts_page_id", "current_facts", ["page_id"])
    op.create_index("ix_current_facts_fact_id", "current_facts", ["fact_id"], unique=True)
    op.create_index("ix_current_facts_region_id", "current_facts", ["region", "id"])
    refresh_all(op.get_bind())


def downgrade() -> None:
    op.drop_table("current_facts")
