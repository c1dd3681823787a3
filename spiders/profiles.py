"""Site profiles: which selectors cut a page's main content.

The bundled spiders/profiles.toml, and a user's own file of the same schema (`profiles =` in the
sources file) merged over it: user profiles are tried first and replace bundled ones of the same name.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from spiders.selectors import Selector
from spiders.tomllines import TomlFileError, TomlLines, read_toml_text, syntax_error

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
    # The resolved TOML tables by profile name and the [boilerplate] lists: what a user file builds on.
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    raw_boilerplate: dict = field(default_factory=dict, compare=False, repr=False)
    user: frozenset = field(default_factory=frozenset, compare=False)  # names a user file defined

    def by_name(self, name: str) -> Profile:
        for p in self.profiles:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.profiles)
        raise KeyError(f"unknown site profile {name!r} (known: {known}, generic)")


class ProfileError(ValueError):
    """A profiles file is unusable; str() is one line, `FILE:LINE: profile 'name': what is wrong`."""


_TOP_KEYS = {"profile", "boilerplate"}
_BOILERPLATE_KEYS = {"drop", "stop_lines", "stop_line_max_chars", "drop_lines"}


class _Parser:
    """Validates one profiles file; every error names the file, the line and the profile."""

    def __init__(self, origin: str, text: str) -> None:
        self.origin, self.lines = origin, TomlLines(text)

    def fail(self, line: int, label: str, message: str):
        where = f"{self.origin}:{line}" if line else self.origin
        raise ProfileError(f"{where}: {label + ': ' if label else ''}{message}")

    def strings(self, value, key: str, line: int, label: str) -> tuple[str, ...]:
        """A string or a list of strings, as a tuple."""
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.fail(self.lines.key(key, line), label, f"{key} must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def css(self, selector: str, key: str, line: int, label: str) -> Selector:
        try:
            return Selector(selector)
        except Exception as exc:  # cssselect raises several parse error types
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.fail(self.lines.value(key, selector, line), label, f"bad CSS selector {selector!r}: {reason}")

    def regex(self, pattern: str, key: str, line: int, label: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            # The file spells backslashes twice ("\\d"): find the line by the part before the first one.
            self.fail(self.lines.value(key, pattern.split("\\")[0] or pattern, line), label,
                      f"bad regular expression {pattern!r} in {key}: {exc}")
        return pattern


def parse_profiles(data: dict, origin: str = "profiles.toml", text: str = "",
                   base: ProfileSet | None = None) -> ProfileSet:
    """Build the profiles of one parsed TOML file (its `text` gives errors their lines); with `base`, the
    file's profiles are tried first, replace base profiles of the same name and may inherit from them."""
    parser = _Parser(origin, text)
    lines, fail = parser.lines, parser.fail
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        fail(lines.key(unknown[0]), "", f"unknown key {unknown[0]!r} (allowed at top level: "
                                         f"{', '.join(sorted(_TOP_KEYS))})")
    raw_profiles = data.get("profile", [])
    if not isinstance(raw_profiles, list):
        fail(lines.key("profile"), "", "use [[profile]] tables for profiles")
    headers = lines.array_tables("profile")
    by_name = {raw.get("name"): raw for raw in raw_profiles if isinstance(raw, dict)}
    inheritable = dict(base.raw) if base else {}
    resolved: dict[str, dict] = {}
    seen: dict[str, int] = {}
    profiles = []
    for i, raw in enumerate(raw_profiles):
        line = headers[i] if i < len(headers) else 0
        label = f"profile #{i + 1}"
        unknown = sorted(set(raw) - _ALLOWED)
        if unknown:
            fail(lines.key(unknown[0], line), label, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(_ALLOWED))})")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            fail(lines.key("name", line), label, "every profile needs a non-empty name")
        label = f"profile {name!r}"
        if name == "generic":
            fail(lines.key("name", line), label, "'generic' is the built-in fallback; choose another name")
        if name in seen:
            fail(lines.key("name", line), label, f"duplicate name (first defined on line {seen[name]})")
        seen[name] = lines.key("name", line)
        merged: dict = {}
        if "inherit" in raw:
            parent = raw["inherit"]
            source = resolved.get(parent) or (by_name.get(parent) if parent != name else None) \
                or inheritable.get(parent)
            if not isinstance(parent, str) or source is None:
                fail(lines.key("inherit", line), label, f"inherit: no profile named {parent!r}")
            merged = {k: v for k, v in source.items() if k not in ("domains", "exclude_domains", "inherit")}
        merged.update({k: v for k, v in raw.items() if k != "inherit"})
        keys = {k: parser.strings(merged[k], k, line, label) for k in
                ("domains", "exclude_domains", *_SELECTOR_KEYS, *_META_KEYS) if k in merged}
        if "detect" in merged and (not isinstance(merged["detect"], str) or not merged["detect"].strip()):
            fail(lines.key("detect", line), label, "detect must be a CSS selector string")
        if not keys.get("content"):
            fail(lines.key("content", line), label, "needs content = [CSS selectors of the article element]")
        resolved[name] = merged
        profiles.append(Profile(
            name=name,
            domains=tuple(d.lower() for d in keys.get("domains", ())),
            exclude_domains=tuple(d.lower() for d in keys.get("exclude_domains", ())),
            detect=parser.css(merged["detect"], "detect", line, label) if merged.get("detect") else None,
            selectors={k: tuple(parser.css(s, k, line, label) for s in keys.get(k, ())) for k in _SELECTOR_KEYS},
            meta={k: keys.get(k, ()) for k in _META_KEYS},
        ))
    boilerplate = _boilerplate(parser, data.get("boilerplate", {}), base.raw_boilerplate if base else None)
    own = {p.name for p in profiles}
    if base:
        profiles += [p for p in base.profiles if p.name not in own]
    return ProfileSet(tuple(profiles), Boilerplate(
        drop=Selector(", ".join(boilerplate["drop"])),
        stop_lines=re.compile("|".join(f"(?:{p})" for p in boilerplate["stop_lines"]) or "(?!)"),
        stop_line_max_chars=boilerplate["stop_line_max_chars"],
        drop_lines=re.compile("|".join(f"(?:{p})" for p in boilerplate["drop_lines"]) or "(?!)"),
    ), raw={**inheritable, **resolved}, raw_boilerplate=boilerplate, user=frozenset(own) if base else frozenset())


