"""The diff stage's outbox: which changes reach which target, and delivery after a crash."""
from __future__ import annotations

from monitor.diff_stage import alerts_for, diff_and_queue
from storage import ChangeStore, Database, SnapshotStore
from storage.store import SourceSpec


def change(source_id, severity, kind="payment_deadline", type_="fact_changed"):
    return dict(source_id=source_id, page_id=None, type=type_, kind=kind, old={"date": "2025-02-25"},
                new={"date": "2025-03-31"}, severity=severity, region="140100", plan_year=2025,
                url="http://127.0.0.1/p", evidence_before="旧", evidence_after="新", detail=None,
                snapshot_before=None, snapshot_after=None, identity=None)


def test_text_changes_are_alerted_only_for_sources_that_ask(receiver):
    changes = [change(1, "low", None, "text_changed"), change(2, "low", None, "text_changed")]
    rows = alerts_for(changes, {1: [receiver.url()], 2: [receiver.url()]}, {1: "甲", 2: "乙"}, 1, {2})
    assert [r["change_index"] for r in rows] == [[1]]


def test_each_target_gets_only_the_changes_of_its_sources(receiver):
    changes = [change(1, "high"), change(2, "high")]
    rows = alerts_for(changes, {1: [receiver.url("/a")], 2: [receiver.url("/b")]}, {1: "甲", 2: "乙"}, 1)
    assert sorted(r["change_index"] for r in rows) == [[0], [1]]



def test_targets_that_get_the_same_changes_get_one_rendering_of_the_message_each_would_get_alone(monkeypatch):
    import monitor.alerts as alerts
    renders = []
    real = alerts.render
    monkeypatch.setattr(alerts, "render", lambda changes, when: renders.append(len(changes)) or real(changes, when))
    changes = [change(1, "high"), change(2, "medium"), change(3, "high", "personal_contribution")]
    targets = {1: ["json://127.0.0.1:9/a", "json://127.0.0.1:9/b", "json://127.0.0.1:9/c"],
               2: ["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"], 3: ["json://127.0.0.1:9/a", "json://127.0.0.1:9/b"]}
    names = {1: "甲", 2: "乙", 3: "丙"}
    rows = alerts_for(changes, targets, names, 7)
    assert renders == [3, 1]  # a and b share one message, c has its own
    alone = [row for target in ("json://127.0.0.1:9/a", "json://127.0.0.1:9/b", "json://127.0.0.1:9/c")
             for row in alerts_for(changes, {i: [target] for i, ts in targets.items() if target in ts}, names, 7)]
    assert [r["change_index"] for r in rows] == [[0, 1, 2], [0, 1, 2], [0]]

    def text(row):  # the detection time is rendered to the minute: a render either side of one differs there
        return {k: v for k, v in row.items() if k not in ("title", "body_text", "body_markdown")}
    assert [text(r) for r in rows] == [text(r) for r in alone]
    assert [r["body_text"].split("\n")[2:-3] for r in rows] == [r["body_text"].split("\n")[2:-3] for r in alone]


def test_alert_committed_before_a_crash_is_delivered_by_the_next_run(db_url, receiver):
    db = Database(db_url)
    ids = SnapshotStore(db).sync_sources([SourceSpec(name="太原", url="http://127.0.0.1/p")])
    changes = [change(ids["太原"], "high")]
    # The state a kill leaves right after the diff transaction: changes and their pending alert, nothing sent.
    ChangeStore(db).record_changes(changes, alerts_for(changes, {ids["太原"]: [receiver.url()]}, {ids["太原"]: "太原"}, 1))
    assert [a["status"] for a in ChangeStore(db).alerts()] == ["pending"] and receiver.posts == []
    stage = diff_and_queue(db, 2, {ids["太原"]: [receiver.url()]}, {ids["太原"]: "太原"})
    assert stage.delivery["sent"] == 1 and len(receiver.posts) == 1
    assert "缴费截止日期 2025-02-25 → 2025-03-31" in receiver.posts[0][1]["message"]
    assert diff_and_queue(db, 3, {ids["太原"]: [receiver.url()]}, {ids["太原"]: "太原"}).delivery["sent"] == 0
    assert len(receiver.posts) == 1
