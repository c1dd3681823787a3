"""Facts: one extraction per snapshot and extractor version, and its typed facts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "extractions",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("snapshot_id", BigId, nullable=False),
        sa.Column("extractor_version", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(6)),
        sa.Column("region_name", sa.String(50)),
        sa.Column("plan_year", sa.Integer()),
        sa.Column("extracted_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_extractions"),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshots.id"], ondelete="CASCADE",
                                name="fk_extractions_snapshot_id_snapshots"),
        sa.UniqueConstraint("snapshot_id", "extractor_version", name="uq_extractions_snapshot_id_extractor_version"),
    )
    op.create_table(
        "facts",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("extraction_id", BigId, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("plan_year", sa.Integer()),
        sa.Column("region", sa.String(6)),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("span_start", sa.Integer()),
        sa.Column("span_end", sa.Integer()),
        sa.PrimaryKeyConstraint("id", name="pk_facts"),
        sa.ForeignKeyConstraint(["extraction_id"], ["extractions.id"], ondelete="CASCADE",
                                name="fk_facts_extraction_id_extractions"),
    )
    op.create_index("ix_facts_extraction_id", "facts", ["extraction_id"])
    op.create_index("ix_facts_kind_region_plan_year", "facts", ["kind", "region", "plan_year"])


def downgrade() -> None:
    op.drop_table("facts")
    op.drop_table("extractions")
