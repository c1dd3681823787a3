"""`policywatch alerts --test [URL]`: one sample alert sent to each configured target (or to URL), straight,
not through the outbox, with each result printed, so a new DingTalk / WeCom / e-mail target can be checked
before the first real change."""
from __future__ import annotations

from datetime import datetime, timezone

from monitor.alerts import render
from monitor.delivery import _send
from monitor.targets import expand_target, redact_target

SAMPLE = dict(type="fact_changed", kind="personal_contribution", severity="high", region="140100", plan_year=2026,
              old={"amount": 380, "qualifier": "exact"}, new={"amount": 400, "qualifier": "exact"},
              evidence_after="（测试消息）2026年度城乡居民医保个人缴费标准为每人每年400元。",
              url="http://127.0.0.1/policywatch-test", source="policywatch 测试")


def sample_alert(now: datetime | None = None) -> dict:
    """The test message: a sample fee change, its title marked 【测试】 so nobody acts on it."""
    title, text, markdown = render([SAMPLE], now or datetime.now(timezone.utc))
    note = "这是一条 policywatch 测试消息，用于确认告警通道可用，无需处理。"
    return dict(title="【测试】" + title, body_text=f"{note}\n\n{text}", body_markdown=f"{note}  \n\n{markdown}")


def send_test(targets: list[str], timeout: float = 10) -> list[tuple[str, str | None]]:
    """Send the test message to each target; (redacted label, None when delivered else the reason)."""
    alert, cache, results = sample_alert(), {}, []
    for target in targets:
        try:
            url = expand_target(target)
        except ValueError as exc:
            results.append((target, str(exc)))
            continue
        results.append((redact_target(url), _send(alert, url, cache, timeout)))
    return results
