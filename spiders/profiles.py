"""Site profiles loaded from profiles.toml: which selectors cut a page's main content."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from spiders.selectors import Selector

PROFILES_FILE = Path(__file__).with_name("profiles.toml")

_SELECTOR_KEYS = ("content", "title", "published", "lead", "breadcrumb", "drop")
_META_KEYS = ("title_meta", "published_meta", "source_meta")
_ALLOWED = {"name", "domains", "exclude_domains", "detect", "inherit", *_SELECTOR_KEYS, *_META_KEYS}


@dataclass(frozen=True)
class Profile:
    name: str
    domains: tuple[str, ...] = ()
    exclude_domains: tuple[str, ...] = ()
    detect: Selector | None = None
    selectors: dict[str, tuple[Selector, ...]] = field(default_factory=dict)
    meta: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def matches_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        def under(domain: str) -> bool:
            return host == domain or host.endswith("." + domain)
        return any(map(under, self.domains)) and not any(map(under, self.exclude_domains))


@dataclass(frozen=True)
class Boilerplate:
    drop: Selector
    stop_lines: re.Pattern
    stop_line_max_chars: int
    drop_lines: re.Pattern


@dataclass(frozen=True)
class ProfileSet:
    profiles: tuple[Profile, ...]
    boilerplate: Boilerplate

    def by_name(self, name: str) -> Profile:
        for p in self.profiles:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.profiles)
        raise KeyError(f"unknown site profile {name!r} (known: {known}, generic)")


class ProfileError(ValueError):
    """profiles.toml is malformed."""


def _css(sel: str, where: str) -> Selector:
    try:
        return Selector(sel)
    except Exception as exc:  # cssselect raises several parse error types
        raise ProfileError(f"{where}: bad CSS selector {sel!r}: {exc}") from None


def parse_profiles(data: dict, origin: str = "profiles.toml") -> ProfileSet:
    """Build profiles from the parsed TOML document; errors name the profile and key."""
    raw_profiles = data.get("profile", [])
    by_name = {p.get("name"): p for p in raw_profiles}
    profiles = []
    for i, raw in enumerate(raw_profiles, 1):
        where = f"{origin}: profile #{i} {raw.get('name', '?')!r}"
        unknown = set(raw) - _ALLOWED
        if unknown or not raw.get("name"):
            raise ProfileError(f"{where}: missing name or unknown keys {sorted(unknown)}")
        merged = dict(by_name[raw["inherit"]]) if raw.get("inherit") else {}
        merged.pop("domains", None), merged.pop("exclude_domains", None)
        merged.update({k: v for k, v in raw.items() if k != "inherit"})
        profiles.append(Profile(
            name=raw["name"],
            domains=tuple(d.lower() for d in merged.get("domains", ())),
            exclude_domains=tuple(d.lower() for d in merged.get("exclude_domains", ())),
            detect=_css(merged["detect"], where) if merged.get("detect") else None,
            selectors={k: tuple(_css(s, where) for s in merged.get(k, ())) for k in _SELECTOR_KEYS},
            meta={k: tuple(merged.get(k, ())) for k in _META_KEYS},
        ))
    bp = data.get("boilerplate", {})
    return ProfileSet(tuple(profiles), Boilerplate(
        drop=_css(", ".join(bp.get("drop", ["script"])), f"{origin}: [boilerplate] drop"),
        stop_lines=re.compile("|".join(f"(?:{p})" for p in bp.get("stop_lines", ["(?!)"]))),
        stop_line_max_chars=int(bp.get("stop_line_max_chars", 16)),
        drop_lines=re.compile("|".join(f"(?:{p})" for p in bp.get("drop_lines", ["(?!)"]))),
    ))


@lru_cache(maxsize=None)
def load_profiles(path: str | None = None) -> ProfileSet:
    """The bundled profiles (or those of another TOML file), parsed once per process."""
    file = Path(path) if path else PROFILES_FILE
    with open(file, "rb") as fh:
        return parse_profiles(tomllib.load(fh), str(file.name))
