"""ORM models of the history database.

The schema is owned by the Alembic migrations in storage/migrations; these
classes must describe the same tables (a test compares them).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, MetaData,
    SmallInteger, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime

# 64-bit ids on PostgreSQL; INTEGER PRIMARY KEY (the rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Source(Base):
    """One configured source from the sources file, kept after it is removed (enabled=False)."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default="page")
    region: Mapped[str | None] = mapped_column(String(100))
    follow: Mapped[str | None] = mapped_column(Text)
    profile: Mapped[str | None] = mapped_column(String(64))
    encoding: Mapped[str | None] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Page(Base):
    """A watched URL: a page source's article, a list page, or an article found on a list."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("source_id", "url"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16), default="article")  # article | list
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(64))
    last_snapshot_id: Mapped[int | None] = mapped_column(BigId)
    last_hash: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Run(Base):
    """One crawl run (a `policywatch check`), with its counters."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | finished | interrupted | timeout
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    counts: Mapped[dict | None] = mapped_column(JSON)
    # What this check's conflict search covered (monitor.diff.conflicts_token; 0016), NULL when it did not search.
    conflicts_token: Mapped[str | None] = mapped_column(String(64))


class RawPage(Base):
    """Raw response bytes, zlib-compressed and stored once per SHA-256."""

    __tablename__ = "raw_pages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(Integer)
    compression: Mapped[str] = mapped_column(String(16), default="zlib")
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Snapshot(Base):
    """A version of a page's main content; a new row only when the normalized main text changes."""

    __tablename__ = "snapshots"
    # (page_id, id, health): the previous / next / newest snapshot of a page, as the history views (0005) look them up.
    __table_args__ = (Index("ix_snapshots_page_id_fetched_at", "page_id", "fetched_at"),
                      Index("ix_snapshots_page_id_id_health", "page_id", "id", "health"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    main_text: Mapped[str] = mapped_column(Text)
    final_url: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str | None] = mapped_column(String(32))
    profile: Mapped[str | None] = mapped_column(String(64))
    page_meta: Mapped[dict | None] = mapped_column(JSON)
    raw_id: Mapped[int | None] = mapped_column(ForeignKey("raw_pages.id"), index=True)
    # None: not judged yet; "ok"; or why the diff stage found it unhealthy (then it is never diffed against)
    health: Mapped[str | None] = mapped_column(String(40))


class Check(Base):
    """Every fetch attempt of a page, whatever its outcome."""

    __tablename__ = "checks"
    __table_args__ = (Index("ix_checks_page_id_checked_at", "page_id", "checked_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # No index on run_id: checks are the biggest table and runs are read by time, not joined back.
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))  # new | changed | unchanged | not_modified | error
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshots.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)


OUTCOMES = ("new", "changed", "unchanged", "not_modified", "error")


class Extraction(Base):
    """One run of the extractors over a snapshot: which version, what page region and plan year it found."""

    __tablename__ = "extractions"
    __table_args__ = (UniqueConstraint("snapshot_id", "extractor_version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"))
    extractor_version: Mapped[str] = mapped_column(String(16))
    region_code: Mapped[str | None] = mapped_column(String(6))
    region_name: Mapped[str | None] = mapped_column(String(50))
    plan_year: Mapped[int | None] = mapped_column(Integer)
    extracted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # What looked wrong about the cut, e.g. [{"code": "foreign_facts", "regions": [...], ...}]; None = nothing.
    warnings: Mapped[list | None] = mapped_column(JSON)


