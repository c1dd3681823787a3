"""Alerts: Chinese messages, the outbox, delivery with Apprise to a real HTTP receiver and a real SMTP server."""
from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
from datetime import datetime, timedelta, timezone

import pytest

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from monitor.alerts import expand_target, queue_for_run, redact_target, render, target_key
from monitor.delivery import NOT_CONFIGURED, deliver_due
from storage import Database, DatabaseError
from storage.changes import ChangeStore
from storage.store import SnapshotStore, SourceSpec

PAGE = "http://ty.bendibao.com/live/2024903/67541.shtm"
TAIYUAN, SHANXI = "140100", "140000"
EVIDENCE = "本年度太原城乡居民医保的个人缴费标准为400元/人/年。"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- a real SMTP server (the HTTP receiver is in conftest) -----------------------------------
class Mailbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
        return "250 OK"


def _login(server, session, envelope, mechanism, data):
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"user", b"pass")
    return AuthResult(success=ok)


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), authenticator=_login,
                            auth_require_tls=False)
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


# -- the database -------------------------------------------------------------------------------
@pytest.fixture
def db(db_url):
    database = Database(db_url)
    ids = SnapshotStore(database).sync_sources([SourceSpec(name="太原本地宝·居民医保", url=PAGE, region="太原市")])
    database.source_id = ids["太原本地宝·居民医保"]
    with database.engine.connect() as conn:
        database.page_id = conn.exec_driver_sql("SELECT id FROM pages").scalar()
    yield database
    database.dispose()


def change(db, **kw) -> dict:
    """A Change row: the Taiyuan personal contribution 380 → 400 unless overridden."""
    row = dict(source_id=db.source_id, page_id=db.page_id, type="fact_changed", kind="personal_contribution",
               old={"amount": 380, "qualifier": "exact", "change": None},
               new={"amount": 400, "qualifier": "exact", "change": 20}, severity="high", region=TAIYUAN,
               plan_year=2025, url=PAGE, evidence_before="个人缴费标准为380元/人/年。", evidence_after=EVIDENCE,
               snapshot_before=1, snapshot_after=2)
    row.update(kw)
    return row


def record(db, changes: list[dict], targets: list[str], run_id: int = 1) -> ChangeStore:
    store = ChangeStore(db)
    store.record_changes(changes, alerts=queue_for_run(changes, targets, run_id))
    return store


# -- delivery -----------------------------------------------------------------------------------------
def test_json_alert_arrives_once_in_chinese_and_is_marked_sent(db, receiver):
    store = record(db, [change(db)], [receiver.url()])
    assert deliver_due(store, [receiver.url()]) == {"sent": 1, "retried": 0, "failed": 0}
    assert deliver_due(store, [receiver.url()]) == {"sent": 0, "retried": 0, "failed": 0}
    assert len(receiver.posts) == 1
    path, payload = receiver.posts[0]
    assert path == "/hook"
    assert "个人缴费 380 → 400 元/人/年" in payload["message"]
    assert "太原市" in payload["title"] and EVIDENCE in payload["message"] and PAGE in payload["message"]
    [alert] = store.alerts()
    assert alert["status"] == "sent" and alert["attempts"] == 1 and alert["sent_at"] is not None
    assert alert["last_error"] is None


def test_email_alert_over_local_smtp_has_the_chinese_title(db, smtp):
    target = f"mailto://user:pass@127.0.0.1:{smtp.port}?from=pw@example.org&to=ops@example.org"
    store = record(db, [change(db), change(db, kind="payment_deadline", old={"date": "2024-12-25"},
                                           new={"date": "2025-02-25"}, evidence_after="缴费截止日期为2月25日。")],
                   [target])
    assert deliver_due(store, [target]) == {"sent": 1, "retried": 0, "failed": 0}
    [message] = smtp.messages
    [alert] = store.alerts()
    assert message["Subject"] == alert["title"] and "医保政策变化" in message["Subject"]
    assert message["To"] == "ops@example.org"
    text = message.get_body(("plain",)).get_content()
    assert "缴费截止日期 2024-12-25 → 2025-02-25" in text and "个人缴费 380 → 400 元/人/年" in text
    assert alert["status"] == "sent"


