"""`policywatch serve`: the real server (uvicorn in a child process on 127.0.0.1) over a history made by real
crawls of the local site — pages, filters, escaping, the JSON API against the CLI's --json, the token rule."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from urllib.parse import quote, urlencode

import pytest

from conftest import DEMO_SITE, ROOT, check, run_cli, write_sources

TAIYUAN = "ty/live/2024903/67541.shtm"
V1 = (DEMO_SITE / "v1" / TAIYUAN).read_text(encoding="utf-8")
V2 = (DEMO_SITE / "v2" / TAIYUAN).read_text(encoding="utf-8").replace("400元/人/年", "420元/人/年")
PROVINCE = DEMO_SITE / "v1" / "ybj/tzgg/202409/t20240901_1001.shtml"
HOSTILE_NAME = '坏来源<script>alert("name")</script>"><img src=x onerror=alert(1)>'
HOSTILE = """<html><head><meta charset="utf-8"><title>&lt;script&gt;alert("title")&lt;/script&gt;缴费通知</title></head>
<body><div id="zoom"><h1>&lt;script&gt;alert("title")&lt;/script&gt;缴费通知</h1>
<p>&lt;script&gt;alert("evidence")&lt;/script&gt;2025年度城乡居民医保个人缴费标准为每人每年{fee}元。</p>
<p>缴费时间为2024年9月1日至2025年2月25日，请参保群众按时缴费。逾期未缴费的，待遇享受将受到影响。</p>
<p>参保人员可通过税务APP、微信、支付宝等渠道缴费，也可到社区服务中心办理相关缴费手续。</p>
</div></body></html>"""
FEE_LINE = "个人缴费 400 → 420 元/人/年（2025年度）"


@pytest.fixture(scope="module")
def history(module_site, module_db, tmp_path_factory):
    """Two real checks: the 太原 guide's fee goes 400 → 420 and its deadline moves; a hostile page changes too."""
    site = module_site
    site.route("guide.shtm", body=V1)
    site.route("province.shtml", body=PROVINCE.read_text(encoding="utf-8"))
    site.route("hostile.html", body=HOSTILE.format(fee=400))
    sources = write_sources(tmp_path_factory.mktemp("cfg") / "sources.toml", f'''
        [[source]]
        name = "太原本地宝"
        url = "{site.url('guide.shtm')}"
        [[source]]
        name = "山西省医保局"
        url = "{site.url('province.shtml')}"
        [[source]]
        name = '{HOSTILE_NAME}'
        url = "{site.url('hostile.html')}"
    ''')
    db = module_db()
    for guide, fee in ((V1, 400), (V2, 420)):
        site.route("guide.shtm", body=guide)
        site.route("hostile.html", body=HOSTILE.format(fee=fee))
        proc = check(sources, db)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return db, sources


class Server:
    """`python -m monitor serve … --port 0` in a child process; `url` once it listens."""

    def __init__(self, *args: str, env: dict | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items() if k not in ("POLICYWATCH_DB", "POLICYWATCH_TOKEN")}
        full_env.update({"PYTHONPATH": str(ROOT), **(env or {})})
        self.proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                     env=full_env)
        line = self.proc.stderr.readline()
        found = re.search(r"http://[^:]+:(\d+)/", line)
        if not found:
            self.stop()
            pytest.fail(f"serve did not start: {line}{self.proc.stderr.read()}")
        self.start_line = line
        self.url = f"http://127.0.0.1:{found.group(1)}"  # 0.0.0.0 binds answer on 127.0.0.1 too

    def get(self, path: str, headers: dict | None = None) -> tuple[int, object, str]:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers, response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read().decode("utf-8")

    def stop(self) -> str:
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return err


@pytest.fixture(scope="module")
def server(history):
    db, sources = history
    srv = Server("--sources", str(sources), "--db", db)
    yield srv
    err = srv.stop()
    assert "Traceback" not in err, err


