"""User profiles in real crawls (`profiles =` in the sources file), and `check --force` (SQLite and PostgreSQL)."""
from __future__ import annotations

from conftest import check, run_cli, write_sources
from storage import Database, SnapshotStore

COUNTY = "gov/county_nr.html"

PROFILES = """
[[profile]]
name = "xinzhou"
domains = ["127.0.0.1"]
detect = "div.nr"
content = ["div.nr"]
title = [".nr-title"]
published = [".nr-time"]
drop = [".nr-title", ".nr-time", ".nr-tools"]

# no domains: only used where a source names it
[[profile]]
name = "county-forced"
inherit = "xinzhou"
drop = [".nr-tools"]
"""


def sources_file(tmp_path, site, with_profiles: bool):
    (tmp_path / "cfg").mkdir(exist_ok=True)
    (tmp_path / "cfg" / "my-profiles.toml").write_text(PROFILES, encoding="utf-8")
    return write_sources(tmp_path / "cfg" / "sources.toml", ('profiles = "my-profiles.toml"\n' if with_profiles else "")
                         + f'''
        [[source]]
        name = "忻府区医保局"
        url = "{site.url(COUNTY)}"
        ''')


def test_check_and_import_cut_with_the_user_profiles(site, db_url, tmp_path):
    (site.dir / "gov/forced.html").write_bytes((site.dir / COUNTY).read_bytes())
    sources = sources_file(tmp_path, site, with_profiles=True)
    sources.write_text(sources.read_text(encoding="utf-8") + f'''
[[source]]
name = "忻府区医保局·转载"
url = "{site.url('gov/forced.html')}"
profile = "county-forced"
''', encoding="utf-8")
    proc = check(sources, db_url)
    assert proc.returncode == 0, proc.stderr
    store = SnapshotStore(Database(db_url))
    by_url = {s["url"]: s for s in store.snapshots()}
    auto, forced = by_url[site.url(COUNTY)], by_url[site.url("gov/forced.html")]
    assert auto["profile"] == "xinzhou"  # chosen by its domain and detect, before any bundled profile
    assert auto["main_text"] == "2025年度城乡居民医保个人缴费标准为每人每年400元。"
    assert auto["title"] == "2025年度居民医保缴费通知"
    assert forced["profile"] == "county-forced"  # a user profile named by the source
    assert forced["main_text"].splitlines()[0] == "2025年度居民医保缴费通知"  # it keeps the title line
    assert [f["value"]["amount"] for f in store.facts(auto["id"])] == [400]
    # a saved copy imported into the history is cut with the same profiles
    saved = tmp_path / "saved.html"
    saved.write_bytes((site.dir / COUNTY).read_bytes().replace("400元".encode(), "390元".encode()))
    imp = run_cli("import", str(saved), "--url", site.url(COUNTY), "--fetched-at", "2024-09-06",
                  "--sources", str(sources), "--db", db_url)
    assert imp.returncode == 0, imp.stderr
    (old,) = [s for s in store.snapshots() if "390元" in s["main_text"]]
    assert old["profile"] == "xinzhou" and "350元" not in old["main_text"]


def test_check_force_refetches_what_a_304_would_hide(site, db_url, tmp_path):
    before = sources_file(tmp_path, site, with_profiles=False)
    assert check(before, db_url).returncode == 0  # no profile for this CMS yet: the sidebar is cut
    store = SnapshotStore(Database(db_url))
    (first,) = store.snapshots()
    assert first["profile"] == "generic" and "350元" in first["main_text"]

    fixed = sources_file(tmp_path, site, with_profiles=True)
    assert check(fixed, db_url).returncode == 0
    assert [c["outcome"] for c in store.checks(run_id=2)] == ["not_modified"]  # the page did not change: 304
    assert len(store.snapshots()) == 1

    assert check(fixed, db_url, "--force").returncode == 0
    (forced,) = store.checks(run_id=3)
    assert (forced["outcome"], forced["http_status"]) == ("changed", 200)
    headers = site.requests_for(COUNTY)
    assert "If-None-Match" in headers[1] and "If-Modified-Since" in headers[1]
    assert "If-None-Match" not in headers[2] and "If-Modified-Since" not in headers[2]
    latest = store.snapshots()[-1]
    assert latest["profile"] == "xinzhou" and latest["main_text"] == "2025年度城乡居民医保个人缴费标准为每人每年400元。"

    assert check(fixed, db_url).returncode == 0  # --force was for one run only
    assert [c["outcome"] for c in store.checks(run_id=4)] == ["not_modified"]
    assert "If-None-Match" in site.requests_for(COUNTY)[3]
