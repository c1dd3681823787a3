"""`policywatch history`: the timeline of each fact — value, first seen (crawl time), published (the page's own
date), last seen, source, evidence."""
from __future__ import annotations

import argparse
import json
import sys

from extractors import FACT_KINDS
from extractors.regions import COUNTRY, PROVINCE, load_regions
from monitor.check import EXIT_OK
from monitor.config import ConfigError
from monitor.options import add_common_options, iso, local_minute
from storage import Database, HistoryFilter, HistoryStore



def add_filter_options(p: argparse.ArgumentParser) -> None:
    """--region / --kind / --plan-year / --source, shared by history and export."""
    p.add_argument("--region", metavar="NAME|CODE",
                   help="山西 / 山西省 / 140000 (a province includes its cities) or 太原 / 太原市 / 140100")
    p.add_argument("--kind", metavar="KIND", help="fact kind, e.g. personal_contribution, payment_deadline")
    p.add_argument("--plan-year", metavar="Y", type=int, help="plan year (缴费年度), e.g. 2025")
    p.add_argument("--source", metavar="NAME", help="only this source (its name in the sources file)")


def add_history_parser(sub) -> None:
    p = sub.add_parser("history", help="the timeline of each fact: value, first seen, last seen, source, evidence")
    add_common_options(p, sources_help="accepted like every command's, not read")
    add_filter_options(p)
    p.add_argument("--json", action="store_true", help="print a JSON list (see README)")


def build_filter(args: argparse.Namespace, store: HistoryStore) -> HistoryFilter:
    """The filter the options ask for; an unknown region, kind or source is a ConfigError (exit 2)."""
    if args.kind is not None and args.kind not in FACT_KINDS:
        raise ConfigError(f"unknown fact kind {args.kind!r}; known kinds: {', '.join(FACT_KINDS)}")
    if args.source is not None and args.source not in store.source_names():
        raise ConfigError(f"no source named {args.source!r} in the database")
    region = prefix = None
    if args.region is not None:
        found = load_regions().lookup(args.region)
        if found is None:
            raise ConfigError(f"unknown region {args.region!r}: give a name (山西, 太原市) or a GB/T 2260 code "
                              "(140000, 140100)")
        if found.level == COUNTRY:
            prefix = ""  # 全国: every region
        elif found.level == PROVINCE:
            prefix = found.code[:2]  # a province and its cities share the first two digits
        else:
            region = found.code
    return HistoryFilter(kind=args.kind, plan_year=args.plan_year, source=args.source, region=region,
                         region_prefix=prefix)


def region_name(code: str | None) -> str | None:
    found = load_regions().by_code(code) if code else None
    return found.name if found else None


def to_json(row: dict) -> dict:
    """One fact timeline in the documented JSON shape of `history --json`."""
    return {"region": row["region"], "region_name": region_name(row["region"]), "kind": row["kind"],
            "plan_year": row["plan_year"], "value": json.loads(row["value"]),
            "first_seen": iso(row["first_seen"]), "published_at": iso(row["published_at"]),
            "last_seen": iso(row["last_seen"]),
            "current": row["is_current"], "source": row["source"], "url": row["url"],
            "evidence": row["evidence"], "snapshot_id": row["snapshot_id"],
            "last_snapshot_id": row["last_snapshot_id"]}


def cmd_history(args: argparse.Namespace) -> int:
    store = HistoryStore(Database(args.db, create=False))
    rows = store.history(build_filter(args, store))
    if args.json:
        print(json.dumps([to_json(r) for r in rows], ensure_ascii=False, indent=2))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table
    table = Table("region", "kind", "year", "value", "first seen", "published", "last seen", "source", "evidence")
    for r in rows:
        value = json.dumps(json.loads(r["value"]), ensure_ascii=False)
        table.add_row(region_name(r["region"]) or r["region"] or "", r["kind"], str(r["plan_year"] or ""),
                      value, local_minute(r["first_seen"]), local_minute(r["published_at"]),
                      local_minute(r["last_seen"]) + ("" if r["is_current"] else " (ended)"),
                      r["source"], r["evidence"])
    console = Console(width=220 if not sys.stdout.isatty() else None)
    console.print(table)
    if not rows:
        console.print("no facts match")
    return EXIT_OK


