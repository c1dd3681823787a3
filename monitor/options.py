"""Pieces every command shares: the --db option, and how times are printed."""
from __future__ import annotations

import argparse
import logging
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


_display = {"zone": CHINA}  # the zone people read times in: the sources file's `timezone` once it is loaded


def set_display_zone(name: str) -> None:
    """Show human-readable times in this IANA zone (the sources file's [defaults] timezone)."""
    _display["zone"] = ZoneInfo(name)


def display_zone() -> ZoneInfo:
    return _display["zone"]


def local_minute(dt: datetime | None) -> str:
    """A time to the minute in the display zone, with its offset ('2026-12-03 08:00 +08:00'; '' for None).
    JSON output stays UTC ISO 8601 (iso)."""
    if dt is None:
        return ""
    local = dt.astimezone(_display["zone"])
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M ") + offset[:3] + ":" + offset[3:]


class LocalTimeFormatter(logging.Formatter):
    """Log records stamped in the display zone with its offset (2026-12-03 08:00:01 +08:00)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        local = datetime.fromtimestamp(record.created, _display["zone"])
        offset = local.strftime("%z")
        return local.strftime("%Y-%m-%d %H:%M:%S ") + offset[:3] + ":" + offset[3:]
