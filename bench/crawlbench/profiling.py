"""`--profile N`: cProfile over the crawl window of a first and an unchanged check; the hot spots."""
from __future__ import annotations

import os
from pathlib import Path

from crawlbench import REPO
from crawlbench.children import run_check, write_sources

OWN = ("spiders/", "storage/", "monitor/", "extractors/")


def profile(urls: list[str], work: Path, concurrency: int, batch: int | None) -> dict:
    """A first and an unchanged crawl of the given pages, cProfile over the crawl window (BenchStats)."""
    n = len(urls)
    sources = work / f"sources-profile-{n}.toml"
    write_sources(sources, urls)
    db = work / f"profile-{n}.db"
    extra = [f"POLICYWATCH_STORE_BATCH={batch}"] if batch else []
    out = {}
    for kind in ("first", "second"):
        prof = work / f"profile-{n}-{kind}.prof"
        res = run_check(sources, f"sqlite:///{db}", work, f"profile-{n}-{kind}", concurrency,
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
