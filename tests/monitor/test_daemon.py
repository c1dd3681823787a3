"""`policywatch run`: real APScheduler, real child crawls of the local site, real signals."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import FAST, ROOT, check, run_cli, run_rows, write_sources
from storage import Database, SnapshotStore
from storage.models import Check

EVERY_2S = "*/2 * * * * *"
NEVER_SOON = "0 3 1 1 *"  # 03:00 on 1 January


def page(n: int) -> str:
    return (f"<html><head><title>通知{n}</title></head><body><div class='article'>"
            f"<h1>关于2026年度城乡居民医保集中缴费的通知（{n}）</h1>"
            f"<p>2026年度个人缴费标准为每人每年400元，缴费时间为2025年9月1日至12月31日。</p>"
            f"</div></body></html>")


class DaemonProcess:
    """`policywatch run` in a child process; its log goes to a file the test reads."""

    def __init__(self, sources: Path, db_url: str, log: Path, *extra: str, db_in_env: bool = False) -> None:
        """`db_in_env` passes the URL as $POLICYWATCH_DB instead of --db."""
        self.log = log
        env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
        env["PYTHONPATH"] = str(ROOT)
        db = []
        if db_in_env:
            env["POLICYWATCH_DB"] = db_url
        else:
            db = ["--db", db_url]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--sources", str(sources), *db, *FAST, *extra],
            stdout=subprocess.DEVNULL, stderr=log.open("a"), cwd=ROOT, env=env)

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, needle: str, timeout: float = 90, count: int = 1) -> None:
        wait_until(lambda: self.text().count(needle) >= count, timeout,
                   lambda: f"{needle!r} not logged ×{count}:\n{self.text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_until(predicate, timeout: float, message=lambda: "timed out") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(message())
        time.sleep(0.2)


def status(sources: Path, db_url: str) -> dict:
    proc = run_cli("status", "--sources", str(sources), "--db", db_url, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def daemons():
    started: list[DaemonProcess] = []

    def start(*args, **kwargs) -> DaemonProcess:
        d = DaemonProcess(*args, **kwargs)
        started.append(d)
        return d

    yield start
    for d in started:
        d.kill()


def test_daemon_crawls_on_schedule_and_keeps_its_jobs_across_restart(site, db_url, tmp_path, daemons):
    sources = write_sources(tmp_path / "sources.toml", f"""
        [defaults]
        schedule = "{EVERY_2S}"
        [[source]]
        name = "太原"
        url = "{site.route("ty/1.html", body=page(1))}"
        """)
    first = daemons(sources, db_url, tmp_path / "run1.log")
    # a whole crawl child done: a run is `finished` once its crawl is, and `interrupted` again if it is
    # stopped while extracting or diffing
    first.wait_for_log("crawl finished")
    assert first.stop() == 0
    done = [r for r in run_rows(db_url) if r.status == "finished"]
    assert done and all(r.status != "running" for r in run_rows(db_url))
    assert "1 jobs added" in first.text()

    jobs = status(sources, db_url)["sources"]
    assert jobs[0]["next_run_from"] == "daemon" and jobs[0]["last_outcome"] in ("new", "not_modified", "unchanged")

    second = daemons(sources, db_url, tmp_path / "run2.log")
    second.wait_for_log("crawl finished")
    assert second.stop() == 0
    assert "0 jobs added, 0 removed, 0 changed, 1 kept" in second.text()
    assert len([r for r in run_rows(db_url) if r.status == "finished"]) > len(done)


def test_edited_sources_file_changes_the_jobs_and_a_broken_one_keeps_them(site, tmp_path, daemons):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    one = site.route("a.html", body=page(1))
    two = site.route("b.html", body=page(2))
    sources = tmp_path / "sources.toml"
    write_sources(sources, f"""
        [defaults]
        schedule = "{NEVER_SOON}"
        [[source]]
        name = "A"
        url = "{one}"
        """)
    daemon = daemons(sources, db_url, tmp_path / "run.log")
    daemon.wait_for_log("1 jobs added")
    before = {s["name"]: s for s in status(sources, db_url)["sources"]}
    assert before["A"]["next_run_from"] == "daemon"

    write_sources(sources, f"""
        [defaults]
        schedule = "{NEVER_SOON}"
        [[source]]
        name = "A"
        url = "{one}"
        schedule = "0 9 * * *"
        [[source]]
        name = "B"
        url = "{two}"
        """)
    daemon.wait_for_log("sources file reloaded: 1 jobs added, 0 removed, 1 changed, 0 kept")
    after = {s["name"]: s for s in status(sources, db_url)["sources"]}
    assert after["A"]["next_run_from"] == after["B"]["next_run_from"] == "daemon"
    assert after["A"]["next_run_at"].endswith("01:00:00+00:00")  # 09:00 Asia/Shanghai
    assert after["B"]["next_run_at"] != after["A"]["next_run_at"]

    good = sources.read_text(encoding="utf-8")
    sources.write_text(good + "\n[[source]]\nname = \"A\"\nurl = \"http://127.0.0.1:1/x\"\n", encoding="utf-8")
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_for_log("sources file not reloaded, keeping the current schedule")
    assert "duplicate" in daemon.text().split("not reloaded")[-1].splitlines()[0]
    copy = write_sources(tmp_path / "good.toml", good)
    kept = {s["name"]: s for s in status(copy, db_url)["sources"]}
    assert kept["A"]["next_run_at"] == after["A"]["next_run_at"] and kept["B"]["next_run_from"] == "daemon"
    assert daemon.stop() == 0


def test_sigterm_during_a_crawl_leaves_the_database_consistent(site, db_url, tmp_path, daemons):
    urls = [site.route(f"slow/{n}.html", body=page(n), delay=1.0) for n in range(8)]
    body = f'[defaults]\nschedule = "{EVERY_2S}"\n' + "".join(
        f'[[source]]\nname = "p{n}"\nurl = "{u}"\n' for n, u in enumerate(urls))
    sources = write_sources(tmp_path / "sources.toml", body)
    daemon = daemons(sources, db_url, tmp_path / "run.log", "-s", "CONCURRENT_REQUESTS=1",
                     "-s", "POLICYWATCH_STORE_BATCH=1")

    def some_checks() -> bool:
        db = Database(db_url)
        try:
            with db.session() as s:
                return s.scalar(select(Check.id).limit(1)) is not None
        finally:
            db.dispose()

    wait_until(some_checks, 90, daemon.text)
    assert daemon.stop(timeout=45) == 0
    assert "stopped" in daemon.text() and "Traceback" not in daemon.text(), daemon.text()
    all_runs = run_rows(db_url)
    assert all_runs and all(r.status in ("interrupted", "finished") for r in all_runs)
    assert all_runs[-1].status == "interrupted"
    store = SnapshotStore(Database(db_url))
    stored = store.checks()
    assert 0 < len(stored) < len(urls) * len(all_runs)
    assert all(c["outcome"] != "new" or c["snapshot_id"] for c in stored)

    proc = check(sources, db_url)
    assert proc.returncode == 0, proc.stderr
    last = run_rows(db_url)[-1]
    assert last.status == "finished" and sum(last.counts.values()) == len(urls)


def test_a_hanging_crawl_is_killed_at_its_time_limit(site, tmp_path, daemons):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    fine = site.route("fine.html", body=page(1))
    stuck = site.route("stuck.html", body=page(2), delay=120)
    sources = write_sources(tmp_path / "sources.toml", f"""
        [defaults]
        schedule = "{EVERY_2S}"
        crawl_timeout = 10
        [[source]]
        name = "fine"
        url = "{fine}"
        [[source]]
        name = "stuck"
        url = "{stuck}"
        """)
    daemon = daemons(sources, db_url, tmp_path / "run.log", "-s", "DOWNLOAD_TIMEOUT=600")
    daemon.wait_for_log("crawl stopped after its 10 s time limit", timeout=120)
    assert daemon.stop() == 0
    timed_out = [r for r in run_rows(db_url) if r.status == "timeout"]
    assert timed_out, daemon.text()
    checks = [c for c in SnapshotStore(Database(db_url)).checks() if c["run_id"] == timed_out[0].id]
    by_url = {c["url"]: c for c in checks}
    assert by_url[stuck]["outcome"] == "error" and "time limit" in by_url[stuck]["error"]
    assert by_url[fine]["outcome"] == "new"
    assert timed_out[0].counts["error"] >= 1


def test_a_second_daemon_on_the_same_database_is_refused(site, tmp_path, daemons):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    sources = write_sources(tmp_path / "sources.toml", f"""
        [defaults]
        schedule = "{NEVER_SOON}"
        [[source]]
        name = "A"
        url = "{site.route("a.html", body=page(1))}"
        """)
    first = daemons(sources, db_url, tmp_path / "run1.log")
    first.wait_for_log("jobs added")
    proc = run_cli("run", "--sources", str(sources), "--db", db_url, timeout=60)
    assert proc.returncode == 4
    assert f"another daemon is running (pid {first.proc.pid}" in proc.stderr
    assert first.stop() == 0


def test_run_with_a_broken_sources_file_exits_2(tmp_path):
    sources = write_sources(tmp_path / "sources.toml", '[defaults]\nschedule = "every day"\n')
    proc = run_cli("run", "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'h.db'}")
    assert proc.returncode == 2
    assert "bad cron schedule" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_daemon_delivers_pending_alerts_between_crawls(site, tmp_path, daemons, receiver):
    from monitor.alerts import queue_for_run
    from storage import ChangeStore
    from storage.store import SourceSpec

    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    url = site.route("a.html", body=page(1))
    db = Database(db_url)
    ids = SnapshotStore(db).sync_sources([SourceSpec(name="太原", url=url, region="太原市")])
    change = dict(source_id=ids["太原"], type="fact_changed", kind="personal_contribution",
                  old={"amount": 380, "qualifier": "exact", "change": None},
                  new={"amount": 400, "qualifier": "exact", "change": 20}, severity="high", region="140100",
                  plan_year=2026, url=url, evidence_after="个人缴费标准为每人每年400元。")
    # As a crawl whose delivery failed would leave it: pending, due now.
    ChangeStore(db).record_changes([change], alerts=queue_for_run([change], [receiver.url()], None))
    sources = write_sources(tmp_path / "sources.toml", f"""
        notify = ["{receiver.url()}"]
        [defaults]
        schedule = "{NEVER_SOON}"
        alert_retry = 1
        [[source]]
        name = "太原"
        url = "{url}"
        region = "太原市"
        """)
    daemon = daemons(sources, db_url, tmp_path / "run.log")
    daemon.wait_for_log("alerts: 1 sent")
    assert daemon.stop() == 0
    assert len(receiver.posts) == 1 and "400" in json.dumps(receiver.posts[0][1], ensure_ascii=False)
    assert [a["status"] for a in ChangeStore(db).alerts()] == ["sent"]
    assert run_rows(db_url) == []  # no crawl was needed


def _descendants(pid: int) -> list[int]:
    """Every live process below `pid`, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def test_daemon_never_puts_the_database_password_on_a_child_command_line(site, tmp_path, request, daemons):
    from sqlalchemy.engine import make_url
    from conftest import NewDatabase
    password = "Pw-s3cret-4711"  # the test server trusts local connections: any password works
    db_url = make_url(NewDatabase("postgresql", tmp_path, request)()).set(password=password) \
        .render_as_string(hide_password=False)
    url = site.route("slow/secret.html", body=page(1), delay=3.0)
    sources = write_sources(tmp_path / "sources.toml", f"""
        [defaults]
        schedule = "{EVERY_2S}"
        [[source]]
        name = "太原"
        url = "{url}"
        """)
    daemon = daemons(sources, db_url, tmp_path / "daemon.log")
    seen: dict[int, str] = {}

    def crawl_child_seen() -> bool:
        for pid in _descendants(daemon.proc.pid):
            seen.setdefault(pid, _cmdline(pid))
        return any(" check " in line for line in seen.values())

    wait_until(crawl_child_seen, 90, lambda: f"no crawl child started:\n{daemon.text()}")
    daemon.wait_for_log("crawl finished with exit code 0")
    assert [line for line in seen.values() if password in line] == []
    assert [r.status for r in run_rows(db_url)][:1] == ["finished"]  # the child found the database all the same


def test_daemon_crawls_sources_whose_names_look_like_options(site, tmp_path, daemons):
    sources = write_sources(tmp_path / "sources.toml", f"""
        [defaults]
        schedule = "{EVERY_2S}"
        [[source]]
        name = "-v"
        url = "{site.route("opt/1.html", body=page(1))}"
        [[source]]
        name = "--db=sqlite:///elsewhere.db"
        url = "{site.route("opt/2.html", body=page(2))}"
        """)
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    daemon = daemons(sources, db_url, tmp_path / "run.log")
    daemon.wait_for_log("crawl finished")
    assert daemon.stop() == 0
    assert "exit code 2" not in daemon.text(), daemon.text()
    store = SnapshotStore(Database(db_url))
    assert {s["source"] for s in store.snapshots()} == {"-v", "--db=sqlite:///elsewhere.db"}
    assert not (ROOT / "elsewhere.db").exists()


def test_a_source_name_with_a_control_character_is_refused(tmp_path):
    from monitor.config import ConfigError, parse_config
    with pytest.raises(ConfigError, match="control characters"):
        parse_config('[[source]]\nname = "a\\u0000b"\nurl = "http://127.0.0.1/a"\n')
