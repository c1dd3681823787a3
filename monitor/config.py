"""The sources file (sources.toml): parsing and validation with line-numbered errors.

Contract (other tools rely on it; extend, never rename):

    notify = []                     # alert targets (Apprise URLs)
    profiles = "my-profiles.toml"   # user site profiles (profiles.toml's schema), relative to this file
    [defaults]
    schedule = "0 8 * * *"          # cron, Asia/Shanghai (6 fields: seconds first)
    jitter = 0                      # policywatch run: random delay up to N s per firing
    crawl_timeout = 3600            # policywatch run: a crawl is stopped after N s
    misfire_grace = 3600            # policywatch run: a firing missed by up to N s still runs (once)
    alert_retry = 300               # policywatch run: pending alerts are retried every N s
    [[source]]
    name = "..."                    # unique
    url = "http://..."
    region = "太原市"               # optional
    kind = "page" | "list"          # list: follow links matching `follow`
    follow = "regex"
    notify = ["…", {url = "…", min_severity = "high"}]   # added to the top-level list
    notify_replace = true           # …or replacing it
    mute = true | mute_until = "2026-12-31"   # crawled and recorded, no alert sent
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

from monitor.routing import is_muted, parse_targets, source_targets
from spiders.tomllines import TomlFileError, TomlLines, read_toml_text, syntax_error
from storage.store import SourceSpec

DEFAULT_SOURCES = "sources.toml"
DEFAULT_SCHEDULE = "0 8 * * *"
DEFAULT_TIMEZONE = "Asia/Shanghai"

TOP_KEYS = {"notify", "profiles", "defaults", "source"}
DEFAULT_KEYS = {"schedule", "timezone", "notify", "enabled", "jitter", "crawl_timeout", "misfire_grace",
                "alert_retry", "redis"}
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
DAY = 86400
# The daemon's timing keys in [defaults]: (default seconds, minimum, maximum)
DAEMON_TIMING = {"jitter": (0, 0, DAY), "crawl_timeout": (3600, 1, 7 * DAY), "misfire_grace": (3600, 1, 31 * DAY),
                 "alert_retry": (300, 1, DAY)}
SOURCE_KEYS = {"name", "url", "kind", "follow", "region", "enabled", "schedule", "notify", "profile",
               "encoding", "alert_text", "mute", "mute_until", "notify_replace", "allow_hosts"}
KINDS = ("page", "list")


class ConfigError(ValueError):
    """The sources file is unusable; str() is one line naming the file and line."""


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    kind: str = "page"
    follow: str | None = None
    region: str | None = None
    enabled: bool = True
    schedule: str = DEFAULT_SCHEDULE
    notify: tuple[str, ...] = ()
    profile: str | None = None
    encoding: str | None = None
    alert_text: bool = False  # also alert low-severity text-only changes of this source
    line: int = 0
    mute: bool = False  # crawled and recorded, no alert sent
    mute_until: date | None = None  # muted through this day (the sources file's timezone)
    notify_replace: bool = False  # its own notify list replaces the top-level one
    allow_hosts: tuple[str, ...] = ()  # a list source's links and redirects may also go to these hosts

    def muted(self, today: date) -> bool:
        return is_muted(self.mute, self.mute_until, today)

    def spec(self) -> SourceSpec:
        return SourceSpec(name=self.name, url=self.url, kind=self.kind, region=self.region,
                          follow=self.follow, profile=self.profile, encoding=self.encoding,
                          enabled=self.enabled)


@dataclass(frozen=True)
class Config:
    path: str
    sources: tuple[Source, ...]
    notify: tuple[str, ...] = ()
    schedule: str = DEFAULT_SCHEDULE
    timezone: str = DEFAULT_TIMEZONE
    extras: dict = field(default_factory=dict)
    timing: dict = field(default_factory=lambda: {k: v[0] for k, v in DAEMON_TIMING.items()})
    profiles_path: str | None = None  # absolute path of the user profiles file (`profiles =`), if any
    min_severity: dict = field(default_factory=dict)  # target URL → lowest severity it receives
    redis: str | None = None  # `redis =` in [defaults]: crawl on the workers of this shared queue

    def today(self) -> date:
        """Today's date in the sources file's timezone (for mute_until)."""
        from datetime import datetime
        from zoneinfo import ZoneInfo
        return datetime.now(ZoneInfo(self.timezone)).date()

    def targets_for(self, source: Source, extra: Sequence[str] = ()) -> list[str]:
        """Where this source's alerts go now (monitor.routing.source_targets)."""
        return source_targets(self.notify, source.notify, extra, replace=source.notify_replace,
                              muted=source.muted(self.today()))

    @property
    def jitter(self) -> int:
        return self.timing["jitter"]

    @property
    def crawl_timeout(self) -> int:
        return self.timing["crawl_timeout"]

    @property
    def misfire_grace(self) -> int:
        return self.timing["misfire_grace"]

    @property
    def alert_retry(self) -> int:
        return self.timing["alert_retry"]

    @property
    def enabled_sources(self) -> list[Source]:
        return [s for s in self.sources if s.enabled]

    def select(self, names: list[str] | None) -> list[Source]:
        """The enabled sources, or the named ones (which must exist)."""
        if not names:
            return self.enabled_sources
        by_name = {s.name: s for s in self.sources}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise ConfigError(f"{self.path}: no source named {', '.join(map(repr, missing))}")
        return [by_name[n] for n in names]


