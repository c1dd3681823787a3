"""Web view at scale (issue 14): every page of `policywatch serve` timed over HTTP on the synthetic 5-year history.

    .venv/bin/python bench/web.py [--history FILE | --pg | --db URL --reuse] [--sources 2000] [--years 5]
                                  [--warm 5] [--keep] [--json FILE] [--code CHECKOUT]

The history is bench/history_scale.py's generator (2,000 sources × 5 years: 4.0 M checks, 100 k snapshots,
1.1 M facts, 392 k changes), written once: `--history /tmp/FILE.db` generates a SQLite file when it does not
exist and reuses it when it does; `--pg` generates into a throw-away PostgreSQL cluster (storage.localpg;
`--keep` leaves it running and prints its URL for `--db URL --reuse`). A sources file naming all 2,000
sources is written beside it (the 概览, 来源 and /api/status pages read it, as `policywatch serve` does).

Each page is requested from a real `policywatch serve` (uvicorn in a child process on 127.0.0.1):
cold = the first request to a freshly started server (templates compiled, connection pool and SQLite
page cache empty; the OS file cache is warm); warm = the median of --warm more requests to the same
server. Each time is what a client waits for: connect, request, the whole body read. Target < 300 ms.
The paged pages are timed on their first page and on a later one (`?page=N`; code without paging ignores it
and serves the whole page).
Only 127.0.0.1 is contacted.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.history_scale import World, bench_cluster, generate  # noqa: E402
from storage.db import Database  # noqa: E402

TARGET_MS = 300.0


def log(msg: str = "") -> None:
    print(msg, flush=True)


def write_sources(db: Database, path: Path) -> int:
    """A sources file naming every source of the database (name, url, kind, region), as a deployment's would."""
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, url, kind, region, follow FROM sources ORDER BY id")).all()
    out = ['[defaults]\ntimezone = "Asia/Shanghai"\n']
    for name, url, kind, region, follow in rows:
        out.append(f'[[source]]\nname = {json.dumps(name, ensure_ascii=False)}\nurl = "{url}"\nkind = "{kind}"\n'
                   + (f'follow = {json.dumps(follow)}\n' if follow else "")
                   + (f'region = {json.dumps(region, ensure_ascii=False)}\n' if region else ""))
    path.write_text("\n".join(out), encoding="utf-8")
    return len(rows)


def targets(db: Database) -> dict:
    """The pages' arguments: the province whose cities have the most changes, its busiest city, the source
    with the most versions."""
    with db.engine.connect() as conn:
        counts = conn.execute(sa.text("SELECT region, count(*) FROM changes WHERE region IS NOT NULL "
                                      "GROUP BY region")).all()
        source = conn.execute(sa.text(
            "SELECT s.name FROM sources s JOIN pages p ON p.source_id = s.id JOIN snapshots n ON n.page_id = p.id "
            "GROUP BY s.name ORDER BY count(*) DESC, s.name LIMIT 1")).scalar()
    cities = [(n, code) for code, n in counts if not code.endswith("0000")]
    by_province: dict[str, int] = {}
    for n, code in cities:
        by_province[code[:2]] = by_province.get(code[:2], 0) + n
    province = max(by_province, key=lambda k: (by_province[k], k))
    city = max((n, code) for n, code in cities if code.startswith(province))[1]
    return dict(province=province + "0000", city=city, source=source)


def pages(t: dict) -> list[tuple[str, str]]:
    """(label, path) of every page timed."""
    q = lambda **kw: "?" + urlencode(kw)  # noqa: E731
    return [
        ("概览 /", "/"),
        ("/changes", "/changes"),
        ("/changes province + high", "/changes" + q(region=t["province"], severity="high")),
        ("/changes kind + since", "/changes" + q(kind="payment_deadline", since="2025-01-01")),
        ("/changes source", "/changes" + q(source=t["source"])),
        ("/sources", "/sources"),
        ("/sources?page=20", "/sources?page=20"),
        ("/sources/NAME", "/sources/" + quote(t["source"], safe="")),
        ("/regions/PROVINCE", f"/regions/{t['province']}"),
        ("/regions/PROVINCE?cities=all", f"/regions/{t['province']}?cities=all"),
        ("/regions/PROVINCE?cities=all p5", f"/regions/{t['province']}?cities=all&page=5"),
        ("/regions/CITY", f"/regions/{t['city']}"),
        ("/facts", "/facts"),
        ("/facts sorted", "/facts" + q(sort="personal_contribution")),
        ("/facts?region=PROVINCE", "/facts" + q(region=t["province"])),
        ("/facts?region=全国", "/facts" + q(region="000000")),
        ("/facts?region=全国 p3", "/facts" + q(region="000000", page=3)),
        ("/api/changes", "/api/changes"),
        ("/api/changes province", "/api/changes" + q(region=t["province"])),
        ("/api/changes after", "/api/changes" + q(after=100000)),
        ("/api/history CITY", "/api/history" + q(region=t["city"])),
        ("/api/history PROVINCE kind", "/api/history" + q(region=t["province"], kind="personal_contribution")),
        ("/api/status", "/api/status"),
    ]


