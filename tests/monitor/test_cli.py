"""The command line: exit codes, clear one-line errors, `sources`, `demo`, and crash safety."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from sqlalchemy import text

from conftest import FAST, ROOT, check, run_cli, write_sources
from storage import Database, SnapshotStore

TAIYUAN = "ty/live/2024903/67541.shtm"


def one_source(tmp_path, site, path=TAIYUAN):
    return write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "太原"\nurl = "{site.url(path)}"\n')


def test_clean_run_exits_0_and_prints_one_summary_line(site, tmp_path):
    proc = check(one_source(tmp_path, site), f"sqlite:///{tmp_path / 'h.db'}")
    assert proc.returncode == 0
    # the page's facts are extracted with its cut, during the crawl: the extract stage after it has none left
    assert proc.stdout.splitlines() == ["run 1: 1 pages checked: 1 new, 0 changed, 0 unchanged, 0 not modified, 0 error"]
    assert proc.stderr == f"policywatch: created a new history database: sqlite:///{tmp_path / 'h.db'}\n"
    assert check(one_source(tmp_path, site), f"sqlite:///{tmp_path / 'h.db'}").stderr == ""  # said once
    # The run leaves SQLite's query planner statistics of the tables it wrote (Database.refresh_statistics).
    with Database(f"sqlite:///{tmp_path / 'h.db'}").engine.connect() as conn:
        analysed = set(conn.execute(text("SELECT tbl FROM sqlite_stat1")).scalars())
    assert {"checks", "snapshots", "facts"} <= analysed


def test_broken_sources_file_crawls_nothing(site, tmp_path):
    sources = write_sources(tmp_path / "sources.toml",
                            f'[[source]]\nname = "太原"\nurl = "{site.url(TAIYUAN)}"\nschedule = "daily"\n')
    proc = run_cli("check", "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'h.db'}")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"policywatch: {sources}:4:")
    assert site.requests == [] and not (tmp_path / "h.db").exists()


def test_unknown_source_name_is_a_usage_error(site, tmp_path):
    proc = run_cli("check", "--sources", str(one_source(tmp_path, site)), "--db", f"sqlite:///{tmp_path / 'h.db'}",
                   "--source", "不存在")
    assert proc.returncode == 2 and "no source named '不存在'" in proc.stderr
    assert site.requests == []


def test_bad_setting_override_is_a_usage_error(site, tmp_path):
    proc = run_cli("check", "--sources", str(one_source(tmp_path, site)), "--db", f"sqlite:///{tmp_path / 'h.db'}",
                   "-s", "NOEQUALS")
    assert proc.returncode == 2 and "-s expects KEY=VALUE" in proc.stderr


def test_unreachable_database_exits_3_with_one_line(site, tmp_path):
    # Through the environment: a password in --db adds its own warning line (tests/monitor/test_db_password.py).
    proc = run_cli("check", "--sources", str(one_source(tmp_path, site)),
                   env={"POLICYWATCH_DB": "postgresql://pw:hunter2@127.0.0.1:1/policywatch"})
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and "cannot open database" in proc.stderr and "hunter2" not in proc.stderr


def test_missing_sources_file_exits_2(tmp_path):
    proc = run_cli("check", "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path)
    assert proc.returncode == 2 and "sources.toml: sources file not found" in proc.stderr


def test_db_from_environment(site, tmp_path):
    env_db = f"sqlite:///{tmp_path / 'env.db'}"
    proc = run_cli("check", "--sources", str(one_source(tmp_path, site)), *FAST, env={"POLICYWATCH_DB": env_db})
    assert proc.returncode == 0 and (tmp_path / "env.db").exists()


def test_sources_lists_last_check(site, db_url, tmp_path):
    sources = one_source(tmp_path, site)
    check(sources, db_url)
    proc = run_cli("sources", "--sources", str(sources), "--db", db_url, "--json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert (row["name"], row["last_outcome"], row["pages"], row["snapshots"]) == ("太原", "new", 1, 1)
    table = run_cli("sources", "--sources", str(sources), "--db", db_url)
    assert "太原" in table.stdout and "new" in table.stdout


def test_demo_runs_offline_and_shows_the_change():
    proc = run_cli("demo", timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "+太原市2025年度城乡居民医保的缴费时间为2024年9月1日至2025年3月31日" in proc.stdout
    assert "changed" in proc.stdout and "not_modified" in proc.stdout


def test_killed_run_leaves_no_half_written_rows_and_next_run_completes(site, db_url, tmp_path):
    paths = [f"slow/{i}.html" for i in range(30)]
    body = (ROOT / "monitor/demo_site/v1" / TAIYUAN).read_text(encoding="utf-8")
    for i, path in enumerate(paths):
        site.route(path, body=body.replace("400元/人/年", f"{400 + i}元/人/年"), delay=0.3)
    sources = write_sources(tmp_path / "sources.toml", "".join(
        f'[[source]]\nname = "p{i}"\nurl = "{site.url(p)}"\n' for i, p in enumerate(paths)))
    cmd = [sys.executable, "-m", "monitor", "check", "--sources", str(sources), "--db", db_url, "--progress", "line",
           *FAST, "-s", "POLICYWATCH_STORE_BATCH=3", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    db = Database(db_url)
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until some, not all, checks are stored
        with db.engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM checks")).scalar()
        if stored >= 3:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with db.engine.connect() as conn:
        checks = conn.execute(text("SELECT count(*) FROM checks")).scalar()
        orphans = conn.execute(text(
            "SELECT count(*) FROM snapshots s WHERE NOT EXISTS (SELECT 1 FROM checks c WHERE c.snapshot_id = s.id)"
        )).scalar()
        unbacked = conn.execute(text(
            "SELECT count(*) FROM checks c WHERE c.outcome = 'new' AND NOT EXISTS "
            "(SELECT 1 FROM snapshots s WHERE s.id = c.snapshot_id)")).scalar()
        dangling = conn.execute(text(
            "SELECT count(*) FROM pages p WHERE p.last_snapshot_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM snapshots s WHERE s.id = p.last_snapshot_id)")).scalar()
    assert 3 <= checks < 30
    assert orphans == 0 and unbacked == 0 and dangling == 0
    again = check(sources, db_url)
    assert again.returncode == 0, again.stderr
    store = SnapshotStore(Database(db_url))
    assert len(store.snapshots()) == 30  # every page has its one snapshot, none twice
    with db.engine.connect() as conn:
        statuses = [r[0] for r in conn.execute(text("SELECT status FROM runs ORDER BY id"))]
    assert statuses == ["interrupted", "finished"]


def test_progress_bar_mode_reports_pages_and_summary(site, tmp_path):
    proc = check(one_source(tmp_path, site), f"sqlite:///{tmp_path / 'h.db'}", "--progress", "bar")
    assert proc.returncode == 0
    assert "run 1: 1 pages checked: 1 new" in proc.stderr and proc.stdout == ""


def test_progress_bar_names_the_stages_after_the_crawl(site, tmp_path):
    proc = run_cli("check", "--sources", str(one_source(tmp_path, site)), "--db", f"sqlite:///{tmp_path / 'h.db'}",
                   "--progress", "bar", *FAST)
    assert proc.returncode == 0, proc.stderr
    assert "extracting facts…" in proc.stderr and "diffing and queueing alerts…" in proc.stderr
    assert proc.stderr.index("extracting facts…") < proc.stderr.index("diffing and queueing alerts…")
    assert "run 1:" in proc.stderr  # on a terminal the summary goes to the same stream as the bar


def _popen_check(site, tmp_path):
    import os
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "monitor", "check", "--sources", str(one_source(tmp_path, site)),
                             "--db", f"sqlite:///{tmp_path / 'h.db'}", "--progress", "line", *FAST],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_after_the_summary_line_keeps_the_commands_exit_code(site, tmp_path):
    for _ in range(3):  # the moment after the summary varies: teardown of Scrapy, the pools, the database
        proc = _popen_check(site, tmp_path)
        line = proc.stdout.readline()
        assert line.startswith("run "), line
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (proc.returncode, err)
        assert "Traceback" not in err and "Exception ignored" not in err, err


def test_sigterm_while_the_command_line_loads_exits_130_with_one_line(site, tmp_path):
    proc = _popen_check(site, tmp_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # SIGTERM (15) caught: the handler is in place
        try:
            status = open(f"/proc/{proc.pid}/status").read()
        except FileNotFoundError:
            break
        caught = int(next(l.split()[1] for l in status.splitlines() if l.startswith("SigCgt:")), 16)
        if caught & (1 << (signal.SIGTERM - 1)):
            break
        time.sleep(0.001)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, err)
    assert err.strip() == "policywatch: terminated", err
