"""Extraction's worker processes die with the check that started them, even when it is killed with SIGKILL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from conftest import FAST, ROOT, write_sources
from storage import Database, SnapshotStore
from storage.store import CheckRecord, PageContent, SourceSpec

DEAD_URL = "http://127.0.0.1:9/notice.html"  # nothing listens on port 9: the crawl itself is one quick error
SENTENCE = "2026年度城乡居民医保个人缴费标准为每人每年400元，缴费时间为2025年9月1日至12月31日。"


def _proc_state(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state letter, command line) of a live process, None when it is gone."""
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
        cmdline = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0], cmdline


def _children(pid: int) -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            state = _proc_state(int(entry.name))
            if state and state[0] == pid and state[1] != "Z":
                found[int(entry.name)] = state[2]
    return found


def _alive(pid: int, cmdline: str) -> bool:
    """Still running as the same program (a zombie, or a reused pid running something else, is gone)."""
    state = _proc_state(pid)
    return state is not None and state[1] != "Z" and state[2] == cmdline


def _pending_snapshots(db_url: str, count: int) -> None:
    """`count` versions of one page, none of them extracted yet: what a crawl killed before extracting leaves."""
    store = SnapshotStore(Database(db_url))
    store.sync_sources([SourceSpec(name="太原", url=DEAD_URL)])
    [page] = store.pages_to_check()
    run = store.start_run()
    for n in range(count):
        text = f"第{n}版。" + SENTENCE * 400
        content = PageContent(main_text=text, title="通知", published_at=None, final_url=DEAD_URL,
                              encoding="utf-8", profile="generic", raw=text.encode("utf-8"))
        store.record_checks(run, [CheckRecord(page_id=page.page_id, checked_at=datetime.now(timezone.utc),
                                              http_status=200, content=content)])
    store.finish_run(run, {"new": count})
    store.db.dispose()


def test_extraction_workers_exit_when_the_check_is_killed(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    _pending_snapshots(db_url, 120)
    sources = write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "太原"\nurl = "{DEAD_URL}"\n')
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    # Pages are cut inline (POLICYWATCH_WORKERS=0): every worker process seen is the extract stage's.
    check = subprocess.Popen([sys.executable, "-m", "monitor", "check", "--sources", str(sources), "--db", db_url,
                              "--progress", "line", *FAST, "-s", "POLICYWATCH_WORKERS=0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT, env=env)
    workers: dict[int, str] = {}
    deadline = time.monotonic() + 120
    while len([cmd for cmd in workers.values() if "spawn_main" in cmd]) < 2:
        assert check.poll() is None, check.communicate()[1].decode()
        assert time.monotonic() < deadline, "the extract stage never started its workers"
        # the pool's workers (spawn_main) and multiprocessing's resource tracker
        workers.update({pid: cmd for pid, cmd in _children(check.pid).items() if "multiprocessing" in cmd})
        time.sleep(0.05)
    check.send_signal(signal.SIGKILL)
    check.wait(30)
    deadline = time.monotonic() + 60
    while any(_alive(pid, cmd) for pid, cmd in workers.items()):
        assert time.monotonic() < deadline, f"workers still running 60 s after the check was killed: {workers}"
        time.sleep(0.2)