def cron_trigger(expr: str, tz: str = DEFAULT_TIMEZONE, jitter: int | None = None):
    """The APScheduler trigger of a cron expression: 5 fields as crontab, or 6 with seconds first."""
    from apscheduler.triggers.cron import CronTrigger
    fields = expr.split()
    if len(fields) == 5:
        trigger = CronTrigger.from_crontab(expr, timezone=tz)
        trigger.jitter = jitter or None  # from_crontab takes no jitter; the trigger reads this attribute
        return trigger
    if len(fields) == 6:
        return CronTrigger(second=fields[0], minute=fields[1], hour=fields[2], day=fields[3], month=fields[4],
                           day_of_week=fields[5], timezone=tz, jitter=jitter or None)
    raise ValueError("a cron schedule has 5 fields (minute hour day month weekday) or 6 with seconds first")


@lru_cache(maxsize=256)  # thousands of sources share a few schedules
def check_cron(expr: str, tz: str = DEFAULT_TIMEZONE) -> str | None:
    """None if `expr` is a valid cron expression (5 fields, or 6 with seconds first), else the reason."""
    try:
        cron_trigger(expr, tz)
    except (ValueError, TypeError, KeyError) as exc:
        return str(exc)
    return None


def check_url(url: object) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return "url must be a non-empty string"
    try:
        parts = urlsplit(url.strip())
        host, _port = parts.hostname, parts.port  # both raise ValueError on a bad [IPv6] host or port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "url must start with http:// or https://"
    if not host:
        return "url has no host"
    if any(c.isspace() for c in url.strip()):
        return "url contains spaces"
    return None


def load_config(path: str | Path | None = None, *, allow_empty: bool = False) -> Config:
    """Read and validate a sources file; raise ConfigError (one line, with file:line) on any problem.

    A file without any source is refused unless `allow_empty`: syncing it would disable every source."""
    path = Path(path or DEFAULT_SOURCES)
    try:
        text = read_toml_text(path, str(path), "sources file", " (create one or pass --sources FILE)")
    except TomlFileError as exc:
        raise ConfigError(str(exc)) from None
    config = parse_config(text, str(path))
    if not config.sources and not allow_empty:
        raise ConfigError(f"{path}: no sources: refusing to disable every source "
                          "(add [[source]] tables, or pass --allow-empty if that is meant)")
    return config


