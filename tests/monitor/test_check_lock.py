"""Two overlapping `policywatch check` runs (cron firing twice) never crawl or alert twice."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from sqlalchemy import select

from conftest import FAST, ROOT, NewDatabase, run_cli, write_sources
from storage import ChangeStore, Database
from storage.locks import DatabaseLock, current_holder
from storage.models import Run


def slow_sources(site, tmp_path, receiver=None):
    pages = [site.route(f"slow/{n}.html", delay=1.0, body=(
        f"<html><head><title>通知{n}</title></head><body><div class='article'><h1>缴费通知{n}</h1>"
        f"<p>2026年度个人缴费标准为每人每年400元，缴费截止日期为2025年12月31日。</p></div></body></html>"))
        for n in range(3)]
    notify = f'notify = ["{receiver.url()}"]\n' if receiver else ""
    return write_sources(tmp_path / "sources.toml", notify + "".join(
        f'[[source]]\nname = "p{n}"\nurl = "{u}"\n' for n, u in enumerate(pages)))


def start_check(sources, db_url: str, *extra: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "monitor", "check", "--sources", str(sources), "--db", db_url,
                             "--progress", "line", *FAST, "-s", "CONCURRENT_REQUESTS=1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def wait_for_holder(db_url: str, timeout: float = 60) -> None:
    """Until some process holds the check lock (so the next one started is second for sure)."""
    db = Database(db_url)
    deadline = time.monotonic() + timeout
    while current_holder(db, "check") is None:
        assert time.monotonic() < deadline, "the first check never took the lock"
        time.sleep(0.1)
    db.dispose()


def all_runs(db_url: str) -> list[Run]:
    db = Database(db_url)
    with db.session() as s:
        return list(s.scalars(select(Run).order_by(Run.id)))


def test_two_concurrent_checks_crawl_once(site, db_url, tmp_path, receiver):
    sources = slow_sources(site, tmp_path, receiver)
    Database(db_url).dispose()  # migrate first, so both processes race for the lock, not the schema
    first = start_check(sources, db_url)
    second = start_check(sources, db_url)
    results = sorted([(p.wait(120), p.communicate()) for p in (first, second)], key=lambda r: r[0])
    (ok_code, (ok_out, ok_err)), (busy_code, (_, busy_err)) = results
    assert ok_code == 0, ok_err
    assert busy_code == 4
    assert "another check is running" in busy_err and "use --wait" in busy_err
    assert len(busy_err.strip().splitlines()) == 1
    runs = all_runs(db_url)
    assert len(runs) == 1 and runs[0].status == "finished"
    assert sum(runs[0].counts.values()) == 3
    alerts = ChangeStore(Database(db_url)).alerts()
    assert len(alerts) <= 1 and len(receiver.posts) == len([a for a in alerts if a["status"] == "sent"])


def test_check_with_wait_runs_after_the_first_finishes(site, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    sources = slow_sources(site, tmp_path)
    Database(db_url).dispose()
    first = start_check(sources, db_url)
    wait_for_holder(db_url)
    second = start_check(sources, db_url, "--wait")
    codes = [first.wait(120), second.wait(120)]
    assert codes == [0, 0], (first.communicate(), second.communicate())
    runs = all_runs(db_url)
    assert len(runs) == 2
    assert runs[1].started_at >= runs[0].finished_at
    assert runs[0].counts == {"new": 3}
    assert sum(runs[1].counts.values()) == 3 and "error" not in runs[1].counts


def test_wait_with_a_limit_gives_up_with_exit_4(site, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    sources = slow_sources(site, tmp_path)
    # The lock is held here until the check has given up, however slowly it starts on a loaded machine.
    with DatabaseLock(Database(db_url), "check"):
        started = time.monotonic()
        check = start_check(sources, db_url, "--wait", "0.5")
        code = check.wait(120)
        err = check.communicate()[1]
    assert code == 4, err
    assert "another check is running" in err
    assert time.monotonic() - started >= 0.5
    assert all_runs(db_url) == []


def test_reextract_and_import_wait_for_a_running_check(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    page = tmp_path / "old.html"
    page.write_text("<html><body><div class='article'><p>2024年度个人缴费标准为每人每年380元。</p></div></body></html>",
                    encoding="utf-8")
    sources = write_sources(tmp_path / "sources.toml", '[[source]]\nname = "a"\nurl = "http://127.0.0.1:1/a.html"\n')
    with DatabaseLock(Database(db_url), "check"):  # a crawl is running
        rex = run_cli("reextract", "--db", db_url)
        imp = run_cli("import", str(page), "--url", "http://127.0.0.1:1/a.html", "--fetched-at", "2024-10-01",
                      "--sources", str(sources), "--db", db_url, "--wait", "0.5")
    assert rex.returncode == imp.returncode == 4, (rex.stderr, imp.stderr)
    assert "another check is running" in rex.stderr and "another check is running" in imp.stderr
    imp = run_cli("import", str(page), "--url", "http://127.0.0.1:1/a.html", "--fetched-at", "2024-10-01",
                  "--sources", str(sources), "--db", db_url)
    assert imp.returncode == 0, imp.stderr


def terminate_lock_backend(db_url: str, name: str = "check") -> int:
    """What a PostgreSQL restart does to the lock: the backend holding it is gone (and with it the lock)."""
    from sqlalchemy import text
    from storage.locks import ADVISORY_NAMESPACE, _advisory_key
    db = Database(db_url, migrate=False)
    with db.engine.connect() as conn:
        killed = conn.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid::bigint = :ns AND objid::bigint = :k"),
            {"ns": ADVISORY_NAMESPACE, "k": _advisory_key(name)}).scalar()
        conn.commit()
    db.dispose()
    return killed


def test_check_whose_lock_dies_with_a_postgresql_restart_stops_with_exit_3(site, tmp_path, request, receiver):
    db_url = NewDatabase("postgresql", tmp_path, request)()
    sources = slow_sources(site, tmp_path, receiver)
    Database(db_url).dispose()
    first = start_check(sources, db_url)
    wait_for_holder(db_url)
    assert terminate_lock_backend(db_url) == 1
    second = start_check(sources, db_url)  # takes the free lock and crawls everything
    codes = [first.wait(120), second.wait(120)]
    (_, first_err), (_, second_err) = first.communicate(), second.communicate()
    assert codes == [3, 0], (first_err, second_err)
    assert first_err.strip().splitlines() == [
        "policywatch: lost the check lock (its database connection closed, e.g. a server restart); "
        "stopped without writing more"]
    runs = all_runs(db_url)
    assert [r.status for r in runs].count("finished") == 1
    db = Database(db_url)
    with db.session() as s:
        from storage.models import Extraction
        assert s.query(Extraction).count() == 3  # extracted once, by the second check
    assert len(receiver.posts) <= 1
