"""A runaway list page (thousands of matching links) is capped at POLICYWATCH_MAX_LIST_LINKS, with a warning,
and never stops the run (issue 16 item 9)."""
from __future__ import annotations

from conftest import check, run_cli, write_sources


def test_a_list_page_with_thousands_of_links_watches_only_the_first_ones(site, tmp_path):
    links = "".join(f'<li><a href="/big/t{i}.html">通知{i}</a></li>' for i in range(3000))
    site.route("big/index.html", body=f"<html><body><ul>{links}</ul></body></html>")
    for i in range(3000):
        site.route(f"big/t{i}.html", body=f"<html><body><div class='article'><p>第{i}号通知。</p></div></body></html>")
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[source]]
        name = "大列表"
        url = "{site.url('big/index.html')}"
        kind = "list"
        follow = '/big/t\\d+\\.html$'
        """)
    db = f"sqlite:///{tmp_path / 'h.db'}"
    proc = check(sources, db, "-s", "POLICYWATCH_MAX_LIST_LINKS=50", "-v")
    assert proc.returncode == 0, proc.stdout
    assert "3000 matching links, only the first 50 are watched" in proc.stderr
    import json
    (row,) = json.loads(run_cli("sources", "--sources", str(sources), "--db", db, "--json").stdout)
    assert row["pages"] == 51  # the list and its first 50 articles


def _list_with_a_foreign_link(site, tmp_path, extra: str):
    port = site.url("x").split(":")[2].split("/")[0]
    site.route("hl/index.html", body=f'<html><body><a href="/hl/t1.html">本站</a>'
                                     f'<a href="http://localhost:{port}/hl/t2.html">别处</a></body></html>')
    for n in (1, 2):
        site.route(f"hl/t{n}.html", body=f"<html><body><div class='article'><p>第{n}号通知。</p></div></body></html>")
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[source]]
        name = "列表"
        url = "{site.url('hl/index.html')}"
        kind = "list"
        follow = '/hl/t\\d+\\.html$'
        {extra}
        """)
    db = f"sqlite:///{tmp_path / 'h.db'}"
    assert check(sources, db).returncode == 0
    from storage import Database, SnapshotStore
    return sorted(s["url"].split("/")[2].split(":")[0] for s in SnapshotStore(Database(db)).snapshots()
                  if "/hl/t" in s["url"])


def test_a_list_stays_on_its_own_host(site, tmp_path):
    assert _list_with_a_foreign_link(site, tmp_path, "") == ["127.0.0.1"]


def test_allow_hosts_lets_a_list_follow_links_to_another_host(site, tmp_path):
    assert _list_with_a_foreign_link(site, tmp_path, 'allow_hosts = ["localhost"]') == ["127.0.0.1", "localhost"]
