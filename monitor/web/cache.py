"""The web view's cache of whole-history reads (the current facts, their matrices, the status table's per-source
parts): each value is kept for one database version (storage.dataversion) and computed again after any commit,
so a page never shows less than it would without the cache. Values made only from the current facts (`facts=True`)
are kept for one version of the current_facts table instead (storage.currentfacts.version, read again only after
a commit): the commits of a crawl that store checks, and the diff stage's of unchanged facts, keep them."""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from storage.dataversion import DataVersion

MAX_ENTRIES = 64  # values kept for one version (a matrix per region scope, year and sort)


class VersionCache:
    """`get(key, compute)`: compute()'s value for the database as it is now, computed at most once per version;
    with `facts=True`, once per version of the current facts (`facts_version()`, asked once per database
    version)."""

    def __init__(self, version: DataVersion, facts_version: Callable[[], Hashable] | None = None) -> None:
        self.version = version
        self.facts_version = facts_version
        self._lock = threading.Lock()
        self._at: dict[bool, Hashable] = {}  # scope (facts or not) → the version its values are of
        self._values: dict[bool, dict[Hashable, Any]] = {False: {}, True: {}}
        self._facts_token: tuple[str, Hashable] | None = None  # (database version, facts version then)
        self.enabled = True

    def token(self, *, facts: bool = False) -> Hashable:
        """The version of the scope now: the database's, or the current facts' (asked again after a commit)."""
        return self._now(facts)

    def _now(self, facts: bool) -> Hashable:
        """The version of the scope now: the database's, or the current facts' (asked again after a commit)."""
        now = self.version.current()
        if not facts or self.facts_version is None:
            return now
        with self._lock:
            known = self._facts_token
        if known is not None and known[0] == now:
            return known[1]
        token = ("facts", self.facts_version())
        with self._lock:
            self._facts_token = (now, token)
        return token

    def peek(self, key: Hashable, *, facts: bool = False) -> Any:
        """The cached value of `key` when nothing it depends on was committed since it was computed, else None."""
        if not self.enabled:
            return None
        now = self._now(facts)
        with self._lock:
            return self._values[facts].get(key) if now == self._at.get(facts) else None

    def get(self, key: Hashable, compute: Callable[[], Any], *, facts: bool = False) -> Any:
        """The cached value of `key` when nothing it depends on was committed since it was computed, else
        compute() (kept)."""
        if not self.enabled:
            return compute()
        now = self._now(facts)
        with self._lock:
            if now != self._at.get(facts):
                self._at[facts], self._values[facts] = now, {}
            elif key in self._values[facts]:
                return self._values[facts][key]
        value = compute()
        with self._lock:
            if self._at.get(facts) == now and len(self._values[facts]) < MAX_ENTRIES:
                self._values[facts][key] = value
        return value
