"""The diff stage of a check: judge and diff new snapshots, record changes (and, later, their alerts) at once."""
from __future__ import annotations

from collections import Counter

from monitor.diff import run_diff
from storage import ChangeStore, Database
from storage.diffdata import DiffData


def diff_and_queue(db: Database, run_id: int | None) -> dict[str, int]:
    """Diff every unjudged snapshot and store changes + snapshot health in one transaction; severity counts."""
    result = run_diff(DiffData(db), run_id)
    ChangeStore(db).record_changes(result.changes, alerts=[], snapshot_health=result.health)
    return dict(Counter(c["severity"] for c in result.changes))