def _boilerplate(parser: _Parser, bp, base: dict | None) -> dict:
    """The [boilerplate] lists of a file, appended to those of `base` (the bundled file's)."""
    line = parser.lines.table("boilerplate")
    label = "[boilerplate]"
    if not isinstance(bp, dict):
        parser.fail(parser.lines.key("boilerplate"), "", "[boilerplate] must be a table")
    unknown = sorted(set(bp) - _BOILERPLATE_KEYS)
    if unknown:
        parser.fail(parser.lines.key(unknown[0], line), label, f"unknown key {unknown[0]!r} "
                                                               f"(allowed: {', '.join(sorted(_BOILERPLATE_KEYS))})")
    out = dict(base) if base else {"drop": ("script",), "stop_lines": (), "drop_lines": (),
                                   "stop_line_max_chars": 16}
    for key in ("drop", "stop_lines", "drop_lines"):
        if key in bp:
            values = parser.strings(bp[key], key, line, label)
            for v in values:
                parser.css(v, key, line, label) if key == "drop" else parser.regex(v, key, line, label)
            out[key] = tuple(out[key]) + values
    if "stop_line_max_chars" in bp:
        value = bp["stop_line_max_chars"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            parser.fail(parser.lines.key("stop_line_max_chars", line), label,
                        "stop_line_max_chars must be a whole number ≥ 1")
        out["stop_line_max_chars"] = value
    return out


def read_profiles(path: str | Path, origin: str | None = None, base: ProfileSet | None = None) -> ProfileSet:
    """Read and validate one profiles file (errors say `origin`, default the path); not cached."""
    file = Path(path)
    origin = origin or str(path)
    try:
        text = read_toml_text(file, origin, "profiles file")
    except TomlFileError as exc:
        raise ProfileError(str(exc)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(syntax_error(exc, origin)) from None
    return parse_profiles(data, origin, text, base)


@lru_cache(maxsize=None)
def bundled_profiles() -> ProfileSet:
    """spiders/profiles.toml, parsed once per process."""
    return read_profiles(PROFILES_FILE, PROFILES_FILE.name)


@lru_cache(maxsize=32)
def _user_profiles(path: str, origin: str | None, mtime_ns: int, size: int) -> ProfileSet:
    return read_profiles(path, origin, bundled_profiles())


def load_profiles(path: str | None = None, origin: str | None = None) -> ProfileSet:
    """The bundled profiles, or with the user profiles of the TOML file `path` merged over them (tried
    first, replacing bundled ones of the same name); parsed once per process and file version."""
    if not path:
        return bundled_profiles()
    try:
        st = Path(path).stat()
    except OSError:
        return read_profiles(path, origin)  # raises the one-line error
    return _user_profiles(str(path), origin, st.st_mtime_ns, st.st_size)
