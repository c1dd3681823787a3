"""`policywatch reextract`: facts and changes recomputed under an extractor version, never alerted."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from conftest import check, run_cli, write_sources
from extractors import EXTRACTOR_VERSION
from monitor.diff_stage import diff_and_queue
from monitor.extract_stage import extract_pending
from monitor.reextract import ReextractError, reextract
from spiders.content import CHINA_TZ
from spiders.processing import facts_of
from storage import ChangeStore, Database, SnapshotStore
from storage.models import Run
from storage.store import CheckRecord, PageContent


def without_fees(main_text, url, title, published, breadcrumb) -> dict:
    """The output of an older extractor that did not read 个人缴费 amounts yet (the real one, minus a kind)."""
    extraction = facts_of(main_text, url, title, published, breadcrumb)
    return dict(extraction, facts=[f for f in extraction["facts"] if f["kind"] != "personal_contribution"])


def guide(fee: int, deadline: str) -> str:
    """A 缴费指南 of our own wording; the fee and the deadline vary between versions."""
    return ('<html><head><meta charset="utf-8"><meta name="ArticleTitle" content="2025年度城乡居民医保缴费指南">'
            '<meta name="PubDate" content="2024-08-26 10:00"></head><body><div id="zoom"><div class="TRS_Editor">'
            f'<p>2025年度城乡居民医保个人缴费标准为每人每年{fee}元，财政补助标准为每人每年不低于670元。</p>'
            f'<p>集中缴费期为2024年9月1日至2024年{deadline}。</p><p>参保人可以通过微信、支付宝等方式缴费。</p>'
            '</div></div></body></html>')


@pytest.fixture
def crawled(site, db_url, tmp_path, receiver):
    """Two sources, each crawled twice (fee 380 → 400, deadline moved), with alerts to a real receiver."""
    site.route("a.html", body=guide(380, "12月20日"))
    site.route("b.html", body=guide(380, "12月20日"))
    sources = write_sources(tmp_path / "sources.toml", f'''
        [[source]]
        name = "甲县"
        url = "{site.url('a.html')}"
        notify = ["{receiver.url()}"]
        [[source]]
        name = "乙县"
        url = "{site.url('b.html')}"
        notify = ["{receiver.url()}"]
    ''')
    assert check(sources, db_url).returncode == 0
    site.route("a.html", body=guide(400, "12月31日"))
    site.route("b.html", body=guide(400, "12月31日"))
    assert check(sources, db_url).returncode == 0
    return sources


KINDS = ("personal_contribution", "payment_deadline", "payment_window")


def fact_changes(db, source=None) -> set[tuple]:
    return {(c["source"], c["kind"]) for c in ChangeStore(db).changes(source=source) if c["type"] == "fact_changed"}


def test_reextract_recomputes_changes_keeps_old_facts_and_alerts_nothing(crawled, db_url, receiver):
    db = Database(db_url)
    sent = list(receiver.posts)
    alerts = ChangeStore(db).alerts()
    assert len(sent) == 1 and len(alerts) == 1  # the crawl's own alert for the change
    assert fact_changes(db) == {(s, k) for s in ("甲县", "乙县") for k in KINDS}
    deadline_ids = {c["id"] for c in ChangeStore(db).changes() if c["kind"] == "payment_deadline"}

    # The history as an extractor that did not read fees would have left it.
    old = reextract(db, version="0", extractor=without_fees, workers=1)
    assert (old.extracted, old.pages, old.removed, old.added) == (4, 2, 2, 0)
    assert fact_changes(db) == {(s, k) for s in ("甲县", "乙县") for k in KINDS if k != "personal_contribution"}
    # Changes both versions agree on keep their rows (the sent alert still points at them).
    assert {c["id"] for c in ChangeStore(db).changes() if c["kind"] == "payment_deadline"} == deadline_ids

    # The current extractor: the fee changes are back, marked with the version they were computed under.
    proc = run_cli("reextract", "--db", db_url, "--sources", str(crawled))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and f"(extractor version {EXTRACTOR_VERSION})" in proc.stdout
    assert "changes recomputed on 2 pages: 2 added, 0 removed, 6 unchanged; no alerts" in proc.stdout
    assert fact_changes(db) == {(s, k) for s in ("甲县", "乙县") for k in KINDS}
    fees = [c for c in ChangeStore(db).changes() if c["kind"] == "personal_contribution"]
    assert {(c["old"]["amount"], c["new"]["amount"]) for c in fees} == {(380, 400)}
    assert {c["detail"]["extractor_version"] for c in ChangeStore(db).changes()} == {EXTRACTOR_VERSION}
    # Old versions' facts stay queryable next to the new ones.
    snapshot = SnapshotStore(db).snapshots(source_name="甲县")[-1]["id"]
    kinds = lambda version: {f["kind"] for f in SnapshotStore(db).facts(snapshot, version)}  # noqa: E731
    assert "personal_contribution" not in kinds("0") and "personal_contribution" in kinds(EXTRACTOR_VERSION)
    with db.session() as s:
        statuses = [r.status for r in s.query(Run).order_by(Run.id)]
    assert statuses == ["finished", "finished", "reextracted", "reextracted"]

    # Nothing was queued, nothing is sent by the next check either.
    assert ChangeStore(db).alerts() == alerts
    again = check(crawled, db_url)
    assert again.returncode == 0 and "alerts:" not in again.stdout
    assert receiver.posts == sent and ChangeStore(db).alerts() == alerts


def test_reextract_is_idempotent(crawled, db_url):
    db = Database(db_url)
    batches = []
    first = reextract(db, version="99", workers=1, page_batch=1,  # the same rules under a new version label
                      progress=lambda done: batches.append((done.pages, done.extracted)))
    assert batches == [(1, 2), (2, 4)]  # one page per batch, facts stored batch by batch
    assert (first.extracted, first.already, first.facts_before) == (4, 0, first.facts_after)
    assert (first.added, first.removed, first.kept) == (0, 0, 8)  # same facts: the same changes, kept
    changes = ChangeStore(db).changes()
    second = reextract(db, version="99", workers=1)
    assert (second.extracted, second.already, second.added, second.removed, second.kept) == (0, 4, 0, 0, 8)
    assert ChangeStore(db).changes() == changes
    assert "2 added" not in second.summary() and "0 snapshots (already done: 4)" in second.summary()


def test_a_run_killed_between_facts_and_changes_is_finished_by_the_next(crawled, db_url):
    db = Database(db_url)
    store = SnapshotStore(db)
    # What a kill right after one batch's facts transaction leaves: 甲县's facts of version 0, no change touched.
    store.store_extractions([(s["id"], dict(without_fees(s["main_text"], s["final_url"], s["title"], s["published_at"],
                                                         (s["meta"] or {}).get("breadcrumb")), version="0"))
                             for s in store.snapshots(source_name="甲县")])
    assert fact_changes(db) == {(s, k) for s in ("甲县", "乙县") for k in KINDS}
    done = reextract(db, version="0", extractor=without_fees, workers=1)
    assert (done.extracted, done.already, done.pages, done.removed) == (2, 2, 2, 2)
    assert fact_changes(db) == {(s, k) for s in ("甲县", "乙县") for k in KINDS if k != "personal_contribution"}
    assert reextract(db, version="0", extractor=without_fees, workers=1).removed == 0


def test_a_snapshot_the_check_has_not_diffed_yet_is_left_to_the_check(crawled, db_url, receiver):
    db = Database(db_url)
    store = SnapshotStore(db)
    page = next(p for p in store.pages_to_check() if p.source_name == "甲县")
    # The state a check killed between its crawl and its diff stage leaves: a stored, unjudged snapshot.
    html = guide(420, "12月31日")
    text = "2025年度城乡居民医保个人缴费标准为每人每年420元，财政补助标准为每人每年不低于670元。"
    content = PageContent(main_text=text, title="2025年度城乡居民医保缴费指南", published_at=None, final_url=page.url,
                          encoding="utf-8", profile="generic", raw=html.encode())
    store.record_checks(None, [CheckRecord(page_id=page.page_id, checked_at=datetime.now(CHINA_TZ), content=content)])
    extract_pending(store, workers=1)
    result = reextract(db, workers=1)
    assert result.waiting == 1 and "1 snapshots left to the next check" in result.summary()
    assert not [c for c in ChangeStore(db).changes() if c["snapshot_after"] == store.snapshots()[-1]["id"]]
    # The check's diff stage still finds it and alerts its change.
    stage = diff_and_queue(db, None, {page.source_id: [receiver.url()]}, {page.source_id: "甲县"})
    assert stage.delivery["sent"] == 1 and "个人缴费 400 → 420" in receiver.posts[-1][1]["message"]


def test_source_and_since_limit_what_is_recomputed(crawled, db_url):
    db = Database(db_url)
    only = reextract(db, version="0", extractor=without_fees, source="甲县", workers=1)
    assert (only.extracted, only.pages) == (2, 1)
    assert fact_changes(db) == {(s, k) for s in ("甲县", "乙县") for k in KINDS} - {("甲县", "personal_contribution")}
    later = reextract(db, version="0", extractor=without_fees, since=datetime.now(CHINA_TZ) + timedelta(days=1),
                      workers=1)
    assert (later.extracted, later.pages) == (0, 0)
    with pytest.raises(ReextractError, match="no source named '丙县'"):
        reextract(db, source="丙县")
    proc = run_cli("reextract", "--db", db_url, "--source", "丙县")
    assert proc.returncode == 2 and proc.stderr.strip() == "policywatch: no source named '丙县' in the database"


def test_dry_run_prints_what_would_change_and_writes_nothing(crawled, db_url):
    db = Database(db_url)
    reextract(db, version="0", extractor=without_fees, workers=1)
    before = ChangeStore(db).changes()
    proc = run_cli("reextract", "--db", db_url, "--dry-run", "--since", "2024-01-01")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1].startswith("dry run, nothing written") and "2 added" in lines[-1]
    assert sorted(line.split(" ")[0] for line in lines[:-1]) == ["乙县", "甲县"]
    assert all("(1 fact_changed personal_contribution)" in line for line in lines[:-1])
    assert ChangeStore(db).changes() == before
    with db.session() as s:
        assert s.query(Run).filter(Run.status == "reextracted").count() == 1


def test_since_recomputes_only_the_later_part_of_a_backfilled_timeline(site, db_url, tmp_path):
    sources = write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "甲县"\nurl = "{site.url("a.html")}"\n')
    folder = tmp_path / "archive"
    folder.mkdir()
    rows = []
    versions = (("v1.html", 350, "2022-09-01"), ("v2.html", 380, "2023-09-01"), ("v3.html", 400, "2024-09-01"))
    for name, fee, when in versions:
        (folder / name).write_text(guide(fee, "12月20日"), encoding="utf-8")
        rows.append(f"{name},{site.url('a.html')},{when}")
    (folder / "manifest.csv").write_text("file,url,fetched_at\n" + "\n".join(rows) + "\n", encoding="utf-8")
    proc = run_cli("import", str(folder), "--sources", str(sources), "--db", db_url)
    assert proc.returncode == 0, proc.stderr
    db = Database(db_url)
    fees = lambda: sorted((c["old"]["amount"], c["new"]["amount"]) for c in ChangeStore(db).changes()  # noqa: E731
                          if c["kind"] == "personal_contribution")
    assert fees() == [(350, 380), (380, 400)]

    since = datetime(2024, 1, 1, tzinfo=CHINA_TZ)
    result = reextract(db, version="0", extractor=without_fees, since=since, workers=1)
    # The 2024 version, and the 2023 one it is compared with, get facts of version 0; 2022 does not.
    assert (result.extracted, result.pages, result.removed) == (2, 1, 1)
    assert fees() == [(350, 380)]
    v1 = SnapshotStore(db).snapshots()[0]["id"]
    assert SnapshotStore(db).facts(v1, "0") == []

