"""The diff stage of a check: judge and diff new snapshots, then record the changes and the alerts they
cause in one transaction (the outbox), then deliver what is due."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from monitor.alerts import ALERT_SEVERITIES, expand_target, queue_for_run, target_key
from monitor.diff import run_diff
from monitor.routing import passes
from storage import ChangeStore, Database
from storage.diffdata import DiffData


@dataclass
class StageResult:
    changes: dict[str, int] = field(default_factory=dict)  # severity → count
    delivery: dict[str, int] = field(default_factory=dict)  # sent / retried / failed


def alerts_for(changes: list[dict], targets_by_source: dict[int, list[str]], source_names: dict[int, str],
               run_id: int | None, text_alert_sources: set[int] = frozenset(),
               min_severity: dict[str, str] | None = None) -> list[dict]:
    """Outbox rows: per target, one message with the alerted changes of the sources that notify it."""
    now = datetime.now(timezone.utc)
    view = [dict(c, source=source_names.get(c["source_id"], ""), detected_at=now) for c in changes]
    by_target: dict[str, list[int]] = {}
    for i, c in enumerate(view):
        # low (text-only) changes are recorded, and alerted only for sources with alert_text = true
        if c["severity"] not in ALERT_SEVERITIES and c["source_id"] not in text_alert_sources:
            continue
        for target in targets_by_source.get(c["source_id"], []):
            if passes(c["severity"], target, min_severity or {}):
                by_target.setdefault(target, []).append(i)
    # Targets that get the same changes get the same message: rendered once per distinct set of changes
    # (every source notifying the same targets made one render of a first check's 10,000 conflicts per target).
    same: dict[tuple[int, ...], list[str]] = {}
    for target, positions in by_target.items():
        same.setdefault(tuple(positions), []).append(target)
    rows_of: dict[str, list[dict]] = {}
    for positions, targets in same.items():
        rows = queue_for_run([view[i] for i in positions], targets, run_id, severities=("high", "medium", "low"))
        keyed = {row["target_key"]: row for row in rows}
        for target in targets:  # two targets that are one URL (after ${ENV}) get one message, as before
            row = keyed.pop(target_key(expand_target(target)), None)
            rows_of[target] = [row] if row else []
    out = []
    for target, positions in by_target.items():  # in the targets' order, one message each
        out += [dict(row, change_index=[positions[j] for j in row["change_index"]]) for row in rows_of[target]]
    return out


def diff_and_queue(db: Database, run_id: int | None, targets_by_source: dict[int, list[str]] | None = None,
                   source_names: dict[int, str] | None = None,
                   text_alert_sources: set[int] = frozenset(), min_severity: dict[str, str] | None = None,
                   delivery_targets: list[str] | None = None) -> StageResult:
    """Diff every unjudged snapshot; store changes, snapshot health and alerts atomically; deliver due alerts
    (to `delivery_targets`, default: every target of `targets_by_source`; a muted source's targets still
    receive what was queued before)."""
    result = run_diff(DiffData(db), run_id)
    targets_by_source = targets_by_source or {}
    alerts = alerts_for(result.changes, targets_by_source, source_names or {}, run_id, text_alert_sources,
                        min_severity)
    store = ChangeStore(db)
    token = (run_id, result.conflicts_token) if run_id is not None and result.conflicts_token else None
    store.record_changes(result.changes, alerts=alerts, snapshot_health=result.health, conflicts_token=token)
    targets = sorted(set(delivery_targets) if delivery_targets is not None
                     else {t for ts in targets_by_source.values() for t in ts})
    delivery = {}
    if targets:
        from monitor.delivery import deliver_due  # Apprise (0.4 s to import) only when there is somewhere to send
        delivery = deliver_due(store, targets)
    return StageResult(dict(Counter(c["severity"] for c in result.changes)), delivery)
