"""Helpers of the cluster tests: a generated site of list sources, worker processes, run bookkeeping."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from conftest import ROOT, write_sources

WORKER_FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "RETRY_BACKOFF_BASE=0.05", "-s", "DOWNLOAD_TIMEOUT=10",
               "-s", "POLICYWATCH_STORE_INTERVAL=0.2", "-s", "POLICYWATCH_WORKERS=0"]


def write_site(root: Path, lists: int, articles: int, fee: int = 380) -> None:
    """`lists` list pages, each linking `articles` notices with their own fee and deadline."""
    root.mkdir(parents=True, exist_ok=True)
    for l in range(lists):
        links = []
        for a in range(articles):
            n = l * 1000 + a
            name = f"n{l}-{a}.html"
            (root / name).write_text(
                f"<html><head><title>{2026}年度第{n}号居民医保缴费通知</title></head><body>"
                f"<div class='article'><h1>第{n}号居民医保缴费通知</h1>"
                f"<p>2026年度城乡居民基本医疗保险个人缴费标准为每人每年{fee + a}元。</p>"
                f"<p>集中缴费期为2025年9月1日至2025年12月{1 + a % 28}日。</p></div></body></html>", encoding="utf-8")
            links.append(f"<li><a href='{name}'>第{n}号通知</a></li>")
        (root / f"list{l}.html").write_text("<html><body><ul>" + "".join(links) + "</ul></body></html>",
                                            encoding="utf-8")


def list_sources(path: Path, site, lists: int, defaults: str = "") -> Path:
    body = defaults + "".join(f'''
        [[source]]
        name = "市{l}"
        url = "{site.url(f'/list{l}.html')}"
        kind = "list"
        follow = "n{l}-\\\\d+\\\\.html"
        region = "杭州市"
        ''' for l in range(lists))
    return write_sources(path, body)


def _env() -> dict:
    return {**{k: v for k, v in os.environ.items() if k not in ("POLICYWATCH_DB", "POLICYWATCH_REDIS")},
            "PYTHONPATH": str(ROOT)}


def start_worker(redis_url: str, db_url: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "monitor", "worker", "--redis", redis_url, "--db", db_url,
                             *WORKER_FAST, *extra], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def wait_registered(db_url: str, count: int, timeout: float = 30.0) -> None:
    """Until `count` workers have registered in the database (their crawler is open)."""
    engine = sa.create_engine(db_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                with engine.connect() as c:
                    if c.execute(sa.text("SELECT count(*) FROM workers WHERE stopped_at IS NULL")).scalar() >= count:
                        return
            except sa.exc.SQLAlchemyError:
                pass  # not migrated yet
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise AssertionError(f"{count} workers did not register within {timeout} s")


@contextmanager
def workers(redis_url: str, db_url: str, count: int, *extra: str):
    """`count` running workers; on exit each is stopped with SIGTERM and must exit 0 without a traceback."""
    procs = [start_worker(redis_url, db_url, *extra) for _ in range(count)]
    try:
        wait_registered(db_url, count)
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                raise
    for p in procs:
        err = p.stderr.read()
        if p.returncode != -signal.SIGKILL:
            assert p.returncode == 0 and "Traceback" not in err, err[-2000:]


def scalar(db_url: str, sql: str, **params):
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as c:
            return c.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


def rows(db_url: str, sql: str, **params) -> list:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def wait_checks(db_url: str, run_id: int, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (scalar(db_url, "SELECT count(*) FROM checks WHERE run_id = :r", r=run_id) or 0) >= count:
                return
        except sa.exc.SQLAlchemyError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not reach {count} checks")


def one_check_per_page(db_url: str, run_id: int) -> tuple[int, int]:
    """(checks of the run, distinct pages among them)."""
    return (scalar(db_url, "SELECT count(*) FROM checks WHERE run_id = :r", r=run_id),
            scalar(db_url, "SELECT count(DISTINCT page_id) FROM checks WHERE run_id = :r", r=run_id))
