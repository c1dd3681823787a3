"""`policywatch status` and `policywatch sources`: what is configured, what was last checked, what is
failing or waiting; they only read."""
from __future__ import annotations

import json
import sys

from monitor.check import EXIT_OK, EXIT_SOME_FAILED
from monitor.cliutil import jsonable, load_config, open_db
from monitor.options import iso, local_minute
from storage import SnapshotStore


def cmd_status(args) -> int:
    from monitor.status import collect_status, print_status, status_healthy
    config = load_config(args.sources)
    from monitor.worker import redis_url
    status = collect_status(config, open_db(args.db, create=False), redis_url(args, config))
    if args.json:
        print(json.dumps(jsonable(status), ensure_ascii=False, indent=2))
        return EXIT_OK if status_healthy(status) else EXIT_SOME_FAILED
    print_status(status)
    return EXIT_OK if status_healthy(status) else EXIT_SOME_FAILED


def configured_row(src, stored: dict | None) -> dict:
    """A source as the sources file says it is now, with its stored pages and last check (`sources` reads,
    it does not write the file's changes into the database; the next check does)."""
    blank = dict(pages=0, snapshots=0, last_checked_at=None, last_outcome=None, last_status=None, last_error=None)
    return {**blank, **(stored or {}), "name": src.name, "url": src.url, "kind": src.kind, "region": src.region,
            "enabled": src.enabled}


def cmd_sources(args) -> int:
    from monitor.status import below_minimum_by_source, print_warnings, source_warnings
    config = load_config(args.sources)
    db = open_db(args.db, create=False)
    store = SnapshotStore(db)
    warnings = source_warnings(db)
    below = below_minimum_by_source(db)
    stored = {r["name"]: r for r in store.source_overview()}
    rows = [dict(configured_row(src, stored.get(src.name)), warnings=warnings.get(src.name, []),
                 below_national_minimum=below.get(src.name, [])) for src in config.sources]
    if args.json:
        print(json.dumps([{**r, "last_checked_at": iso(r["last_checked_at"])} for r in rows],
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
                      str(r["pages"]), str(r["snapshots"]), local_minute(r["last_checked_at"]), result)
    console = Console(width=160 if not sys.stdout.isatty() else None)
    console.print(table)
    print_warnings(console, rows)
    return EXIT_OK
