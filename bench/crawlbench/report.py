"""The printed report of bench/crawl.py: crawl-only table, whole-process table, targets; and its summary dict."""
from __future__ import annotations

import os
import statistics

TARGETS = dict(first_ratio=0.70, unchanged_bytes_per_page=300, peak_rss_mb=250)

CRAWL_COLS = [("bare p/s", "bare_pps", ".0f"), ("first p/s", "first_pps", ".0f"), ("second p/s", "second_pps", ".0f"),
              ("first/bare", "first_ratio", ".0%"), ("second/bare", "second_ratio", ".0%"),
              ("B/page unchanged", "unchanged_bytes_per_page", ".0f"), ("RSS bare MB", "bare_rss_mb", ".0f"),
              ("RSS first MB", "first_rss_mb", ".0f"), ("RSS second MB", "second_rss_mb", ".0f")]
MEDIAN_ONLY = ("bare_wall", "first_wall", "second_wall", "first_run_seconds", "second_run_seconds",
               "first_bytes_per_page", "bare_seconds", "first_seconds", "second_seconds",
               "pg_first_pps", "pg_second_pps", "pg_unchanged_bytes_per_page", "pg_db_unchanged_bytes_per_page",
               "pg_first_rss_mb", "pg_second_rss_mb")
# whole process: (row label, wall key, pages/s key, ratio-to-bare key, ratio-to-urlwatch key)
WHOLE_ROWS = [
    ("bare Scrapy, fetch only", "bare_wall", "bare_whole_pps", None, None),
    ("policywatch check, first (new DB)", "first_wall", "first_whole_pps", "first_whole_ratio", "first_vs_urlwatch"),
    ("policywatch check, unchanged (304)", "second_wall", "second_whole_pps", "second_whole_ratio",
     "second_vs_urlwatch"),
    ("urlwatch 2.29, first", "urlwatch_first_wall", "urlwatch_first_pps", "urlwatch_first_ratio", None),
    ("urlwatch 2.29, unchanged re-run", "urlwatch_second_wall", "urlwatch_second_pps", "urlwatch_second_ratio", None),
]
WHOLE_KEYS = tuple(k for row in WHOLE_ROWS for k in row[1:] if k) + (
    "urlwatch_first_rss_mb", "urlwatch_second_rss_mb", "urlwatch_first_cpu", "urlwatch_second_cpu")


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def spread(values) -> dict | None:
    """min / median / max of the values that are not None (None when there are none)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return dict(min=min(values), median=statistics.median(values), max=max(values))


def fmt(v, spec=".0f") -> str:
    return "-" if v is None else format(v, spec)


def fmt_spread(s: dict | None, spec: str) -> str:
    """'median' for one value, 'median (min–max)' for several."""
    if s is None:
        return "-"
    if s["min"] == s["max"]:
        return format(s["median"], spec)
    return f"{format(s['median'], spec)} ({format(s['min'], spec)}–{format(s['max'], spec)})"


def times(s: dict | None) -> str:
    return "-" if s is None else fmt_spread(s, ".2f") + "×"


def whole_table(results: list[dict]) -> list[str]:
    """The whole-process rows: wall time, pages/s, ratio to bare Scrapy and to urlwatch's matching run."""
    head = ("", "wall s", "pages/s", "vs bare Scrapy", "vs urlwatch")
    rows = [head]
    for label, wall, pps, vs_bare, vs_uw in WHOLE_ROWS:
        if all(r.get(wall) is None for r in results):
            continue
        cells = [label, fmt_spread(spread(r.get(wall) for r in results), ".1f"),
                 fmt_spread(spread(r.get(pps) for r in results), ".0f"),
                 "100%" if vs_bare is None else fmt_spread(spread(r.get(vs_bare) for r in results), ".0%"),
                 "" if vs_uw is None else times(spread(r.get(vs_uw) for r in results))]
        rows.append(tuple(cells))
    width = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, width)))
            for row in rows]


def targets(med: dict, urlwatch_note: str | None) -> list[tuple[str, str, bool | None, str]]:
    """(key, label, ok or None when not measured, value) for every target, on the medians."""
    peak = max(med["first_rss_mb"], med["second_rss_mb"])
    na = f"not measured (urlwatch {urlwatch_note})" if urlwatch_note else "not measured"

    def vs(key: str, ours: str, theirs: str) -> tuple[bool | None, str]:
        if med.get(key) is None:
            return None, na
        return med[key] > 1, f"{med[ours]:.1f} s vs {med[theirs]:.1f} s ({med[key]:.2f}×)"

    return [
        ("first crawl ≥ 70% of bare Scrapy", "crawl only: first crawl ≥ 70% of bare Scrapy",
         med["first_ratio"] >= TARGETS["first_ratio"], f"{med['first_ratio']:.0%}"),
        ("whole first check ≥ 70% of bare Scrapy", "whole process: first check ≥ 70% of bare Scrapy's pages/s",
         med["first_whole_ratio"] >= TARGETS["first_ratio"], f"{med['first_whole_ratio']:.0%}"),
        ("whole first check faster than urlwatch's first run", "whole process: first check faster than urlwatch's "
         "first run", *vs("first_vs_urlwatch", "first_wall", "urlwatch_first_wall")),
        ("whole unchanged re-check faster than urlwatch's re-run", "whole process: unchanged re-check faster than "
         "urlwatch's re-run", *vs("second_vs_urlwatch", "second_wall", "urlwatch_second_wall")),
        ("unchanged re-check ≤ 300 B/page DB growth", "unchanged re-check ≤ 300 B/page DB growth",
         med["unchanged_bytes_per_page"] <= TARGETS["unchanged_bytes_per_page"],
         f"{med['unchanged_bytes_per_page']:.0f} B"),
        ("unchanged re-check faster than first crawl", "crawl only: unchanged re-check faster than first crawl",
         med["second_pps"] > med["first_pps"], f"{med['second_pps']:.0f} vs {med['first_pps']:.0f} p/s"),
        ("peak memory ≤ 250 MB", "peak memory ≤ 250 MB", peak <= TARGETS["peak_rss_mb"], f"{peak:.0f} MB"),
    ]


