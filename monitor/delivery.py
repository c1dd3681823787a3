"""Delivery of the alert outbox with Apprise, at most once unless a resend is asked for.

Each due alert is claimed, then recorded as `sending` (with its attempt time and this process as claimer)
before its message goes out, then marked sent, retried with backoff, or failed. A sender killed mid-send
leaves the outcome unknown: storage.outbox marks the alert `unknown` and no later run sends it again by
itself; `policywatch alerts --retry` resends it with the prefix 【重发·可能重复】. See docs/delivery.md.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from logging.handlers import BufferingHandler
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

from monitor.targets import expand_target, redact_target, scrubber, target_key
from storage.changes import ChangeStore

if TYPE_CHECKING:
    import apprise  # imported on the first delivery: commands that deliver nothing start without it

FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)
NOT_CONFIGURED = ("target not configured now (a one-off --notify? deliver with "
                  "`policywatch alerts --retry --notify URL`)")
ERROR_MAX = 500
# Prefixed to the title and body of an alert sent again after a delivery whose outcome is unknown.
DUPLICATE_MARK = "【重发·可能重复】"
# Loggers that may print a target's URL while it is being notified; their records are scrubbed meanwhile.
SCRUBBED_LOGGERS = ("apprise", "urllib3", "urllib3.connectionpool", "urllib3.connection", "requests")


def message(alert: dict) -> tuple[str, str, str]:
    """(title, text, markdown) as sent: marked 【重发·可能重复】 when a previous attempt's outcome is unknown."""
    title, text, markdown = alert["title"], alert["body_text"], alert["body_markdown"]
    if alert.get("possible_duplicate"):
        note = "此前一次发送结果未知，本条可能重复"
        return (DUPLICATE_MARK + title, f"{DUPLICATE_MARK}{text}\n（{note}）",
                f"{DUPLICATE_MARK}{markdown}  \n（{note}）")
    return title, text, markdown


def _scrub_filter(scrub: Callable[[str], str]) -> Callable[[logging.LogRecord], bool]:
    """A logging filter rewriting records so that they never show a target's URL or secrets."""
    def filter_(record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep only the template
            message = str(record.msg)
        record.msg, record.args = scrub(message), ()
        if record.exc_info:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True
    return filter_


@contextmanager
def _guarded_logs(scrub: Callable[[str], str]) -> Iterator[BufferingHandler]:
    """While notifying a target: scrub every Apprise/HTTP log record and collect Apprise's warnings."""
    filter_, collect = _scrub_filter(scrub), BufferingHandler(capacity=10_000)
    collect.setLevel(logging.WARNING)
    loggers = [logging.getLogger(name) for name in SCRUBBED_LOGGERS]
    for lg in loggers:
        lg.addFilter(filter_)
    loggers[0].addHandler(collect)
    try:
        yield collect
    finally:
        loggers[0].removeHandler(collect)
        for lg in loggers:
            lg.removeFilter(filter_)


def _apprise_for(url: str, timeout: float) -> apprise.Apprise | None:
    """An Apprise object with exactly this target, its socket timeouts set; None if Apprise rejects the URL."""
    import apprise
    apobj = apprise.Apprise()
    if not apobj.add(url) or len(apobj) == 0:
        return None
    for plugin in apobj:
        for attr in ("socket_connect_timeout", "socket_read_timeout"):
            if getattr(plugin, attr, None) == getattr(type(plugin), attr, None):  # not set in the URL (cto=/rto=)
                setattr(plugin, attr, float(timeout))
    return apobj


def _wants_markdown(apobj: apprise.Apprise) -> bool:
    """Whether every service of the target renders Markdown (DingTalk, JSON, …) rather than text or HTML."""
    import apprise
    for plugin in apobj:
        resolve = getattr(plugin, "resolve_format", None)
        fmt = resolve(apprise.NotifyFormat.MARKDOWN) if resolve else plugin.notify_format
        if fmt != apprise.NotifyFormat.MARKDOWN:
            return False
    return True


def _send(alert: dict, url: str, cache_: dict[str, apprise.Apprise | None], timeout: float) -> str | None:
    """Notify one alert to its target; None when delivered, else the (scrubbed) reason."""
    import apprise
    scrub = scrubber(url)
    with _guarded_logs(scrub) as collected:
        try:
            if url not in cache_:
                cache_[url] = _apprise_for(url, timeout)
            apobj = cache_[url]
            if apobj is None:
                return f"Apprise does not accept the target URL {redact_target(url)}"
            title, text, markdown = message(alert)
            if _wants_markdown(apobj):
                ok = apobj.notify(title=title, body=markdown, body_format=apprise.NotifyFormat.MARKDOWN)
            else:
                ok = apobj.notify(title=title, body=text, body_format=apprise.NotifyFormat.TEXT)
        except Exception as e:  # a plugin bug must not stop the other alerts
            return scrub(f"{type(e).__name__}: {e}")[:ERROR_MAX]
    if ok:
        return None
    lines = (r.getMessage().strip() for r in collected.buffer)
    reason = "; ".join(dict.fromkeys(line for line in lines if line))
    return (reason or "notification not delivered")[:ERROR_MAX]


def retry_delay(attempts: int) -> timedelta:
    """Backoff after the `attempts`-th failed attempt (0-based): 1 min, 2, 4, … capped at 1 h."""
    return min(FIRST_RETRY * (2 ** min(attempts, 16)), MAX_RETRY)


def deliver_due(store: ChangeStore, targets: list[str], now: datetime | None = None,
                give_up_after: timedelta = timedelta(days=2), timeout: float = 10,
                env: Mapping[str, str] = os.environ) -> dict:
    """Send every due pending alert to its configured target; counts {"sent", "retried", "failed"}.

    Each attempt is recorded (status `sending`) before the message is sent; alerts whose sender died
    mid-send become `unknown` instead of being sent again (storage.outbox)."""
    now = now or datetime.now(timezone.utc)
    configured = {}
    for target in targets:
        url = expand_target(target, env)
        configured.setdefault(target_key(url), url)
    counts = {"sent": 0, "retried": 0, "failed": 0}
    apprises: dict[str, apprise.Apprise | None] = {}
    for alert in store.claim_due_alerts(now):
        url = configured.get(alert["target_key"])
        if url is None:  # stays pending until given up: sent if the target is configured (or --notify) again
            give_up = now - alert["created_at"] > give_up_after
            store.finish_alert(alert["id"], sent=False, error=NOT_CONFIGURED, retry_at=now + MAX_RETRY,
                               attempted=False, give_up=give_up)
            counts["failed" if give_up else "retried"] += 1
            continue
        if not store.start_attempt(alert["id"]):  # taken over meanwhile
            continue
        error = _send(alert, url, apprises, timeout)
        if error is None:
            store.finish_alert(alert["id"], sent=True)
            counts["sent"] += 1
        elif now - alert["created_at"] > give_up_after:
            store.finish_alert(alert["id"], sent=False, error=error, give_up=True)
            counts["failed"] += 1
        else:
            store.finish_alert(alert["id"], sent=False, error=error,
                               retry_at=now + retry_delay(alert["attempts"]))
            counts["retried"] += 1
    return counts
