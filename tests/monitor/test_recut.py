"""Unknown layouts: other cities' numbers are not stored as the page's, the cut is flagged, a site profile
fixes it, and `reextract --recut` repairs the stored history without alerting."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import ROOT, check, run_cli, write_sources
from monitor.reextract import reextract
from spiders.content import CHINA_TZ
from storage import ChangeStore, Database, SnapshotStore

NOTICE = "city/xinzhou_notice.html"  # a short 忻州 cover note beside a 热点政策 list of other cities' fees
GUIDE = "city/xinzhou_guide.html"  # a real 忻州 guide (Word-pasted spans) beside the same list
OTHER_CITIES = {"140300", "140600", "140400"}  # 阳泉, 朔州, 长治
XINZHOU, SHANXI = "140900", "140000"
# The 忻州 page's own layout, as a user adds it once the flag points at the site.
FIX = '''
[[profile]]
name = "xinzhou-ybj"
detect = "div.art > div.nr"
content = ["div.art > div.nr"]
title = ["div.art > div.tit"]
published = ["div.art > div.info"]
'''


def profiles_file(tmp_path: Path) -> Path:
    """The bundled profiles plus the 忻州 one (bundled-style: one file, passed as the crawl's profiles path)."""
    path = tmp_path / "profiles.toml"
    path.write_text((ROOT / "spiders" / "profiles.toml").read_text(encoding="utf-8") + FIX, encoding="utf-8")
    return path


def facts(db: Database, source: str) -> list[dict]:
    store = SnapshotStore(db)
    return [f for s in store.snapshots(source_name=source) for f in store.facts(s["id"])]


def latest_values(db: Database, source: str) -> set[tuple]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, region, value FROM latest_facts WHERE source = :s"), {"s": source})
        return {(kind, region, json.loads(value).get("amount")) for kind, region, value in rows}


@pytest.fixture
def crawled(site, db_url, tmp_path, receiver):
    sources = write_sources(tmp_path / "sources.toml", f'''
        [[source]]
        name = "忻州市医保局·通知"
        url = "{site.url(NOTICE)}"
        region = "忻州市"
        notify = ["{receiver.url()}"]
        [[source]]
        name = "忻州市医保局·指南"
        url = "{site.url(GUIDE)}"
        region = "忻州市"
        notify = ["{receiver.url()}"]
    ''')
    assert check(sources, db_url).returncode == 0
    return sources


def test_other_cities_facts_are_not_stored_and_the_cut_is_flagged(crawled, db_url):
    db = Database(db_url)
    notice = facts(db, "忻州市医保局·通知")
    assert notice and not {f["region"] for f in notice} & OTHER_CITIES
    # What is left of the sidebar is the province's figure (not another place's): kept, and the cut flagged.
    assert {(f["kind"], f["region"]) for f in notice} == {("fiscal_subsidy", SHANXI)}
    guide = facts(db, "忻州市医保局·指南")  # the generic cut keeps the article here: 忻州's own facts
    assert {(f["kind"], f["value"].get("amount")) for f in guide if f["region"] == XINZHOU} >= {
        ("personal_contribution", 380), ("fiscal_subsidy", 700)}
    assert not {f["region"] for f in guide} & OTHER_CITIES

    proc = run_cli("status", "--sources", str(crawled), "--db", db_url, "--json")
    assert proc.returncode == 0, proc.stderr  # a flagged cut withheld its facts: a hint, not a failure
    by_name = {s["name"]: s for s in json.loads(proc.stdout)["sources"]}
    assert by_name["忻州市医保局·指南"]["warnings"] == []
    [warning] = by_name["忻州市医保局·通知"]["warnings"]
    assert warning["code"] == "foreign_facts" and warning["regions"] == ["阳泉市", "朔州市", "长治市"]
    assert warning["pages"] == 1 and warning["profiles"] == ["generic"]
    assert warning["hint"].startswith("facts name other regions (阳泉市, 朔州市…): the generic cut may be taking "
                                      "a sidebar; add a site profile")
    table = run_cli("status", "--sources", str(crawled), "--db", db_url)
    assert table.returncode == 0 and "warning: 忻州市医保局·通知: facts name other regions (阳泉市, 朔州市…)" in table.stdout
    listed = run_cli("sources", "--sources", str(crawled), "--db", db_url, "--json")
    assert [r["warnings"][0]["regions"][0] for r in json.loads(listed.stdout) if r["warnings"]] == ["阳泉市"]
    assert "warning: 忻州市医保局·通知" in run_cli("sources", "--sources", str(crawled), "--db", db_url).stdout


def test_a_profile_fixes_the_cut_and_recut_repairs_the_history_without_alerts(crawled, site, db_url, tmp_path,
                                                                              receiver):
    db = Database(db_url)
    notice = "忻州市医保局·通知"
    # The sidebar moves on: the old cut reports it as the page's change, and the check alerts it.
    page = (site.dir / NOTICE).read_text(encoding="utf-8")
    site.route(NOTICE, body=page.replace("每人每年不低于700元", "每人每年不低于720元"))
    assert check(crawled, db_url).returncode == 0
    false_change = [c for c in ChangeStore(db).changes(source=notice) if c["type"] == "fact_changed"]
    assert [(c["old"]["amount"], c["new"]["amount"]) for c in false_change] == [(700, 720)]
    alerts, posts, changes = ChangeStore(db).alerts(), list(receiver.posts), ChangeStore(db).changes()
    assert len(alerts) == 1 and len(posts) == 1
    assert latest_values(db, notice) == {("fiscal_subsidy", SHANXI, 720)}

    profiles = profiles_file(tmp_path)
    dry = reextract(db, recut=True, profiles_path=str(profiles), dry_run=True, workers=1)
    # 3 snapshots (the notice's two, the guide's one), all cut differently by the new profile (the guide's title
    # and publish time); the notice's fact_changed and text_changed are the only changes that go.
    assert (dry.recut, dry.recut_changed, dry.removed) == (3, 3, 2) and dry.lines == [
        f"{notice} {site.url(NOTICE)}: +0 -2 changes"]
    assert ChangeStore(db).changes() == changes  # a dry run writes nothing
    result = reextract(db, recut=True, profiles_path=str(profiles), workers=1)
    assert (result.recut, result.recut_changed, result.removed, result.added) == (3, 3, 2, 0)
    assert "3 snapshots re-cut (3 cut differently)" in result.summary()

    snaps = SnapshotStore(db).snapshots(source_name=notice)
    assert len(snaps) == 2  # kept (their raw pages stay linked), now with the same text: nothing between them
    assert all(s["profile"] == "xinzhou-ybj" and "阳泉" not in s["main_text"]
               and "进村入户宣传" in s["main_text"] for s in snaps)
    assert snaps[0]["content_hash"] == snaps[1]["content_hash"]
    assert snaps[0]["meta"]["recut"]["profile_was"] == "generic"
    assert snaps[0]["title"] == "关于做好2025年度城乡居民医保集中参保宣传工作的通知"
    assert snaps[0]["published_at"].astimezone(CHINA_TZ).date().isoformat() == "2024-09-05"
    # The sidebar's facts left the current state and the history; the false change is gone; nothing alerted.
    assert facts(db, notice) == [] and latest_values(db, notice) == set()
    history = run_cli("history", "--source", notice, "--db", db_url, "--json")
    assert history.returncode == 0 and json.loads(history.stdout) == []
    # (The conflict the sidebar's 720 made with the guide's 700 is a check's business: reextract leaves it.)
    assert [c["type"] for c in ChangeStore(db).changes(source=notice)] == ["conflict"]
    assert ChangeStore(db).alerts() == alerts and receiver.posts == posts
    status = json.loads(run_cli("status", "--sources", str(crawled), "--db", db_url, "--json").stdout)
    assert all(s["warnings"] == [] for s in status["sources"])

    # The next check, with the profile, finds the page as the recut left it: unchanged, no alert.
    again = check(crawled, db_url, "-s", f"POLICYWATCH_PROFILES={profiles}")
    assert again.returncode == 0 and "alerts:" not in again.stdout
    last = {c["url"]: c["outcome"] for c in SnapshotStore(db).checks()[-2:]}
    assert last == {site.url(NOTICE): "unchanged", site.url(GUIDE): "not_modified"}  # the guide's file: 304
    assert len(SnapshotStore(db).snapshots()) == 3
    assert ChangeStore(db).alerts() == alerts and receiver.posts == posts
    # Re-running the recut finds nothing more to do.
    twice = reextract(db, recut=True, profiles_path=str(profiles), workers=1)
    assert (twice.recut_changed, twice.added, twice.removed) == (0, 0, 0)


def test_recut_on_the_command_line_follows_the_sources_file(site, db_url, tmp_path):
    taiyuan = site.url("ty/live/2024903/67541.shtm")  # the demo's 本地宝 guide
    body = '[[source]]\nname = "太原本地宝"\nurl = "{}"\nregion = "太原市"\n'.format(taiyuan)
    sources = write_sources(tmp_path / "sources.toml", body + 'profile = "generic"\n')
    assert check(sources, db_url).returncode == 0
    db = Database(db_url)
    [before] = SnapshotStore(db).snapshots()
    assert before["profile"] == "generic"
    write_sources(sources, body)  # the forced generic cut is dropped: the 本地宝 profile applies again
    proc = run_cli("reextract", "--recut", "--sources", str(sources), "--db", db_url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1 and "1 snapshots re-cut (1 cut differently)" in proc.stdout
    assert proc.stdout.rstrip().endswith("no alerts")
    [after] = SnapshotStore(db).snapshots()
    assert after["profile"] == "bendibao-desktop-detected" and after["main_text"] != before["main_text"]
    assert after["main_text"].startswith("【导语】") and after["meta"]["recut"]["hash_was"] == before["content_hash"]
    with db.session() as s:
        from storage.models import Page
        assert s.query(Page).one().last_hash == after["content_hash"]
    assert ChangeStore(db).alerts() == []
    again = check(sources, db_url)  # the crawl now cuts what the recut stored
    assert again.returncode == 0 and len(SnapshotStore(db).snapshots()) == 1
