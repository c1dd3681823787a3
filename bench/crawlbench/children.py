"""The timed subprocesses (bare Scrapy, `policywatch check`) and the input files they read."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from crawlbench import BENCH, REPO
from crawlbench.dbsize import pg_driver

SUMMARY = re.compile(r"run (\d+): (\d+) pages checked: (\d+) new, (\d+) changed, (\d+) unchanged, "
                     r"(\d+) not modified, (\d+) error")


def run_child(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Run cmd to completion; return exit code, wall seconds (fork to exit), peak RSS (KB), CPU and its output."""
    with open(log, "w") as out:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    return dict(rc=proc.returncode, wall=wall, maxrss_kb=usage.ru_maxrss, cpu=usage.ru_utime + usage.ru_stime,
                output=log.read_text(errors="replace"))


def scrapy_args(concurrency: int, stats_file: Path, extra: list[str]) -> list[str]:
    settings = [f"CONCURRENT_REQUESTS={concurrency}", f"CONCURRENT_REQUESTS_PER_DOMAIN={concurrency}",
                "AUTOTHROTTLE_ENABLED=False", 'EXTENSIONS={"scrapyhelp.BenchStats": 0}',
                f"BENCH_STATS_FILE={stats_file}", *extra]
    return [a for s in settings for a in ("-s", s)]


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH")]))
    env.pop("POLICYWATCH_DB", None)
    return env


def run_bare(urls_file: Path, work: Path, tag: str, concurrency: int) -> dict:
    """`python bench/scrapyhelp.py URLS`: fetch every URL once, count the responses."""
    stats = work / f"bare-{tag}.json"
    res = run_child([sys.executable, str(BENCH / "scrapyhelp.py"), str(urls_file),
                     *scrapy_args(concurrency, stats, [])], work / f"bare-{tag}.log", child_env())
    if res["rc"] != 0 or not stats.exists():
        raise RuntimeError(f"bare Scrapy failed (exit {res['rc']}):\n{res['output'][-3000:]}")
    res["bench"] = json.loads(stats.read_text())
    m = re.search(r"bare: (\d+) responses", res["output"])
    res["responses"] = int(m.group(1)) if m else 0
    return res


def run_check(sources: Path, db_url: str, work: Path, tag: str, concurrency: int, extra: list[str]) -> dict:
    """`python -m monitor check` on sources into db_url, with the BenchStats extension."""
    stats = work / f"pw-{tag}.json"
    cmd = [sys.executable, "-m", "monitor", "check", "--sources", str(sources), "--db", db_url,
           "--progress", "line", *scrapy_args(concurrency, stats, extra)]
    res = run_child(cmd, work / f"pw-{tag}.log", child_env())
    m = SUMMARY.search(res["output"])
    if res["rc"] not in (0, 1) or not m or not stats.exists():
        raise RuntimeError(f"policywatch check failed (exit {res['rc']}):\n{res['output'][-3000:]}")
    run_id, done, new, changed, unchanged, not_modified, error = map(int, m.groups())
    res.update(run_id=run_id, counts=dict(done=done, new=new, changed=changed, unchanged=unchanged,
                                          not_modified=not_modified, error=error))
    res["bench"] = json.loads(stats.read_text())
    res["run_seconds"] = run_seconds(db_url, run_id)
    return res


def run_seconds(db_url: str, run_id: int) -> float | None:
    """runs.finished_at - runs.started_at (policywatch's own record of the run)."""
    import sqlalchemy as sa
    from datetime import datetime
    engine = sa.create_engine(pg_driver(db_url))
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT started_at, finished_at FROM runs WHERE id = :i"), {"i": run_id}).first()
    finally:
        engine.dispose()
    if not row or not row[1]:
        return None
    a, b = (v if isinstance(v, datetime) else datetime.fromisoformat(str(v)) for v in row)
    return (b - a).total_seconds()


def write_sources(path: Path, urls: list[str]) -> None:
    """A policywatch sources file with one [[source]] per URL, named p0001, p0002, ..."""
    lines = []
    for i, url in enumerate(urls, 1):
        lines += ["[[source]]", f'name = "p{i:04d}"', f'url = "{url}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_urls(path: Path, urls: list[str]) -> None:
    """The bare Scrapy baseline's input: one URL a line."""
    path.write_text("".join(u + "\n" for u in urls))
