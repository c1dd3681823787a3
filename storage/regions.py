"""The `regions` table: the GB/T 2260 codes, names, levels and parents of extractors/data/regions.tsv, copied
into the database so SQL users can join codes to names (docs/schema.md). Migration 0012 fills it; a change to
regions.tsv ships with a migration that calls `fill_regions` again."""
from __future__ import annotations

from sqlalchemy import String, column, delete, insert, table
from sqlalchemy.engine import Connection

from extractors.regions import DATA_FILE, RegionTable

# Lightweight: names only the columns that exist since 0012, so that migration keeps working as models change.
_regions = table("regions", column("code", String), column("name", String), column("short", String),
                 column("level", String), column("parent", String))


def region_rows() -> list[dict]:
    """Every region of regions.tsv as a `regions` row (code, name, short, level, parent), by code."""
    return sorted(({"code": r.code, "name": r.name, "short": r.short, "level": r.level, "parent": r.parent}
                   for r in RegionTable.from_tsv(DATA_FILE)), key=lambda r: r["code"])


def fill_regions(conn: Connection) -> int:
    """Replace the `regions` rows with the file's, in the caller's transaction; returns how many."""
    rows = region_rows()
    conn.execute(delete(_regions))
    conn.execute(insert(_regions), rows)
    return len(rows)