class Server:
    """`python -m monitor serve --port 0` over the database, in a child process."""

    def __init__(self, url: str, sources: Path, code: Path = ROOT) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("POLICYWATCH_DB", "POLICYWATCH_TOKEN")}
        env["PYTHONPATH"] = str(code)
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--sources", str(sources),
                                      "--db", url, "--port", "0"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     text=True, cwd=code, env=env)
        line = self.proc.stderr.readline()
        found = re.search(r"http://[^:]+:(\d+)/", line)
        if not found:
            self.proc.kill()
            raise SystemExit(f"serve did not start: {line}{self.proc.stderr.read()}")
        self.port = int(found.group(1))

    def get(self, path: str) -> tuple[float, int, int]:
        """(seconds, status, body bytes) of one request on a new connection."""
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        secs = time.perf_counter() - t0
        conn.close()
        return secs, resp.status, len(body)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def measure(url: str, sources: Path, todo: list[tuple[str, str]], warm: int, code: Path = ROOT) -> list[dict]:
    """Cold (a fresh server's first request) and warm (median of `warm`) times of each page, served by the
    code in `code` (a checkout of policywatch)."""
    out = []
    for label, path in todo:
        srv = Server(url, sources, code)
        try:
            cold, status, size = srv.get(path)
            times = [srv.get(path)[0] for _ in range(warm)]
        finally:
            srv.stop()
        row = dict(page=label, path=path, status=status, bytes=size, cold_ms=cold * 1000,
                   warm_ms=statistics.median(times) * 1000, warm_runs_ms=[t * 1000 for t in times])
        row["pass"] = status == 200 and row["cold_ms"] < TARGET_MS and row["warm_ms"] < TARGET_MS
        log(f"{label:<32}{status:>4}{size / 1000:>10.0f} kB{row['cold_ms']:>10.0f}{row['warm_ms']:>10.0f}  "
            f"{'PASS' if row['pass'] else 'FAIL'}")
        out.append(row)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--history", help="SQLite file: generated when missing, reused when present")
    ap.add_argument("--pg", action="store_true", help="generate into a throw-away PostgreSQL cluster on 127.0.0.1")
    ap.add_argument("--db", help="a database URL already holding the generated history (with --reuse)")
    ap.add_argument("--reuse", action="store_true", help="--db holds a generated history: do not generate")
    ap.add_argument("--sources", type=int, default=2000)
    ap.add_argument("--years", type=float, default=5)
    ap.add_argument("--warm", type=int, default=5)
    ap.add_argument("--only", help="time only the pages whose label contains this")
    ap.add_argument("--keep", action="store_true", help="with --pg: leave the cluster running")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--code", type=Path, default=ROOT,
                    help="the checkout whose `serve` is timed (default this one), e.g. main's, to compare")
    args = ap.parse_args()
    cluster = None
    try:
        if args.pg:
            cluster, url, version = bench_cluster()
            log(f"PostgreSQL {version}: throw-away cluster on 127.0.0.1:{cluster.port}")
            fresh = True
        elif args.db:
            url, fresh = args.db, not args.reuse
        else:
            path = Path(args.history or "/tmp/policywatch-web-bench.db")
            url, fresh = f"sqlite:///{path}", not path.exists()
        db = Database(url)
        if fresh:
            world = World(args.sources, args.years)
            log(f"generating {len(world.sources):,} sources × {world.days} days into {db.dialect} …")
            gen = generate(db, world)
            log(f"generated in {gen['total_s']:.0f} s: {gen['counts']}")
        with db.engine.connect() as conn:
            n_facts = conn.execute(sa.text("SELECT count(*) FROM facts")).scalar()
        sources = Path(f"/tmp/policywatch-web-bench-{db.dialect}-sources.toml")
        n_sources = write_sources(db, sources)
        t = targets(db)
        db.dispose()
        log(f"{db.dialect}: {n_sources:,} sources, {n_facts:,} facts; province {t['province']}, city {t['city']}, "
            f"source {t['source']}")
        todo = [p for p in pages(t) if not args.only or args.only in p[0]]
        log(f"\n{'page':<32}{'HTTP':>4}{'size':>13}{'cold ms':>10}{'warm ms':>10}")
        rows = measure(url, sources, todo, args.warm, args.code.resolve())
        if args.json:
            Path(args.json).write_text(json.dumps(dict(dialect=db.dialect, facts=n_facts, targets=t, pages=rows,
                                                       code=str(args.code), load=os.getloadavg()),
                                                  indent=2, ensure_ascii=False))
        if cluster and args.keep:
            log(f"kept: {url} (stop: {cluster.stop_command()})")
        return 0 if all(r["pass"] for r in rows) else 1
    finally:
        if cluster and not args.keep:
            cluster.stop("fast")


if __name__ == "__main__":
    sys.exit(main())
