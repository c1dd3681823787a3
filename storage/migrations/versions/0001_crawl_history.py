"""Crawl history: sources, pages, runs, checks, snapshots, raw pages.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("region", sa.String(100)),
        sa.Column("follow", sa.Text()),
        sa.Column("profile", sa.String(64)),
        sa.Column("encoding", sa.String(32)),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sources"),
        sa.UniqueConstraint("name", name="uq_sources_name"),
    )
    op.create_table(
        "pages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.String(64)),
        sa.Column("last_snapshot_id", BigId),
        sa.Column("last_hash", sa.String(64)),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_pages"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE",
                                name="fk_pages_source_id_sources"),
        sa.UniqueConstraint("source_id", "url", name="uq_pages_source_id_url"),
    )
    op.create_index("ix_pages_source_id", "pages", ["source_id"])
    op.create_table(
        "runs",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255)),
        sa.Column("pid", sa.Integer()),
        sa.Column("counts", sa.JSON()),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_table(
        "raw_pages",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("compression", sa.String(16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_raw_pages"),
        sa.UniqueConstraint("sha256", name="uq_raw_pages_sha256"),
    )
    op.create_table(
        "snapshots",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.Text()),
        sa.Column("published_at", UTCDateTime()),
        sa.Column("main_text", sa.Text(), nullable=False),
        sa.Column("final_url", sa.Text(), nullable=False),
        sa.Column("encoding", sa.String(32)),
        sa.Column("profile", sa.String(64)),
        sa.Column("page_meta", sa.JSON()),
        sa.Column("raw_id", BigId),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], ondelete="CASCADE",
                                name="fk_snapshots_page_id_pages"),
        sa.ForeignKeyConstraint(["raw_id"], ["raw_pages.id"], name="fk_snapshots_raw_id_raw_pages"),
    )
    op.create_index("ix_snapshots_page_id_fetched_at", "snapshots", ["page_id", "fetched_at"])
    op.create_index("ix_snapshots_content_hash", "snapshots", ["content_hash"])
    op.create_index("ix_snapshots_raw_id", "snapshots", ["raw_id"])
    op.create_table(
        "checks",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("run_id", BigId),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("http_status", sa.SmallInteger()),
        sa.Column("duration_ms", sa.Integer()),
        sa.Column("snapshot_id", BigId),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_checks"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="SET NULL", name="fk_checks_run_id_runs"),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], ondelete="CASCADE", name="fk_checks_page_id_pages"),
        sa.ForeignKeyConstraint(["snapshot_id"], ["snapshots.id"], ondelete="SET NULL",
                                name="fk_checks_snapshot_id_snapshots"),
    )
    op.create_index("ix_checks_page_id_checked_at", "checks", ["page_id", "checked_at"])


def downgrade() -> None:
    for table in ("checks", "snapshots", "raw_pages", "runs", "pages", "sources"):
        op.drop_table(table)
