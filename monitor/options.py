"""Pieces every command shares: the --db option, and how times are printed."""
from __future__ import annotations

import argparse
from datetime import datetime
from zoneinfo import ZoneInfo

from storage.db import DB_ENV

CHINA = ZoneInfo("Asia/Shanghai")


DEFAULT_SOURCES_FILE = "sources.toml"


def add_common_options(p: argparse.ArgumentParser, *, top: bool = False, sources_help: str | None = None,
                       db_help: str | None = None) -> None:
    """--sources FILE and --db URL, which every command takes before or after its name: on the top-level
    parser (`top`) they default to None, on a command's they are left unset unless given, so a value given
    before the command name is not overwritten by the command's default."""
    default = None if top else argparse.SUPPRESS
    p.add_argument("--sources", metavar="FILE", default=default,
                   help=sources_help or f"sources file (default: ./{DEFAULT_SOURCES_FILE})")
    p.add_argument("--db", metavar="URL", default=default,
                   help=db_help or f"database URL (default: ${DB_ENV} or sqlite:///policywatch.db); "
                                   "e.g. postgresql://user:pass@host/policywatch")


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 for JSON output (None stays None)."""
    return dt.isoformat() if dt else None


def local_minute(dt: datetime | None) -> str:
    """China time to the minute for tables ('' for None)."""
    return dt.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if dt is not None else ""
