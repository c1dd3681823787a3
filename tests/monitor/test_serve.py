"""`policywatch serve`: pages, filters, escaping, the JSON API against the CLI's --json, the token rule, bad input
— the real server over a history made by real crawls (tests/monitor/servehistory.py)."""
from __future__ import annotations

import json
import re
import sqlite3
from urllib.parse import quote, urlencode

from conftest import run_cli
from servehistory import FEE_LINE, HOSTILE_NAME, Server, history, page, server  # noqa: F401 (fixtures)


def test_overview_shows_last_runs_alerts_and_the_newest_high_changes(server):
    body = page(server, "/")
    assert "<h1>概览</h1>" in body and "最近的检查" in body and "最新的高严重度变化" in body
    assert "待发送" in body and "发送失败" in body and "没有异常来源" in body
    assert FEE_LINE in body
    runs = re.findall(r"<tr><td>(\d+)</td>", body)
    assert runs == ["2", "1"]


def test_change_feed_shows_old_and_new_with_both_evidence_sentences_and_a_highlighted_diff(server):
    body = page(server, "/changes?" + urlencode({"source": "太原本地宝"}))
    card = next(c for c in body.split("<article")[1:] if FEE_LINE in c)
    assert "原文（此前）" in card and "原文（现在）" in card and "sev-high" in card
    assert '［<a href="/regions/140100">太原市</a>］' in card  # the region's page
    deadline = next(c for c in body.split("<article")[1:] if "缴费截止日期 2025-02-25 → 2025-03-31" in c)
    before, after = deadline.split('class="after"')
    assert "缴费截止日期为2月25日" in before and "缴费截止日期为3月31日" in after
    assert re.search(r"<del>2</del><ins>3</ins>", body)  # the text diff's [-2-]{+3+}
    assert "{+" not in body and "[-" not in body
    assert '/sources/%E5%A4%AA%E5%8E%9F%E6%9C%AC%E5%9C%B0%E5%AE%9D?version=' in card  # links to both versions


def lines_of(body: str) -> list[str]:
    return re.findall(r'<p class="line">(.*?)</p>', body)


def test_change_feed_filters_by_severity_kind_region_and_since(server):
    low = lines_of(page(server, "/changes?severity=low"))
    assert low and set(low) == {"正文变化"}
    fees = lines_of(page(server, "/changes?kind=personal_contribution&type=fact_changed"))
    assert FEE_LINE in fees and not any("缴费截止" in line for line in fees)
    shanxi = lines_of(page(server, "/changes?" + urlencode({"region": "山西"})))  # the province with its cities
    assert FEE_LINE in shanxi
    assert lines_of(page(server, "/changes?" + urlencode({"region": "太原市"}))) == [
        line for line in lines_of(page(server, "/changes?region=140100"))]
    assert "没有符合条件的变化" in page(server, "/changes?" + urlencode({"region": "北京"}))
    assert "没有符合条件的变化" in page(server, "/changes?since=2999-01-01")
    assert FEE_LINE in lines_of(page(server, "/changes?since=2000-01-01"))


def test_unknown_filters_are_404_pages_and_malformed_ones_400(server):
    for path, status, words in [("/changes?" + urlencode({"region": "火星"}), 404, "未知地区"),
                                ("/changes?kind=nonsense", 404, "未知的事实类型"),
                                ("/changes?" + urlencode({"source": "没有"}), 404, "没有名为"),
                                ("/changes?since=yesterday", 400, "YYYY-MM-DD"),
                                ("/sources/" + quote("没有这个来源"), 404, "没有名为"),
                                ("/nowhere", 404, "没有这个页面")]:
        code, _, body = server.get(path)
        assert code == status and words in body and "Traceback" not in body, path


