"""Items the watch spider yields: one per fetch attempt."""
from __future__ import annotations

from dataclasses import dataclass

from storage.store import CheckRecord


@dataclass
class PageCheck:
    """A fetch attempt of one watched page, carried to the store pipeline."""

    url: str
    record: CheckRecord
    stored: str | None = None  # the outcome, when the check was already stored (a list page with its links)
    run_id: int | None = None  # the run it belongs to (a cluster worker serves many runs)
