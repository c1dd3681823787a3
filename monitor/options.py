"""Pieces every command shares: the --db option, and how times are printed."""
from __future__ import annotations

import argparse
from datetime import datetime
from zoneinfo import ZoneInfo

from storage.db import DB_ENV

CHINA = ZoneInfo("Asia/Shanghai")


def add_db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", default=None,
                   help=f"database URL (default: ${DB_ENV} or sqlite:///policywatch.db); "
                        "e.g. postgresql://user:pass@host/policywatch")


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 for JSON output (None stays None)."""
    return dt.isoformat() if dt else None


def local_minute(dt: datetime | None) -> str:
    """China time to the minute for tables ('' for None)."""
    return dt.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if dt is not None else ""
