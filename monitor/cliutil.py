"""What the command modules share: loading the sources file (and its display zone), opening the database,
the configured alert targets, JSON of datetimes, --since dates."""
from __future__ import annotations

import sys
from datetime import datetime

from monitor.config import ConfigError
from monitor.config import load_config as _load_config
from monitor.options import display_zone, iso, set_display_zone
from storage import Database
from storage.db import DB_ENV, safe_url


def warn_password_in_argv(url: str | None) -> None:
    """One line on stderr when --db carries a password: every user sees a command line (`ps`, /proc). The
    command still runs with it; argv is not rewritten (that would hide the leak, not stop it)."""
    if not url:
        return
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    try:
        password = make_url(url).password
    except ArgumentError:
        return  # not a URL: opening the database says so
    if password:
        print(f"policywatch: warning: the database password in --db is visible to every user of this machine; "
              f"set {DB_ENV} instead", file=sys.stderr)


def load_config(path, *, allow_empty: bool = False):
    """The sources file, validated; people's times are shown in its timezone from then on."""
    config = _load_config(path, allow_empty=allow_empty)
    set_display_zone(config.timezone)
    return config


def open_db(url: str | None, *, create: bool) -> Database:
    """The history database: commands that only read pass create=False (a missing one is an error, never
    made); the others may create it in an existing folder and then say so on stderr, once."""
    db = Database(url, create=create)
    if db.created:
        print(f"policywatch: created a new history database: {safe_url(db.url)}", file=sys.stderr)
    return db


def targets(config, extra: list[str]) -> list[str]:
    """Every configured alert target, with ${ENV} checked now so a missing token fails before any crawl."""
    from monitor.alerts import configured_targets
    try:
        return configured_targets(config, extra)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def jsonable(value):
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return iso(value) if isinstance(value, datetime) else value


def since_date(value: str | None) -> datetime | None:
    """--since YYYY-MM-DD as the start of that day in the display zone (the sources file's timezone)."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=display_zone())
    except ValueError:
        raise ConfigError(f"--since {value!r}: expected YYYY-MM-DD") from None