def test_failed_delivery_stays_pending_then_is_retried_with_backoff_exactly_once(db, receiver):
    receiver.stop()  # the port is closed: connections are refused
    url = receiver.url()
    store = record(db, [change(db)], [url])
    t0 = utcnow()
    assert deliver_due(store, [url], now=t0) == {"sent": 0, "retried": 1, "failed": 0}
    [alert] = store.alerts()
    assert alert["status"] == "pending" and alert["last_error"] and alert["attempts"] == 1
    assert alert["next_attempt_at"] == t0 + timedelta(minutes=1)
    t1 = t0 + timedelta(minutes=1, seconds=1)
    assert deliver_due(store, [url], now=t1)["retried"] == 1
    assert store.alerts()[0]["next_attempt_at"] == t1 + timedelta(minutes=2)  # exponential backoff

    receiver.start()  # up again, same port
    assert deliver_due(store, [url], now=t1 + timedelta(minutes=1)) == {"sent": 0, "retried": 0, "failed": 0}
    assert receiver.posts == []  # not due yet
    assert deliver_due(store, [url], now=t1 + timedelta(minutes=3)) == {"sent": 1, "retried": 0, "failed": 0}
    assert deliver_due(store, [url], now=t1 + timedelta(hours=5)) == {"sent": 0, "retried": 0, "failed": 0}
    assert len(receiver.posts) == 1
    [alert] = store.alerts()
    assert alert["status"] == "sent" and alert["attempts"] == 3 and alert["last_error"] is None


def test_alert_is_given_up_after_the_configured_time(db):
    url = f"json://127.0.0.1:{free_port()}/hook"
    store = record(db, [change(db)], [url])
    assert deliver_due(store, [url], give_up_after=timedelta(hours=1)) == {"sent": 0, "retried": 1, "failed": 0}
    later = utcnow() + timedelta(hours=2)
    assert deliver_due(store, [url], now=later, give_up_after=timedelta(hours=1)) == \
        {"sent": 0, "retried": 0, "failed": 1}
    [alert] = store.alerts()
    assert alert["status"] == "failed" and alert["last_error"]
    assert deliver_due(store, [url], now=later + timedelta(days=1)) == {"sent": 0, "retried": 0, "failed": 0}


def test_alert_whose_target_is_no_longer_configured_stays_pending(db, receiver):
    store = record(db, [change(db)], [receiver.url("/old")])
    assert deliver_due(store, [receiver.url("/new")]) == {"sent": 0, "retried": 1, "failed": 0}
    [alert] = store.alerts()
    assert alert["status"] == "pending" and alert["last_error"] == NOT_CONFIGURED
    assert receiver.posts == []
    store.reset_alerts()
    assert deliver_due(store, [receiver.url("/old")])["sent"] == 1  # configured again: delivered


# -- the outbox --------------------------------------------------------------------------------------
def test_same_changes_queued_twice_for_a_target_give_one_alert(db, receiver):
    changes = [change(db), change(db, kind="payment_channel", type="fact_added", old=None, new={"name": "支付宝"},
                                  severity="medium")]
    store = record(db, changes, [receiver.url()], run_id=1)
    recorded = store.changes()
    store.record_changes([], alerts=queue_for_run(list(reversed(recorded)), [receiver.url()], 2))  # other order, run
    assert len(store.alerts()) == 1
    with pytest.raises(DatabaseError, match="change_key"):  # the changes themselves are never stored twice
        record(db, list(reversed(changes)), [receiver.url()], run_id=3)
    assert len(store.alerts()) == 1 and len(store.changes()) == 2
    # a second target gets its own; a different set of changes is a new message
    store.record_changes([], alerts=queue_for_run(recorded, [receiver.url(), receiver.url("/other")], 4))
    store.record_changes([], alerts=queue_for_run(recorded[:1], [receiver.url()], 5))
    alerts = store.alerts()
    assert len(alerts) == 3
    assert alerts[0]["change_ids"] == [recorded[0]["id"], recorded[1]["id"]]
    assert deliver_due(store, [receiver.url(), receiver.url("/other")])["sent"] == 3
    assert len(receiver.posts) == 3


def test_low_severity_changes_are_recorded_but_not_alerted(db, receiver):
    text = change(db, type="text_changed", kind=None, old=None, new=None, severity="low", detail={"diff": "…"})
    assert queue_for_run([text], [receiver.url()], 1) == []
    store = record(db, [text, change(db)], [receiver.url()])
    [alert] = store.alerts()
    assert len(store.changes()) == 2 and alert["change_ids"] == [store.changes()[1]["id"]]
    assert "正文变化" not in alert["body_text"]


