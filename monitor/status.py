"""`policywatch status`: is the daemon up, what runs next, what failed, what is waiting to be sent."""
from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from extractors import EXTRACTOR_VERSION
from extractors.plausibility import AMOUNT_KINDS, below_national_minimum, load_minimums
from monitor.alerts import KIND_NAMES
from monitor.check import CHECK_LOCK
from monitor.config import Config, cron_trigger
from monitor.daemon import CRAWL_PREFIX, DAEMON_LOCK, JOBS_TABLE
from monitor.options import local_minute
from storage import ChangeStore, Database, SnapshotStore
from storage.cutwarnings import current_cut_warnings
from storage.jobstore import stored_jobs
from storage.lastchecks import last_checks
from storage.locks import current_holder
from storage.standards import current_facts


def below_minimum_by_source(db: Database) -> dict[str, list[dict]]:
    """Source name → its pages' current standards below the national minimum for their plan year
    ({"url", "kind", "plan_year", "amount", "qualifier", "minimum", "national_year", "evidence"})."""
    found: dict[str, list[dict]] = {}
    table = load_minimums()
    for page in current_facts(db, EXTRACTOR_VERSION, AMOUNT_KINDS):
        # Only the amounts under their year's floor can be reported: the others skip the clause test (a regex per
        # fact: 0.3 s for the 4,000 current amounts of 2,000 pages).
        low = [f for f in page["facts"] if _under_floor(table, f)]
        for item in below_national_minimum(low, page["region"]) if low else ():
            found.setdefault(page["source"], []).append({"url": page["url"], **item})
    return found


def _under_floor(table, fact: dict) -> bool:
    value, year = fact.get("value") or {}, fact.get("plan_year")
    amount = value.get("amount") if isinstance(value, dict) else None
    if year is None or not isinstance(amount, (int, float)) or fact.get("kind") not in AMOUNT_KINDS:
        return False
    floor = table.floor(year, fact["kind"])
    return floor is not None and amount < floor[0]


def below_minimum_line(source: str, item: dict) -> str:
    """One line of the report, e.g. ``below national minimum (低于国家最低标准): 太原 http://…: 个人缴费 350 < 400 元 (2025年度)``."""
    return (f"below national minimum (低于国家最低标准): {source} {item['url']}: "
            f"{KIND_NAMES.get(item['kind'], item['kind'])} {item['amount']} < {item['minimum']} 元 "
            f"({item['plan_year']}年度; national minimum of {item['national_year']}) — a stale page?")

HINT_REGIONS = 2  # regions named in a hint before "…"


def cut_hint(warning: dict) -> str:
    """One line telling what a cut warning means and what to do (README: "When a page's facts name other
    regions")."""
    if warning["code"] != "foreign_facts":
        return warning["code"]
    regions = warning["regions"]
    named = ", ".join(regions[:HINT_REGIONS]) + ("…" if len(regions) > HINT_REGIONS else "")
    pages = f" on {warning['pages']} pages" if warning.get("pages", 1) > 1 else ""
    profiles = [p for p in warning.get("profiles", ()) if p and p != "generic"]
    if profiles:
        return (f"facts name other regions ({named}){pages}: site profile {profiles[0]!r} may be cutting the "
                "wrong block; fix it, then `policywatch reextract --recut` (see README)")
    return (f"facts name other regions ({named}){pages}: the generic cut may be taking a sidebar; add a site "
            "profile, then `policywatch reextract --recut` (see README)")


def source_warnings(db: Database) -> dict[str, list[dict]]:
    """Source name → its cut warnings (storage.cutwarnings), each with its `hint` line."""
    return {name: [dict(w, hint=cut_hint(w)) for w in warnings]
            for name, warnings in current_cut_warnings(db).items()}


def scheduled_jobs(db: Database) -> dict[str, dict]:
    """Source name → the daemon's stored job for it (schedule label, next run time); empty without a daemon.
    Read from the job store's table, never through a scheduler (storage.jobstore.stored_jobs)."""
    jobs = {}
    for job in stored_jobs(db, JOBS_TABLE):
        if job["id"].startswith(CRAWL_PREFIX):
            for name in job["kwargs"].get("names", []):
                jobs[name] = dict(schedule=job["name"], next_run_at=job["next_run_at"])
    return jobs


def cluster_status(db: Database, redis_url: str | None) -> dict | None:
    """The cluster's workers (not known to have stopped) and the shared queue's length; None when there is no
    cluster (no queue configured, no worker ever registered)."""
    from storage.cluster import ClusterStore, any_running_cluster_run
    workers = ClusterStore(db).workers()
    if not workers and not redis_url:
        return None
    queue: dict = dict(url=None, length=None, error=None)
    if redis_url:
        from redis.exceptions import RedisError
        from spiders.cluster import PROTOCOL, QueueUnavailable, connect_queue, queue_key, queued
        from storage.db import safe_url
        queue["url"] = safe_url(redis_url)
        try:
            queue["length"] = queued(connect_queue(redis_url, timeout=3), queue_key(PROTOCOL))
        except QueueUnavailable as exc:
            queue["error"] = str(exc)
        except RedisError as exc:
            queue["error"] = f"Redis queue {safe_url(redis_url)}: {exc}"
    return dict(run_id=any_running_cluster_run(db), workers=workers, queue=queue)