def parse_config(text: str, origin: str = DEFAULT_SOURCES) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(syntax_error(exc, origin)) from None
    lines = TomlLines(text)
    source_headers = lines.array_tables("source")

    def fail(line: int, message: str):
        raise ConfigError(f"{origin}:{line}: {message}" if line else f"{origin}: {message}")

    unknown = set(data) - TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        fail(lines.key(key), f"unknown key {key!r} (allowed at top level: {', '.join(sorted(TOP_KEYS))})")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        fail(lines.key("defaults"), "[defaults] must be a table")
    defaults_line = lines.table("defaults")
    for key in defaults:
        if key not in DEFAULT_KEYS:
            fail(lines.key(key, defaults_line), f"unknown key {key!r} in [defaults] "
                                                f"(allowed: {', '.join(sorted(DEFAULT_KEYS))})")
    tz = defaults.get("timezone", DEFAULT_TIMEZONE)
    try:
        from zoneinfo import ZoneInfo
        ZoneInfo(tz)
    except Exception:
        fail(lines.key("timezone", defaults_line), f"unknown time zone {tz!r}")
    schedule = defaults.get("schedule", DEFAULT_SCHEDULE)
    if not isinstance(schedule, str) or (reason := check_cron(schedule, tz)):
        fail(lines.key("schedule", defaults_line), f"bad cron schedule {schedule!r}: "
                                                   f"{reason if isinstance(schedule, str) else 'not a string'}")
    timing = {}
    for key, (default, minimum, maximum) in DAEMON_TIMING.items():
        value = defaults.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            fail(lines.key(key, defaults_line), f"{key} must be a whole number of seconds from {minimum} to "
                                                f"{maximum}, got {value!r}")
        timing[key] = value
    notify, min_severity = parse_targets(data.get("notify", []), lambda m: fail(lines.key("notify"), m), "notify")
    default_notify, more = parse_targets(defaults.get("notify", []),
                                         lambda m: fail(lines.key("notify", defaults_line), m), "notify")
    min_severity.update(more)
    redis = defaults.get("redis")
    if redis is not None and (not isinstance(redis, str) or not redis.startswith(REDIS_SCHEMES)):
        fail(lines.key("redis", defaults_line), "redis must be a URL like \"redis://HOST:6379/0\"")
    default_enabled = defaults.get("enabled", True)
    profiles_path, profiles = _user_profiles(data.get("profiles"), origin, lambda m: fail(lines.key("profiles"), m))

    raw_sources = data.get("source", [])
    if not isinstance(raw_sources, list):
        fail(lines.key("source"), "use [[source]] tables for sources")
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_sources):
        line = source_headers[i] if i < len(source_headers) else 0
        if not isinstance(raw, dict):
            fail(lines.key("source"), "use [[source]] tables for sources")
        label = [f"[[source]] #{i + 1}"]  # becomes "source 'name'" once the name is known

        def bad(key: str | None, message: str, _line=line, _label=label):
            fail(lines.key(key, _line) if key else _line, f"{_label[0]}: {message}")

        unknown = set(raw) - SOURCE_KEYS
        if unknown:
            key = sorted(unknown)[0]
            bad(key, f"unknown key {key!r} (allowed: {', '.join(sorted(SOURCE_KEYS))})")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            bad("name" if "name" in raw else None, "every source needs a non-empty name")
        name = name.strip()
        if any(ord(c) < 32 or ord(c) == 127 for c in name):
            bad("name", f"source name {name!r} contains control characters")
        label[0] = f"source {name!r}"
        if name in seen:
            bad("name", f"duplicate name (first defined on line {seen[name]})")
        seen[name] = lines.key("name", line)
        if "url" not in raw:
            bad(None, "missing url")
        if reason := check_url(raw["url"]):
            bad("url", f"bad url {raw['url']!r}: {reason}")
        kind = raw.get("kind", "page")
        if kind not in KINDS:
            bad("kind", f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        follow = raw.get("follow")
        if kind == "list" and not follow:
            bad("kind", "a list source needs `follow`, a regex for the article links to watch")
        if follow is not None:
            if not isinstance(follow, str):
                bad("follow", "follow must be a string (a regular expression)")
            try:
                re.compile(follow)
            except re.error as exc:
                bad("follow", f"bad regex {follow!r}: {exc}")
            if kind != "list":
                bad("follow", "follow only applies to kind = \"list\"")
        src_schedule = raw.get("schedule", schedule)
        if not isinstance(src_schedule, str) or (reason := check_cron(src_schedule, tz)):
            bad("schedule", f"bad cron schedule {src_schedule!r}: "
                            f"{reason if isinstance(src_schedule, str) else 'not a string'}")
        enabled = raw.get("enabled", default_enabled)
        if not isinstance(enabled, bool):
            bad("enabled", "enabled must be true or false")
        if not isinstance(raw.get("alert_text", False), bool):
            bad("alert_text", "alert_text must be true or false")
        for key in ("region", "profile", "encoding"):
            if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
                bad(key, f"{key} must be a non-empty string")
        if "encoding" in raw:
            from spiders.encoding import canonical
            if canonical(raw["encoding"]) is None:
                bad("encoding", f"unknown encoding {raw['encoding']!r}")
        if "profile" in raw and raw["profile"] != "generic":
            try:
                profiles().by_name(raw["profile"])
            except KeyError as exc:
                bad("profile", str(exc.args[0]))
        src_notify, more = parse_targets(raw.get("notify", []), lambda m: bad("notify", m), "notify")
        min_severity.update(more)
        for key in ("mute", "notify_replace"):
            if not isinstance(raw.get(key, False), bool):
                bad(key, f"{key} must be true or false")
        mute_until = raw.get("mute_until")
        if mute_until is not None:
            mute_until = _day(mute_until, lambda m: bad("mute_until", m))
        replace = raw.get("notify_replace", False)
        allow_hosts = raw.get("allow_hosts", [])
        if not isinstance(allow_hosts, list) or not all(isinstance(h, str) and h.strip() for h in allow_hosts):
            bad("allow_hosts", "allow_hosts must be a list of host names")
        sources.append(Source(name=name, url=raw["url"].strip(), kind=kind, follow=follow,
                              region=raw.get("region"), enabled=enabled, schedule=src_schedule,
                              notify=tuple(src_notify) if replace else tuple(default_notify) + tuple(src_notify),
                              profile=raw.get("profile"), encoding=raw.get("encoding"),
                              alert_text=raw.get("alert_text", False), line=line, mute=raw.get("mute", False),
                              mute_until=mute_until, notify_replace=replace,
                              allow_hosts=tuple(h.strip().lower() for h in allow_hosts)))
    return Config(path=origin, sources=tuple(sources), notify=tuple(notify), schedule=schedule, timezone=tz,
                  timing=timing, profiles_path=profiles_path, min_severity=min_severity, redis=redis)


def _day(value, fail) -> date:
    """A TOML date or a "YYYY-MM-DD" string."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    fail(f"expected a date YYYY-MM-DD, got {value!r}")


def _user_profiles(value, origin: str, fail):
    """(absolute path, profile set getter) of `profiles = "FILE"` (relative to the sources file). The file
    is validated now (a broken one is a ConfigError naming its own file and line); the bundled profiles
    are only parsed when a source names a profile."""
    from functools import cache
    if value is None:
        def bundled():
            from spiders.profiles import load_profiles
            return load_profiles()
        return None, cache(bundled)
    if not isinstance(value, str) or not value.strip():
        fail("profiles must be the path of a TOML file of [[profile]] tables")
    shown = Path(origin).parent / value.strip()
    if not shown.is_file():
        fail(f"profiles file {value!r} not found ({shown.resolve()})" if not shown.exists()
             else f"profiles {value!r} is not a file")
    from spiders.profiles import ProfileError, load_profiles
    path = str(shown.resolve())
    try:
        merged = load_profiles(path, str(shown))
    except ProfileError as exc:
        raise ConfigError(str(exc)) from None
    return path, lambda: merged
