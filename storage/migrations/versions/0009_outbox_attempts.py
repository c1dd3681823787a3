"""alerts.claimed_by, attempted_at, possible_duplicate: an attempt is recorded before the message is sent.

A delivery is claimed ("host:pid" in `claimed_by`), then set to status `sending` with `attempted_at` before
the request goes out. A sender that dies while `sending` leaves an alert whose outcome is unknown: it becomes
`unknown` and is sent again only by `policywatch alerts --retry`, flagged `possible_duplicate`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs: no table rebuild on SQLite.
    op.add_column("alerts", sa.Column("claimed_by", sa.String(300), nullable=True))
    op.add_column("alerts", sa.Column("attempted_at", UTCDateTime(), nullable=True))
    op.add_column("alerts", sa.Column("possible_duplicate", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    for column in ("possible_duplicate", "attempted_at", "claimed_by"):
        op.execute(f"ALTER TABLE alerts DROP COLUMN {column}")
