"""An emptied sources file is refused (exit 2, one line) instead of disabling every source, unless
`--allow-empty` says that is meant (check and run)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from conftest import FAST, ROOT, check, run_cli, write_sources
from storage import Database
from storage.models import Source

TAIYUAN = "ty/live/2024903/67541.shtm"
EMPTIED = 'notify = []\n[defaults]\nschedule = "0 8 * * *"\n'


def enabled(db_url: str) -> dict[str, bool]:
    db = Database(db_url)
    try:
        with db.session() as s:
            return {src.name: src.enabled for src in s.query(Source)}
    finally:
        db.dispose()


def test_check_refuses_a_sources_file_without_sources_and_keeps_them_enabled(site, tmp_path):
    sources = write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "太原"\nurl = "{site.url(TAIYUAN)}"\n')
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    assert check(sources, db_url).returncode == 0
    sources.write_text(EMPTIED, encoding="utf-8")
    requests = len(site.requests)
    proc = check(sources, db_url)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no sources" in proc.stderr and "--allow-empty" in proc.stderr
    assert enabled(db_url) == {"太原": True}
    assert len(site.requests) == requests


def test_check_with_allow_empty_disables_every_source(site, tmp_path):
    sources = write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "太原"\nurl = "{site.url(TAIYUAN)}"\n')
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    assert check(sources, db_url).returncode == 0
    sources.write_text(EMPTIED, encoding="utf-8")
    proc = check(sources, db_url, "--allow-empty")
    assert proc.returncode == 0, proc.stderr
    assert enabled(db_url) == {"太原": False}


def test_run_refuses_a_sources_file_without_sources(tmp_path):
    sources = write_sources(tmp_path / "sources.toml", EMPTIED)
    proc = run_cli("run", "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'h.db'}", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no sources" in proc.stderr and "--allow-empty" in proc.stderr


def test_run_with_allow_empty_starts_with_no_sources(tmp_path):
    sources = write_sources(tmp_path / "sources.toml", EMPTIED)
    log = tmp_path / "run.log"
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--sources", str(sources), "--db",
                                 f"sqlite:///{tmp_path / 'h.db'}", "--allow-empty", *FAST],
                                stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT, env=env)
        try:
            import time
            deadline = time.monotonic() + 60
            while "0 sources in 0 schedules" not in log.read_text() and time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()
                time.sleep(0.2)
            assert "0 sources in 0 schedules" in log.read_text(), log.read_text()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