def test_source_page_shows_its_check_strip_versions_and_stored_cut_text(server):
    body = page(server, "/sources/" + quote("太原本地宝"))
    strip = body.split('class="strip"')[1].split("</div>")[0]
    assert len(re.findall(r'class="cell o-(?:new|changed)"', strip)) == 2  # two checks, each a new version
    assert "title=\"" in strip
    versions = body.split('class="versions"')[1].split("</table>")[0]
    assert len(re.findall(r"\?version=\d+", versions)) == 2
    cut = body.split('<pre class="cut">')[1].split("</pre>")[0]
    assert "420元/人/年" in cut  # the newest version is shown by default
    first = re.findall(r"\?version=(\d+)", versions)[-1]
    older = page(server, "/sources/" + quote("太原本地宝") + f"?version={first}")
    assert "400元/人/年" in older.split('<pre class="cut">')[1]


def test_hostile_titles_evidence_and_source_names_render_inert(server):
    bodies = [page(server, "/sources/" + quote(HOSTILE_NAME, safe="")), page(server, "/sources"),
              page(server, "/changes"), page(server, "/")]
    source_page = bodies[0]
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;缴费通知" in source_page  # the stored title, escaped
    assert "&lt;script&gt;alert(&#34;evidence&#34;)" in source_page  # in the cut text
    assert "&lt;img src=x onerror=alert(1)&gt;" in bodies[1]
    assert any("&lt;script&gt;alert(&#34;evidence&#34;)" in b for b in bodies[2:])  # evidence of its fee change
    for body in bodies:
        assert "<script" not in body and "<img" not in body


def test_pages_use_only_assets_served_from_the_package(server):
    body = page(server, "/")
    assets = re.findall(r'<(?:link|script|img)[^>]*(?:href|src)="([^"]+)"', body)
    assert assets == ["/static/style.css"]
    status, headers, css = server.get("/static/style.css")
    assert status == 200 and "del {" in css and "http" not in css
    assert "default-src 'none'" in server.get("/")[1]["content-security-policy"]


def cli_json(*args: str):
    proc = run_cli(*args)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_api_changes_history_and_status_have_the_cli_json_shapes(server, history):
    db, sources = history
    status, headers, body = server.get("/api/changes")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == cli_json("changes", "--db", db, "--json")
    one = json.loads(server.get("/api/changes?" + urlencode({"source": "太原本地宝"}))[2])
    assert one == cli_json("changes", "--db", db, "--json", "--source", "太原本地宝")
    assert json.loads(server.get("/api/history?" + urlencode({"region": "山西"}))[2]) == \
        cli_json("history", "--db", db, "--json", "--region", "山西")
    assert json.loads(server.get("/api/status")[2]) == cli_json("status", "--sources", str(sources), "--db", db,
                                                                "--json")
    code, _, body = server.get("/api/history?kind=nonsense")
    assert code == 404 and "unknown fact kind" in json.loads(body)["error"]


def test_api_changes_pages_through_the_whole_feed_with_limit_after_and_before(server, history):
    db, _ = history
    everything = cli_json("changes", "--db", db, "--json")
    assert len(everything) > 3
    status, headers, body = server.get("/api/changes?limit=2")
    newest = json.loads(body)
    assert status == 200 and newest == everything[-2:]  # the newest two, oldest first
    assert f'after={newest[-1]["id"]}>; rel="next"' in headers["Link"]
    assert f'before={newest[0]["id"]}>; rel="prev"' in headers["Link"]
    assert json.loads(server.get(f"/api/changes?limit=2&before={newest[0]['id']}")[2]) == everything[-4:-2]
    pages, after = [], 0
    while True:  # a script following rel="next" from the start reads the whole feed once
        got = json.loads(server.get(f"/api/changes?limit=3&after={after}")[2])
        if not got:
            break
        pages += got
        after = got[-1]["id"]
    assert pages == everything
    for bad in ("limit=0", "limit=10001", "limit=many", "after=-1"):
        code, _, body = server.get("/api/changes?" + bad)
        assert code == 400 and "whole number" in json.loads(body)["error"], bad