def test_outbox_rows_and_logs_never_contain_target_secrets(db, monkeypatch, caplog):
    secret_token, password = "tok_Zq81mXw0pLq7Rr", "s3cretPass"
    monkeypatch.setenv("PW_TEST_HOOK_TOKEN", secret_token)
    port = free_port()  # nothing listens there
    target = f"json://alerts:{password}@127.0.0.1:{port}/hook/${{PW_TEST_HOOK_TOKEN}}?token=abc12345"
    store = record(db, [change(db)], [target])
    caplog.set_level(logging.DEBUG)
    assert deliver_due(store, [target])["retried"] == 1
    [alert] = store.alerts()
    assert alert["target_key"] == target_key(expand_target(target))
    stored = json.dumps(alert, default=str, ensure_ascii=False)
    logged = caplog.text
    assert "apprise" in {r.name for r in caplog.records}  # Apprise did log, at debug level
    for secret in (secret_token, password, "abc12345"):
        assert secret not in stored and secret not in logged
    assert alert["target"] == f"json://alerts:***@127.0.0.1:{port}/hook/***?token=***"
    assert "127.0.0.1" in alert["last_error"]


# -- targets ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, label", [
    ("json://user:s3cretPass@127.0.0.1:8080/hook/tok_abcdefghijk", "json://user:***@127.0.0.1:8080/hook/***"),
    ("mailto://user:pass@127.0.0.1:2525?from=pw@example.org&to=ops@example.org",
     "mailto://user:***@127.0.0.1:2525?from=***&to=***"),
    ("mailtos://alerts:pw@smtp.qq.com?to=ops@example.org", "mailtos://alerts:***@smtp.qq.com?to=***"),
    ("dingtalk://0123456789abcdef0123456789abcdef/?secret=SEC0123456789", "dingtalk://***/?secret=***"),
    ("wecombot://693axxx6-7aoc-4bc4-97a0-0ec2sifa5aaa", "wecombot://***"),
    ("tgram://123456789:AAbbCCddEEffGG/-1001234", "tgram://***/***"),
    ("json://127.0.0.1:8080/hook/ab12", "json://127.0.0.1:8080/hook/***"),
    ("pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi", "pover://***@***"),
    ("not a url with a secret", "***"),
])
def test_redact_target_keeps_scheme_and_host_and_masks_secrets(url, label):
    assert redact_target(url) == label


def test_env_references_in_targets_are_expanded():
    env = {"DINGTALK_TOKEN": "abc123", "PW": "p@ss"}
    assert expand_target("dingtalk://${DINGTALK_TOKEN}/", env) == "dingtalk://abc123/"
    assert expand_target("mailto://u:${PW}@mail.example.org", env) == "mailto://u:p@ss@mail.example.org"
    assert expand_target("json://127.0.0.1/plain", env) == "json://127.0.0.1/plain"


def test_missing_env_variable_is_a_clear_error():
    with pytest.raises(ValueError, match=r"^notify target: environment variable WECOM_KEY is not set$"):
        expand_target("wecombot://${WECOM_KEY}", {})
    with pytest.raises(ValueError, match="WECOM_KEY"):
        queue_for_run([{"type": "fact_changed", "severity": "high"}], ["wecombot://${WECOM_KEY}"], 1, env={})


