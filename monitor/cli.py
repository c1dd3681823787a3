"""The `policywatch` command line.

Exit codes: 0 success (changes or not) · 1 some pages failed · 2 bad sources
file or usage · 3 database unavailable · 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Sequence

from monitor.check import EXIT_CONFIG, EXIT_DATABASE, EXIT_OK, EXIT_SOME_FAILED, Reporter, run_check
from monitor.config import DEFAULT_SOURCES, ConfigError, load_config
from monitor.export import add_export_parser, cmd_export
from monitor.history import add_history_parser, cmd_history
from storage import Database, DatabaseError, SnapshotStore
from storage.db import DB_ENV

CHINA = "Asia/Shanghai"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sources", metavar="FILE", default=None,
                   help=f"sources file (default: ./{DEFAULT_SOURCES})")
    p.add_argument("--db", metavar="URL", default=None,
                   help=f"database URL (default: ${DB_ENV} or sqlite:///policywatch.db); "
                        "e.g. postgresql://user:pass@host/policywatch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policywatch",
        description="Watch Chinese public-service policy pages (居民医保 缴费 deadlines, fees, subsidies) "
                    "and keep their history.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = sub.add_parser("check", help="crawl every configured page once and store what changed")
    _common(check)
    check.add_argument("--source", action="append", metavar="NAME", default=[],
                       help="only this source (repeatable)")
    check.add_argument("-s", dest="settings", action="append", metavar="SETTING=VALUE", default=[],
                       help="override a Scrapy setting for this run (repeatable), as `scrapy crawl -s`")
    check.add_argument("--notify", action="append", metavar="URL", default=[],
                       help="also alert this Apprise URL (repeatable), e.g. dingtalk://TOKEN, json://host/hook")
    check.add_argument("-v", "--verbose", action="store_true", help="show Scrapy's log (INFO level)")
    check.add_argument("--progress", choices=("auto", "bar", "line"), default="auto",
                       help="progress bar on a terminal (auto), always (bar) or one summary line (line)")

    sources = sub.add_parser("sources", help="list the configured sources with their last check")
    _common(sources)
    sources.add_argument("--json", action="store_true", help="print JSON")

    chg = sub.add_parser("changes", help="list detected changes (facts, text, conflicts, reverts)")
    _common(chg)
    chg.add_argument("--since", metavar="DATE", help="only changes detected on or after DATE (YYYY-MM-DD)")
    chg.add_argument("--source", metavar="NAME", help="only this source")
    chg.add_argument("--json", action="store_true", help="print a JSON list")

    alr = sub.add_parser("alerts", help="list the alert outbox; --retry delivers what is pending now")
    _common(alr)
    alr.add_argument("--status", choices=("pending", "sent", "failed"), help="only alerts with this status")
    alr.add_argument("--retry", action="store_true", help="deliver pending alerts now (ignoring their backoff)")
    alr.add_argument("--notify", action="append", metavar="URL", default=[], help="an extra configured target")
    alr.add_argument("--json", action="store_true", help="print JSON")

    ext = sub.add_parser("extract", help="print the facts of one saved page (.html or .txt) as JSON")
    ext.add_argument("path", metavar="PATH", help=".html page (main content is cut first) or .txt main text")
    ext.add_argument("--url", help="the page's URL (chooses the site profile and helps find the region)")
    ext.add_argument("--published", metavar="YYYY-MM-DD[THH:MM]",
                     help="publish time (resolves 即日起 and year-less dates); default: read from the page")
    ext.add_argument("--title", help="the page title (for .txt input; .html pages carry their own)")

    ev = sub.add_parser("eval", help="precision/recall/F1 of the extractors over a labeled corpus folder")
    ev.add_argument("corpus", metavar="DIR", help="folder of NNN.txt|html documents with NNN.json gold facts")
    ev.add_argument("--json", action="store_true", help="print the scores and misses as JSON")
    ev.add_argument("--misses", action="store_true", help="also list missed and spurious facts per document")

    add_history_parser(sub)
    add_export_parser(sub)

    demo = sub.add_parser("demo", help="crawl the bundled sample site twice, offline, and show what was stored")
    demo.add_argument("--db", metavar="URL", default=None,
                      help="database URL (default: a new SQLite file in a temporary folder)")
    demo.add_argument("--keep", action="store_true", help="keep the temporary folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_CONFIG
    try:
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"policywatch: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DatabaseError as exc:
        print(f"policywatch: {exc}", file=sys.stderr)
        return EXIT_DATABASE
    except KeyboardInterrupt:
        print("policywatch: interrupted", file=sys.stderr)
        return 130


def _targets(config, extra: list[str]) -> list[str]:
    """Every configured alert target, with ${ENV} checked now so a missing token fails before any crawl."""
    from monitor.alerts import expand_target
    targets = list(dict.fromkeys([*config.notify, *(t for s in config.sources for t in s.notify), *extra]))
    for t in targets:
        try:
            expand_target(t)
        except ValueError as exc:
            raise ConfigError(f"{config.path}: {exc}") from None
    return targets


def cmd_check(args) -> int:
    config = load_config(args.sources)
    config.select(args.source or None)  # unknown names fail before anything is crawled
    _targets(config, args.notify)
    db = Database(args.db)
    interactive = {"auto": None, "bar": True, "line": False}[args.progress]
    try:
        result = run_check(config, db, source_names=args.source, overrides=args.settings,
                           reporter=Reporter(interactive=interactive), verbose=args.verbose,
                           notify=args.notify)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return result.exit_code


def cmd_sources(args) -> int:
    config = load_config(args.sources)
    db = Database(args.db)
    store = SnapshotStore(db)
    store.sync_sources([s.spec() for s in config.sources])
    rows = [r for r in store.source_overview() if r["name"] in {s.name for s in config.sources}]
    if args.json:
        print(json.dumps([{**r, "last_checked_at": _iso(r["last_checked_at"])} for r in rows],
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table
    table = Table("name", "kind", "region", "pages", "snapshots", "last check", "result")
    for r in rows:
        result = r["last_outcome"] or "never checked"
        if r["last_error"]:
            result += f": {r['last_error']}"
        table.add_row(r["name"] + ("" if r["enabled"] else " (disabled)"), r["kind"], r["region"] or "",
                      str(r["pages"]), str(r["snapshots"]), _local(r["last_checked_at"]), result)
    Console(width=160 if not sys.stdout.isatty() else None).print(table)
    return EXIT_OK


def cmd_changes(args) -> int:
    from zoneinfo import ZoneInfo
    from storage import ChangeStore
    since = None
    if args.since:
        try:
            since = datetime.strptime(args.since, "%Y-%m-%d").replace(tzinfo=ZoneInfo(CHINA))
        except ValueError:
            raise ConfigError(f"--since {args.since!r}: expected YYYY-MM-DD") from None
    db = Database(args.db)
    rows = ChangeStore(db).changes(since=since, source=args.source)
    keys = ("id", "source", "url", "type", "kind", "old", "new", "severity", "detected_at",
            "evidence_before", "evidence_after")
    if args.json:
        print(json.dumps([{k: _iso(r[k]) if k == "detected_at" else r[k] for k in keys} for r in rows],
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table
    table = Table("id", "detected", "source", "type", "what", "old → new", "severity")
    for r in rows:
        old = json.dumps(r["old"], ensure_ascii=False) if r["old"] is not None else ""
        new = json.dumps(r["new"], ensure_ascii=False) if r["new"] is not None else ""
        table.add_row(str(r["id"]), _local(r["detected_at"]), r["source"], r["type"], r["kind"] or "",
                      f"{old} → {new}" if old or new else "", r["severity"])
    Console(width=200 if not sys.stdout.isatty() else None).print(table)
    return EXIT_OK


def cmd_alerts(args) -> int:
    from monitor.alerts import deliver_due
    from storage import ChangeStore
    config = load_config(args.sources)
    targets = _targets(config, args.notify)
    store = ChangeStore(Database(args.db))
    if args.retry:
        store.reset_alerts()
        counts = deliver_due(store, targets)
        print(f"alerts: {counts.get('sent', 0)} sent, {counts.get('retried', 0)} still pending, "
              f"{counts.get('failed', 0)} failed")
    rows = store.alerts(args.status)
    if args.json:
        keys = ("id", "target", "status", "title", "attempts", "created_at", "sent_at", "next_attempt_at",
                "last_error", "change_ids")
        print(json.dumps([{k: _iso(r[k]) if k.endswith("_at") else r[k] for k in keys} for r in rows],
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    if not args.retry or rows:
        from rich.console import Console
        from rich.table import Table
        table = Table("id", "created", "target", "status", "attempts", "title", "last error")
        for r in rows:
            table.add_row(str(r["id"]), _local(r["created_at"]), r["target"], r["status"], str(r["attempts"]),
                          r["title"], r["last_error"] or "")
        Console(width=200 if not sys.stdout.isatty() else None).print(table)
    return EXIT_SOME_FAILED if any(r["status"] == "failed" for r in rows) else EXIT_OK


def cmd_extract(args) -> int:
    from monitor.extract import InputError, extract_file
    try:
        doc = extract_file(args.path, url=args.url, published=args.published, title=args.title)
    except InputError as exc:
        print(f"policywatch: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(json.dumps(doc.to_json(), ensure_ascii=False, indent=2))
    return EXIT_OK


def cmd_eval(args) -> int:
    from dataclasses import asdict
    from monitor.evaluate import evaluate, format_report
    report = evaluate(args.corpus)
    if args.json:
        print(json.dumps({"kinds": {k: {**asdict(s), "precision": s.precision, "recall": s.recall, "f1": s.f1}
                                    for k, s in report.kinds.items()},
                          "documents": report.documents, "negative_facts": report.negative_facts,
                          "passed": report.passed, "misses": report.misses}, ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
        if args.misses:
            for m in report.misses:
                print(f"\n{m['document']}")
                for g in m["missed"]:
                    print(f"  missed   {g['kind']} {json.dumps(g['value'], ensure_ascii=False)} {g.get('plan_year')}")
                for p in m["spurious"]:
                    print(f"  spurious {p['kind']} {json.dumps(p['value'], ensure_ascii=False)} {p['plan_year']}"
                          f"  | {p['evidence'][:60]}")
    return EXIT_OK if report.passed else EXIT_SOME_FAILED


def cmd_demo(args) -> int:
    from monitor.demo import run_demo
    return run_demo(db_url=args.db, keep=args.keep)


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _local(dt: datetime | None) -> str:
    if dt is None:
        return ""
    from zoneinfo import ZoneInfo
    return dt.astimezone(ZoneInfo(CHINA)).strftime("%Y-%m-%d %H:%M")


COMMANDS = {"check": cmd_check, "sources": cmd_sources, "changes": cmd_changes, "alerts": cmd_alerts,
            "extract": cmd_extract,
            "eval": cmd_eval,
            "demo": cmd_demo,
            "history": cmd_history, "export": cmd_export}
