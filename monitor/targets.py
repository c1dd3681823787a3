"""Alert targets: Apprise URLs with ``${ENV}`` references, their outbox key and a redacted label.

The expanded URL lives only in memory: the outbox stores ``sha256(expanded url)`` as ``target_key`` and
``redact_target(url)`` as ``target_label``; `scrubber` removes a URL's secrets from log lines and errors.
"""
from __future__ import annotations

import hashlib
import os
import re
from typing import Callable, Mapping, Sequence
from urllib.parse import unquote

LABEL_MAX = 300  # alerts.target_label column
MASK = "***"

_ENV_REF = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.S)
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9\-]{1,63}(?<!-)$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


# -- targets -------------------------------------------------------------------------
def expand_target(url: str, env: Mapping[str, str] = os.environ) -> str:
    """The target URL with every ``${NAME}`` replaced from `env`; ValueError naming an unset variable."""
    def value(m: re.Match) -> str:
        name = m.group(1)
        if not _ENV_NAME.fullmatch(name):
            raise ValueError(f"notify target: bad environment reference ${{{name}}} (use ${{NAME}})")
        if not env.get(name):
            raise ValueError(f"notify target: environment variable {name} is not set")
        return env[name]
    return _ENV_REF.sub(value, url)


def configured_targets(config, extra: Sequence[str] = ()) -> list[str]:
    """Every alert target of a config (top level and per source) plus `extra`, each checked for ${ENV}.

    Raises ValueError naming the file when a referenced environment variable is missing.
    """
    targets = list(dict.fromkeys([*config.notify, *(t for s in config.sources for t in s.notify), *extra]))
    for t in targets:
        try:
            url = expand_target(t)
        except ValueError as exc:
            raise ValueError(f"{config.path}: {exc}") from None
        if not _apprise_knows(url):
            where = "--notify" if t in extra and t not in config.notify else config.path
            what = (f"{url.split('://', 1)[0]}:// is not a target scheme Apprise knows, or the URL is incomplete"
                    if "://" in url else "an alert target needs a scheme")
            raise ValueError(f"{where}: {what} (e.g. dingtalk://TOKEN, wecombot://KEY, mailto://user:pass@host, "
                             "json://host/hook)")
    return targets


def _apprise_knows(url: str) -> bool:
    """Whether Apprise can build a notifier from `url` (nothing is sent)."""
    import logging

    import apprise
    log = logging.getLogger("apprise")
    level = log.level
    log.setLevel(logging.CRITICAL)  # its "unsupported URL" warning would repeat our one line
    try:
        return apprise.Apprise.instantiate(url) is not None
    finally:
        log.setLevel(level)


def target_key(url: str) -> str:
    """The outbox key of an (expanded) target URL: its SHA-256."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def _split_url(url: str) -> dict[str, str] | None:
    """scheme, userinfo, hostport, path, query, fragment of a URL, without any validation of the parts."""
    m = _URL.match(url.strip())
    if not m:
        return None
    rest, fragment = (m.group("rest").split("#", 1) + [""])[:2]
    rest, query = (rest.split("?", 1) + [""])[:2]
    authority, slash, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    return dict(scheme=m.group("scheme").lower(), userinfo=userinfo if at else "", has_user=at, hostport=hostport,
                path=slash + path, query=query, fragment=fragment)


def _is_hostname(host: str) -> bool:
    """Whether `host` names a server (DNS name, IP literal, localhost) rather than being a token."""
    if host.startswith("[") and host.endswith("]"):
        return True  # IPv6 literal
    if host.lower() == "localhost" or _IPV4.match(host):
        return True
    labels = host.rstrip(".").split(".")
    return len(labels) >= 2 and all(_HOST_LABEL.match(label) for label in labels) and labels[-1][:1].isalpha()


def _host_secret(hostport: str) -> bool:
    """Whether the host part is a token (dingtalk://TOKEN, tgram://123:ABC…) rather than a server name."""
    host, colon, port = hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
    if not colon:
        host, port = hostport, ""
    if port and not port.isdigit():
        return True
    return not _is_hostname(host) and len(host) > 8


def _secret_segment(segment: str) -> bool:
    """A path segment that may be a token or an id: long, or with a digit (a Telegram chat id -1001234, a
    short key); words such as `hook` or `api` are kept, they tell targets apart."""
    return len(segment) > 8 or any(c.isdigit() for c in segment)


def _secret_parts(url: str) -> list[str]:
    """The pieces of a target URL that `redact_target` masks (passwords, tokens, long path segments, query values)."""
    parts = _split_url(url)
    if parts is None:
        return [url] if url else []
    found: list[str] = []
    if parts["userinfo"]:
        user, colon, password = parts["userinfo"].partition(":")
        if colon and password:
            found.append(password)
        if len(user) > 8:
            found.append(user)
    if _host_secret(parts["hostport"]):
        found.append(parts["hostport"])
    found += [seg for seg in parts["path"].split("/") if _secret_segment(seg)]
    for pair in parts["query"].split("&"):
        value = pair.partition("=")[2]
        if value:
            found.append(value)
    if parts["fragment"]:
        found.append(parts["fragment"])
    return found


def redact_target(url: str) -> str:
    """The URL safe to log and store: scheme and host kept; passwords, tokens, long segments, query values masked."""
    parts = _split_url(url)
    if parts is None:
        return MASK
    out = parts["scheme"] + "://"
    if parts["has_user"]:
        user, colon, password = parts["userinfo"].partition(":")
        out += (MASK if len(user) > 8 else user) + (":" + MASK if colon else "") + "@"
    out += MASK if _host_secret(parts["hostport"]) else parts["hostport"]
    if parts["path"]:
        out += "/".join(MASK if _secret_segment(seg) else seg for seg in parts["path"].split("/"))
    if parts["query"]:
        out += "?" + "&".join(
            (pair.partition("=")[0] + ("=" + MASK if pair.partition("=")[2] else "=")) if "=" in pair else pair
            for pair in parts["query"].split("&"))
    if parts["fragment"]:
        out += "#" + MASK
    return out if len(out) <= LABEL_MAX else out[:LABEL_MAX - 1] + "…"


def scrubber(url: str) -> Callable[[str], str]:
    """A function removing `url` and its secret parts from a text (for log lines and stored errors)."""
    label = redact_target(url)
    secrets: set[str] = set()
    password = ""
    parts = _split_url(url)
    if parts and ":" in parts["userinfo"]:
        password = parts["userinfo"].partition(":")[2]
    for s in _secret_parts(url):
        for form in (s, unquote(s)):
            if len(form) >= 4 or (form and form in (password, unquote(password))):
                secrets.add(form)
    patterns = [re.compile(r"(?<![A-Za-z0-9])" + re.escape(s) + r"(?![A-Za-z0-9])")
                for s in sorted(secrets, key=len, reverse=True)]

    def scrub(text: str) -> str:
        text = text.replace(url, label)
        for p in patterns:
            text = p.sub(MASK, text)
        return text
    return scrub