# -- rendering ------------------------------------------------------------------------------------------
def test_render_groups_changes_by_region_in_chinese():
    changes = [
        dict(type="fact_changed", kind="fiscal_subsidy", old={"amount": 640, "qualifier": "at_least", "change": None},
             new={"amount": 670, "qualifier": "at_least", "change": 30}, severity="high", region=SHANXI,
             plan_year=2025, url="http://ybj.shanxi.gov.cn/a.html", evidence_after="财政补助标准不低于670元/人/年。",
             source="山西省医保局"),
        dict(type="fact_changed", kind="payment_deadline", old={"date": "2024-12-25"}, new={"date": "2025-02-25"},
             severity="high", region=TAIYUAN, plan_year=2025, url=PAGE, evidence_after="截止日期为2月25日。"),
        dict(type="fact_added", kind="payment_channel", old=None, new={"name": "支付宝"}, severity="medium",
             region=TAIYUAN, plan_year=None, url=PAGE, evidence_after="可通过支付宝缴费。"),
        dict(type="fact_removed", kind="eligible_group", old={"name": "农村居民"}, new=None, severity="medium",
             region=TAIYUAN, plan_year=None, url=PAGE, evidence_before="（一）农村居民"),
    ]
    when = datetime(2025, 1, 10, 8, 30, tzinfo=timezone.utc)
    title, text, markdown = render(changes, when)
    assert title == "医保政策变化｜山西省、太原市：4项"
    lines = text.splitlines()
    assert lines.index("【山西省】") < lines.index("【太原市】")
    for expected in ("1. 财政补助 不低于640 → 不低于670 元/人/年（2025年度）",
                     "1. 缴费截止日期 2024-12-25 → 2025-02-25（2025年度）",
                     "2. 新增缴费渠道：支付宝", "3. 参保对象删除：农村居民",
                     "   原文：财政补助标准不低于670元/人/年。",
                     "   链接：http://ybj.shanxi.gov.cn/a.html（山西省医保局）",
                     "检测时间：2025-01-10 16:30（北京时间）"):
        assert expected in lines
    assert "#### 太原市" in markdown and "[山西省医保局](http://ybj.shanxi.gov.cn/a.html)" in markdown
    assert "**缴费截止日期 2024-12-25 → 2025-02-25（2025年度）**" in markdown
    single, _, _ = render(changes[1:2], when)
    assert single == "医保政策变化｜太原市：缴费截止日期 2024-12-25 → 2025-02-25（2025年度）"


def test_source_failing_alert_names_its_error_in_the_line_not_as_page_text():
    change = dict(type="source_failing", kind=None, old=None, new=None, severity="high", region=TAIYUAN,
                  plan_year=None, url=PAGE, source="太原医保", evidence_after="HTTP 503",
                  detail={"reason": "HTTP 503", "checks": 3})
    title, text, markdown = render([change], datetime(2025, 1, 10, 8, 30, tzinfo=timezone.utc))
    assert title == "医保政策变化｜太原市：来源异常：太原医保（连续3次HTTP 503）"
    assert "原文" not in text and "原文" not in markdown
    assert f"   链接：{PAGE}（太原医保）" in text.splitlines()


def test_alert_for_a_one_off_notify_target_is_delivered_by_retry_with_that_url(db, receiver, tmp_path):
    from conftest import run_cli, write_sources
    one_off = receiver.url("/once")
    store = record(db, [change(db)], [one_off])
    sources = write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "太原本地宝·居民医保"\nurl = "{PAGE}"\n')
    plain = run_cli("alerts", "--retry", "--sources", str(sources), "--db", db.url)
    assert "alerts wait for targets not configured now" in plain.stderr
    assert "--retry --notify URL" in plain.stderr and receiver.posts == []
    given = run_cli("alerts", "--retry", "--notify", one_off, "--sources", str(sources), "--db", db.url)
    assert given.returncode == 0, given.stderr
    assert "1 sent" in given.stdout and len(receiver.posts) == 1
    assert [a["status"] for a in store.alerts()] == ["sent"]


def test_alert_whose_target_is_gone_is_given_up_like_any_failed_one(db, receiver):
    store = record(db, [change(db)], [receiver.url("/old")])
    later = utcnow() + timedelta(days=3)
    assert deliver_due(store, [receiver.url("/new")], now=later) == {"sent": 0, "retried": 0, "failed": 1}
    [alert] = store.alerts()
    assert alert["status"] == "failed" and alert["last_error"] == NOT_CONFIGURED


def test_alerts_test_sends_one_marked_sample_to_each_target_and_prints_each_result(receiver, tmp_path):
    from conftest import run_cli, write_sources
    dead = f"json://127.0.0.1:{free_port()}/hook"
    sources = write_sources(tmp_path / "sources.toml", f'notify = ["{receiver.url("/ok")}", "{dead}"]\n'
                                                       f'[[source]]\nname = "a"\nurl = "{PAGE}"\n')
    proc = run_cli("alerts", "--test", "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'none.db'}")
    assert proc.returncode == 1, proc.stderr  # one target is down
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("sent  json://127.0.0.1:") and lines[1].startswith("FAILED  json://127.0.0.1:")
    [(path, body)] = receiver.posts
    assert path == "/ok" and body["title"].startswith("【测试】医保政策变化｜太原市")
    assert not (tmp_path / "none.db").exists()  # a test message needs no database
    only = run_cli("alerts", "--test", receiver.url("/only"), "--sources", str(sources))
    assert only.returncode == 0 and only.stdout.startswith("sent  ") and receiver.posts[-1][0] == "/only"
