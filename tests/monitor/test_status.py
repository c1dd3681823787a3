"""`policywatch status`: next runs, last results, failing sources and pending alerts, for cron users too."""
from __future__ import annotations

import json
import socket
from datetime import datetime, timezone

from conftest import check, run_cli, write_sources


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_status_shows_failing_sources_and_pending_alerts(site, tmp_path, receiver):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    good = site.url("ty/live/2024903/67541.shtm")  # the demo's Taiyuan guide
    hook = receiver.url()
    receiver.stop()  # alerts cannot be delivered: they stay pending
    sources = write_sources(tmp_path / "sources.toml", f"""
        notify = ["{hook}"]
        [defaults]
        schedule = "30 7 * * *"
        [[source]]
        name = "good"
        url = "{good}"
        [[source]]
        name = "dead"
        url = "http://127.0.0.1:{closed_port()}/gone.html"
        """)
    for _ in range(3):  # the third unhealthy check in a row makes the source "failing"
        assert check(sources, db_url, "-s", "RETRY_TIMES=0").returncode == 1

    proc = run_cli("status", "--sources", str(sources), "--db", db_url, "--json")
    assert proc.returncode == 1, proc.stderr
    status = json.loads(proc.stdout)
    assert status["daemon"] is None and status["check_running"] is None
    assert status["last_run"]["status"] == "finished"
    by_name = {s["name"]: s for s in status["sources"]}
    assert by_name["dead"]["failing"] is not None and by_name["dead"]["last_outcome"] == "error"
    assert by_name["good"]["failing"] is None and by_name["good"]["last_outcome"] in ("not_modified", "unchanged")
    assert by_name["good"]["next_run_from"] == "schedule"
    assert by_name["good"]["next_run_at"].endswith("23:30:00+00:00")  # 07:30 Asia/Shanghai
    assert status["alerts"]["pending"] >= 1 and status["alerts"]["oldest_pending_at"]

    table = run_cli("status", "--sources", str(sources), "--db", db_url)
    assert table.returncode == 1
    assert "daemon: not running" in table.stdout and "pending" in table.stdout
    assert "(cron)" in table.stdout and "connection refused" in table.stdout


def test_status_of_a_fresh_database_is_healthy(tmp_path):
    from storage import Database
    sources = write_sources(tmp_path / "sources.toml", """
        [[source]]
        name = "a"
        url = "http://127.0.0.1:1/a.html"
        """)
    Database(f"sqlite:///{tmp_path / 'h.db'}").dispose()  # made, migrated, nothing checked yet
    proc = run_cli("status", "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'h.db'}", "--json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["last_run"] is None and status["sources"][0]["last_outcome"] is None
    assert status["alerts"] == {"pending": 0, "sending": 0, "sent": 0, "failed": 0, "unknown": 0,
                                "oldest_pending_at": None}


def _store_overdue_daemon_job(db_url: str, name: str) -> None:
    """Leave in the database what a stopped daemon leaves: a crawl job whose next run time has passed."""
    from datetime import datetime, timedelta, timezone

    from apscheduler.job import Job
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    from monitor.daemon import CRAWL_PREFIX, JOBS_TABLE
    from storage import Database
    db = Database(db_url)
    jobstore = SQLAlchemyJobStore(engine=db.engine, tablename=JOBS_TABLE)
    scheduler = BackgroundScheduler()  # never started: only needed to build the Job
    jobstore.start(scheduler, "default")
    overdue = datetime.now(timezone.utc) - timedelta(hours=2)
    jobstore.add_job(Job(scheduler, id=CRAWL_PREFIX + "30 7 * * *", func="monitor.daemon:crawl_job",
                         trigger=CronTrigger.from_crontab("30 7 * * *", timezone="Asia/Shanghai"), executor="default",
                         args=(), kwargs={"names": [name]}, name="30 7 * * *", misfire_grace_time=3600,
                         coalesce=True, max_instances=1, next_run_time=overdue))
    db.dispose()


def _job_rows(db_url: str) -> list[tuple]:
    import sqlite3
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
        return conn.execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs ORDER BY id").fetchall()


def test_status_leaves_a_stopped_daemons_overdue_jobs_alone(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    sources = write_sources(tmp_path / "sources.toml", """
        [defaults]
        schedule = "30 7 * * *"
        [[source]]
        name = "a"
        url = "http://127.0.0.1:1/a.html"
        """)
    _store_overdue_daemon_job(db_url, "a")
    before = _job_rows(db_url)

    proc = run_cli("status", "--sources", str(sources), "--db", db_url, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "Error submitting job" not in proc.stderr, proc.stderr
    assert _job_rows(db_url) == before  # the daemon, started later, still finds its missed crawl due
    row = json.loads(proc.stdout)["sources"][0]
    assert row["next_run_from"] == "daemon"
    assert row["next_run_at"] == datetime.fromtimestamp(before[0][1], timezone.utc).isoformat()


def test_human_times_follow_the_sources_files_timezone_and_json_stays_utc(tmp_path):
    from storage import Database
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    Database(db_url).dispose()
    sources = write_sources(tmp_path / "sources.toml", """
        [defaults]
        schedule = "30 7 * * *"
        timezone = "Asia/Urumqi"
        [[source]]
        name = "a"
        url = "http://127.0.0.1:1/a.html"
        """)
    table = run_cli("status", "--sources", str(sources), "--db", db_url)
    assert table.returncode == 0, table.stderr
    assert "07:30 +06:00 (cron)" in table.stdout
    as_json = json.loads(run_cli("status", "--sources", str(sources), "--db", db_url, "--json").stdout)
    assert as_json["sources"][0]["next_run_at"].endswith("01:30:00+00:00")


def test_daemon_log_lines_carry_the_sources_files_offset(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT
    sources = write_sources(tmp_path / "sources.toml", """
        [defaults]
        schedule = "0 3 1 1 *"
        timezone = "America/New_York"
        [[source]]
        name = "a"
        url = "http://127.0.0.1:1/a.html"
        """)
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--sources", str(sources),
                             "--db", f"sqlite:///{tmp_path / 'h.db'}"], cwd=ROOT, stderr=subprocess.PIPE,
                            text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        first = proc.stderr.readline()
        while "jobs added" not in first and first:
            first = proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(60)
    assert "jobs added" in first
    assert first[20:26] in ("-05:00", "-04:00"), first  # 2026-12-02 12:00:00 -05:00 INFO …
