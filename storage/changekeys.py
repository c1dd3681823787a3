"""The unique key of a change (`changes.change_key`, migration 0010): one row per page, snapshot pair, type,
fact kind, identity and values, so two runs that diff the same versions cannot both store their changes.

The key is a stored value: `base_key` must never change (migration 0010 computed it for older rows).
Changes without a snapshot pair (source_failing / source_recovered) have no key. A diff that finds the
same change twice in one pair (two equal facts on a page) numbers the repeats: ``<sha256>#2``.
"""
from __future__ import annotations

import hashlib
import json
from typing import Iterable, Mapping, MutableMapping

KEY_FIELDS = ("page_id", "snapshot_before", "snapshot_after", "type", "kind", "identity", "old", "new")
# json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str), its encoder made once
_KEY_JSON = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def base_key(change: Mapping) -> str | None:
    """SHA-256 over the fields that make a change unique; None for a change without a page or snapshot."""
    if change.get("page_id") is None or change.get("snapshot_after") is None:
        return None
    parts = [change.get(k) for k in KEY_FIELDS]
    text = _KEY_JSON.encode(parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def assign_keys(rows: Iterable[MutableMapping], taken: Iterable[str] = ()) -> None:
    """Set `change_key` on each row dict: its base key, numbered (#2, #3, …) when the same key is already in
    `taken` or earlier in `rows`."""
    used = set(taken)
    for row in rows:
        key = base_key(row)
        if key is not None:
            n, candidate = 1, key
            while candidate in used:
                n += 1
                candidate = f"{key}#{n}"
            used.add(candidate)
        row["change_key"] = key if key is None else candidate
