"""Bulk inserts that return the new rows' ids in the rows' order, at executemany speed on SQLite too.

SQLAlchemy cannot batch an ``INSERT … RETURNING`` whose ids must come back in parameter order on SQLite (the
driver guarantees no order), so it ran one statement per row: a first check's 10,000 conflicts were 10,000
statements. On SQLite the first row is inserted alone (it takes the database's write lock, which the
transaction keeps until it ends, and its id is the table's max + 1) and the rest get the ids that follow it,
explicitly, in one executemany: the ids SQLite itself gives (no table uses AUTOINCREMENT), stored the same.
PostgreSQL keeps SQLAlchemy's batched RETURNING.
"""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import insert


def insert_ids(s, model, rows: Sequence[dict]) -> list[int]:
    """INSERT `rows` (dicts of `model`'s columns) in session `s`; their new ids, in the rows' order."""
    if not rows:
        return []
    if s.get_bind().dialect.name != "sqlite":
        return list(s.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), list(rows)))
    table = model.__table__
    first = s.scalars(insert(table).returning(table.c.id), dict(rows[0])).one()
    ids = [first + i for i in range(len(rows))]
    rest = [dict(row, id=i) for row, i in zip(rows[1:], ids[1:])]
    # executemany needs one key set per statement: consecutive rows with the same keys go together
    start = 0
    for end in range(1, len(rest) + 1):
        if end == len(rest) or rest[end].keys() != rest[start].keys():
            s.execute(insert(table), rest[start:end])
            start = end
    return ids


def insert_rows(s, model, rows: Sequence[dict]) -> None:
    """INSERT `rows` (dicts of `model`'s columns) in session `s` as Core executemany (no ORM bookkeeping)."""
    rows = list(rows)
    start = 0
    for end in range(1, len(rows) + 1):
        if end == len(rows) or rows[end].keys() != rows[start].keys():
            s.execute(insert(model.__table__), rows[start:end])
            start = end
