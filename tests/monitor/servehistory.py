"""Shared by the `policywatch serve` tests: a history made by two real crawls of the local site, and the real
server (uvicorn in a child process on 127.0.0.1) over it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from conftest import DEMO_SITE, ROOT, check, write_sources

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
