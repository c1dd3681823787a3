"""Items the watch spider yields: one per fetch attempt."""
from __future__ import annotations

from dataclasses import dataclass

from storage.store import CheckRecord


@dataclass
class PageCheck:
    """A fetch attempt of one watched page, carried to the store pipeline."""

    url: str
    record: CheckRecord
