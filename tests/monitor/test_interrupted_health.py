"""Health transitions survive an interrupted run: a run that stores the check reaching the threshold (the 3rd
consecutive error, or the first healthy check after failing) and dies before its diff stage leaves the
transition to the next run, which reports it exactly once (real crawls, real SIGTERM / SIGKILL)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from conftest import DEMO_SITE, FAST, ROOT, check, run_cli, write_sources
from storage import ChangeStore, Database
from storage.models import Check, Page

TAIYUAN = "ty/live/2024903/67541.shtm"
V1 = (DEMO_SITE / "v1" / TAIYUAN).read_text(encoding="utf-8")


def stored_checks(db_url: str, url: str) -> int:
    db = Database(db_url)
    try:
        with db.session() as s:
            return s.scalar(select(func.count()).select_from(Check).join(Page, Check.page_id == Page.id)
                            .where(Page.url == url))
    finally:
        db.dispose()


def interrupted_check(sources, db_url: str, url: str, sig: int) -> None:
    """A whole `check` (a slow page keeps its crawl going) signalled once the check of `url` is stored,
    i.e. before its diff stage."""
    before = stored_checks(db_url, url)
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "check", "--sources", str(sources), "--db", db_url,
                             "--progress", "line", *FAST, "-s", "DOWNLOAD_TIMEOUT=10"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while stored_checks(db_url, url) == before:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the check was never stored"
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (130, -signal.SIGKILL), (proc.returncode, out, err)
    assert "Traceback" not in err, err


def health_changes(db_url: str) -> list[str]:
    return [c["type"] for c in ChangeStore(Database(db_url)).changes()
            if c["type"] in ("source_failing", "source_recovered")]


def failing(sources, db_url: str) -> dict | None:
    proc = run_cli("status", "--sources", str(sources), "--db", db_url, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    return {s["name"]: s["failing"] for s in json.loads(proc.stdout)["sources"]}["太原"]


# Each signal on one database (the transition logic is the same on both; each database sees one kind of death).
@pytest.mark.parametrize("db_url, sig", [("sqlite", signal.SIGTERM), ("postgresql", signal.SIGKILL)],
                         ids=["sqlite-sigterm", "postgresql-sigkill"], indirect=["db_url"])
def test_failing_and_recovered_reached_in_an_interrupted_run_are_reported_once_by_the_next(site, db_url, tmp_path,
                                                                                         sig):
    url = site.route("flaky.shtm", body=V1)
    site.route("slow.html", body="<p>慢</p>", delay=600)  # only the interrupted runs fetch it
    sources = write_sources(tmp_path / "sources.toml", f'''
        [[source]]
        name = "太原"
        url = "{url}"
        [[source]]
        name = "慢"
        url = "{site.url('slow.html')}"
    ''')
    only = ("--source", "太原")
    assert check(sources, db_url, *only).returncode == 0  # the baseline
    site.route("flaky.shtm", status=503, body="<h1>503 Service Unavailable</h1>")
    for _ in range(2):
        assert check(sources, db_url, *only).returncode == 1
    interrupted_check(sources, db_url, url, sig)  # stores the 3rd HTTP 503, dies before its diff stage
    assert health_changes(db_url) == []
    assert check(sources, db_url, *only).returncode == 1  # the 4th HTTP 503
    assert health_changes(db_url) == ["source_failing"]
    assert failing(sources, db_url)["reason"] == "HTTP 503"
    assert check(sources, db_url, *only).returncode == 1  # the 5th: still one alert
    assert health_changes(db_url) == ["source_failing"]

    site.route("flaky.shtm", body=V1)
    interrupted_check(sources, db_url, url, sig)  # the first healthy check, then killed
    assert health_changes(db_url) == ["source_failing"]
    assert check(sources, db_url, *only).returncode == 0
    assert health_changes(db_url) == ["source_failing", "source_recovered"]
    assert failing(sources, db_url) is None
    assert check(sources, db_url, *only).returncode == 0
    assert health_changes(db_url) == ["source_failing", "source_recovered"]