def run_lines(i: int, r: dict) -> list[str]:
    """The details of repeat i: counts, times, database sizes."""
    lines = [
        f"run {i}: bare {r['bare_200']} pages fetched; first {r['first_counts']}; second {r['second_counts']}; "
        f"{r['distinct_snapshots']} distinct snapshots",
        f"       crawl s bare/first/second {r['bare_seconds']:.1f}/{r['first_seconds']:.1f}/"
        f"{r['second_seconds']:.1f}; wall s (incl. start-up) {r['bare_wall']:.1f}/{r['first_wall']:.1f}/"
        f"{r['second_wall']:.1f}; CPU s (incl. start-up) {r['bare_cpu']:.1f}/{r['first_cpu']:.1f}/"
        f"{r['second_cpu']:.1f}; runs table s first/second {fmt(r['first_run_seconds'], '.1f')}/"
        f"{fmt(r['second_run_seconds'], '.1f')}",
        f"       SQLite bytes after first {r['db_after_first']:,} ({r['first_bytes_per_page']:.0f}/page), "
        f"after second {r['db_after_second']:,} (+{r['unchanged_bytes_per_page']:.0f}/page)"]
    if "urlwatch_first_wall" in r:
        lines.append(f"       urlwatch first {r['urlwatch_first_counts']}, re-run {r['urlwatch_second_counts']}; "
                     f"wall s {r['urlwatch_first_wall']:.1f}/{r['urlwatch_second_wall']:.1f}; CPU s "
                     f"{r['urlwatch_first_cpu']:.1f}/{r['urlwatch_second_cpu']:.1f}; RSS MB "
                     f"{r['urlwatch_first_rss_mb']:.0f}/{r['urlwatch_second_rss_mb']:.0f}")
    if "pg_first_pps" in r:
        lines.append(
            f"       PostgreSQL: first {r['pg_first_pps']:.0f} p/s, second {r['pg_second_pps']:.0f} p/s "
            f"({r['pg_second_counts']}); unchanged check +{r['pg_unchanged_bytes_per_page']:.0f} B/page "
            f"(tables: {', '.join(f'{k} +{v:.0f}' for k, v in r['pg_unchanged_bytes_per_page_by_table'].items())}), "
            f"+{r['pg_db_unchanged_bytes_per_page']:.0f} B/page (pg_database_size); "
            f"RSS {r['pg_first_rss_mb']:.0f}/{r['pg_second_rss_mb']:.0f} MB")
    return lines


def report(results: list[dict], n: int, server_name: str, page_info: dict, args,
           urlwatch_note: str | None = None) -> dict:
    """Print everything; return the medians, spreads and target verdicts for the JSON file."""
    keys = [k for _, k, _ in CRAWL_COLS] + list(MEDIAN_ONLY) + list(WHOLE_KEYS)
    med = {key: median([r.get(key) for r in results]) for key in keys}
    print(f"\npolicywatch crawl benchmark: {n} pages (mean {page_info['mean_kb']:.1f} KB, "
          f"{page_info['gbk']} GBK, {page_info['no_meta']} without charset meta), server: {server_name}")
    print(f"concurrency {args.concurrency} (per domain too), AUTOTHROTTLE off, robots.txt obeyed by both; "
          f"POLICYWATCH_STORE_BATCH={args.batch or 'default'}; load average at start/end "
          f"{page_info['load_start']:.2f}/{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print("\ncrawl only: pages/s = pages / Scrapy crawl time (spider_opened → engine_stopped, same extension for "
          "all three); start-up and the stages after the crawl are outside it\n")
    width = [max(len(h), 7) for h, _, _ in CRAWL_COLS]
    print("run     " + "  ".join(h.rjust(w) for (h, _, _), w in zip(CRAWL_COLS, width)))
    for i, r in enumerate(results, 1):
        print(f"{i:<8}" + "  ".join(fmt(r[k], s).rjust(w) for (_, k, s), w in zip(CRAWL_COLS, width)))
    if len(results) > 1:
        print("median  " + "  ".join(fmt(med[k], s).rjust(w) for (_, k, s), w in zip(CRAWL_COLS, width)))
    print()
    for i, r in enumerate(results, 1):
        print("\n".join(run_lines(i, r)))
    print(f"\nwhole process: wall time of each subprocess from start to exit (interpreter start-up, imports, "
          f"crawl and every stage after it); pages/s = {n} / wall time; ratios per repeat, then")
    print("median (min–max) over the repeats. vs urlwatch = urlwatch's wall time / ours for the matching run "
          "(> 1: ours is faster)")
    if urlwatch_note:
        print(f"urlwatch: {urlwatch_note}")
    print()
    print("\n".join("  " + line for line in whole_table(results)))
    checks = targets(med, urlwatch_note)
    print("\ntargets (medians):")
    for _, label, ok, value in checks:
        print(f"  {'n/a ' if ok is None else 'PASS' if ok else 'FAIL'}  {label}: {value}")
    spreads = {key: spread(r.get(key) for r in results) for key in keys}
    return dict(median=med, spread={k: v for k, v in spreads.items() if v is not None},
                targets={key: dict(ok=ok, value=value, label=label) for key, label, ok, value in checks})
