"""Cluster benchmark: one `policywatch check --redis` over 1, 2 and 4 workers, beside a one-process check.

    .venv/bin/python bench/cluster.py [--sites 8] [--articles 40] [--latency 0.3] [--workers 1,2,4]
                                      [--capacity 8] [--json FILE]

A local site answers every page after `--latency` seconds (slow government sites: the latency-bound case) and
again with no delay (the CPU-bound case). Its pages are spread over `--sites` list sources, each under its own
host name; every name is a spelling of 127.0.0.1 (127.1, 2130706433, 0x7f000001 …), so Scrapy keeps one
politeness slot per "site" while nothing but 127.0.0.1 is ever contacted. Each worker may have `--capacity`
requests in flight (CONCURRENT_REQUESTS: one machine's share), each site 4 for the whole cluster.

Per worker count, on a new PostgreSQL database and an empty Redis (both throw-away, on 127.0.0.1): the workers
are started and registered first (they are long-running services), then the check is timed as a user waits
for it, whole process, start-up included, twice: the first run (it discovers the lists' articles, so they are
queued site by site as found) and the run after it, the daily case, where every page is known and planned
round-robin across sites. Reported for the second run: pages/s of the whole command, the crawl phase alone
(run start → last check stored), and the speed-up of the crawl phase against linear. The one-process check
(no --redis, CONCURRENT_REQUESTS = capacity) runs in the same session as the baseline.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.localredis import LocalRedis  # noqa: E402
from monitor.localsite import LocalSite  # noqa: E402
from storage.localpg import LocalPostgres  # noqa: E402

ALIASES = ["127.0.0.1", "127.1", "127.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.000.000.001",
           "017700000001", "0x7f.1", "0x7f.0.1"]
TARGET = 0.8  # of linear, up to 4 workers (issue 15)
SUMMARY = re.compile(r"run (\d+): (\d+) pages checked")


def write_site(root: Path, sites: int, articles: int) -> None:
    for s in range(sites):
        links = []
        for a in range(articles):
            name = f"s{s}-{a}.html"
            (root / name).write_text(
                f"<html><head><title>第{s}-{a}号居民医保通知</title></head><body><div class='article'>"
                f"<h1>第{s}-{a}号居民医保缴费通知</h1><p>2026年度城乡居民医保个人缴费标准为每人每年{380 + a}元。</p>"
                f"<p>集中缴费期为2025年9月1日至12月{1 + a % 28}日。</p>" + "<p>参保须知。</p>" * 40 +
                "</div></body></html>", encoding="utf-8")
            links.append(f"<li><a href='{name}'>{name}</a></li>")
        (root / f"list{s}.html").write_text("<ul>" + "".join(links) + "</ul>", encoding="utf-8")


def sources_file(path: Path, port: int, sites: int) -> Path:
    body = "".join(f'''
[[source]]
name = "site{s}"
url = "http://{ALIASES[s % len(ALIASES)]}:{port}/list{s}.html"
kind = "list"
follow = "s{s}-\\\\d+\\\\.html"
''' for s in range(sites))
    path.write_text(body, encoding="utf-8")
    return path


def env() -> dict:
    return {**{k: v for k, v in os.environ.items() if k not in ("POLICYWATCH_DB", "POLICYWATCH_REDIS")},
            "PYTHONPATH": str(REPO)}


PER_SITE = 4  # CONCURRENT_REQUESTS_PER_DOMAIN for the whole cluster (--per-site)


def settings(capacity: int) -> list[str]:
    return ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", f"CONCURRENT_REQUESTS={capacity}",
            "-s", f"CONCURRENT_REQUESTS_PER_DOMAIN={PER_SITE}", "-s", "POLICYWATCH_WORKERS=0"]


def new_db(pg: LocalPostgres, name: str) -> str:
    import sqlalchemy as sa
    admin = sa.create_engine(pg.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return pg.url.rsplit("/", 1)[0] + "/" + name


def crawl_seconds(db: str) -> float:
    import sqlalchemy as sa
    engine = sa.create_engine(db)
    with engine.connect() as c:
        start, end = c.execute(sa.text("SELECT r.started_at, max(k.checked_at) FROM runs r JOIN checks k "
                                       "ON k.run_id = r.id GROUP BY r.id ORDER BY r.id DESC LIMIT 1")).one()
    engine.dispose()
    return (end - start).total_seconds()


def timed_check(sources: Path, db: str, capacity: int, redis: str | None) -> dict:
    cmd = [sys.executable, "-m", "monitor", "check", "--sources", str(sources), "--db", db, "--progress", "line",
           *settings(capacity)]
    if redis:
        cmd += ["--redis", redis, "--wait-workers", "60"]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=1800)
    wall = time.monotonic() - start
    match = SUMMARY.search(proc.stdout)
    if proc.returncode != 0 or not match:
        raise SystemExit(f"check failed ({proc.returncode}): {proc.stderr[-800:]}")
    pages = int(match.group(2))
    crawl = crawl_seconds(db)
    return dict(pages=pages, wall_s=round(wall, 2), crawl_s=round(crawl, 2), pages_per_s=round(pages / wall, 1),
                crawl_pages_per_s=round(pages / crawl, 1))


def run_workers(count: int, redis: str, db: str, capacity: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-m", "monitor", "worker", "--redis", redis, "--db", db,
                               *settings(capacity)], env=env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(count)]
    import sqlalchemy as sa
    engine = sa.create_engine(db)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with engine.connect() as c:
                if c.execute(sa.text("SELECT count(*) FROM workers WHERE stopped_at IS NULL")).scalar() >= count:
                    break
        except sa.exc.SQLAlchemyError:
            pass
        time.sleep(0.2)
    engine.dispose()
    time.sleep(2.5)  # one heartbeat: each worker has seen the others and taken its share of the budget
    return procs


def scenario(label: str, latency: float, args, pg: LocalPostgres, tmp: Path) -> dict:
    www = tmp / "www"
    www.mkdir(parents=True, exist_ok=True)
    write_site(www, args.sites, args.articles)
    out: dict = dict(latency_s=latency, runs={})
    with LocalSite(www, latency=latency, validators=False) as site:
        sources = sources_file(tmp / "sources.toml", site.server.server_address[1], args.sites)
        db = new_db(pg, f"b_{label}_single")
        timed_check(sources, db, args.capacity, None)  # the first run discovers the lists' articles
        out["runs"]["single"] = timed_check(sources, db, args.capacity, None)
        print(f"{label}: one process: {out['runs']['single']}", flush=True)
        for n in args.workers:
            db = new_db(pg, f"b_{label}_w{n}")
            redis = LocalRedis()
            subprocess.run([sys.executable, "-m", "monitor", "status", "--db", db, "--sources", str(sources)],
                           env=env(), capture_output=True)  # creates the schema before the workers start
            procs = run_workers(n, redis.url, db, args.capacity)
            try:
                out["runs"][f"first_{n}"] = timed_check(sources, db, args.capacity, redis.url)
                out["runs"][f"workers_{n}"] = timed_check(sources, db, args.capacity, redis.url)
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait(60)
                redis.close()
            print(f"{label}: {n} workers: {out['runs'][f'workers_{n}']}", flush=True)
    base = out["runs"].get(f"workers_{args.workers[0]}")
    for n in args.workers:
        r = out["runs"][f"workers_{n}"]
        r["speedup"] = round(r["crawl_pages_per_s"] / base["crawl_pages_per_s"] * args.workers[0], 2)
        r["of_linear"] = round(r["speedup"] / n, 2)
    return out


def main() -> int:
    global PER_SITE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sites", type=int, default=8)
    ap.add_argument("--articles", type=int, default=40, help="articles per site (plus its list page)")
    ap.add_argument("--latency", type=float, default=0.3)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--capacity", type=int, default=8, help="CONCURRENT_REQUESTS of each worker")
    ap.add_argument("--per-site", type=int, default=PER_SITE,
                    help="requests in flight per site for the whole cluster (CONCURRENT_REQUESTS_PER_DOMAIN)")
    ap.add_argument("--skip-cpu", action="store_true", help="only the latency-bound case")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    args.workers = [int(n) for n in args.workers.split(",")]
    PER_SITE = args.per_site
    if args.sites > len(ALIASES):
        raise SystemExit(f"at most {len(ALIASES)} sites (host names of 127.0.0.1)")
    pg = LocalPostgres()
    report = dict(pages=args.sites * (args.articles + 1), sites=args.sites, capacity=args.capacity, per_site=PER_SITE,
                  cores=os.cpu_count())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            report["latency_bound"] = scenario("lat", args.latency, args, pg, Path(tmp) / "lat")
            if not args.skip_cpu:
                report["cpu_bound"] = scenario("cpu", 0.0, args, pg, Path(tmp) / "cpu")
    finally:
        pg.stop()
    print()
    for case in ("latency_bound", "cpu_bound"):
        if case not in report:
            continue
        runs = report[case]["runs"]
        print(f"{case} ({report['pages']} pages, {report[case]['latency_s']} s per answer):")
        print(f"  one process           {runs['single']['wall_s']:6.1f} s  {runs['single']['pages_per_s']:6.1f} pages/s"
              f"  (crawl {runs['single']['crawl_pages_per_s']} pages/s)")
        for n in args.workers:
            r = runs[f"workers_{n}"]
            print(f"  {n} worker{'s' if n > 1 else ' '}             {r['wall_s']:6.1f} s  {r['pages_per_s']:6.1f} pages/s"
                  f"  (crawl {r['crawl_pages_per_s']} pages/s, speed-up {r['speedup']} = {r['of_linear']:.2f} of "
                  f"linear; target ≥ {TARGET} when latency-bound)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
