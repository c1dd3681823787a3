"""`policywatch serve` at scale: the paged pages (来源, 全部地区, a province's every city) give together what one
page gave, and the whole-history cache (monitor.web.cache, storage.dataversion) never outlives a commit, and the 事实 pages'
region-by-region parts (monitor.web.factparts) assemble what the whole matrix and roll-up are — on
SQLite and PostgreSQL, over the history of two real crawls (tests/monitor/servehistory.py)."""
from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from bench.web_profile import asgi_get
from conftest import write_sources
from servehistory import history  # noqa: F401 (fixture)
from extractors import FACT_KINDS
from monitor.cliutil import load_config
from monitor.status import collect_status
from monitor.web import app as webapp
from monitor.web.charts import chart_groups
from monitor.web.factparts import FactParts
from monitor.web.render import fact_matrix, sort_matrix
from monitor.web.rollup import province_rollup
from storage import Database, SnapshotStore
from storage.dataversion import DataVersion
from storage.webqueries import current_facts, region_history, walk_current_facts


def get(app, path: str) -> tuple[int, str]:
    """(status, body) of one GET through the ASGI app, in this process."""
    status, body = asgi_get(app, path)
    return status, body.decode("utf-8")


@pytest.fixture(scope="module")
def app(history):  # noqa: F811
    db_url, sources = history
    db = Database(db_url, create=False)
    yield db, webapp.create_app(db, load_config(sources))
    db.dispose()


def test_sources_page_lists_a_hundred_sources_a_page_in_the_files_order(db_url, tmp_path):
    names = [f"来源-{i:03d}" for i in range(250)]
    sources = write_sources(tmp_path / "sources.toml", "".join(
        f'[[source]]\nname = "{n}"\nurl = "http://127.0.0.1:9/{i}.html"\n' for i, n in enumerate(names)))
    db = Database(db_url)
    app = webapp.create_app(db, load_config(sources))
    seen = []
    for n in (1, 2, 3):
        status, body = get(app, f"/sources?page={n}")
        assert status == 200 and "共 250 个来源" in body and f"第 {n} / 3 页" in body
        seen += re.findall(r'<td><a href="/sources/[^"]+">(来源-\d+)</a>', body)
    assert seen == names  # every source once, in the sources file's order
    first = get(app, "/sources")[1]
    assert re.findall(r'<td><a href="/sources/[^"]+">(来源-\d+)</a>', first) == names[:100]
    assert 'href="/sources?page=2">下一页</a>' in first and 'href="/sources?page=3">3</a>' in first
    assert get(app, "/sources?page=4")[0] == 404 and get(app, "/sources?page=0")[0] == 400
    assert get(app, "/sources?page=x")[0] == 400
    db.dispose()


def test_every_regions_matrix_pages_together_are_the_whole_matrix(app, monkeypatch):
    db, server = app
    monkeypatch.setattr(webapp, "REGIONS_PAGE", 1)
    whole = fact_matrix([r for r in current_facts(db) if r["plan_year"] == 2025])
    shown = []
    for n in range(1, len(whole["rows"]) + 1):
        status, body = get(server, "/facts?" + urlencode({"plan_year": 2025, "region": "000000", "page": n}))
        assert status == 200, body
        shown += re.findall(r'<tr><th>(?:<a href="/regions/\d+">)?([^<]+)', body.split("</thead>")[1])
    assert len(whole["rows"]) >= 2 and shown == [r["region_name"] for r in whole["rows"]]
    assert get(server, f"/facts?region=000000&page={len(whole['rows']) + 1}")[0] == 404


def test_a_provinces_every_city_pages_together_draw_every_chart(app, monkeypatch):
    db, server = app
    monkeypatch.setattr(webapp, "CITIES_PAGE", 1)
    whole = [(g["region"], g["kind"], g["plan_year"]) for g in
             chart_groups(region_history(db, FACT_KINDS, region_prefix="14"))]
    drawn, n = [], 1
    while (reply := get(server, f"/regions/140000?cities=all&page={n}"))[0] == 200:
        drawn += re.findall(r'<svg class="chart" [^>]*aria-label="([^"]+)"', reply[1])
        n += 1
    assert reply[0] == 404 and n > 2  # the province, then its city: one region a page
    assert len(drawn) == len(whole) >= 2


def test_cached_pages_show_a_commit_made_after_them(app, history):  # noqa: F811
    db, server = app
    before = {path: get(server, path)[1] for path in ("/facts?region=140000", "/facts", "/facts?region=000000")}
    assert "420 元/人/年" in before["/facts?region=140000"]
    specs = [s.spec() for s in load_config(history[1]).sources]
    other = Database(history[0], create=False)  # another process's connections: the sources file's sync
    try:
        SnapshotStore(other).sync_sources([s for s in specs if s.name != "太原本地宝"])  # removed from the file
        assert "420 元/人/年" not in get(server, "/facts?region=140000")[1]
        assert "太原本地宝" not in get(server, "/facts?region=000000")[1]
        assert below(server) == below_now(db, history[1])
    finally:
        SnapshotStore(other).sync_sources(specs)
        other.dispose()
    assert {path: get(server, path)[1] for path in before} == before
    assert below(server) == below_now(db, history[1])


def below(server) -> dict:
    """/api/status's amounts below the national minimum, per source."""
    return {s["name"]: s["below_national_minimum"] for s in json.loads(get(server, "/api/status")[1])["sources"]}


def below_now(db, sources) -> dict:
    """The same, computed now without a cache, as JSON gives it."""
    status = collect_status(load_config(sources), db)
    return {s["name"]: s["below_national_minimum"] for s in json.loads(json.dumps(status["sources"], default=str))}


def test_data_version_changes_only_with_a_commit(db_url):
    db = Database(db_url)
    version = DataVersion(db)
    first = version.current()
    with db.engine.connect() as conn:
        conn.execute(sa.text("SELECT count(*) FROM facts")).scalar()
    assert version.current() == first  # reads change nothing
    other = sa.create_engine(db_url)
    with other.begin() as conn:
        conn.execute(sa.text("INSERT INTO sources (name, url, kind, enabled, created_at, updated_at) VALUES "
                             "('x', 'http://127.0.0.1/', 'page', :t, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                     {"t": True})
    other.dispose()
    assert version.current() != first
    version.close()
    db.dispose()


def test_the_region_by_region_parts_are_the_whole_matrix_and_roll_up(app, history):  # noqa: F811
    db, _ = app
    parts = FactParts(db)

    def compare() -> None:
        parts.update(object())  # a new version of the current facts each time
        rows = walk_current_facts(db)
        for prefix in (None, "", "14", "140100", "99"):
            scoped = [r for r in rows if not prefix or (r["region"] or "").startswith(prefix)]
            assert parts.years(prefix) == sorted({r["plan_year"] for r in scoped if r["plan_year"]}, reverse=True)
            for year in (2025, 2026, None):
                assert parts.matrix(prefix, year) == fact_matrix([r for r in scoped if r["plan_year"] == year])
        for sort in (None, "personal_contribution", "payment_deadline"):
            whole = fact_matrix([r for r in rows if r["plan_year"] == 2025])
            assert parts.rollup(2025, sort) == province_rollup(sort_matrix(whole, sort), sort)

    compare()
    specs = [s.spec() for s in load_config(history[1]).sources]
    other = Database(history[0], create=False)
    try:
        SnapshotStore(other).sync_sources([s for s in specs if s.name != "太原本地宝"])
        compare()
    finally:
        SnapshotStore(other).sync_sources(specs)
        other.dispose()
    compare()
