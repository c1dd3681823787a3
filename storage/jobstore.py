"""Reading the daemon's APScheduler job store without a scheduler (for `status`, which only reads)."""
from __future__ import annotations

import pickle
from datetime import datetime

from sqlalchemy import Column, LargeBinary, MetaData, String, Table, inspect, select

from storage.db import Database


def stored_jobs(db: Database, table: str) -> list[dict]:
    """The jobs APScheduler's SQLAlchemyJobStore keeps in `table`: {"id", "name", "kwargs", "next_run_at"}
    ([] without the table). Nothing is written: the job store's own reader deletes rows it cannot restore,
    and any scheduler, even a paused one, fires due jobs when it shuts down."""
    if not inspect(db.engine).has_table(table):
        return []
    jobs_t = Table(table, MetaData(), Column("id", String(191), primary_key=True),
                   Column("job_state", LargeBinary, nullable=False))
    with db.engine.connect() as conn:
        rows = conn.execute(select(jobs_t.c.id, jobs_t.c.job_state)).all()
    jobs = []
    for job_id, blob in rows:
        try:
            state = pickle.loads(blob)
        except Exception:  # a job of another version: left out (status falls back to the schedule), never removed
            continue
        next_run: datetime | None = state.get("next_run_time")
        jobs.append(dict(id=job_id, name=state.get("name"), kwargs=state.get("kwargs") or {}, next_run_at=next_run))
    return jobs
