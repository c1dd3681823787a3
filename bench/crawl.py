"""Crawl benchmark: policywatch check vs bare Scrapy on 2,000 local pages.

    .venv/bin/python bench/crawl.py [--pages 2000] [--repeat 1] [--json FILE] [--keep]
                                    [--server auto|nginx|python] [--batch N] [--profile N]

Serves N generated pages (~30 KB, ~21% GBK, a few without charset meta) on
127.0.0.1 from nginx (a generated config in a temp dir; etag on) when `nginx`
is installed, else from bench/pageserver.py (asyncio, in-memory, ETag + 304),
each in its own process. Then, per repeat and each in its own subprocess:

  1. bare Scrapy (bench/scrapyhelp.py): the same URLs, concurrency and fetch
     settings, responses only counted;
  2. `policywatch check` on a new SQLite database (first crawl: every page new);
  3. `policywatch check` again, nothing changed (conditional GETs → 304).

Timed (the same way for all three): Scrapy's crawl, from spider_opened to
engine_stopped, by the BenchStats extension (bench/scrapyhelp.py). Process
start-up, imports and policywatch's source sync are outside that window; they
are shown separately as wall time of the subprocess, and for policywatch also
the runs table's started_at → finished_at.
Peak memory: ru_maxrss of each crawl subprocess (os.wait4).
DB growth per unchanged check: (SQLite file + WAL after a TRUNCATE checkpoint)
after the second check minus before it, divided by N. With
POLICYWATCH_BENCH_PG=postgresql://... the two checks also run against a new
database on that server (sum of pg_total_relation_size over its tables).
Only 127.0.0.1 is ever contacted (plus the PostgreSQL URL you give).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

from pagegen import generate, write_site  # noqa: E402

PG_ENV = "POLICYWATCH_BENCH_PG"
TARGETS = dict(first_ratio=0.70, unchanged_bytes_per_page=300, peak_rss_mb=250)
SUMMARY = re.compile(r"run (\d+): (\d+) pages checked: (\d+) new, (\d+) changed, (\d+) unchanged, "
                     r"(\d+) not modified, (\d+) error")


# -- page server --------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"page server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("page server did not start listening")


NGINX_CONF = """worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ text/html html; text/plain txt; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 100000;
    etag on;
    open_file_cache max=20000 inactive=120s;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
    }}
}}
"""


class PageServer:
    def __init__(self, root: Path, work: Path, kind: str = "auto") -> None:
        self.port = free_port()
        nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
        if kind == "nginx" and not nginx:
            raise SystemExit("--server nginx: nginx is not installed (apt-get install -y nginx)")
        if nginx and kind in ("auto", "nginx"):
            tmp = work / "nginx"
            tmp.mkdir()
            conf = tmp / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=tmp, port=self.port, root=root))
            version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr.strip()
            self.name = f"nginx ({version.split('/')[-1]}, 1 worker, etag on)"
            self.proc = subprocess.Popen([nginx, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)],
                                         stdout=subprocess.DEVNULL, stderr=open(tmp / "stderr.log", "w"))
        else:
            self.name = "bench/pageserver.py (asyncio, in-memory, ETag/304)"
            self.proc = subprocess.Popen([sys.executable, str(BENCH / "pageserver.py"), str(root), str(self.port)],
                                         stdout=subprocess.DEVNULL)
        wait_listening(self.port, self.proc)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def check(self, path: str) -> None:
        """One GET and one conditional GET: 200 with validators, then 304."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        etag, lm = r.getheader("ETag"), r.getheader("Last-Modified")
        if r.status != 200 or not etag or not lm:
            raise RuntimeError(f"page server: GET {path} gave {r.status}, ETag={etag}, Last-Modified={lm}")
        conn.request("GET", path, headers={"If-None-Match": etag, "If-Modified-Since": lm})
        r = conn.getresponse()
        r.read()
        if r.status != 304:
            raise RuntimeError(f"page server: conditional GET gave {r.status}, not 304")
        conn.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- subprocesses ---------------------------------------------------------------
