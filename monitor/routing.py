"""Which alert targets a source's changes go to: the `notify` lists (strings or {url, min_severity} tables),
`notify_replace`, and `mute` / `mute_until` (crawled and recorded, nothing sent)."""
from __future__ import annotations

from datetime import date
from typing import Callable, Sequence

SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2}


def parse_targets(value, fail: Callable[[str], None], key: str) -> tuple[list[str], dict[str, str]]:
    """A `notify` value → (target URLs, URL → min_severity for the entries that set one). An entry is an
    Apprise URL or a table {url = "…", min_severity = "high"}; `fail(message)` raises the file:line error."""
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list):
        fail(f"{key} must be a list of Apprise URLs or {{url = …, min_severity = …}} tables")
    urls, minimum = [], {}
    for entry in value:
        if isinstance(entry, str):
            urls.append(entry)
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str) or set(entry) - {"url", "min_severity"}:
            fail(f"{key}: each entry is a URL string or a table with `url` and optional `min_severity`")
        level = entry.get("min_severity", "low")
        if level not in SEVERITY_RANK:
            fail(f"{key}: min_severity must be one of {', '.join(SEVERITY_RANK)}, not {level!r}")
        urls.append(entry["url"])
        minimum[entry["url"]] = level
    return urls, minimum


def is_muted(mute: bool, mute_until: date | None, today: date) -> bool:
    """A source is muted while `mute` is true, or through the day `mute_until` (in the sources file's zone)."""
    return mute or (mute_until is not None and today <= mute_until)


def source_targets(top: Sequence[str], own: Sequence[str], extra: Sequence[str], *, replace: bool,
                   muted: bool) -> list[str]:
    """The targets of one source's alerts: the top-level list, then the source's own (its [defaults] ones
    included) — only its own with notify_replace — then one-off --notify URLs; none while muted."""
    if muted:
        return []
    return list(dict.fromkeys([*(() if replace else top), *own, *extra]))


def passes(severity: str, target: str, minimum: dict[str, str]) -> bool:
    """Whether a change of `severity` goes to `target` under its min_severity (default: every alerted one)."""
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK[minimum.get(target, "low")]
