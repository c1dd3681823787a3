"""What the daemon costs: its own memory over many crawls, and the time from a firing to a stored run.

    .venv/bin/python bench/daemon.py [--crawls 10] [--pages 20] [--db URL]

Serves `--pages` pages on 127.0.0.1, schedules them every few seconds with
`policywatch run`, and samples the daemon's RSS (it should stay flat: crawls
run in child processes) and each run's start delay after its firing time.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from monitor.localsite import LocalSite  # noqa: E402
from storage import Database  # noqa: E402
from storage.models import Run  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crawls", type=int, default=10)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--every", type=int, default=6, help="seconds between firings")
    ap.add_argument("--db", default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pw-daemon-bench-"))
    db_url = args.db or f"sqlite:///{tmp / 'h.db'}"
    site = LocalSite(tmp).start()
    body = "<html><head><title>通知{n}</title></head><body><div class='article'><h1>居民医保缴费通知{n}</h1>" + \
           "<p>2026年度个人缴费标准为每人每年400元，缴费时间为2025年9月1日至12月31日。</p>" * 20 + "</div></body></html>"
    urls = [site.route(f"p/{n}.html", body=body.format(n=n)) for n in range(args.pages)]
    sources = tmp / "sources.toml"
    sources.write_text(f'[defaults]\nschedule = "*/{args.every} * * * * *"\n' + "".join(
        f'[[source]]\nname = "p{n}"\nurl = "{u}"\n' for n, u in enumerate(urls)), encoding="utf-8")
    log = tmp / "run.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    daemon = subprocess.Popen([sys.executable, "-m", "monitor", "run", "--sources", str(sources), "--db", db_url,
                               "-s", "AUTOTHROTTLE_ENABLED=False"], stderr=log.open("w"), env=env, cwd=ROOT)
    samples = []
    begun = time.monotonic()
    try:
        db = Database(db_url)
        while True:
            with db.session() as s:
                runs = list(s.scalars(select(Run).where(Run.status == "finished").order_by(Run.id)))
            if time.monotonic() - begun > 3:  # past start-up imports
                samples.append(rss_mb(daemon.pid))
            if len(runs) >= args.crawls:
                break
            if daemon.poll() is not None:
                raise SystemExit(f"daemon exited: {log.read_text()}")
            time.sleep(0.5)
        starts = [m.group(1) for m in re.finditer(r"^(\S+ \S+) INFO policywatch.daemon: crawl of", log.read_text(),
                                                  re.M)]
        delays = []
        for run, started in zip(runs, starts):
            fired = datetime.strptime(started, "%Y-%m-%d %H:%M:%S,%f")
            delays.append(((run.started_at.replace(tzinfo=None) - fired).total_seconds(),
                           (run.finished_at - run.started_at).total_seconds()))
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(60)
        site.stop()
    print(f"{len(runs)} crawls of {args.pages} pages by `policywatch run` ({db_url.split(':')[0]}), daemon exit {code}")
    print(f"daemon RSS: first {samples[0]:.0f} MB, max {max(samples):.0f} MB, last {samples[-1]:.0f} MB")
    print(f"firing → run row (child start-up): median {statistics.median(d for d, _ in delays):.2f} s, "
          f"max {max(d for d, _ in delays):.2f} s")
    print(f"run duration (crawl + extract + diff): median {statistics.median(r for _, r in delays):.2f} s")


if __name__ == "__main__":
    main()
