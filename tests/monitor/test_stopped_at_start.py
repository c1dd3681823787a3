"""A check stopped by SIGTERM while Scrapy builds its crawler (before the crawl's own signal handlers exist)
exits 130 with one line, records the run as interrupted, and neither extracts nor diffs (issue 16 items 8
and 15; found by tests/monitor/test_crash_consistency.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from conftest import FAST, ROOT, check, write_sources
from storage import Database
from storage.models import Run

EXTENSION = json.dumps({"slowstart.SlowStart": 0})


def test_sigterm_while_the_crawler_is_built_exits_130_with_one_line_and_the_run_interrupted(site, tmp_path):
    sources = write_sources(tmp_path / "sources.toml", f'''
        [[source]]
        name = "太原"
        url = "{site.url('ty/live/2024903/67541.shtm')}"
    ''')
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    Database(db_url).dispose()
    marker = tmp_path / "building"
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env.update(PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests'}", POLICYWATCH_TEST_SLOWSTART=str(marker))
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "check", "--sources", str(sources), "--db", db_url,
                             "--progress", "line", *FAST, "-s", f"EXTENSIONS={EXTENSION}"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the crawler was never built"
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err and err.strip() == "policywatch: terminated", err
    assert proc.returncode == 130, (proc.returncode, out)
    db = Database(db_url)
    try:
        with db.session() as s:
            assert [r.status for r in s.scalars(select(Run))] == ["interrupted"]
    finally:
        db.dispose()


def test_a_setting_scrapy_rejects_exits_2_with_one_line_and_nothing_finished(site, tmp_path):
    sources = write_sources(tmp_path / "sources.toml", f'''
        [[source]]
        name = "太原"
        url = "{site.url('ty/live/2024903/67541.shtm')}"
    ''')
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    Database(db_url).dispose()
    # (a value of the wrong type, DOWNLOAD_TIMEOUT=abc, is refused earlier, before the database is opened)
    proc = check(sources, db_url, "-s", 'EXTENSIONS={"nosuch.Ext": 500}')
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.strip() == "policywatch: could not start the crawl: No module named 'nosuch'"
    db = Database(db_url)
    try:
        with db.session() as s:
            assert [r.status for r in s.scalars(select(Run))] == ["interrupted"]
    finally:
        db.dispose()


def test_sigterm_while_the_command_line_is_parsed_exits_130_with_one_line(tmp_path):
    # A real SIGTERM, sent by the child to itself while argparse is being set up (after monitor.cli is imported
    # and before its own handler is installed): the window a random kill hit in the crash-consistency trials.
    code = ("import os, signal, monitor.cli as cli, monitor.__main__ as entry\n"
            "build = cli.build_parser\n"
            "def stopped():\n"
            "    os.kill(os.getpid(), signal.SIGTERM)\n"
            "    return build()\n"
            "cli.build_parser = stopped\n"
            "raise SystemExit(entry.entry())\n")
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-c", code, "sources"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.stderr.strip() == "policywatch: terminated", proc.stderr
    assert proc.returncode == 130