def page(server, path: str) -> str:
    status, headers, body = server.get(path)
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/html")
    return body


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


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through its chromedriver (installed by .ci/run); no traffic but 127.0.0.1."""
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                "--window-size=1280,1400", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--no-default-browser-check",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_a_real_browser_draws_every_page_with_its_stylesheet_and_no_script(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    pages = {"overview": ("/", "概览"), "changes": ("/changes", "变化"), "sources": ("/sources", "来源"),
             "source": ("/sources/" + quote("太原本地宝"), "来源：太原本地宝"),
             "hostile": ("/sources/" + quote(HOSTILE_NAME, safe=""), "来源：" + HOSTILE_NAME),
             "facts": ("/facts", "事实")}
    for name, (path, heading) in pages.items():
        browser.get(server.url + path)
        assert browser.find_element(By.TAG_NAME, "h1").text == heading, name
        assert browser.execute_script("return document.scripts.length") == 0, name
        header = browser.find_element(By.TAG_NAME, "header")
        assert header.value_of_css_property("background-color") == "rgba(36, 52, 71, 1)", name  # style.css applied
        browser.save_screenshot(str(tmp_path / f"{name}.png"))
    browser.get(server.url + "/changes?" + urlencode({"source": "太原本地宝"}))
    inserted = browser.find_elements(By.CSS_SELECTOR, "ol.diff ins")
    assert any(e.text == "3" for e in inserted)
    assert inserted[0].value_of_css_property("background-color") == "rgba(213, 245, 227, 1)"
    before, after = browser.find_elements(By.CSS_SELECTOR, ".evidence .before")[0], \
        browser.find_elements(By.CSS_SELECTOR, ".evidence .after")[0]
    assert before.location["y"] == after.location["y"] and before.location["x"] < after.location["x"]  # side by side
    browser.get(server.url + "/sources/" + quote("太原本地宝"))
    cells = browser.find_elements(By.CSS_SELECTOR, ".strip .cell")
    assert len(cells) == 2 and all(c.size["width"] > 0 and c.size["height"] > 0 for c in cells)
    assert all((tmp_path / f"{name}.png").stat().st_size > 5000 for name in pages)


def matrix_rows(body: str) -> dict[str, str]:
    table = body.split('<table class="matrix">')[1].split("</table>")[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"<tr><th>(.*?)</th>(.*?)</tr>", table, re.S)}


def test_facts_page_is_a_region_by_kind_table_of_current_values(server):
    body = page(server, "/facts")
    assert "<h1>事实</h1>" in body and '<option value="2025" selected>2025年度</option>' in body
    rows = matrix_rows(body)
    assert "太原市" in rows and "山西省" in rows
    assert "420 元/人/年" in rows["太原市"] and "400 元/人/年" not in rows["太原市"]  # the current value only
    assert "个人缴费" in body.split("<thead>")[1].split("</thead>")[0]
    regions = [name for name in rows if not name.startswith("<a")]
    assert regions[:2] == ["山西省", "太原市"]  # by region code
    by_fee = [name for name in matrix_rows(page(server, "/facts?plan_year=2025&sort=personal_contribution"))
              if not name.startswith("<a")]
    assert by_fee.index("太原市") < by_fee.index("山西省")  # 420 before 380: largest first
    assert "没有当前事实" in page(server, "/facts?plan_year=1999")
    assert server.get("/facts?plan_year=abc")[0] == 400


def test_a_database_that_breaks_under_the_server_is_a_503_page_not_a_traceback(history, tmp_path):
    from storage import Database
    _, sources = history
    path = tmp_path / "breaks.db"
    Database(f"sqlite:///{path}").dispose()  # an empty history
    srv = Server("--sources", str(sources), "--db", f"sqlite:///{path}")
    try:
        assert srv.get("/changes")[0] == 200
        import sqlite3
        with sqlite3.connect(path) as conn:  # another program breaks the schema under the running server
            conn.execute("ALTER TABLE changes RENAME TO changes_gone")
        code, _, body = srv.get("/changes")
        assert code == 503 and "数据库暂时不可用" in body and "Traceback" not in body
        code, _, body = srv.get("/api/changes")
        assert code == 503 and "database" in json.loads(body)["error"]
    finally:
        assert "Traceback" not in srv.stop()
