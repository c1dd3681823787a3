"""Facts computed with the cut while the crawl goes on are exactly those the extract stage computes after it
(issue 12): the same pages, crawled twice with a raised fee in between, give the same facts and changes with
POLICYWATCH_EXTRACT_DURING_CRAWL on (the default) and off, on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import re
import sys

import pytest
from sqlalchemy import select

from conftest import DEMO_SITE, ROOT, check, overlay_v2, write_sources
from storage import ChangeStore, Database
from storage.models import Extraction, FactRow, Page, Snapshot

sys.path.insert(0, str(ROOT / "bench"))
from pagegen import generate, write_site  # noqa: E402

TAIYUAN = "ty/live/2024903/67541.shtm"
V2 = (DEMO_SITE / "v2" / TAIYUAN).read_text(encoding="utf-8").replace("400元/人/年", "420元/人/年")
GENERATED = 24  # more than PageCutter.INLINE_PAGES: most pages are cut (and extracted) in the worker pool
PAGES = {  # name → (path, configured region): scoping by the source's region is part of the extraction
    "太原本地宝": (TAIYUAN, "太原市"), "本地宝手机": ("m/" + TAIYUAN, None), "UCAP": ("gov/trs_ucap.html", "山西省"),
    "正文": ("gov/article_content.html", None), "县": ("gov/county_nr.html", None),
    "编码": ("gov/encoding_sample.html", None), "忻州指南": ("city/xinzhou_guide.html", "忻州市"),
    "忻州通知": ("city/xinzhou_notice.html", "北京市"), "新闻": ("news/2024/yibao-guide.html", "上海市"),
}
SUMMARY = re.compile(r"facts extracted for (\d+) snapshots")


def _sources(site, path):
    body = "".join(f'[[source]]\nname = "{name}"\nurl = "{site.url(p)}"\n' + (f'region = "{r}"\n' if r else "") + "\n"
                   for name, (p, r) in PAGES.items())
    body += "".join(f'[[source]]\nname = "p{i:04d}"\nurl = "{site.url(f"p/{i:04d}.html")}"\n'
                    + ('region = "太原市"\n' if i % 3 == 0 else "") + "\n" for i in range(1, GENERATED + 1))
    body += (f'[[source]]\nname = "山西省医保局"\nurl = "{site.url("ybj/tzgg/index.html")}"\nregion = "山西省"\n'
             'kind = "list"\nfollow = \'/tzgg/\\d+/t\\d+_\\d+\\.s?html?$\'\n')
    return write_sources(path, body)


def _results(db_url: str) -> dict:
    """Every snapshot's extraction and facts and every change, with database ids replaced by what they name."""
    db = Database(db_url)
    try:
        with db.session() as s:
            snaps = {r.id: (r.url, r.content_hash) for r in s.execute(
                select(Snapshot.id, Page.url, Snapshot.content_hash).join(Page, Page.id == Snapshot.page_id))}
            pages = dict(s.execute(select(Page.id, Page.url)).all())
            extractions = {}
            for e in s.scalars(select(Extraction)):
                facts = s.scalars(select(FactRow).where(FactRow.extraction_id == e.id).order_by(FactRow.id))
                extractions[snaps[e.snapshot_id], e.extractor_version] = dict(
                    region=(e.region_code, e.region_name), plan_year=e.plan_year, warnings=e.warnings,
                    facts=[dict(kind=f.kind, value=f.value, plan_year=f.plan_year, region=f.region,
                                evidence=f.evidence, span=(f.span_start, f.span_end), confidence=f.confidence,
                                first=snaps.get(f.first_snapshot_id)) for f in facts])
            health = {snaps[i]: h for i, h in s.execute(select(Snapshot.id, Snapshot.health))}
        changes = sorted(json.dumps(dict(c, id=None, detected_at=None, page_id=pages[c["page_id"]],
                                         snapshot_before=snaps.get(c["snapshot_before"]),
                                         snapshot_after=snaps.get(c["snapshot_after"])),
                                    ensure_ascii=False, sort_keys=True, default=str)
                         for c in ChangeStore(db).changes())
    finally:
        db.dispose()
    return dict(snapshots=sorted(snaps.values()), extractions=extractions, health=health, changes=changes)


def _extracted_after_crawl(proc) -> int:
    match = SUMMARY.search(proc.stdout)
    return int(match.group(1)) if match else 0


@pytest.fixture(scope="module")
def both(module_site, module_db, tmp_path_factory):
    """Two checks of the same site into two databases, facts extracted during the crawl into one and only
    by the extract stage into the other; the fee is raised and a notice added between the checks."""
    site = module_site
    write_site(generate(GENERATED, target=12_000), site.dir)
    sources = _sources(site, tmp_path_factory.mktemp("cfg") / "sources.toml")
    during, after = module_db(), module_db()
    # One request at a time and one cut worker: snapshots are stored in the same order both ways (which side
    # of a conflict between two sources is "before" follows the snapshot ids, whatever extracted the facts).
    serial = ("-s", "CONCURRENT_REQUESTS=1", "-s", "POLICYWATCH_WORKERS=1")
    off = ("-s", "POLICYWATCH_EXTRACT_DURING_CRAWL=False")
    runs = {"during": [], "after": []}
    for step in ("first", "second"):
        if step == "second":
            overlay_v2(site)
            site.route(TAIYUAN, body=V2)
        for mode, db, extra in (("during", during, ()), ("after", after, off)):
            proc = check(sources, db, *serial, *extra)
            assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 1: the list links to missing notices
            runs[mode].append(proc)
    return runs, _results(during), _results(after)


def test_facts_extracted_during_the_crawl_equal_those_of_the_extract_stage(both):
    _, during, after = both
    assert during["snapshots"] == after["snapshots"]
    assert len(during["snapshots"]) > len(PAGES) + GENERATED  # the list's notices and the changed pages too
    assert during["extractions"] == after["extractions"]
    assert sum(len(e["facts"]) for e in during["extractions"].values()) > 100
    assert any(e["warnings"] for e in during["extractions"].values())  # foreign facts scoped out by region


def test_changes_and_health_are_the_same_whichever_way_facts_were_extracted(both):
    _, during, after = both
    assert during["health"] == after["health"]
    assert during["changes"] == after["changes"]
    fee = [json.loads(c) for c in during["changes"] if '"personal_contribution"' in c and '"fact_changed"' in c]
    assert [(c["old"]["amount"], c["new"]["amount"]) for c in fee] == [(400, 420)]


def test_both_ways_check_the_same_pages_with_the_same_outcomes(both):
    runs, _, _ = both
    outcomes = {mode: [(p.returncode, SUMMARY.sub("", p.stdout.split(";")[0])) for p in procs]
                for mode, procs in runs.items()}
    assert outcomes["during"] == outcomes["after"]


def test_a_check_leaves_the_extract_stage_nothing_for_the_pages_it_crawled(both):
    runs, during, _ = both
    assert [_extracted_after_crawl(p) for p in runs["during"]] == [0, 0]
    first, second = (_extracted_after_crawl(p) for p in runs["after"])
    assert first + second == len(during["snapshots"]) and second > 0  # the stage did them all when asked to
    assert len(during["extractions"]) == len(during["snapshots"])  # and the crawl stored facts for each one
