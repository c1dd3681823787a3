"""The web view's cache of whole-history reads (the current facts, their matrices, the status table's per-source
parts): each value is kept for one database version (storage.dataversion) and computed again after any commit,
so a page never shows less than it would without the cache."""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from storage.dataversion import DataVersion

MAX_ENTRIES = 64  # values kept for one version (a matrix per region scope, year and sort)


class VersionCache:
    """`get(key, compute)`: compute()'s value for the database as it is now, computed at most once per version."""

    def __init__(self, version: DataVersion) -> None:
        self.version = version
        self._lock = threading.Lock()
        self._at: str | None = None
        self._values: dict[Hashable, Any] = {}
        self.enabled = True

    def peek(self, key: Hashable) -> Any:
        """The cached value of `key` when nothing was committed since it was computed, else None."""
        if not self.enabled:
            return None
        now = self.version.current()
        with self._lock:
            return self._values.get(key) if now == self._at else None

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value of `key` when nothing was committed since it was computed, else compute() (kept)."""
        if not self.enabled:
            return compute()
        now = self.version.current()
        with self._lock:
            if now != self._at:
                self._at, self._values = now, {}
            elif key in self._values:
                return self._values[key]
        value = compute()
        with self._lock:
            if self._at == now and len(self._values) < MAX_ENTRIES:
                self._values[key] = value
        return value