class FactRow(Base):
    """A typed fact of a snapshot (kind, JSON value, plan year, region) with its evidence sentence."""

    __tablename__ = "facts"
    __table_args__ = (Index("ix_facts_kind_region_plan_year", "kind", "region", "plan_year"),
                      Index("ix_facts_region_first_snapshot_id", "region", "first_snapshot_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    extraction_id: Mapped[int] = mapped_column(ForeignKey("extractions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[dict] = mapped_column(JSON)
    plan_year: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(6))
    evidence: Mapped[str] = mapped_column(Text)
    span_start: Mapped[int | None] = mapped_column(Integer)
    span_end: Mapped[int | None] = mapped_column(Integer)
    # The first snapshot of the run of this value on the page when that is an earlier snapshot; None when the run
    # starts in this fact's own snapshot, or the snapshot is not judged (healthy) yet. See storage/factruns.py.
    first_snapshot_id: Mapped[int | None] = mapped_column(BigId, index=True)
    # How plausible the value is for its plan year, in [0, 1] (extractors.plausibility); None: stored before 0007.
    confidence: Mapped[float | None] = mapped_column(Float)


class Change(Base):
    """A detected change of a page's facts or text, or a conflict between sources, with its evidence."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_detected_at", "detected_at"), Index("ix_changes_page_id", "page_id"),
                      Index("ix_changes_type_page_id_id", "type", "page_id", "id"),
                      Index("uq_changes_change_key", "change_key", unique=True))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(BigId)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))  # fact_added | fact_removed | fact_changed | text_changed | conflict | revert
    kind: Mapped[str | None] = mapped_column(String(40))
    identity: Mapped[str | None] = mapped_column(String(300))
    old: Mapped[dict | None] = mapped_column(JSON)
    new: Mapped[dict | None] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(8))  # high | medium | low
    region: Mapped[str | None] = mapped_column(String(6))
    plan_year: Mapped[int | None] = mapped_column(Integer)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    snapshot_before: Mapped[int | None] = mapped_column(BigId)
    snapshot_after: Mapped[int | None] = mapped_column(BigId)
    evidence_before: Mapped[str | None] = mapped_column(Text)
    evidence_after: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSON)
    # Unique per page, snapshot pair, type, kind, identity and values (storage.changekeys, 0010); None for
    # changes without a snapshot pair (source_failing / source_recovered).
    change_key: Mapped[str | None] = mapped_column(String(80))


class Alert(Base):
    """The outbox: one message per run and target, written with the changes that cause it, then delivered.

    Targets are stored as a SHA-256 key and a redacted label, never with their tokens.
    """

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("target_key", "dedupe_key"), Index("ix_alerts_status", "status"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    target_key: Mapped[str] = mapped_column(String(64))
    target_label: Mapped[str] = mapped_column(String(300))
    dedupe_key: Mapped[str] = mapped_column(String(64))
    # pending | sending (an attempt is in flight) | sent | failed | unknown (the sender died mid-send)
    status: Mapped[str] = mapped_column(String(8))
    title: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_markdown: Mapped[str] = mapped_column(Text)
    change_ids: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Who holds the alert now ("host:pid": claimed for delivery, or sending), None when nobody does (0009).
    claimed_by: Mapped[str | None] = mapped_column(String(300))
    # When the last attempt began, written before the message is sent.
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Resent after an unknown outcome: the message is prefixed 【重发·可能重复】.
    possible_duplicate: Mapped[bool] = mapped_column(Boolean, default=False)


class Lock(Base):
    """A named lease (SQLite's crawl lock): its holder renews expires_at while it runs."""

    __tablename__ = "locks"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(300))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClusterRun(Base):
    """A run crawled by workers over the shared Redis queue: what every worker needs to fetch its pages the
    way the coordinator's sources file says (0011)."""

    __tablename__ = "cluster_runs"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    queue_key: Mapped[str] = mapped_column(String(200))
    force: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_hosts: Mapped[dict | None] = mapped_column(JSON)  # source name → extra hosts its links may reach
    profiles_toml: Mapped[str | None] = mapped_column(Text)  # the user profiles file's text, if any
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Worker(Base):
    """A `policywatch worker` process; it renews last_seen every few seconds while it runs (0011)."""

    __tablename__ = "workers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    protocol: Mapped[int] = mapped_column(Integer)  # the queue protocol it speaks (spiders.cluster.PROTOCOL)
    version: Mapped[str] = mapped_column(String(40))  # policywatch's version
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    run_id: Mapped[int | None] = mapped_column(BigId)  # the run it last worked on
    pages_done: Mapped[int] = mapped_column(Integer, default=0)  # checks it stored in that run


class RunLease(Base):
    """One planned page of a cluster run: who fetches it, and whether its check is stored (0011).

    Exactly one check per page and run: a worker claims the row before fetching and sets `done` in the
    transaction that stores the check, guarded by its own worker_id."""

    __tablename__ = "run_leases"
    __table_args__ = (Index("ix_run_leases_run_id_done", "run_id", "done"),)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), primary_key=True)
    worker_id: Mapped[int | None] = mapped_column(Integer)
    leased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done: Mapped[bool] = mapped_column(Boolean, default=False)


class RegionRow(Base):
    """A GB/T 2260 region (country, province or prefecture) from extractors/data/regions.tsv, so SQL users can
    join the `region` codes of facts and changes to names (0012; storage/regions.py fills it)."""

    __tablename__ = "regions"
    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))  # 山西省, 太原市
    short: Mapped[str] = mapped_column(String(50))  # 山西, 太原
    level: Mapped[str] = mapped_column(String(16))  # country | province | prefecture
    parent: Mapped[str | None] = mapped_column(String(6), index=True)  # the containing region's code


class CurrentFact(Base):
    """A current fact (0015, storage/currentfacts.py): per page of an enabled source, one fact of its newest
    healthy snapshot's newest extraction (a fact stated twice there once), kept by every write that changes them."""

    __tablename__ = "current_facts"
    __table_args__ = (Index("ix_current_facts_fact_id", "fact_id", unique=True),
                      Index("ix_current_facts_region_id", "region", "id"), {"sqlite_autoincrement": True})
    # Never reused (AUTOINCREMENT on SQLite): storage.currentfacts.version reads (count, max(id)).
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))
    snapshot_id: Mapped[int] = mapped_column(BigId)
    snapshot_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the snapshot's fetched_at
    fact_id: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Text)  # the fact's JSON value as stored (text)
    plan_year: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(6))
    evidence: Mapped[str] = mapped_column(Text)