def run_child(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Run cmd to completion; return exit code, wall seconds, peak RSS (KB) and its stdout."""
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
    stats = work / f"bare-{tag}.json"
    res = run_child([sys.executable, str(BENCH / "scrapyhelp.py"), str(urls_file),
                     *scrapy_args(concurrency, stats, [])], work / f"bare-{tag}.log", child_env())
    if res["rc"] != 0 or not stats.exists():
        raise RuntimeError(f"bare Scrapy failed (exit {res['rc']}):\n{res['output'][-3000:]}")
    res["bench"] = json.loads(stats.read_text())
    return res


def run_check(sources: Path, db_url: str, work: Path, tag: str, concurrency: int, extra: list[str]) -> dict:
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


def pg_driver(url: str) -> str:
    return re.sub(r"^postgres(ql)?://", "postgresql+pg8000://", url)


# -- database size ----------------------------------------------------------------
def sqlite_bytes(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return sum(p.stat().st_size for p in (path, Path(str(path) + "-wal")) if p.exists())


def sqlite_distinct_snapshots(path: Path) -> int:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(DISTINCT content_hash) FROM snapshots").fetchone()[0]
    finally:
        con.close()


class PgDatabase:
    """A new database on the server of POLICYWATCH_BENCH_PG, dropped afterwards unless kept."""

    def __init__(self, admin_url: str) -> None:
        import sqlalchemy as sa
        self.sa = sa
        self.admin_url = pg_driver(admin_url)
        self.name = "pwbench_" + uuid.uuid4().hex[:10]
        admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {self.name}"))
        admin.dispose()
        self.url = sa.engine.make_url(self.admin_url).set(database=self.name).render_as_string(hide_password=False)

    def size(self) -> tuple[int, int, dict[str, int]]:
        """(sum of pg_total_relation_size over the public tables, pg_database_size, per-table sizes)."""
        sa = self.sa
        engine = sa.create_engine(self.url)
        try:
            with engine.connect() as conn:
                per_table = dict(conn.execute(sa.text(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
                )).all())
                database = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
        finally:
            engine.dispose()
        return int(sum(per_table.values())), int(database), {k: int(v) for k, v in per_table.items()}

    def drop(self) -> None:
        sa = self.sa
        admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {self.name}"))
        admin.dispose()


# -- one repeat ------------------------------------------------------------------
def pages_per_s(n: int, seconds: float | None) -> float | None:
    return n / seconds if seconds else None


def measure(n: int, urls_file: Path, sources: Path, work: Path, tag: str, args) -> dict:
    extra = [f"POLICYWATCH_STORE_BATCH={args.batch}"] if args.batch else []
    bare = run_bare(urls_file, work, tag, args.concurrency)
    m = re.search(r"bare: (\d+) responses", bare["output"])
    ok_bare = int(m.group(1)) if m else 0
    db_path = work / f"pw-{tag}.db"
    db_url = f"sqlite:///{db_path}"
    first = run_check(sources, db_url, work, f"{tag}-first", args.concurrency, extra)
    size1 = sqlite_bytes(db_path)
    second = run_check(sources, db_url, work, f"{tag}-second", args.concurrency, extra)
    size2 = sqlite_bytes(db_path)
    r = dict(
        bare_pps=pages_per_s(n, bare["bench"]["crawl_seconds"]),
        first_pps=pages_per_s(n, first["bench"]["crawl_seconds"]),
        second_pps=pages_per_s(n, second["bench"]["crawl_seconds"]),
        bare_seconds=bare["bench"]["crawl_seconds"], first_seconds=first["bench"]["crawl_seconds"],
        second_seconds=second["bench"]["crawl_seconds"],
        bare_wall=bare["wall"], first_wall=first["wall"], second_wall=second["wall"],
        bare_cpu=bare["cpu"], first_cpu=first["cpu"], second_cpu=second["cpu"],
        first_run_seconds=first["run_seconds"], second_run_seconds=second["run_seconds"],
        bare_rss_mb=bare["maxrss_kb"] / 1024, first_rss_mb=first["maxrss_kb"] / 1024,
        second_rss_mb=second["maxrss_kb"] / 1024,
        bare_200=ok_bare, first_counts=first["counts"], second_counts=second["counts"],
        db_after_first=size1, db_after_second=size2,
        first_bytes_per_page=size1 / n, unchanged_bytes_per_page=(size2 - size1) / n,
        distinct_snapshots=sqlite_distinct_snapshots(db_path),
    )
    r["first_ratio"] = r["first_pps"] / r["bare_pps"]
    r["second_ratio"] = r["second_pps"] / r["bare_pps"]
    if not args.keep:
        for p in work.glob(f"pw-{tag}.db*"):
            p.unlink()
    pg_url = os.environ.get(PG_ENV)
    if pg_url:
        pg = PgDatabase(pg_url)
        try:
            pfirst = run_check(sources, pg.url, work, f"{tag}-pg-first", args.concurrency, extra)
            t1, d1, per1 = pg.size()
            psecond = run_check(sources, pg.url, work, f"{tag}-pg-second", args.concurrency, extra)
            t2, d2, per2 = pg.size()
        finally:
            if not args.keep:
                pg.drop()
        r.update(pg_first_pps=pages_per_s(n, pfirst["bench"]["crawl_seconds"]),
                 pg_second_pps=pages_per_s(n, psecond["bench"]["crawl_seconds"]),
                 pg_first_counts=pfirst["counts"], pg_second_counts=psecond["counts"],
                 pg_first_rss_mb=pfirst["maxrss_kb"] / 1024, pg_second_rss_mb=psecond["maxrss_kb"] / 1024,
                 pg_tables_after_first=t1, pg_tables_after_second=t2,
                 pg_unchanged_bytes_per_page=(t2 - t1) / n,
                 pg_unchanged_bytes_per_page_by_table={k: (per2[k] - per1.get(k, 0)) / n for k in per2
                                                       if per2[k] != per1.get(k, 0)},
                 pg_db_unchanged_bytes_per_page=(d2 - d1) / n,
                 pg_database=pg.name if args.keep else None)
    return r


# -- profiling ----------------------------------------------------------------------
OWN = ("spiders/", "storage/", "monitor/", "extractors/")


def profile(n: int, server: PageServer, work: Path, args) -> dict:
    """A first and an unchanged crawl of n pages, cProfile over the crawl window (BenchStats); the hot spots."""
    sources = work / f"sources-profile-{n}.toml"
    write_sources(sources, server, n)
    db = work / f"profile-{n}.db"
    extra = [f"POLICYWATCH_STORE_BATCH={args.batch}"] if args.batch else []
    out = {}
    for kind in ("first", "second"):
        prof = work / f"profile-{n}-{kind}.prof"
        res = run_check(sources, f"sqlite:///{db}", work, f"profile-{n}-{kind}", args.concurrency,
                        extra + [f"BENCH_PROFILE_FILE={prof}"])
        out[kind] = hot_spots(prof, n, f"{kind} crawl of {n} pages", res["bench"]["crawl_seconds"])
    return out


def hot_spots(prof: Path, n: int, what: str, crawl_seconds: float) -> dict:
    import pstats
    st = pstats.Stats(str(prof))
    rows = []
    for (file, line, func), (cc, nc, tt, ct, callers) in st.stats.items():
        rel = os.path.relpath(file, REPO) if file.startswith(str(REPO)) else file
        rows.append(dict(where=f"{rel}:{line}({func})", own=rel.startswith(OWN), calls=nc, tottime=tt, cumtime=ct))
    own_cum = sorted((r for r in rows if r["own"]), key=lambda r: -r["cumtime"])[:15]
    all_tot = sorted(rows, key=lambda r: -r["tottime"])[:15]
    print(f"\ncProfile of the crawl window, {what} ({prof}): {st.total_tt:.1f} s profiled in a "
          f"{crawl_seconds:.1f} s window (cProfile slows everything)")
    print("  policywatch's own functions by cumulative time:")
    for r in own_cum:
        print(f"    {r['cumtime']:7.2f} s {1000 * r['cumtime'] / n:6.2f} ms/page  {r['calls']:>8} calls  {r['where']}")
    print("  all functions by own time:")
    for r in all_tot:
        print(f"    {r['tottime']:7.2f} s {1000 * r['tottime'] / n:6.2f} ms/page  {r['calls']:>8} calls  {r['where']}")
    return dict(pages=n, total_seconds=st.total_tt, crawl_seconds=crawl_seconds, own_by_cumtime=own_cum,
                all_by_tottime=all_tot, file=str(prof))


# -- main ----------------------------------------------------------------------------
def write_sources(path: Path, server: PageServer, n: int) -> None:
    lines = []
    for i in range(1, n + 1):
        lines += ["[[source]]", f'name = "p{i:04d}"', f'url = "{server.url(f"/p/{i:04d}.html")}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec=".0f") -> str:
    return "-" if v is None else format(v, spec)


def report(results: list[dict], n: int, server: PageServer, page_info: dict, args) -> dict:
    cols = [("bare p/s", "bare_pps", ".0f"), ("first p/s", "first_pps", ".0f"), ("second p/s", "second_pps", ".0f"),
            ("first/bare", "first_ratio", ".0%"), ("second/bare", "second_ratio", ".0%"),
            ("B/page unchanged", "unchanged_bytes_per_page", ".0f"), ("RSS bare MB", "bare_rss_mb", ".0f"),
            ("RSS first MB", "first_rss_mb", ".0f"), ("RSS second MB", "second_rss_mb", ".0f")]
    med = {key: median([r[key] for r in results]) for _, key, _ in cols}
    for key in ("bare_wall", "first_wall", "second_wall", "first_run_seconds", "second_run_seconds",
                "first_bytes_per_page", "bare_seconds", "first_seconds", "second_seconds",
                "pg_first_pps", "pg_second_pps", "pg_unchanged_bytes_per_page", "pg_db_unchanged_bytes_per_page",
                "pg_first_rss_mb", "pg_second_rss_mb"):
        med[key] = median([r.get(key) for r in results])
    print(f"\npolicywatch crawl benchmark: {n} pages (mean {page_info['mean_kb']:.1f} KB, "
          f"{page_info['gbk']} GBK, {page_info['no_meta']} without charset meta), server: {server.name}")
    print(f"concurrency {args.concurrency} (per domain too), AUTOTHROTTLE off, robots.txt obeyed by both; "
          f"POLICYWATCH_STORE_BATCH={args.batch or 'default'}; load average at start/end "
          f"{page_info['load_start']:.2f}/{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print("pages/s = pages / Scrapy crawl time (spider_opened → engine_stopped, same extension for all three)\n")
    width = [max(len(h), 7) for h, _, _ in cols]
    print("run     " + "  ".join(h.rjust(w) for (h, _, _), w in zip(cols, width)))
    for i, r in enumerate(results, 1):
        print(f"{i:<8}" + "  ".join(fmt(r[k], s).rjust(w) for (_, k, s), w in zip(cols, width)))
    if len(results) > 1:
        print("median  " + "  ".join(fmt(med[k], s).rjust(w) for (_, k, s), w in zip(cols, width)))
    print()
    for i, r in enumerate(results, 1):
        print(f"run {i}: bare {r['bare_200']} pages fetched; first {r['first_counts']}; second {r['second_counts']}; "
              f"{r['distinct_snapshots']} distinct snapshots")
        print(f"       crawl s bare/first/second {r['bare_seconds']:.1f}/{r['first_seconds']:.1f}/"
              f"{r['second_seconds']:.1f}; wall s (incl. start-up) {r['bare_wall']:.1f}/{r['first_wall']:.1f}/"
              f"{r['second_wall']:.1f}; CPU s (incl. start-up) {r['bare_cpu']:.1f}/{r['first_cpu']:.1f}/"
              f"{r['second_cpu']:.1f}; runs table s first/second {fmt(r['first_run_seconds'], '.1f')}/"
              f"{fmt(r['second_run_seconds'], '.1f')}")
        print(f"       SQLite bytes after first {r['db_after_first']:,} ({r['first_bytes_per_page']:.0f}/page), "
              f"after second {r['db_after_second']:,} (+{r['unchanged_bytes_per_page']:.0f}/page)")
        if "pg_first_pps" in r:
            print(f"       PostgreSQL: first {r['pg_first_pps']:.0f} p/s, second {r['pg_second_pps']:.0f} p/s "
                  f"({r['pg_second_counts']}); unchanged check +{r['pg_unchanged_bytes_per_page']:.0f} B/page "
                  f"(tables: {', '.join(f'{k} +{v:.0f}' for k, v in r['pg_unchanged_bytes_per_page_by_table'].items())}), "
                  f"+{r['pg_db_unchanged_bytes_per_page']:.0f} B/page (pg_database_size); "
                  f"RSS {r['pg_first_rss_mb']:.0f}/{r['pg_second_rss_mb']:.0f} MB")
    peak = max(med["first_rss_mb"], med["second_rss_mb"])
    checks = [
        ("first crawl ≥ 70% of bare Scrapy", med["first_ratio"] >= TARGETS["first_ratio"], f"{med['first_ratio']:.0%}"),
        ("unchanged re-check ≤ 300 B/page DB growth", med["unchanged_bytes_per_page"] <= TARGETS["unchanged_bytes_per_page"],
         f"{med['unchanged_bytes_per_page']:.0f} B"),
        ("unchanged re-check faster than first crawl", med["second_pps"] > med["first_pps"],
         f"{med['second_pps']:.0f} vs {med['first_pps']:.0f} p/s"),
        ("peak memory ≤ 250 MB", peak <= TARGETS["peak_rss_mb"], f"{peak:.0f} MB"),
    ]
    print("\ntargets (medians):")
    for name, ok, value in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {value}")
    return dict(median=med, targets={name: dict(ok=ok, value=value) for name, ok, value in checks})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=1, help="measure this many times; medians are reported")
    ap.add_argument("--json", metavar="FILE", help="write all results as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (pages, databases, logs)")
    ap.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--batch", type=int, default=None, help="POLICYWATCH_STORE_BATCH (default: policywatch's)")
    ap.add_argument("--profile", type=int, metavar="N", default=0,
                    help="also profile a first and an unchanged crawl of N pages with cProfile; print the hot spots")
    args = ap.parse_args(argv)
    n = args.pages
    if not 0 <= args.profile <= n:
        ap.error("--profile N needs 0 <= N <= --pages")

    work = Path(tempfile.mkdtemp(prefix="pwbench-"))
    work.chmod(0o755)  # nginx workers may run as another user
    server = None
    try:
        t0 = time.monotonic()
        pages = generate(n)
        site = work / "site"
        write_site(pages, site)
        page_info = dict(load_start=os.getloadavg()[0], mean_kb=statistics.mean(len(p.body) for p in pages) / 1024,
                         gbk=sum(p.encoding == "gbk" for p in pages), no_meta=sum(not p.has_meta for p in pages))
        del pages
        server = PageServer(site, work, args.server)
        server.check("/p/0001.html")
        urls_file = work / "urls.txt"
        urls_file.write_text("".join(server.url(f"/p/{i:04d}.html") + "\n" for i in range(1, n + 1)))
        sources = work / "sources.toml"
        write_sources(sources, server, n)
        print(f"{n} pages generated in {work} ({time.monotonic() - t0:.1f} s); server: {server.name} "
              f"on 127.0.0.1:{server.port}", flush=True)
        results = []
        for rep in range(1, args.repeat + 1):
            print(f"repeat {rep}/{args.repeat}: bare Scrapy, first check, unchanged check ...", flush=True)
            results.append(measure(n, urls_file, sources, work, str(rep), args))
        summary = report(results, n, server, page_info, args)
        prof = profile(args.profile, server, work, args) if args.profile else None
        if args.json:
            Path(args.json).write_text(json.dumps(dict(
                pages=n, server=server.name, page_info=page_info, concurrency=args.concurrency,
                store_batch=args.batch, timed="Scrapy crawl: spider_opened → engine_stopped (BenchStats extension)",
                runs=results, **summary, profile=prof, workdir=str(work) if args.keep else None),
                indent=1, ensure_ascii=False, default=str))
            print(f"\nresults written to {args.json}")
        if args.keep:
            print(f"kept {work}")
        return 0
    finally:
        if server:
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
