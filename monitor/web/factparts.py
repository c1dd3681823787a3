"""The 事实 pages' data kept region by region: the current facts of each region (storage.webqueries.current_facts),
its row of the region × kind matrix per plan year and each province's roll-up row, rebuilt only for the regions
whose rows in the current_facts table changed (storage.currentfacts.region_versions). After a diff stage that
judged a few pages, the matrix and the roll-up are a few regions' work, not 22 k facts'. What it assembles is what
render.fact_matrix and rollup.province_rollup give for the whole (the tests compare them)."""
from __future__ import annotations

import threading
from collections.abc import Hashable

from monitor.alerts import KIND_NAMES
from monitor.web.render import fact_matrix, sort_matrix
from monitor.web.rollup import _province_of, province_rollup, sort_rollup
from storage.db import Database
from storage.webqueries import current_facts, current_facts_regions


def _in_scope(region: str | None, prefix: str | None) -> bool:
    """Whether a region's facts belong to the scope: None or "" (全国) = every fact, those without a region too;
    a prefix = the codes starting with it."""
    return not prefix or (region is not None and region.startswith(prefix))


def _order(region: str | None) -> tuple:
    return (region is None, region or "")


class FactParts:
    """The current facts by region, brought up to date by `update(version)` one changed region at a time."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.RLock()
        self._version: Hashable = object()  # of the current facts these parts are of (none yet)
        self._tokens: dict[str | None, tuple] = {}  # region → its token when its rows were read
        self._rows: dict[str | None, list[dict]] = {}
        self._cells: dict[tuple, tuple] = {}  # (region, year) → (token, matrix row or None, its kinds)
        self._provinces: dict[tuple, tuple] = {}  # (province, year, sort) → (tokens of its regions, roll-up row)

    def update(self, version: Hashable) -> None:
        """Bring the parts to `version` of the current facts: read again only the regions whose rows changed."""
        with self._lock:
            if version == self._version:
                return
            tokens = current_facts_regions(self.db)
            changed = [r for r, t in tokens.items() if self._tokens.get(r) != t]
            fresh: dict[str | None, list[dict]] = {r: [] for r in changed}
            for row in current_facts(self.db, regions=changed) if changed else ():
                fresh[row["region"]].append(row)
            for gone in set(self._rows) - set(tokens):
                del self._rows[gone]
            self._rows.update(fresh)
            self._tokens, self._version = tokens, version

    def years(self, prefix: str | None) -> list[int]:
        """The plan years of the scope's facts, newest first."""
        with self._lock:
            return sorted({r["plan_year"] for region, rows in self._rows.items() if _in_scope(region, prefix)
                           for r in rows if r["plan_year"]}, reverse=True)

    def _cell_row(self, region: str | None, year: int | None) -> tuple:
        """(matrix row or None, kinds) of one region and plan year, rebuilt when the region's rows changed."""
        token = self._tokens.get(region)
        known = self._cells.get((region, year))
        if known is None or known[0] != token:
            part = fact_matrix([r for r in self._rows.get(region, ()) if r["plan_year"] == year])
            known = self._cells[(region, year)] = (token, part["rows"][0] if part["rows"] else None,
                                                   frozenset(part["kinds"]))
        return known[1], known[2]

    def matrix(self, prefix: str | None, year: int | None) -> dict:
        """render.fact_matrix of the scope's facts of `year`, by region code."""
        with self._lock:
            rows, present = [], set()
            for region in sorted(self._rows, key=_order):
                if _in_scope(region, prefix):
                    row, kinds = self._cell_row(region, year)
                    if row is not None:
                        rows.append(row)
                        present |= kinds
            return dict(kinds=[k for k in KIND_NAMES if k in present], rows=rows)

    def rollup(self, year: int | None, sort: str | None) -> dict:
        """rollup.province_rollup of the matrix of every fact of `year` sorted by `sort` (its cities' hover lists
        follow that order), each province's row rebuilt when one of its regions' rows changed."""
        with self._lock:
            whole = sort_matrix(self.matrix(None, year), sort)
            groups: dict[str, list[dict]] = {}
            for row in whole["rows"]:
                code = _province_of(row["region"])
                if code is not None:
                    groups.setdefault(code, []).append(row)
            out = []
            for code in sorted(groups):
                tokens = tuple((r["region"], self._tokens.get(r["region"])) for r in groups[code])
                key = (tokens, tuple(whole["kinds"]))
                known = self._provinces.get((code, year, sort))
                if known is None or known[0] != key:
                    part = province_rollup(dict(kinds=whole["kinds"], rows=groups[code]))
                    known = self._provinces[(code, year, sort)] = (key, part["rows"][0])
                out.append(known[1])
            return sort_rollup(dict(kinds=whole["kinds"], rows=out), sort)
