"""SIGTERM stops a crawl promptly: queued requests are dropped at once, in-flight ones get a short grace, the
run is interrupted, unchecked pages are simply checked next run (issue 13 bug 2)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from conftest import ROOT, check, write_sources
from storage import Database
from storage.models import Check, Run

PAGES = 40
PAGE = ("<html><head><title>通知{n}</title></head><body><div class='article'><h1>2026年度居民医保缴费通知（{n}）</h1>"
        "<p>2026年度个人缴费标准为每人每年400元。</p></div></body></html>")


def test_sigterm_drops_queued_requests_and_the_next_check_fetches_the_rest(site, tmp_path):
    for n in range(PAGES):
        site.route(f"slow/{n}.html", body=PAGE.format(n=n), delay=8)  # longer than the grace
    sources = write_sources(tmp_path / "sources.toml", "".join(
        f'[[source]]\nname = "p{n}"\nurl = "{site.url(f"slow/{n}.html")}"\n' for n in range(PAGES)))
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "check", "--sources", str(sources), "--db", db_url,
                             "--progress", "line", "-s", "AUTOTHROTTLE_ENABLED=False",
                             "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4", "-s", "POLICYWATCH_STOP_GRACE=3"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(site.requests_for_prefix("/slow/")) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert site.requests_for_prefix("/slow/"), "the crawl did not start"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, (proc.returncode, err)
    db = Database(db_url)
    with db.session() as s:
        (run,) = s.scalars(select(Run)).all()
        checks = s.scalars(select(Check)).all()
    assert run.status == "interrupted"
    # in-flight downloads (8 s each) were cut after the 3 s grace, queued ones dropped: the old graceful
    # stop waited for every one of them and stored their checks; dropped requests are not errors either
    assert checks == []

    for n in range(PAGES):
        site.route(f"slow/{n}.html", body=PAGE.format(n=n))
    again = check(sources, db_url, "-s", "AUTOTHROTTLE_ENABLED=False", timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    with db.session() as s:
        checked = set(s.scalars(select(Check.page_id).where(Check.outcome == "new")).all())
    assert len(checked) == PAGES
