"""`policywatch export`: one table (facts = fact timelines, changes, snapshots) to one CSV, JSON Lines or
Parquet file, streamed in batches."""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Iterator

from monitor.check import EXIT_OK
from monitor.config import ConfigError
from monitor.history import add_filter_options, build_filter, region_name
from monitor.options import add_common_options
from storage import Database, HistoryStore
from storage.history import TABLES

FORMATS = ("csv", "jsonl", "parquet")
PARQUET_MISSING = "Parquet export needs pyarrow: pip install 'policywatch[parquet]'"

# Column order of each exported table; JSON columns are objects in jsonl and JSON text in csv / parquet.
COLUMNS = {
    "facts": ["region", "region_name", "kind", "plan_year", "value", "first_seen", "published_at", "last_seen",
              "current", "source", "url", "evidence", "snapshot_id", "last_snapshot_id"],
    "changes": ["id", "detected_at", "source", "url", "type", "kind", "severity", "region", "region_name",
                "plan_year", "old", "new", "summary", "evidence_before", "evidence_after", "snapshot_before",
                "snapshot_after", "run_id"],
    "snapshots": ["snapshot_id", "source", "url", "fetched_at", "title", "published_at", "final_url", "health",
                  "content_hash", "extractor_version", "region", "region_name", "plan_year", "main_text"],
}
JSON_COLUMNS = {"value", "old", "new"}
TIME_COLUMNS = {"first_seen", "last_seen", "detected_at", "fetched_at", "published_at"}
INT_COLUMNS = {"plan_year", "snapshot_id", "last_snapshot_id", "id", "snapshot_before", "snapshot_after", "run_id"}


def add_export_parser(sub) -> None:
    p = sub.add_parser("export", help="export facts (timelines), changes or snapshots to csv / jsonl / parquet")
    add_common_options(p, sources_help="accepted like every command's, not read")
    p.add_argument("--format", choices=FORMATS, required=True, help="csv (UTF-8 with BOM), jsonl or parquet")
    p.add_argument("--out", metavar="FILE", required=True, help="file to write ('-' for standard output, not parquet)")
    p.add_argument("--table", choices=TABLES, default="facts",
                   help="facts: one row per fact timeline (as `history`); changes; snapshots (default: facts)")
    bom = p.add_mutually_exclusive_group()
    bom.add_argument("--bom", dest="bom", action="store_true", default=True,
                     help="csv: start with a UTF-8 BOM so Excel reads the Chinese text correctly (default)")
    bom.add_argument("--no-bom", dest="bom", action="store_false", help="csv: plain UTF-8 without a BOM")
    add_filter_options(p)


def export_rows(store: HistoryStore, table: str, flt) -> Iterator[list[dict]]:
    """Batches of rows of `table` in the exported shape: COLUMNS order, region names added, JSON decoded."""
    for batch in store.iter_batches(table, flt):
        out = []
        for r in batch:
            if table == "facts":
                r = dict(r, value=json.loads(r["value"]), current=r["is_current"])
            elif table == "changes":
                r = dict(r, old=_json(r["old_value"]), new=_json(r["new_value"]))
            r["region_name"] = region_name(r.get("region"))
            out.append({c: r.get(c) for c in COLUMNS[table]})
        yield out


def _json(text: str | None):
    return json.loads(text) if text is not None else None


def _cell(name: str, value):
    """A value as CSV / Parquet text: JSON columns as compact JSON, times as ISO 8601 UTC."""
    if value is None:
        return None
    if name in JSON_COLUMNS:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def write_csv(path: str, table: str, batches: Iterator[list[dict]], bom: bool) -> int:
    n = 0
    with _open_text(path, "utf-8-sig" if bom else "utf-8") as f:
        writer = csv.writer(f, lineterminator="\r\n")  # CRLF: the RFC 4180 line end Excel expects
        writer.writerow(COLUMNS[table])
        for batch in batches:
            writer.writerows([["" if (v := _cell(c, r[c])) is None else v for c in COLUMNS[table]] for r in batch])
            n += len(batch)
    return n


def write_jsonl(path: str, table: str, batches: Iterator[list[dict]]) -> int:
    n = 0
    with _open_text(path, "utf-8") as f:
        for batch in batches:
            f.writelines(json.dumps({c: _iso(r[c]) for c in COLUMNS[table]}, ensure_ascii=False) + "\n"
                         for r in batch)
            n += len(batch)
    return n


def write_parquet(path: str, table: str, batches: Iterator[list[dict]]) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(PARQUET_MISSING) from None
    fields = []
    for c in COLUMNS[table]:
        if c in TIME_COLUMNS:
            fields.append(pa.field(c, pa.timestamp("us", tz="UTC")))
        elif c in INT_COLUMNS:
            fields.append(pa.field(c, pa.int64()))
        elif c == "current":
            fields.append(pa.field(c, pa.bool_()))
        else:
            fields.append(pa.field(c, pa.string()))
    schema = pa.schema(fields)
    n = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in batches:
            columns = [[r[c] if c in TIME_COLUMNS or c in INT_COLUMNS or c == "current" else _str(_cell(c, r[c]))
                        for r in batch] for c in COLUMNS[table]]
            writer.write_batch(pa.RecordBatch.from_arrays([pa.array(col, type=f.type)
                                                           for col, f in zip(columns, schema)], schema=schema))
            n += len(batch)
    return n


def _str(value) -> str | None:
    return None if value is None else str(value)


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


class _open_text:
    """A text file to write, or standard output for '-'."""

    def __init__(self, path: str, encoding: str) -> None:
        self.path, self.encoding, self.f = path, encoding, None

    def __enter__(self):
        if self.path == "-":
            sys.stdout.reconfigure(encoding=self.encoding, newline="")
            return sys.stdout
        self.f = open(self.path, "w", encoding=self.encoding, newline="")
        return self.f

    def __exit__(self, *exc) -> None:
        if self.f is not None:
            self.f.close()


class OutputError(OSError):
    """The output file cannot be written (exit 1); str() is one line."""


def cmd_export(args: argparse.Namespace) -> int:
    if args.format == "parquet":
        if args.out == "-":
            raise ConfigError("--out -: parquet is written to a file, not to standard output")
        try:
            import pyarrow  # noqa: F401  (fail before touching the database or the output file)
        except ImportError:
            raise ConfigError(PARQUET_MISSING) from None
    if args.table == "snapshots" and args.kind is not None:
        raise ConfigError("--kind does not apply to --table snapshots (snapshots hold every kind)")
    if args.out != "-" and not Path(args.out).resolve().parent.is_dir():
        raise ConfigError(f"--out {args.out}: folder {Path(args.out).resolve().parent} does not exist")
    store = HistoryStore(Database(args.db, create=False))
    flt = build_filter(args, store)
    batches = export_rows(store, args.table, flt)
    # Write next to the target and rename at the end: a failed export leaves no half-written file.
    tmp = args.out if args.out == "-" else f"{args.out}.part-{os.getpid()}"
    try:
        if args.format == "csv":
            n = write_csv(tmp, args.table, batches, args.bom)
        elif args.format == "jsonl":
            n = write_jsonl(tmp, args.table, batches)
        else:
            n = write_parquet(tmp, args.table, batches)
    except BaseException as exc:
        if tmp != "-" and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write --out {args.out}: {exc.strerror or exc}") from None
        raise
    if tmp != "-":
        os.replace(tmp, args.out)
        print(f"exported {n} {args.table} rows to {args.out}", file=sys.stderr)
    return EXIT_OK
