"""The `policywatch` command line.

Exit codes: 0 success (changes or not) · 1 some pages failed (for `extract URL`:
the page could not be fetched or used) · 2 bad sources or profiles file, or usage · 3 database unavailable (or, with
--redis, the Redis queue, or no worker took the pages) · 4 another check or daemon holds the lock (try later, or
`check --wait`) · 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Sequence

from extractors import EXTRACTOR_VERSION
from monitor.check import (
    CHECK_LOCK, EXIT_CONFIG, EXIT_DATABASE, EXIT_LOCKED, EXIT_OK, EXIT_SOME_FAILED, Reporter, ignore_stop_signals,
    run_check,
)
from monitor.alerts_cmd import cmd_alerts
from monitor.cliutil import load_config, open_db, since_date, targets, warn_password_in_argv
from monitor.config import DEFAULT_SOURCES, ConfigError
from monitor.options import LocalTimeFormatter, add_common_options, local_minute
from monitor.export import OutputError, add_export_parser, cmd_export
from monitor.extract_cmd import add_extract_parser, cmd_extract
from monitor.history import add_history_parser, cmd_history
from monitor.web.serve_cmd import add_serve_parser
from monitor.worker import add_redis_option, add_worker_parser, cmd_worker, redis_url
from monitor.sources_cmd import cmd_sources, cmd_status
from monitor.stopsignals import redeliver_swallowed_stops
from monitor.coordinator import NoWorkers
from spiders.cluster import QueueUnavailable
from storage import DatabaseError, SnapshotStore
from storage.locks import DatabaseLock, LockBusy


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("policywatch")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _common(p: argparse.ArgumentParser) -> None:
    add_common_options(p)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError("seconds must not be negative")
    return seconds


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _wait_option(p: argparse.ArgumentParser, what: str | None = None) -> None:
    also = f"; {what} holds the same lock, so it never interleaves with a crawl" if what else ""
    p.add_argument("--wait", nargs="?", type=_seconds, const=float("inf"), default=None, metavar="SECONDS",
                   help=f"when a check is running, wait for it (at most SECONDS) instead of exiting with code "
                        f"{EXIT_LOCKED}{also}")


def _allow_empty_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-empty", action="store_true",
                   help="accept a sources file without any source (every source in the database is disabled)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policywatch",
        description="Watch Chinese public-service policy pages (居民医保 缴费 deadlines, fees, subsidies) "
                    "and keep their history.")
    add_common_options(parser, top=True)
    parser.add_argument("--version", action="version", version=f"policywatch {package_version()} "
                                                               f"(extractor version {EXTRACTOR_VERSION})")
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
    check.add_argument("--force", action="store_true",
                       help="fetch every page in full this once, ignoring stored ETag / Last-Modified "
                            "(no 304; e.g. after fixing a site profile)")
    _wait_option(check)
    _allow_empty_option(check)
    add_redis_option(check, "crawl on the `policywatch worker` processes of this shared queue")
    check.add_argument("--wait-workers", type=_seconds, default=None, metavar="SECONDS",
                       help="with --redis: give up (exit 3) when no worker takes the pages for SECONDS (default 30)")

    run = sub.add_parser("run", help="the scheduler daemon: crawl each source on its schedule, retry alerts")
    _common(run)
    run.add_argument("-s", dest="settings", action="append", metavar="SETTING=VALUE", default=[],
                     help="a Scrapy setting for every crawl (repeatable)")
    run.add_argument("-v", "--verbose", action="store_true", help="debug log, and Scrapy's log in crawls")
    run.add_argument("--stop-timeout", type=_seconds, default=30.0, metavar="SECONDS",
                     help="on SIGTERM/SIGINT, how long a running crawl may take to stop cleanly (default 30)")
    _allow_empty_option(run)
    add_redis_option(run, "every crawl on the `policywatch worker` processes of this shared queue")

    st = sub.add_parser("status", help="daemon, next run per source, last results, failing sources, pending alerts")
    _common(st)
    st.add_argument("--json", action="store_true", help="print JSON")
    add_redis_option(st, "also show the length of this shared queue")

    sources = sub.add_parser("sources", help="list the configured sources with their last check")
    _common(sources)
    sources.add_argument("--json", action="store_true", help="print JSON")

    chg = sub.add_parser("changes", help="list detected changes (facts, text, conflicts, reverts)")
    _common(chg)
    chg.add_argument("--since", metavar="DATE", help="only changes detected on or after DATE (YYYY-MM-DD)")
    chg.add_argument("--source", metavar="NAME", help="only this source")
    chg.add_argument("--json", action="store_true", help="print a JSON list")

    alr = sub.add_parser("alerts", help="list the alert outbox; --retry delivers what is pending now and resends "
                                        "unknown deliveries marked as possible duplicates")
    _common(alr)
    alr.add_argument("--status", choices=("pending", "sending", "sent", "failed", "unknown"),
                     help="only alerts with this status")
    alr.add_argument("--retry", action="store_true",
                     help="deliver pending alerts now (ignoring their backoff), and resend alerts whose delivery "
                          "outcome is unknown, prefixed 【重发·可能重复】")
    alr.add_argument("--notify", action="append", metavar="URL", default=[], help="an extra configured target")
    alr.add_argument("--test", nargs="?", const="", default=None, metavar="URL",
                     help="send one sample alert (marked 【测试】) to every configured target, or only to URL, and "
                          "print each result; exit 1 if one failed")
    alr.add_argument("--json", action="store_true", help="print JSON")

    add_extract_parser(sub)

    ev = sub.add_parser("eval", help="precision/recall/F1 of the extractors over a labeled corpus folder")
    ev.add_argument("corpus", metavar="DIR", help="folder of NNN.txt|html documents with NNN.json gold facts")
    ev.add_argument("--json", action="store_true", help="print the scores and misses as JSON")
    ev.add_argument("--misses", action="store_true", help="also list missed and spurious facts per document")
    add_common_options(ev, sources_help="accepted like every command's, not read", db_help="accepted, not read")

    rex = sub.add_parser("reextract", help="recompute facts and changes of stored snapshots under the current "
                                           "extractor version (no alerts)")
    _common(rex)
    rex.add_argument("--since", metavar="DATE", help="only snapshots fetched on or after DATE (YYYY-MM-DD, China time)")
    rex.add_argument("--source", metavar="NAME", help="only this source (as stored in the database)")
    rex.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    rex.add_argument("--workers", type=_positive_int, metavar="N",
                     help="extraction processes (default: the CPU count; 1 = in this process)")
    rex.add_argument("--recut", action="store_true",
                     help="first cut the stored raw pages again under the current site profiles (bundled and the "
                          "sources file's), e.g. after adding a profile for a mis-cut site; reads the sources file")

    _wait_option(rex, "reextract")
    imp = sub.add_parser("import", help="load saved pages into the history as if crawled at a given time (no alerts)")
    _common(imp)
    imp.add_argument("path", metavar="DIR|FILE", help="an .html page, or a folder of pages listed in its manifest.csv")
    imp.add_argument("--url", help="the URL the page was saved from (must belong to a configured source)")
    imp.add_argument("--fetched-at", metavar="TIME",
                     help="when it was saved: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+08:00] (naive = Asia/Shanghai)")
    imp.add_argument("--manifest", metavar="FILE",
                     help="for a folder: CSV with columns file,url,fetched_at (default: DIR/manifest.csv)")
    imp.add_argument("--dry-run", action="store_true",
                     help="check every file and print what each would be (new / changed / unchanged / already), "
                          "write nothing")

    _wait_option(imp, "import")
    add_history_parser(sub)
    add_export_parser(sub)
    add_serve_parser(sub)
    demo = sub.add_parser("demo", help="crawl the bundled sample site twice, offline, and show what was stored")
    add_common_options(demo, sources_help="accepted like every command's; the demo uses its own sources",
                       db_help="database URL (default: a new SQLite file in a temporary folder)")
    demo.add_argument("--keep", action="store_true", help="keep the temporary folder")
    add_worker_parser(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: open transactions roll back, the run is marked interrupted."""
    stop_signal = signal.SIGTERM


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_CONFIG
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)
        redeliver_swallowed_stops()
    warn_password_in_argv(getattr(args, "db", None))
    try:
        if args.command in READ_SOURCES_FOR_ZONE and args.sources:
            load_config(args.sources)  # their output's times in the sources file's timezone
        code = COMMANDS[args.command](args)
        ignore_stop_signals()  # the command's work and report are complete
        return code
    except ConfigError as exc:
        print(f"policywatch: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (DatabaseError, QueueUnavailable, NoWorkers) as exc:
        print(f"policywatch: {exc}", file=sys.stderr)
        return EXIT_DATABASE
    except LockBusy as exc:
        what = "another check is running" if exc.name == "check" else f"another {exc.name} is running"
        h = exc.holder
        who = f"pid {h.pid} on {h.host} since {local_minute(h.acquired_at)}" if h else "unknown holder"
        hint = "; use --wait to wait for it" if exc.name == "check" else ""
        print(f"policywatch: {what} ({who}){hint}", file=sys.stderr)
        return EXIT_LOCKED
    except OSError as exc:  # disk full, an unwritable --out, a vanished file: one line, never a traceback
        print(f"policywatch: {exc}" if isinstance(exc, OutputError) else
              f"policywatch: {getattr(exc, 'filename', None) or 'error'}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_SOME_FAILED
    except KeyboardInterrupt as exc:
        print("policywatch: " + ("terminated" if isinstance(exc, Terminated) else "interrupted"), file=sys.stderr)
        return 130


def cmd_check(args) -> int:
    config = load_config(args.sources, allow_empty=args.allow_empty)
    config.select(args.source or None)  # unknown names fail before anything is crawled
    targets(config, args.notify)
    from monitor.check import parse_overrides
    try:
        parse_overrides(args.settings)  # a bad -s fails before a database is opened or made
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    queue = redis_url(args, config)
    if queue:
        from spiders.cluster import connect_queue
        connect_queue(queue)  # unreachable: one line, exit 3, before a run is started
    db = open_db(args.db, create=True)
    interactive = {"auto": None, "bar": True, "line": False}[args.progress]
    try:
        result = run_check(config, db, source_names=args.source, overrides=args.settings,
                           reporter=Reporter(interactive=interactive), verbose=args.verbose,
                           notify=args.notify, lock_wait=args.wait, force=args.force,
                           redis_url=queue, wait_workers=args.wait_workers)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    from spiders.pipelines import DATABASE_ERROR, store_failure
    if result.reason == DATABASE_ERROR:  # the database refused the checks (disk full): exit 3, one line
        raise store_failure() or DatabaseError("the database refused the crawl's checks")
    return result.exit_code


def cmd_run(args) -> int:
    import logging
    from monitor.daemon import Daemon
    load_config(args.sources, allow_empty=args.allow_empty)  # a broken file fails before a database is opened
    # or made; sets the log's zone
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LocalTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, handlers=[handler])
    if not args.verbose:
        for noisy in ("apscheduler", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    from monitor.check import parse_overrides
    try:
        parse_overrides(args.settings)  # checked once here, not in every crawl the daemon starts
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if args.redis:  # the crawl children read it from the environment (a URL may hold a password)
        import os
        from monitor.worker import REDIS_ENV
        os.environ[REDIS_ENV] = args.redis
    daemon = Daemon(args.sources, open_db(args.db, create=True), overrides=args.settings, verbose=args.verbose,
                    stop_grace=args.stop_timeout, allow_empty=args.allow_empty)
    return daemon.run()


def cmd_changes(args) -> int:
    from monitor.changes_cmd import cmd_changes as print_changes
    since = since_date(args.since)
    return print_changes(args, since, open_db(args.db, create=False))


def cmd_eval(args) -> int:
    from dataclasses import asdict
    from monitor.evaluate import evaluate, format_report
    from pathlib import Path
    if not Path(args.corpus).is_dir():
        raise ConfigError(f"{args.corpus}: no such folder")
    report = evaluate(args.corpus)
    if not report.documents:
        raise ConfigError(f"{args.corpus}: no labeled documents (NNN.json beside NNN.txt or NNN.html)")
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


def cmd_reextract(args) -> int:
    from monitor.reextract import ReextractError, reextract
    since = since_date(args.since)

    def progress(done) -> None:  # a terminal sees the batches go by; cron gets only the summary line
        print(f"\rreextract: {done.pages} pages, {done.extracted} snapshots extracted", end="", file=sys.stderr)

    db = open_db(args.db, create=False)
    config = _recut_config(args) if args.recut else None
    try:
        with DatabaseLock(db, CHECK_LOCK, wait=args.wait) as lock:
            lock.protect(db)  # a lost lock (PostgreSQL restart) stops it before the next write: exit 3
            if config is not None and not args.dry_run:  # the sources' profile, encoding and region as configured
                SnapshotStore(db).sync_sources([s.spec() for s in config.sources])
            result = reextract(db, since=since, source=args.source, dry_run=args.dry_run,
                               workers=args.workers, progress=progress if sys.stderr.isatty() else None,
                               recut=args.recut, profiles_path=getattr(config, "profiles_path", None))
    except ReextractError as exc:
        raise ConfigError(str(exc)) from None
    if sys.stderr.isatty():
        print(file=sys.stderr)
    for line in result.lines if args.dry_run else ():
        print(line)
    print(result.summary())
    return EXIT_OK


def _recut_config(args):
    """The sources file a recut follows: --sources, else ./sources.toml when there is one (else None: the
    database's sources and the bundled profiles)."""
    from pathlib import Path
    if args.sources is None and not Path(DEFAULT_SOURCES).exists():
        return None
    return load_config(args.sources)


def cmd_import(args) -> int:
    from monitor.extract import InputError
    from monitor.importer import collect, import_pages, local_time, prepare_items
    try:
        items = collect(args.path, args.url, args.fetched_at, args.manifest)
        config = load_config(args.sources)
        prepared = prepare_items(items, config)  # bad input fails before a database is opened or made
        db = open_db(args.db, create=not args.dry_run)
        with DatabaseLock(db, CHECK_LOCK, wait=args.wait) as lock:
            lock.protect(db)
            result = import_pages(prepared, config, db, dry_run=args.dry_run, files=len(items))
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    if result.dry_run:
        for outcome, item in result.planned:
            print(f"{outcome}: {item.path} ({item.url} at {local_time(item)})")
    else:
        for item in result.already:
            print(f"already imported: {item.path} ({item.url} at {local_time(item)})")
    print(result.summary())
    return EXIT_OK


def cmd_serve(args) -> int:
    from monitor.web.serve_cmd import cmd_serve as serve
    return serve(args)


def cmd_demo(args) -> int:
    from monitor.demo import run_demo
    return run_demo(db_url=args.db, keep=args.keep)


READ_SOURCES_FOR_ZONE = ("changes", "history", "export", "reextract")  # commands that need no sources file
COMMANDS = {"check": cmd_check, "run": cmd_run, "status": cmd_status, "sources": cmd_sources,
            "changes": cmd_changes, "alerts": cmd_alerts,
            "extract": cmd_extract, "reextract": cmd_reextract, "import": cmd_import,
            "eval": cmd_eval,
            "demo": cmd_demo,
            "history": cmd_history, "export": cmd_export, "serve": cmd_serve, "worker": cmd_worker}