def _uncached(_key: str, compute: Callable[[], Any]) -> Any:
    """The `memo` of a caller without a cache: compute now."""
    return compute()


def collect_status(config: Config, db: Database, redis_url: str | None = None,
                   memo: Callable[[str, Callable[[], Any]], Any] | None = None) -> dict:
    """Everything `status` shows, as plain data (datetimes are aware). `memo(key, compute)` may answer the
    whole-history reads (failing sources, last checks, cut warnings, amounts below the minimum) from a cache
    (the web view's); the time-dependent parts (locks, next runs, mutes) are always read now."""
    memo = memo or _uncached
    store = SnapshotStore(db)  # read only: `status` never writes (issue 13)
    daemon = current_holder(db, DAEMON_LOCK)
    crawl = current_holder(db, CHECK_LOCK)
    jobs = scheduled_jobs(db)
    failing = memo("failing", ChangeStore(db).failing_sources)
    overview = memo("last_checks", lambda: last_checks(db))
    warnings = memo("warnings", lambda: source_warnings(db))
    below = memo("below", lambda: below_minimum_by_source(db))
    now = datetime.now(timezone.utc)
    today = config.today()
    sources, next_fire = [], {}
    for src in config.sources:
        row = overview.get(src.name, {})
        job = jobs.get(src.name)
        if not src.enabled:
            next_run, planner = None, "disabled"
        elif job is not None:
            next_run, planner = job["next_run_at"], "daemon"
        else:
            # No daemon job: the time cron would run it if the crontab follows the schedule (one trigger per
            # distinct schedule: parsing a crontab 2,000 times took 0.3 s).
            if src.schedule not in next_fire:
                next_fire[src.schedule] = cron_trigger(src.schedule, config.timezone).get_next_fire_time(None, now)
            next_run, planner = next_fire[src.schedule], "schedule"
        sources.append(dict(name=src.name, schedule=src.schedule, enabled=src.enabled, next_run_at=next_run.astimezone(timezone.utc) if next_run else None,
                            next_run_from=planner, last_checked_at=row.get("checked_at"),
                            last_outcome=row.get("outcome"), last_error=row.get("error"),
                            failing=failing.get(src.name), warnings=warnings.get(src.name, []),
                            below_national_minimum=below.get(src.name, []), muted=src.muted(today),
                            mute_until=src.mute_until.isoformat() if src.mute_until else None))
    return dict(
        daemon=None if daemon is None else dict(host=daemon.host, pid=daemon.pid, since=daemon.acquired_at),
        check_running=None if crawl is None else dict(host=crawl.host, pid=crawl.pid, since=crawl.acquired_at),
        last_run=store.last_run(), sources=sources, alerts=ChangeStore(db).alert_summary(),
        cluster=cluster_status(db, redis_url))


def source_rows(config: Config, db: Database, sources: list,
                memo: Callable[[str, Callable[[], Any]], Any] | None = None) -> list[dict]:
    """The 来源 table's rows for `sources` (configured Source objects, e.g. one page of them): name, schedule,
    enabled, last check (time, outcome, error), failing, cut warnings — collect_status's keys for these, read
    only for these sources and without the next run and national-minimum parts the table does not show;
    `memo` as for collect_status."""
    memo = memo or _uncached
    failing = memo("failing", ChangeStore(db).failing_sources)
    overview = last_checks(db, [src.name for src in sources])
    warnings = memo("warnings", lambda: source_warnings(db))
    return [dict(name=src.name, schedule=src.schedule, enabled=src.enabled,
                 last_checked_at=overview.get(src.name, {}).get("checked_at"),
                 last_outcome=overview.get(src.name, {}).get("outcome"),
                 last_error=overview.get(src.name, {}).get("error"),
                 failing=failing.get(src.name), warnings=warnings.get(src.name, [])) for src in sources]


