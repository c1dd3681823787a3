"""`policywatch check` against the local site: two real crawls, many behaviours (SQLite and PostgreSQL)."""
from __future__ import annotations

import re

import socket
from dataclasses import dataclass

import pytest

from conftest import DEMO_SITE, check, overlay_v2, write_sources
from storage import Database, SnapshotStore

TAIYUAN = "ty/live/2024903/67541.shtm"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class TwoRuns:
    site: object
    store: SnapshotStore
    first: object
    second: object

    def checks(self, path: str, run: int | None = None) -> list[dict]:
        url = self.site.url(path) if "://" not in path else path
        return [c for c in self.store.checks() if c["url"] == url and (run is None or c["run_id"] == run)]

    def snapshots(self, path: str) -> list[dict]:
        url = self.site.url(path)
        return [s for s in self.store.snapshots() if s["url"] == url]


@pytest.fixture(scope="module")
def runs(module_site, module_db, tmp_path_factory):
    site = module_site
    desktop = (DEMO_SITE / "v1" / TAIYUAN).read_text(encoding="utf-8")
    site.route("err/500.html", status=500, body="<h1>Internal Server Error</h1>")
    site.route("moved.html", status=301, headers={"Location": "/gov/article_content.html"})
    site.route("slow.html", body="<p>late</p>", delay=3)
    site.route("big.html", body="<html><body>" + "<p>大</p>" * 400_000 + "</body></html>")
    site.route("notice.pdf", body=b"%PDF-1.4 ...", content_type="application/pdf")
    site.route("binary.html", body=b"\x7fELF\x02\x01\x01\x00\x00\x00" * 40, content_type="text/html")
    site.route("plain.html", body=desktop)  # no ETag / Last-Modified: full fetch every time
    site.route("cosmetic.html", body=desktop)
    dead = f"http://127.0.0.1:{_closed_port()}/gone.html"
    pages = {
        "本地宝·太原": TAIYUAN, "本地宝·手机": "m/" + TAIYUAN, "UCAP": "gov/trs_ucap.html",
        "404": "err/404.html", "500": "err/500.html", "moved": "moved.html", "slow": "slow.html",
        "big": "big.html", "pdf": "notice.pdf", "binary": "binary.html", "robots": "private/secret.html",
        "plain": "plain.html", "cosmetic": "cosmetic.html",
    }
    body = "".join(f'[[source]]\nname = "{n}"\nurl = "{site.url(p)}"\n\n' for n, p in pages.items())
    body += f'[[source]]\nname = "dead"\nurl = "{dead}"\n\n'
    body += (f'[[source]]\nname = "山西省医保局·通知公告"\nurl = "{site.url("ybj/tzgg/index.html")}"\n'
             'kind = "list"\nfollow = \'/tzgg/\\d+/t\\d+_\\d+\\.s?html?$\'\n')
    sources = write_sources(tmp_path_factory.mktemp("cfg") / "sources.toml", body)
    db_url = module_db()
    opts = ("-s", "DOWNLOAD_TIMEOUT=1", "-s", "DOWNLOAD_MAXSIZE=1000000")
    first = check(sources, db_url, *opts)
    overlay_v2(site)
    cosmetic = desktop.replace('id="hits">8264', 'id="hits">9999').replace("相关推荐", "相关推荐 ")
    assert cosmetic != desktop
    site.route("cosmetic.html", body=cosmetic.replace("<li", "<li data-x='1'", 3))
    second = check(sources, db_url, *opts)
    return TwoRuns(site, SnapshotStore(Database(db_url)), first, second)


def test_first_crawl_stores_one_new_snapshot_per_article(runs):
    for path in (TAIYUAN, "m/" + TAIYUAN, "gov/trs_ucap.html"):
        (c,) = runs.checks(path, run=1)
        assert c["outcome"] == "new" and c["http_status"] == 200 and c["snapshot_id"]


def test_exit_code_says_some_pages_failed(runs):
    assert runs.first.returncode == 1
    assert "error" in runs.first.stdout


def test_summary_line_names_the_first_three_failed_pages_and_counts_the_rest(runs):
    (line,) = runs.first.stdout.splitlines()
    errors = int(re.search(r"(\d+) error", line).group(1))
    assert errors > 3
    failed = line.split("; failed: ", 1)[1]
    assert failed.endswith(f" and {errors - 3} more")
    named = re.findall(r"(http://\S+) \(([^)]+)\)", failed)
    assert len(named) == 3 and all(error for _, error in named), failed
    failing = {c["url"]: c["error"] for c in runs.store.checks() if c["run_id"] == 1 and c["outcome"] == "error"}
    wrong = [(url, error, failing.get(url, "<not a failed page>")) for url, error in named
             if not " ".join(failing.get(url, "").split()).startswith(error.rstrip("…"))]
    assert not wrong, wrong


def test_404_is_an_error_with_its_status(runs):
    (c,) = runs.checks("err/404.html", run=1)
    assert (c["outcome"], c["http_status"], c["error"]) == ("error", 404, "HTTP 404")


def test_500_is_retried_with_backoff_then_recorded(runs):
    (c,) = runs.checks("err/500.html", run=1)
    assert (c["outcome"], c["http_status"]) == ("error", 500)
    assert len(runs.site.requests_for("err/500.html")) == 2 * 3  # 1 try + 2 retries, in each of 2 runs


def test_redirect_is_followed_and_final_url_stored(runs):
    (c,) = runs.checks("moved.html", run=1)
    assert c["outcome"] == "new"
    (snap,) = runs.snapshots("moved.html")
    assert snap["final_url"] == runs.site.url("gov/article_content.html")
    assert "财政补助标准不低于每人每年640元" in snap["main_text"]


