"""One repeat: bare Scrapy, a first and an unchanged `policywatch check`, urlwatch's first and re-run."""
from __future__ import annotations

import os
from pathlib import Path

from crawlbench.children import run_bare, run_check
from crawlbench.dbsize import PgDatabase, sqlite_bytes, sqlite_distinct_snapshots
from crawlbench.urlwatchrun import UrlwatchRun

PG_ENV = "POLICYWATCH_BENCH_PG"


def pages_per_s(n: int, seconds: float | None) -> float | None:
    return n / seconds if seconds else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def measure(urls: list[str], urls_file: Path, sources: Path, work: Path, tag: str, args,
            urlwatch: Path | None = None) -> dict:
    """Every figure of one repeat; the whole-process ones are the subprocesses' wall times."""
    n = len(urls)
    extra = [f"POLICYWATCH_STORE_BATCH={args.batch}"] if args.batch else []
    bare = run_bare(urls_file, work, tag, args.concurrency)
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
        bare_200=bare["responses"], first_counts=first["counts"], second_counts=second["counts"],
        db_after_first=size1, db_after_second=size2,
        first_bytes_per_page=size1 / n, unchanged_bytes_per_page=(size2 - size1) / n,
        distinct_snapshots=sqlite_distinct_snapshots(db_path),
    )
    r["first_ratio"] = r["first_pps"] / r["bare_pps"]
    r["second_ratio"] = r["second_pps"] / r["bare_pps"]
    for kind in ("bare", "first", "second"):
        r[f"{kind}_whole_pps"] = pages_per_s(n, r[f"{kind}_wall"])
    r["first_whole_ratio"] = ratio(r["first_whole_pps"], r["bare_whole_pps"])
    r["second_whole_ratio"] = ratio(r["second_whole_pps"], r["bare_whole_pps"])
    if not args.keep:
        for p in work.glob(f"pw-{tag}.db*"):
            p.unlink()
    if urlwatch:
        r.update(measure_urlwatch(urlwatch, urls, work / f"urlwatch-{tag}", args.urlwatch_workers, r))
    pg_url = os.environ.get(PG_ENV)
    if pg_url:
        r.update(measure_pg(pg_url, n, sources, work, tag, args, extra))
    return r


def measure_urlwatch(exe: Path, urls: list[str], directory: Path, workers: int, r: dict) -> dict:
    """urlwatch's first run (empty cache) and its re-run with nothing changed, on the same URLs."""
    n = len(urls)
    uw = UrlwatchRun(exe, directory, urls, workers)
    out = {}
    for kind in ("first", "second"):
        res = uw.run(kind)
        out.update({f"urlwatch_{kind}_wall": res["wall"], f"urlwatch_{kind}_cpu": res["cpu"],
                    f"urlwatch_{kind}_rss_mb": res["maxrss_kb"] / 1024, f"urlwatch_{kind}_counts": res["counts"],
                    f"urlwatch_{kind}_pps": pages_per_s(n, res["wall"])})
        out[f"urlwatch_{kind}_ratio"] = ratio(out[f"urlwatch_{kind}_pps"], r["bare_whole_pps"])
        # > 1: the policywatch check took less wall time than urlwatch's matching run
        out[f"{kind}_vs_urlwatch"] = ratio(res["wall"], r[f"{kind}_wall"])
    return out


def measure_pg(pg_url: str, n: int, sources: Path, work: Path, tag: str, args, extra: list[str]) -> dict:
    """The two checks again on a new PostgreSQL database (POLICYWATCH_BENCH_PG's server)."""
    pg = PgDatabase(pg_url)
    try:
        pfirst = run_check(sources, pg.url, work, f"{tag}-pg-first", args.concurrency, extra)
        t1, d1, per1 = pg.size()
        psecond = run_check(sources, pg.url, work, f"{tag}-pg-second", args.concurrency, extra)
        t2, d2, per2 = pg.size()
    finally:
        if not args.keep:
            pg.drop()
    return dict(pg_first_pps=pages_per_s(n, pfirst["bench"]["crawl_seconds"]),
                pg_second_pps=pages_per_s(n, psecond["bench"]["crawl_seconds"]),
                pg_first_counts=pfirst["counts"], pg_second_counts=psecond["counts"],
                pg_first_rss_mb=pfirst["maxrss_kb"] / 1024, pg_second_rss_mb=psecond["maxrss_kb"] / 1024,
                pg_tables_after_first=t1, pg_tables_after_second=t2,
                pg_unchanged_bytes_per_page=(t2 - t1) / n,
                pg_unchanged_bytes_per_page_by_table={k: (per2[k] - per1.get(k, 0)) / n for k in per2
                                                      if per2[k] != per1.get(k, 0)},
                pg_db_unchanged_bytes_per_page=(d2 - d1) / n,
                pg_database=pg.name if args.keep else None)
