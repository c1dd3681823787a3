"""The alert outbox's SQL: claiming alerts for delivery, recording each attempt before it is sent, its outcome.

An alert is `pending` until a delivery claims it (`claimed_by` = "host:pid", next attempt pushed by the lease),
then `sending` from just before its message goes out (`attempted_at`), then `sent`, `pending` again (retry with
backoff) or `failed`. A sender that dies while `sending` leaves an outcome nobody knows — the receiver may have
the message — so the alert becomes `unknown` and is never sent again automatically; `reset_alerts` (what
`policywatch alerts --retry` runs) makes it pending again flagged `possible_duplicate`. A claim or attempt of a
process that is provably dead (same host, pid gone) is taken over at once, not after the lease.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import func, or_, select, update

from storage.db import Database
from storage.models import Alert
from storage.types import process_gone, this_host, utcnow

LEASE = timedelta(minutes=10)
STATUSES = ("pending", "sending", "sent", "failed", "unknown")


def claimer() -> str:
    """This process as an alert claimer: ``host:pid``."""
    return f"{this_host()}:{os.getpid()}"


def _claimer_dead(claimed_by: str | None) -> bool:
    """Whether `claimed_by` names a process of this host that no longer exists."""
    host, _, pid = (claimed_by or "").rpartition(":")
    return bool(host) and pid.isdigit() and process_gone(host, int(pid))


def unknown_reason(claimed_by: str | None, attempted_at: datetime | None) -> str:
    """The last_error of an alert whose sender stopped while sending."""
    when = f" at {attempted_at:%Y-%m-%d %H:%M:%S} UTC" if attempted_at else ""
    return (f"delivery outcome unknown: {claimed_by or 'the sender'} stopped while sending{when}; "
            "the target may have it. Not resent automatically: `policywatch alerts --retry` resends it "
            "marked as a possible duplicate")


class OutboxStore:
    """Alert outbox queries, mixed into ChangeStore (which writes the alerts with their changes)."""

    db: Database

    def alerts(self, status: str | None = None) -> list[dict]:
        """Every alert (or those with `status`), oldest first."""
        q = select(Alert).order_by(Alert.id)
        if status:
            q = q.where(Alert.status == status)
        with self.db.session() as s:
            return [_alert_dict(a) for a in s.scalars(q)]

    def claim_due_alerts(self, now: datetime, lease: timedelta = LEASE) -> list[dict]:
        """Pending alerts due now, or claimed by a dead process of this host, each claimed by this process.

        First, alerts left `sending` by a dead process (or for longer than `lease`) become `unknown`.
        A claim pushes the next attempt by `lease`, so a parallel run skips the alert meanwhile.
        """
        me = claimer()
        with self.db.session() as s:
            stuck = s.scalars(select(Alert).where(Alert.status == "sending"))
            for a in stuck:
                if a.claimed_by != me and (_claimer_dead(a.claimed_by) or (a.attempted_at or now) <= now - lease):
                    a.status, a.last_error = "unknown", unknown_reason(a.claimed_by, a.attempted_at)
                    a.attempts += 1  # claimed_by stays: who was sending
            q = (select(Alert).where(Alert.status == "pending",
                                     or_(Alert.next_attempt_at <= now, Alert.claimed_by.is_not(None)))
                 .order_by(Alert.id))
            if self.db.dialect == "postgresql":
                q = q.with_for_update(skip_locked=True)
            due = [a for a in s.scalars(q) if a.next_attempt_at <= now or _claimer_dead(a.claimed_by)]
            for a in due:
                a.next_attempt_at, a.claimed_by = now + lease, me
            return [_alert_dict(a) for a in due]

    def start_attempt(self, alert_id: int) -> bool:
        """Record, before sending, that this process is sending the alert now; False if it is no longer ours."""
        with self.db.session() as s:
            return s.execute(update(Alert).where(Alert.id == alert_id, Alert.status == "pending",
                                                 Alert.claimed_by == claimer())
                             .values(status="sending", attempted_at=utcnow())).rowcount == 1

    def finish_alert(self, alert_id: int, *, sent: bool, error: str | None = None,
                     retry_at: datetime | None = None, give_up: bool = False, attempted: bool = True) -> None:
        """Record one delivery's outcome: sent, retried later, or failed for good; the claim is released.

        `attempted=False`: nothing was sent (e.g. the target is no longer configured); no attempt is counted."""
        now = utcnow()
        with self.db.session() as s:
            alert = s.get(Alert, alert_id)
            alert.attempts += 1 if attempted else 0
            alert.claimed_by = None
            if sent:
                alert.status, alert.sent_at, alert.last_error = "sent", now, None
            elif give_up:
                alert.status, alert.last_error = "failed", error
            else:
                alert.status, alert.next_attempt_at, alert.last_error = "pending", retry_at or now, error

    def reset_alerts(self, ids: Sequence[int] | None = None) -> int:
        """Make pending alerts due now, and unknown ones pending again as possible duplicates (what
        `alerts --retry` runs); named `ids` (failed ones too) instead when given. Returns how many."""
        now = utcnow()
        with self.db.session() as s:
            if ids:
                n = s.execute(update(Alert).where(Alert.id.in_(list(ids)), Alert.status != "unknown")
                              .values(status="pending", next_attempt_at=now, claimed_by=None)).rowcount
                where = [Alert.id.in_(list(ids))]
            else:
                n = s.execute(update(Alert).where(Alert.status == "pending", Alert.claimed_by.is_(None))
                              .values(next_attempt_at=now)).rowcount
                where = []
            n += s.execute(update(Alert).where(Alert.status == "unknown", *where)
                           .values(status="pending", next_attempt_at=now, claimed_by=None,
                                   possible_duplicate=True)).rowcount
            return n

    def alert_summary(self) -> dict:
        """Counts of the outbox by status, and when the oldest pending alert was created."""
        with self.db.session() as s:
            counts = dict(s.execute(select(Alert.status, func.count()).group_by(Alert.status)).all())
            oldest = s.scalar(select(func.min(Alert.created_at)).where(Alert.status == "pending"))
        return {**{status: counts.get(status, 0) for status in STATUSES}, "oldest_pending_at": oldest}


def _alert_dict(a: Alert) -> dict:
    return dict(id=a.id, target_key=a.target_key, target=a.target_label, status=a.status, title=a.title,
                body_text=a.body_text, body_markdown=a.body_markdown, change_ids=a.change_ids,
                created_at=a.created_at, attempts=a.attempts, next_attempt_at=a.next_attempt_at,
                sent_at=a.sent_at, last_error=a.last_error, claimed_by=a.claimed_by,
                attempted_at=a.attempted_at, possible_duplicate=bool(a.possible_duplicate))
