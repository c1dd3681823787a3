"""The `regions` table: the GB/T 2260 codes, names, levels and parents of extractors/data/regions.tsv, copied
into the database so SQL users can join codes to names (docs/schema.md). Migration 0012 fills it; a change to
regions.tsv ships with a migration that calls `fill_regions` again.

storage imports no extractors code (tests/test_layout.py): the file is read here as data, at its place beside
this package (both are top-level packages of one distribution)."""
from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import String, column, delete, insert, table
from sqlalchemy.engine import Connection

REGIONS_TSV = Path(__file__).resolve().parent.parent / "extractors" / "data" / "regions.tsv"

# Lightweight: names only the columns that exist since 0012, so that migration keeps working as models change.
_regions = table("regions", column("code", String), column("name", String), column("short", String),
                 column("level", String), column("parent", String))


def region_rows(path: Path = REGIONS_TSV) -> list[dict]:
    """Every region of the file as a `regions` row (code, name, short, level, parent or None), by code."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = [{"code": r["code"], "name": r["name"], "short": r["short"], "level": r["level"],
                 "parent": r["parent"] or None} for r in csv.DictReader(f, delimiter="\t")]
    return sorted(rows, key=lambda r: r["code"])


def fill_regions(conn: Connection) -> int:
    """Replace the `regions` rows with the file's, in the caller's transaction; returns how many."""
    rows = region_rows()
    conn.execute(delete(_regions))
    conn.execute(insert(_regions), rows)
    return len(rows)