def test_binding_beyond_loopback_without_a_token_is_refused(history):
    db, sources = history
    proc = run_cli("serve", "--sources", str(sources), "--db", db, "--host", "0.0.0.0", "--port", "0", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--token" in proc.stderr and "0.0.0.0" in proc.stderr


def test_a_token_is_then_required_on_every_request(history, tmp_path):
    db, sources = history
    (tmp_path / "token").write_text("s3cret-token\n", encoding="utf-8")
    srv = Server("--sources", str(sources), "--db", db, "--host", "0.0.0.0", "--token", str(tmp_path / "token"))
    try:
        for path in ("/", "/api/status", "/static/style.css", "/sources/" + quote("太原本地宝")):
            assert srv.get(path)[0] == 401, path
        assert srv.get("/", {"Authorization": "Bearer wrong"})[0] == 401
        assert srv.get("/?token=wrong")[0] == 401
        assert srv.get("/", {"Authorization": "Bearer s3cret-token"})[0] == 200
        assert srv.get("/api/status", {"Authorization": "Bearer s3cret-token"})[0] == 200
        code, headers, _ = srv.get("/changes?token=s3cret-token")
        assert code == 200 and "HttpOnly" in headers["set-cookie"]
        cookie = headers["set-cookie"].split(";")[0]
        assert srv.get("/static/style.css", {"Cookie": cookie})[0] == 200
    finally:
        assert "Traceback" not in srv.stop()


def test_the_token_may_come_from_the_environment_and_then_binds_loopback_too(history):
    db, sources = history
    srv = Server("--sources", str(sources), "--db", db, env={"POLICYWATCH_TOKEN": "from-env"})
    try:
        assert "token required" in srv.start_line
        assert srv.get("/api/changes")[0] == 401
        assert srv.get("/api/changes", {"Authorization": "Bearer from-env"})[0] == 200
    finally:
        assert "Traceback" not in srv.stop()


def test_serve_bad_input_is_one_line_and_its_exit_code(history, tmp_path):
    db, sources = history
    missing = run_cli("serve", "--sources", str(sources), "--db", f"sqlite:///{tmp_path / 'none.db'}", timeout=60)
    assert missing.returncode == 3 and "no history database" in missing.stderr
    for bad in (["--port", "70000"], ["--port", "http"], ["--host", "example.org"]):
        proc = run_cli("serve", "--sources", str(sources), "--db", db, *bad, timeout=60)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, bad
        assert proc.stderr.strip().splitlines()[-1].startswith("policywatch serve: error: argument")
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        proc = run_cli("serve", "--sources", str(sources), "--db", db, "--port", str(busy.getsockname()[1]),
                       timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("policywatch: serve: cannot listen on 127.0.0.1:")
    assert proc.stderr.count("\n") == 1
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    proc = run_cli("serve", "--sources", str(sources), "--db", db, "--token", str(tmp_path / "empty"), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"policywatch: --token {tmp_path / 'empty'}: the file is empty"


def test_any_two_versions_of_a_source_are_diffed_on_its_page(server):
    path = "/sources/" + quote("太原本地宝")
    body = page(server, path)
    assert "比较两个版本" in body and "<dt>健康</dt><dd class=\"health\">正常" in body
    new, old = re.findall(r"\?version=(\d+)", body.split('class="versions"')[1].split("</table>")[0])
    compared = page(server, f"{path}?a={old}&b={new}").split('class="diff compare"')[1].split("</ol>")[0]
    assert "缴费截止日期为<del>2</del><ins>3</ins>月" in compared.replace("\n", "")
    assert "两个版本的正文相同" in page(server, f"{path}?a={new}&b={new}")
    code, _, body = server.get(f"{path}?a={old}&b=99999")
    assert code == 404 and "没有版本" in body


def test_a_database_that_breaks_under_the_server_is_a_503_page_not_a_traceback(history, tmp_path):
    from storage import Database
    _, sources = history
    path = tmp_path / "breaks.db"
    Database(f"sqlite:///{path}").dispose()  # an empty history
    srv = Server("--sources", str(sources), "--db", f"sqlite:///{path}")
    try:
        assert srv.get("/changes")[0] == 200
        with sqlite3.connect(path) as conn:  # another program breaks the schema under the running server
            conn.execute("ALTER TABLE changes RENAME TO changes_gone")
        code, _, body = srv.get("/changes")
        assert code == 503 and "数据库暂时不可用" in body and "Traceback" not in body
        code, _, body = srv.get("/api/changes")
        assert code == 503 and "database" in json.loads(body)["error"]
    finally:
        assert "Traceback" not in srv.stop()
