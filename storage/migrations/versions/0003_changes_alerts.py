"""Changes (fact and text diffs, conflicts, reverts) and the alert outbox; snapshot health.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("run_id", BigId),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer()),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(40)),
        sa.Column("identity", sa.String(300)),
        sa.Column("old", sa.JSON()),
        sa.Column("new", sa.JSON()),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("region", sa.String(6)),
        sa.Column("plan_year", sa.Integer()),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
        sa.Column("snapshot_before", BigId),
        sa.Column("snapshot_after", BigId),
        sa.Column("evidence_before", sa.Text()),
        sa.Column("evidence_after", sa.Text()),
        sa.Column("url", sa.Text()),
        sa.Column("detail", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_changes"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE", name="fk_changes_source_id_sources"),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], ondelete="CASCADE", name="fk_changes_page_id_pages"),
    )
    op.create_index("ix_changes_detected_at", "changes", ["detected_at"])
    op.create_index("ix_changes_page_id", "changes", ["page_id"])
    op.create_table(
        "alerts",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("target_key", sa.String(64), nullable=False),
        sa.Column("target_label", sa.String(300), nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_markdown", sa.Text(), nullable=False),
        sa.Column("change_ids", sa.JSON()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("target_key", "dedupe_key", name="uq_alerts_target_key_dedupe_key"),
    )
    op.create_index("ix_alerts_status", "alerts", ["status"])
    with op.batch_alter_table("snapshots") as batch:
        batch.add_column(sa.Column("health", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_column("health")
    op.drop_table("alerts")
    op.drop_table("changes")
