"""`policywatch alerts`: the outbox, --retry, --test."""
from __future__ import annotations

import json
import sys

from monitor.check import EXIT_OK, EXIT_SOME_FAILED
from monitor.cliutil import load_config, open_db, targets as _targets
from monitor.config import ConfigError
from monitor.options import iso, local_minute


def cmd_alerts(args) -> int:
    from monitor.delivery import deliver_due
    from storage import ChangeStore
    if args.test is not None:
        return _alerts_test(args)
    config = load_config(args.sources)
    targets = _targets(config, args.notify)
    store = ChangeStore(open_db(args.db, create=False))
    if args.retry:
        store.reset_alerts()
        counts = deliver_due(store, targets)
        print(f"alerts: {counts.get('sent', 0)} sent, {counts.get('retried', 0)} still pending, "
              f"{counts.get('failed', 0)} failed")
    rows = store.alerts(args.status)
    from monitor.delivery import NOT_CONFIGURED
    waiting = [r for r in rows if r["status"] == "pending" and r["last_error"] == NOT_CONFIGURED]
    if waiting:
        labels = ", ".join(dict.fromkeys(r["target"] for r in waiting))
        print(f"policywatch: {len(waiting)} alerts wait for targets not configured now ({labels}): deliver them "
              "with `policywatch alerts --retry --notify URL` (the full URL), or they are given up after 2 days",
              file=sys.stderr)
    if args.json:
        keys = ("id", "target", "status", "title", "attempts", "created_at", "sent_at", "next_attempt_at",
                "last_error", "change_ids", "claimed_by", "attempted_at", "possible_duplicate")
        print(json.dumps([{k: iso(r[k]) if k.endswith("_at") else r[k] for k in keys} for r in rows],
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    if not args.retry or rows:
        from rich.console import Console
        from rich.table import Table
        table = Table("id", "created", "target", "status", "attempts", "title", "last error")
        for r in rows:
            table.add_row(str(r["id"]), local_minute(r["created_at"]), r["target"], r["status"], str(r["attempts"]),
                          r["title"], r["last_error"] or "")
        Console(width=200 if not sys.stdout.isatty() else None).print(table)
    return EXIT_SOME_FAILED if any(r["status"] in ("failed", "unknown") for r in rows) else EXIT_OK


def _alerts_test(args) -> int:
    from monitor.alerttest import send_test
    targets = [args.test] if args.test else _targets(load_config(args.sources), args.notify)
    if not targets:
        raise ConfigError("no alert targets configured (notify = [...] in the sources file), and no URL given")
    results = send_test(targets)
    for label, error in results:
        print(f"{'sent' if error is None else 'FAILED'}  {label}" + (f": {error}" if error else ""))
    return EXIT_SOME_FAILED if any(error for _, error in results) else EXIT_OK