def test_timeout_is_recorded(runs):
    (c,) = runs.checks("slow.html", run=1)
    assert c["outcome"] == "error" and c["error"].startswith("timed out after 1 s")


def test_oversized_page_is_rejected(runs):
    (c,) = runs.checks("big.html", run=1)
    assert c["outcome"] == "error" and "DOWNLOAD_MAXSIZE" in c["error"]
    assert not runs.snapshots("big.html")


def test_non_html_response_is_an_error(runs):
    (c,) = runs.checks("notice.pdf", run=1)
    assert c["error"] == "not an HTML page (application/pdf)"


def test_binary_bytes_served_as_html_are_an_error_not_a_snapshot(runs):
    (c,) = runs.checks("binary.html", run=1)
    assert c["error"] == "not an HTML page (binary content served as text/html)"
    assert not runs.snapshots("binary.html")


def test_robots_txt_disallowed_page_is_never_fetched(runs):
    (c,) = runs.checks("private/secret.html", run=1)
    assert c["error"] == "blocked by robots.txt"
    assert runs.site.requests_for("private/secret.html") == []
    assert all("2099年12月31日" not in s["main_text"] for s in runs.store.snapshots())


def test_unreachable_site_is_an_error(runs):
    (c,) = [c for c in runs.store.checks() if c["url"].endswith("/gone.html") and c["run_id"] == 1]
    assert c["error"] == "connection refused"


def test_list_page_discovers_matching_articles(runs):
    urls = {c["url"] for c in runs.store.checks() if c["run_id"] == 1 and "/tzgg/20" in c["url"]}
    assert len(urls) == 6  # the six notices listed, none of the nav / pagination / external links
    assert runs.snapshots("ybj/tzgg/202409/t20240901_1001.shtml")[0]["profile"] == "gov-cms"


def test_second_run_sends_the_servers_own_validators(runs):
    first, second = runs.site.requests_for("gov/trs_ucap.html")
    assert "If-None-Match" not in first
    assert second["If-None-Match"].startswith('"')  # the ETag our server sent, verbatim
    assert second["If-Modified-Since"].endswith("GMT")


def test_304_is_recorded_as_not_modified_without_snapshot(runs):
    (c,) = runs.checks("gov/trs_ucap.html", run=2)
    assert (c["outcome"], c["http_status"], c["snapshot_id"]) == ("not_modified", 304, None)
    assert len(runs.snapshots("gov/trs_ucap.html")) == 1


def test_changed_page_gets_a_new_snapshot(runs):
    (c,) = runs.checks(TAIYUAN, run=2)
    assert c["outcome"] == "changed"
    old, new = runs.snapshots(TAIYUAN)
    assert "缴费截止日期为2月25日" in old["main_text"] and "缴费截止日期为3月31日" in new["main_text"]
    assert new["published_at"].isoformat() == "2025-02-20T02:05:00+00:00"  # 10:05 China time


def test_same_text_without_validators_is_unchanged(runs):
    (c,) = runs.checks("plain.html", run=2)
    assert (c["outcome"], c["http_status"]) == ("unchanged", 200)
    assert len(runs.snapshots("plain.html")) == 1


def test_related_list_and_view_counter_changes_are_unchanged(runs):
    (c,) = runs.checks("cosmetic.html", run=2)
    assert c["outcome"] == "unchanged"


def test_new_article_on_list_page_is_watched_next_run(runs):
    (c,) = runs.checks("ybj/tzgg/202502/t20250210_1003.shtml", run=2)
    assert c["outcome"] == "new"
    (lst,) = runs.checks("ybj/tzgg/index.html", run=2)
    assert lst["outcome"] == "changed"


def test_raw_html_is_kept_compressed_and_deduplicated(runs):
    snaps = runs.store.snapshots()
    desktop_raw = [s["raw_id"] for s in snaps if s["url"] in (runs.site.url("plain.html"),
                                                              runs.site.url("cosmetic.html"))]
    assert len(desktop_raw) == 2 and desktop_raw[0] == desktop_raw[1]  # same bytes → one raw row
    snap = runs.snapshots(TAIYUAN)[0]
    assert "缴费截止日期为2月25日".encode() in runs.store.raw_html(snap["raw_id"])


def test_runs_are_recorded_as_finished(runs):
    assert runs.second.returncode == 1
    assert "run 2:" in runs.second.stdout


def test_new_snapshots_get_their_facts_with_the_extractor_version(runs):
    from extractors import EXTRACTOR_VERSION
    old, new = runs.snapshots(TAIYUAN)
    deadlines = [[f["value"] for f in runs.store.facts(s["id"]) if f["kind"] == "payment_deadline"] for s in (old, new)]
    assert deadlines == [[{"date": "2025-02-25"}], [{"date": "2025-03-31"}]]
    assert {f["version"] for f in runs.store.facts(new["id"])} == {EXTRACTOR_VERSION}
    assert all(f["region"] == "140100" for f in runs.store.facts(new["id"]) if f["kind"] == "payment_deadline")


def test_stored_facts_can_be_recomputed_from_the_snapshot(runs):
    from spiders.content import CHINA_TZ
    from spiders.processing import facts_of
    for snap in runs.store.snapshots():
        published = snap["published_at"].astimezone(CHINA_TZ) if snap["published_at"] else None
        again = facts_of(snap["main_text"], snap["final_url"], snap["title"], published,
                         (snap["meta"] or {}).get("breadcrumb"))
        stored = [{k: f[k] for k in ("kind", "value", "plan_year", "region", "evidence", "span", "confidence")}
                  for f in runs.store.facts(snap["id"])]
        assert stored == again["facts"], snap["url"]
