"""changes.change_key: one row per page, snapshot pair, type, kind, identity and values (a unique index).

Two checks that both diffed the same versions (their lock lost to a PostgreSQL restart) stored the same
changes twice; now the second insert fails instead. Older rows get their key here (storage.changekeys);
rows that repeat an earlier row's key (duplicates of that fault, or two equal facts on one page) are numbered
``#2``, ``#3`` … in id order, so every existing row is kept.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

from storage.changekeys import KEY_FIELDS, assign_keys

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    op.add_column("changes", sa.Column("change_key", sa.String(80), nullable=True))
    changes = sa.table("changes", sa.column("id", sa.BigInteger()), sa.column("change_key", sa.String()),
                       *(sa.column(k, sa.JSON() if k in ("old", "new") else sa.String()) for k in KEY_FIELDS
                         if k not in ("page_id", "snapshot_before", "snapshot_after")),
                       *(sa.column(k, sa.BigInteger()) for k in ("page_id", "snapshot_before", "snapshot_after")))
    conn = op.get_bind()
    used: set[str] = set()
    last = 0
    while True:
        rows = [dict(r._mapping) for r in conn.execute(
            sa.select(changes).where(changes.c.id > last).order_by(changes.c.id).limit(BATCH))]
        if not rows:
            break
        last = rows[-1]["id"]
        assign_keys(rows, used)
        keyed = [{"b_id": r["id"], "b_key": r["change_key"]} for r in rows if r["change_key"] is not None]
        used.update(r["b_key"] for r in keyed)
        if keyed:
            conn.execute(changes.update().where(changes.c.id == sa.bindparam("b_id"))
                         .values(change_key=sa.bindparam("b_key")), keyed)
    op.create_index("uq_changes_change_key", "changes", ["change_key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_changes_change_key", table_name="changes")
    op.execute("ALTER TABLE changes DROP COLUMN change_key")
