"""ClusterStore: the database side of a run crawled by several workers over a shared Redis queue.

The queue (scrapy-redis) pops destructively and may deliver a page twice after a requeue; the leases here
make every page get exactly one check per run: a worker claims a page's lease before fetching it and marks it
done in the transaction that stores the check, guarded by its own worker id.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import and_, bindparam, case, exists, func, insert, or_, select, update

from storage.db import Database
from storage.models import Check, ClusterRun, Page, Run, RunLease, Source, Worker
from storage.store import SQL_BATCH, CheckRecord, PageState, SnapshotStore
from storage.types import UTCDateTime, chunks, process_gone, this_host, utcnow

WORKER_STALE = 20.0  # seconds without a heartbeat after which a worker counts as gone
LEASE_TIMEOUT = 900.0  # seconds a live worker may hold a lease without storing its check (retries included)


def worker_gone(row, now: datetime, stale: float = WORKER_STALE) -> bool:
    """Whether a worker row names a process that stopped: it said so, its heartbeat is stale, or it ran on this
    host and its pid no longer exists."""
    if row.stopped_at is not None or row.last_seen < now - timedelta(seconds=stale):
        return True
    return process_gone(row.host, row.pid)


_CLAIM = (update(RunLease)
          .where(RunLease.run_id == bindparam("r"), RunLease.page_id == bindparam("p"), RunLease.done.is_(False),
                 RunLease.worker_id.is_(None), exists().where(Run.id == bindparam("r"), Run.status == "running"))
          .values(worker_id=bindparam("w"), leased_at=bindparam("now", type_=UTCDateTime())))
_PAGE_STATE = (select(Page.id, Page.source_id, Source.name, Page.url, Page.role, Page.etag, Page.last_modified,
                      Source.follow, Source.profile, Source.encoding, Source.region)
               .join(Source, Source.id == Page.source_id).where(Page.id == bindparam("p")))


def _in_run(run_id: int, same, other):
    """`same` when the worker row is already on this run, else `other` (pages_done counts the current run)."""
    return case((Worker.run_id == run_id, same), else_=other)


class ClusterStore:
    """Leases, worker heartbeats and run options; check writes go through SnapshotStore's own write path."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.snapshots = SnapshotStore(db)

    # -- the coordinator -------------------------------------------------------
    def plan_run(self, run_id: int, queue_key: str, pages: Sequence[PageState], *, force: bool = False,
                 allow_hosts: dict | None = None, profiles_toml: str | None = None) -> None:
        """Record the run's fetch options and one lease per planned page (nobody holds them yet)."""
        now = utcnow()
        with self.db.session() as s:
            s.add(ClusterRun(run_id=run_id, queue_key=queue_key, force=force, allow_hosts=allow_hosts or {},
                             profiles_toml=profiles_toml, created_at=now))
            s.flush()
            self._add_leases(s, run_id, [p.page_id for p in pages], now)

    @staticmethod
    def _add_leases(s, run_id: int, page_ids: Sequence[int], now: datetime) -> None:
        for chunk in chunks(list(dict.fromkeys(page_ids)), SQL_BATCH):
            s.execute(insert(RunLease), [dict(run_id=run_id, page_id=p, queued_at=now, done=False) for p in chunk])

    def progress(self, run_id: int) -> tuple[int, int]:
        """(pages whose check is stored, pages planned) of the run."""
        with self.db.session() as s:
            done, total = s.execute(select(func.count().filter(RunLease.done.is_(True)), func.count())
                                    .where(RunLease.run_id == run_id)).one()
        return int(done or 0), int(total or 0)

    def outcomes(self, run_id: int, failures: int = 3) -> tuple[dict[str, int], list[tuple[str, str]]]:
        """The run's check counts by outcome, and the first `failures` failed pages as (url, error)."""
        with self.db.session() as s:
            counts = dict(s.execute(select(Check.outcome, func.count()).where(Check.run_id == run_id)
                                    .group_by(Check.outcome)).all())
            failed = s.execute(select(Page.url, Check.error).join(Page, Page.id == Check.page_id)
                               .where(Check.run_id == run_id, Check.outcome == "error")
                               .order_by(Check.id).limit(failures)).all()
        return {k: int(v) for k, v in counts.items()}, [(u, e or "error") for u, e in failed]

    def release_orphans(self, run_id: int, stale: float = WORKER_STALE,
                        lease_timeout: float = LEASE_TIMEOUT) -> list[tuple[int, str]]:
        """Free the run's unfinished leases held by workers that are gone, or held longer than `lease_timeout`
        (a request lost inside a live worker); their (page_id, url) to requeue."""
        now = utcnow()
        expired = RunLease.leased_at < now - timedelta(seconds=lease_timeout)
        with self.db.session() as s:
            held = s.execute(select(RunLease.worker_id).where(RunLease.run_id == run_id, RunLease.done.is_(False),
                                                               RunLease.worker_id.is_not(None)).distinct()).scalars()
            holders = list(held)
            if not holders:
                return []
            rows = s.execute(select(Worker).where(Worker.id.in_(holders))).scalars().all()
            gone = [w.id for w in rows if worker_gone(w, now, stale)] + \
                [w for w in holders if w not in {r.id for r in rows}]
            cond = and_(RunLease.run_id == run_id, RunLease.done.is_(False), RunLease.worker_id.is_not(None),
                        or_(RunLease.worker_id.in_(gone), expired) if gone else expired)
            freed = s.execute(select(RunLease.page_id, Page.url).join(Page, Page.id == RunLease.page_id)
                              .where(cond)).all()
            if freed:
                s.execute(update(RunLease).where(cond).values(worker_id=None, leased_at=None, queued_at=now))
        return [(p, u) for p, u in freed]

    def unclaimed(self, run_id: int, queued_before: datetime) -> list[tuple[int, str]]:
        """The run's leases nobody claimed since `queued_before` (their requests were lost with Redis):
        marked queued now and returned as (page_id, url) to push again."""
        now = utcnow()
        cond = and_(RunLease.run_id == run_id, RunLease.done.is_(False), RunLease.worker_id.is_(None),
                    RunLease.queued_at < queued_before)
        with self.db.session() as s:
            rows = s.execute(select(RunLease.page_id, Page.url).join(Page, Page.id == RunLease.page_id)
                             .where(cond)).all()
            if rows:
                s.execute(update(RunLease).where(cond).values(queued_at=now))
        return [(p, u) for p, u in rows]

    def workers(self, stale: float = WORKER_STALE) -> list[dict]:
        """Every worker not known to have stopped, newest first, with `alive` judged now."""
        now = utcnow()
        with self.db.session() as s:
            rows = s.execute(select(Worker).where(Worker.stopped_at.is_(None))
                             .order_by(Worker.last_seen.desc())).scalars().all()
            return [dict(id=w.id, host=w.host, pid=w.pid, protocol=w.protocol, version=w.version,
                         started_at=w.started_at, last_seen=w.last_seen, run_id=w.run_id, pages_done=w.pages_done,
                         alive=not worker_gone(w, now, stale)) for w in rows]

    def live_workers(self, protocol: int, stale: float = WORKER_STALE) -> int:
        """How many live workers speak `protocol` (at least the caller, when it is one)."""
        return sum(1 for w in self.workers(stale) if w["alive"] and w["protocol"] == protocol)

    # -- a worker ----------------------------------------------------------------
    def register_worker(self, protocol: int, version: str) -> int:
        now = utcnow()
        with self.db.session() as s:
            w = Worker(host=this_host(), pid=os.getpid(), protocol=protocol, version=version[:40], started_at=now,
                       last_seen=now, pages_done=0)
            s.add(w)
            s.flush()
            return w.id

    def heartbeat(self, worker_id: int) -> None:
        with self.db.session() as s:
            s.execute(update(Worker).where(Worker.id == worker_id).values(last_seen=utcnow()))

    def stop_worker(self, worker_id: int) -> None:
        with self.db.session() as s:
            s.execute(update(Worker).where(Worker.id == worker_id).values(stopped_at=utcnow(), last_seen=utcnow()))

    def run_options(self, run_id: int) -> dict | None:
        """The fetch options of a cluster run, None when the run is not one."""
        with self.db.session() as s:
            r = s.get(ClusterRun, run_id)
            if r is None:
                return None
            return dict(force=r.force, allow_hosts=dict(r.allow_hosts or {}), profiles_toml=r.profiles_toml)

    def claim(self, run_id: int, page_id: int, worker_id: int) -> PageState | None:
        """Take the page's lease for this worker; its state to fetch, or None when the page is done, held by
        another worker, or its run is no longer running (a request left over from a dead run)."""
        # Once per fetched page: two prepared Core statements on one connection (the ORM path cost 5 ms of CPU).
        with self.db.engine.begin() as conn:
            taken = conn.execute(_CLAIM, dict(r=run_id, p=page_id, w=worker_id, now=utcnow())).rowcount
            if taken != 1:
                return None
            row = conn.execute(_PAGE_STATE, dict(p=page_id)).one()
        return PageState(page_id=row.id, source_id=row.source_id, source_name=row.name, url=row.url, role=row.role,
                         etag=row.etag, last_modified=row.last_modified, follow=row.follow, profile=row.profile,
                         encoding=row.encoding, region=row.region)

    def _finish_leases(self, s, worker_id: int, run_id: int, page_ids: Sequence[int]) -> set[int]:
        """Mark the leases this worker holds done; the page ids it did hold (the others are not stored)."""
        held = set(s.scalars(select(RunLease.page_id).where(
            RunLease.run_id == run_id, RunLease.page_id.in_(list(page_ids)), RunLease.worker_id == worker_id,
            RunLease.done.is_(False))))
        if held:
            s.execute(update(RunLease).where(RunLease.run_id == run_id, RunLease.page_id.in_(list(held)),
                                             RunLease.worker_id == worker_id, RunLease.done.is_(False))
                      .values(done=True))
            s.execute(update(Worker).where(Worker.id == worker_id).values(
                pages_done=_in_run(run_id, Worker.pages_done + len(held), len(held)), run_id=run_id,
                last_seen=utcnow()))
        return held

    def record_checks(self, worker_id: int, run_id: int, records: Sequence[CheckRecord]) -> list[str | None]:
        """Store the checks of pages whose lease this worker holds, with their leases done, in one transaction;
        each record's outcome, None for a page it no longer holds (stored by another worker: discarded)."""
        if not records:
            return []
        with self.db.session() as s:
            held = self._finish_leases(s, worker_id, run_id, [r.page_id for r in records])
            kept = [r for r in records if r.page_id in held]
            outcomes = iter(self.snapshots._record_checks(s, run_id, kept) if kept else [])
            return [next(outcomes) if r.page_id in held else None for r in records]

    def record_list_check(self, worker_id: int, run_id: int, record: CheckRecord, source_id: int,
                          urls: Sequence[str]) -> tuple[str | None, list[PageState]]:
        """A list page's check, its new articles and their leases in one transaction (as
        SnapshotStore.record_list_check); (None, []) when this worker no longer holds the list's lease."""
        with self.db.session() as s:
            if not self._finish_leases(s, worker_id, run_id, [record.page_id]):
                return None, []
            (outcome,) = self.snapshots._record_checks(s, run_id, [record])
            new = self.snapshots._discover(s, source_id, urls, record.checked_at)
            self._add_leases(s, run_id, [p.page_id for p in new], utcnow())
            return outcome, new



def any_running_cluster_run(db: Database) -> int | None:
    """The id of a running cluster run, if there is one (for `status`)."""
    with db.session() as s:
        return s.scalar(select(ClusterRun.run_id).join(Run, Run.id == ClusterRun.run_id)
                        .where(Run.status == "running").order_by(ClusterRun.run_id.desc()).limit(1))

