"""cluster_runs, workers, run_leases: one run crawled by several `policywatch worker` processes.

The coordinator (`check --redis`) records the run's fetch options in `cluster_runs` and one `run_leases` row per
planned page; workers register in `workers` and renew `last_seen`. A worker claims a page's lease before
fetching it and sets `done` in the transaction that stores its check, so each page gets exactly one check per
run even when the queue delivers it twice.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cluster_runs",
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("queue_key", sa.String(200), nullable=False),
        sa.Column("force", sa.Boolean(), nullable=False),
        sa.Column("allow_hosts", sa.JSON()),
        sa.Column("profiles_toml", sa.Text()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_cluster_runs"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_cluster_runs_run_id_runs"),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("protocol", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("stopped_at", UTCDateTime()),
        sa.Column("run_id", BigId),
        sa.Column("pages_done", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
    )
    op.create_table(
        "run_leases",
        sa.Column("run_id", BigId, nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.Integer()),
        sa.Column("leased_at", UTCDateTime()),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "page_id", name="pk_run_leases"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_run_leases_run_id_runs"),
        sa.ForeignKeyConstraint(["page_id"], ["pages.id"], ondelete="CASCADE",
                                name="fk_run_leases_page_id_pages"),
    )
    op.create_index("ix_run_leases_run_id_done", "run_leases", ["run_id", "done"])


def downgrade() -> None:
    op.drop_index("ix_run_leases_run_id_done", "run_leases")
    op.drop_table("run_leases")
    op.drop_table("workers")
    op.drop_table("cluster_runs")
