"""Crawl benchmark: policywatch check vs bare Scrapy and urlwatch on 2,000 local pages.

    .venv/bin/python bench/crawl.py [--pages 2000] [--repeat 1] [--json FILE] [--keep]
                                    [--server auto|nginx|python] [--batch N] [--profile N]
                                    [--no-urlwatch] [--urlwatch-venv DIR] [--urlwatch-workers N]

Serves N generated pages (~30 KB, ~21% GBK, a few without charset meta) on
127.0.0.1 from nginx (a generated config in a temp dir; etag on) when `nginx`
is installed, else from bench/pageserver.py (asyncio, in-memory, ETag + 304),
each in its own process. Then, per repeat and each in its own subprocess:

  1. bare Scrapy (bench/scrapyhelp.py): the same URLs, concurrency and fetch
     settings, responses only counted;
  2. `policywatch check` on a new SQLite database (first crawl: every page new);
  3. `policywatch check` again, nothing changed (conditional GETs → 304);
  4. urlwatch 2.29 on the same URLs with a new cache, then again (unchanged re-run).

Two timings. Crawl only: Scrapy's crawl, from spider_opened to engine_stopped,
by the BenchStats extension (bench/scrapyhelp.py), the same for 1-3. Whole
process: the wall time of each subprocess from start to exit, as a user
waiting at the shell sees it (interpreter start-up, imports, source sync, the
crawl and every stage after it); this is the one urlwatch is compared on.
urlwatch is installed into a throw-away venv of its own (bench/crawlbench/urlwatchrun.py;
never a policywatch dependency); if that fails, one line says why and the rest runs.
Peak memory: ru_maxrss of each subprocess (os.wait4).
DB growth per unchanged check: (SQLite file + WAL after a TRUNCATE checkpoint)
after the second check minus before it, divided by N. With
POLICYWATCH_BENCH_PG=postgresql://... the two checks also run against a new
database on that server (sum of pg_total_relation_size over its tables).
Only 127.0.0.1 is ever contacted (plus the PostgreSQL URL you give, and the
package registry once, to install urlwatch).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from crawlbench.children import write_sources, write_urls  # noqa: E402
from crawlbench.measure import measure  # noqa: E402
from crawlbench.profiling import profile  # noqa: E402
from crawlbench.report import report  # noqa: E402
from crawlbench.server import PageServer  # noqa: E402
from crawlbench import urlwatchrun  # noqa: E402
from pagegen import generate, write_site  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=1, help="measure this many times; medians and spreads are reported")
    ap.add_argument("--json", metavar="FILE", help="write all results as JSON")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (pages, databases, logs)")
    ap.add_argument("--server", choices=("auto", "nginx", "python"), default="auto")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--batch", type=int, default=None, help="POLICYWATCH_STORE_BATCH (default: policywatch's)")
    ap.add_argument("--profile", type=int, metavar="N", default=0,
                    help="also profile a first and an unchanged crawl of N pages with cProfile; print the hot spots")
    ap.add_argument("--no-urlwatch", action="store_true", help="do not install or run urlwatch")
    ap.add_argument("--urlwatch-venv", type=Path, default=urlwatchrun.default_venv(),
                    help="the throw-away venv for urlwatch (created when missing; default: %(default)s)")
    ap.add_argument("--urlwatch-workers", type=int, default=None,
                    help="urlwatch's thread pool size (default: --concurrency; urlwatch's own default is 10)")
    args = ap.parse_args(argv)
    if not 0 <= args.profile <= args.pages:
        ap.error("--profile N needs 0 <= N <= --pages")
    if args.urlwatch_workers is None:
        args.urlwatch_workers = args.concurrency
    return args


def get_urlwatch(args) -> tuple[Path | None, str]:
    """The urlwatch executable (installed when needed) and the line that describes it, or None and why not."""
    if args.no_urlwatch:
        return None, "not run (--no-urlwatch)"
    t0 = time.monotonic()
    exe, how = urlwatchrun.ensure_urlwatch(args.urlwatch_venv)
    if exe is None:
        return None, f"not run: {how}"
    return exe, (f"{how} in {time.monotonic() - t0:.0f} s (outside all timings); max_workers {args.urlwatch_workers} "
                 f"(hooks.py; = our concurrency, its default is 10), timeout 30 s (= DOWNLOAD_TIMEOUT), stdout "
                 "reporter only; it does not fetch robots.txt and opens a new connection per page")


def main(argv=None) -> int:
    args = parse_args(argv)
    n = args.pages
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
        urls = [server.url(f"/p/{i:04d}.html") for i in range(1, n + 1)]
        urls_file = work / "urls.txt"
        write_urls(urls_file, urls)
        sources = work / "sources.toml"
        write_sources(sources, urls)
        print(f"{n} pages generated in {work} ({time.monotonic() - t0:.1f} s); server: {server.name} "
              f"on 127.0.0.1:{server.port}", flush=True)
        urlwatch, urlwatch_note = get_urlwatch(args)
        print(f"urlwatch: {urlwatch_note}", flush=True)
        results = []
        for rep in range(1, args.repeat + 1):
            print(f"repeat {rep}/{args.repeat}: bare Scrapy, first check, unchanged check"
                  f"{', urlwatch first and re-run' if urlwatch else ''} ...", flush=True)
            results.append(measure(urls, urls_file, sources, work, str(rep), args, urlwatch))
        summary = report(results, n, server.name, page_info, args, urlwatch_note)
        prof = profile(urls[:args.profile], work, args.concurrency, args.batch) if args.profile else None
        if args.json:
            Path(args.json).write_text(json.dumps(dict(
                pages=n, server=server.name, page_info=page_info, concurrency=args.concurrency,
                store_batch=args.batch, timed="Scrapy crawl: spider_opened → engine_stopped (BenchStats extension)",
                timed_whole="subprocess wall time, start to exit (start-up included), the *_wall keys",
                urlwatch=dict(version=urlwatchrun.VERSION, ran=urlwatch is not None, note=urlwatch_note,
                              venv=str(args.urlwatch_venv), max_workers=args.urlwatch_workers),
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
