"""HistoryStore: the research reads — fact timelines (the fact_history view), changes and snapshots, filtered
and streamed in batches for export. The views are defined in migration 0005 (docs/schema.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import BigInteger, Integer, String, Text, and_, column, select, table, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from storage.db import Database, DatabaseError, _first_line, safe_url
from storage.models import Extraction, Page, Snapshot, Source
from storage.timelines import FACT_HISTORY, read_timelines
from storage.types import UTCDateTime

CHANGE_LOG = table(
    "change_log",
    column("id", BigInteger), column("detected_at", UTCDateTime), column("run_id", BigInteger),
    column("source_id", Integer), column("source", String), column("page_id", Integer), column("url", Text),
    column("type", String), column("kind", String), column("severity", String), column("region", String),
    column("plan_year", Integer), column("old_value", Text), column("new_value", Text),
    column("evidence_before", Text), column("evidence_after", Text), column("snapshot_before", BigInteger),
    column("snapshot_after", BigInteger), column("summary", Text),
)

TABLES = ("facts", "changes", "snapshots")
# PostgreSQL, for the fact_history reads of one region: random reads cost about what sequential ones do (the
# history is in shared buffers or the OS cache); at the default 4 the planner hashed all 100 k extractions to
# join a city's 668 facts (0.1 s of 0.2 s) instead of 668 primary-key lookups.
INDEX_COSTS = "SET LOCAL random_page_cost = 1.1"


@dataclass(frozen=True)
class HistoryFilter:
    """Which rows: fact kind, plan year, source name, and region — one 6-digit code, or every code that
    starts with `region_prefix` (a province's two digits; "" for all regions)."""

    kind: str | None = None
    plan_year: int | None = None
    source: str | None = None
    region: str | None = None
    region_prefix: str | None = None


def index_costs(conn) -> None:
    """PostgreSQL, for the timeline reads of a region or kind, in the connection's transaction: no JIT (the
    plans' many small index lookups make the cost estimate large enough to trigger it, and compiling costs more
    than the query) and INDEX_COSTS."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL jit = off"))
        conn.execute(text(INDEX_COSTS))


def _prefix_range(col, prefix: str):
    # A range, not LIKE: PostgreSQL uses a b-tree index for LIKE only under the C collation.
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(col >= prefix, col < upper)


class HistoryStore:
    """Read-only queries over the history views and tables; never writes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def source_names(self) -> list[str]:
        """Names of every source in the database (configured now or before)."""
        with self.db.session() as s:
            return list(s.scalars(select(Source.name).order_by(Source.name)))

    def _page_ids(self, source: str) -> list[int]:
        with self.db.session() as s:
            return list(s.scalars(select(Page.id).join(Source, Page.source_id == Source.id)
                                  .where(Source.name == source)))

    def _where(self, f: HistoryFilter, region_col, kind_col=None, year_col=None, page_col=None) -> list:
        conds = []
        if f.kind is not None and kind_col is not None:
            conds.append(kind_col == f.kind)
        if f.plan_year is not None and year_col is not None:
            conds.append(year_col == f.plan_year)
        if f.region is not None:
            conds.append(region_col == f.region)
        elif f.region_prefix:
            conds.append(_prefix_range(region_col, f.region_prefix))
        if f.source is not None and page_col is not None:
            # Page ids, not the source name: page_id partitions the view's windows, so the filter is pushed down.
            conds.append(page_col.in_(self._page_ids(f.source) or [-1]))
        return conds

    def facts_query(self, f: HistoryFilter):
        v = FACT_HISTORY.c
        return (select(FACT_HISTORY)
                .where(*self._where(f, v.region, v.kind, v.plan_year, v.page_id))
                .order_by(v.region, v.kind, v.plan_year, v.source, v.first_seen, v.page_id,
                          v.value, v.evidence))  # a page's two channels seen together: one order on every database

    def changes_query(self, f: HistoryFilter):
        v = CHANGE_LOG.c
        q = select(CHANGE_LOG).where(*self._where(f, v.region, v.kind, v.plan_year)).order_by(v.id)
        if f.source is not None:
            q = q.where(v.source == f.source)
        return q

    def snapshots_query(self, f: HistoryFilter):
        # The current extraction of each snapshot (the newest row), as in the views, gives region and plan year.
        e2 = aliased(Extraction)
        newest = (select(e2.id).where(e2.snapshot_id == Snapshot.id).order_by(e2.id.desc()).limit(1)
                  .correlate(Snapshot).scalar_subquery())
        q = (select(Snapshot.id.label("snapshot_id"), Source.name.label("source"), Page.url, Snapshot.fetched_at,
                    Snapshot.title, Snapshot.published_at, Snapshot.final_url, Snapshot.health,
                    Snapshot.content_hash, Extraction.extractor_version, Extraction.region_code.label("region"),
                    Extraction.plan_year, Snapshot.main_text)
             .join(Page, Snapshot.page_id == Page.id).join(Source, Page.source_id == Source.id)
             .outerjoin(Extraction, Extraction.id == newest)
             .where(*self._where(f, Extraction.region_code, year_col=Extraction.plan_year))
             .order_by(Snapshot.id))
        if f.source is not None:
            q = q.where(Source.name == f.source)
        return q

    def history(self, f: HistoryFilter) -> list[dict]:
        """Fact timelines matching `f`, by region, kind, plan year, source and first_seen: the fact_history
        view's rows, for a filtered read by storage.timelines.read_timelines (set-based on PostgreSQL), for the
        whole history streamed from the view."""
        if f.kind is None and f.plan_year is None and f.source is None and f.region is None and not f.region_prefix:
            return [row for batch in self.iter_batches("facts", f) for row in batch]
        pages = self._page_ids(f.source) if f.source is not None else None
        try:
            with self.db.engine.connect() as conn:
                index_costs(conn)
                return read_timelines(conn, kinds=None if f.kind is None else [f.kind], plan_year=f.plan_year,
                                      page_ids=pages, region=f.region, region_prefix=f.region_prefix)
        except SQLAlchemyError as exc:
            raise DatabaseError(f"database error on {safe_url(self.db.url)}: {_first_line(exc)}") from exc

    def iter_batches(self, name: str, f: HistoryFilter, batch_size: int = 2000) -> Iterator[list[dict]]:
        """Rows of `name` (facts | changes | snapshots) matching `f`, streamed in lists of `batch_size` dicts
        (a server-side cursor on PostgreSQL), so an export never holds the whole table."""
        query = {"facts": self.facts_query, "changes": self.changes_query,
                 "snapshots": self.snapshots_query}[name](f)
        try:
            with self.db.engine.connect() as conn:
                if self.db.dialect == "postgresql":
                    # fact_history sorts every matching fact once; keep a whole-table export's sort in memory.
                    # The views' many small subplans make the planner's cost estimate large enough to trigger
                    # JIT compilation, which then costs more than the query itself.
                    conn.execute(text("SET LOCAL work_mem = '64MB'"))
                    conn.execute(text("SET LOCAL jit = off"))
                    conn.execute(text(INDEX_COSTS))
                result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(query)
                for part in result.mappings().partitions():
                    yield [_plain(dict(row)) for row in part]
        except SQLAlchemyError as exc:
            raise DatabaseError(f"database error on {safe_url(self.db.url)}: {_first_line(exc)}") from exc


def _plain(row: dict) -> dict:
    if "is_current" in row:
        row["is_current"] = bool(row["is_current"])
    return row