def collect_overview(config: Config, db: Database,
                     memo: Callable[[str, Callable[[], Any]], Any] | None = None) -> dict:
    """The part of collect_status the web view's 概览 shows — daemon, running check, last run, alerts, and the
    configured enabled sources that are failing (name, failing) — without the per-source table's queries;
    `memo` as for collect_status."""
    failing = (memo or _uncached)("failing", ChangeStore(db).failing_sources)
    daemon, crawl = current_holder(db, DAEMON_LOCK), current_holder(db, CHECK_LOCK)
    return dict(
        daemon=None if daemon is None else dict(host=daemon.host, pid=daemon.pid, since=daemon.acquired_at),
        check_running=None if crawl is None else dict(host=crawl.host, pid=crawl.pid, since=crawl.acquired_at),
        last_run=SnapshotStore(db).last_run(), alerts=ChangeStore(db).alert_summary(),
        failing=[dict(name=src.name, failing=failing[src.name]) for src in config.sources
                 if src.enabled and src.name in failing])


def status_healthy(status: dict) -> bool:
    """False when a source is failing, an alert could not be delivered, or a delivery's outcome is unknown (its
    sender died mid-send: `alerts --retry` resends it) (exit code 1).

    Cut warnings do not count: their facts were withheld, nothing wrong was stored or alerted; they ask
    for a site profile, not for someone to be woken up."""
    return not any(s["failing"] for s in status["sources"] if s["enabled"]) and not status["alerts"]["failed"] \
        and not status["alerts"].get("unknown")


def print_warnings(console, rows: list[dict]) -> None:
    """One line per source warning under the table (`warning: SOURCE: hint`), then one per page below the
    national minimum (below_minimum_line)."""
    for row in rows:
        for w in row.get("warnings") or ():
            console.print(f"warning: {row['name']}: {w['hint']}", markup=False, highlight=False, soft_wrap=True)
        for item in row.get("below_national_minimum") or ():
            console.print(below_minimum_line(row["name"], item), markup=False, highlight=False, soft_wrap=True)


def print_status(status: dict) -> None:
    """`policywatch status` as text: daemon, crawl, last run, alerts, the sources table and cut warnings."""
    from rich.console import Console
    from rich.table import Table
    console = Console(width=200 if not sys.stdout.isatty() else None)
    d, c, r, a = status["daemon"], status["check_running"], status["last_run"], status["alerts"]
    console.print(f"daemon: running, pid {d['pid']} on {d['host']} since {local_minute(d['since'])}" if d
                  else "daemon: not running (crawls come from cron, or nothing runs)")
    console.print(f"crawl: running now, pid {c['pid']} on {c['host']} since {local_minute(c['since'])}" if c
                  else "crawl: none running")
    if r:
        counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(r["counts"].items()))
        console.print(f"last run: {r['id']} {r['status']}, started {local_minute(r['started_at'])}"
                      + (f", {counts}" if counts else ""))
    console.print(f"alerts: {a['pending']} pending"
                  + (f" (oldest {local_minute(a['oldest_pending_at'])})" if a["oldest_pending_at"] else "")
                  + f", {a['failed']} failed, {a['sent']} sent"
                  + (f", {a['unknown']} unknown (sender died mid-send; resend with `alerts --retry`)"
                     if a.get("unknown") else ""))
    if status.get("cluster"):
        print_cluster(console, status["cluster"])
    table = Table("source", "schedule", "next run", "last check", "result", "failing")
    for s in status["sources"]:
        result = (s["last_outcome"] or "never checked") + (f": {s['last_error']}" if s["last_error"] else "")
        nxt = local_minute(s["next_run_at"]) + (" (cron)" if s["next_run_from"] == "schedule" else "")
        failing = f"since {local_minute(s['failing']['since'])}" if s["failing"] else ""
        muted = (f" (muted until {s['mute_until']})" if s.get("mute_until") else " (muted)") if s.get("muted") else ""
        table.add_row(s["name"] + ("" if s["enabled"] else " (disabled)") + muted, s["schedule"], nxt,
                      local_minute(s["last_checked_at"]), result, failing)
    console.print(table)
    print_warnings(console, status["sources"])


def print_cluster(console, cluster: dict) -> None:
    """The queue's length and one line per worker (host, pid, last seen, pages done in its current run)."""
    from spiders.cluster import PROTOCOL
    q = cluster["queue"]
    if q["url"]:
        console.print(f"queue: {q['url']}: " + (q["error"] if q["error"] else f"{q['length']} requests waiting"),
                      markup=False, highlight=False)
    run = cluster["run_id"]
    alive = [w for w in cluster["workers"] if w["alive"]]
    console.print(f"workers: {len(alive)} running" + (f", cluster run {run} in progress" if run else ""))
    for w in cluster["workers"]:
        state = "running" if w["alive"] else "gone (no heartbeat)"
        old = "" if w["protocol"] == PROTOCOL else f", queue protocol {w['protocol']}: upgrade it"
        pages = f", {w['pages_done']} pages in run {w['run_id']}" if w["run_id"] else ", no run yet"
        console.print(f"  worker {w['id']}: pid {w['pid']} on {w['host']} ({w['version']}), {state}, last seen "
                      f"{local_minute(w['last_seen'])}{pages}{old}", markup=False, highlight=False)
