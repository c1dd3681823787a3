"""`policywatch status`: next runs, last results, failing sources and pending alerts, for cron users too."""
from __future__ import annotations

import json
import socket

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
    sources = write_sources(tmp_path / "sources.toml", """
        [[source]]
        name = "a"
        url = "http://127.0.0.1:1/a.html"
        """)
    proc = run_cli("status", "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'h.db'}", "--json")
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["last_run"] is None and status["sources"][0]["last_outcome"] is None
    assert status["alerts"] == {"pending": 0, "sent": 0, "failed": 0, "oldest_pending_at": None}
