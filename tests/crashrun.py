"""Crash-consistency runs of `policywatch check` (tests/monitor/test_crash_consistency.py).

A scripted local site goes through STEPS versions: fees and payment windows change, three pages answer
HTTP 503 for three steps and then recover with a new fee, and a list page gains new articles. A run checks
each version once with the real CLI against a real webhook receiver; a trial run first kills each step's
check at a random moment (SIGKILL or SIGTERM), then runs it again uninterrupted. Its outcome — the stored
changes, the outbox and the alert items the receiver got — is compared with the uninterrupted run's.
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from monitor.delivery import DUPLICATE_MARK
from monitor.localsite import LocalSite, WebhookReceiver
from storage import ChangeStore, Database
from storage.models import Check, Page, Run

ROOT = Path(__file__).resolve().parent.parent
FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "RETRY_BACKOFF_BASE=0.05", "-s", "DOWNLOAD_TIMEOUT=5",
        "-s", "POLICYWATCH_STORE_INTERVAL=0.2"]
STEPS = 4
PAGES = 20  # article sources, one city each
FLAKY = (17, 18, 19)  # HTTP 503 in steps 1–3 (three checks: source_failing), then healthy (source_recovered)
FAILING_STEPS = (1, 2, 3)
LIST_ARTICLES = {1: (20, 21), 2: (22, 23), 4: (24,)}  # step → cities of the articles added to the list
CITIES = ["太原市", "大同市", "阳泉市", "长治市", "晋城市", "朔州市", "晋中市", "运城市", "忻州市", "临汾市",
          "吕梁市", "石家庄市", "唐山市", "邯郸市", "郑州市", "洛阳市", "开封市", "西安市", "宝鸡市", "济南市",
          "青岛市", "合肥市", "南昌市", "长沙市", "武汉市"]
RECEIVER_DELAY = 0.3  # the webhook answers 0.3 s after it has the message: kills land mid-send too
CHECK_TIMEOUT = 120


# -- the site ------------------------------------------------------------------------------------------
def fee(i: int, step: int) -> int:
    """The personal contribution page `i` states in `step`."""
    amount = 380 + 10 * (i % 5)
    amount += 20 if step >= 2 and i % 2 == 0 else 0
    amount += 10 if step >= 3 and i % 4 == 1 else 0
    return amount


def window_end(i: int, step: int) -> int:
    """The day of December on which page `i`'s payment window ends in `step`."""
    if step >= 2 and i % 3 == 0:
        return 20
    if step >= 4 and i % 3 == 1:
        return 25
    return 31


def notice(city: str, amount: int, end_day: int) -> str:
    """A TRS-style government notice stating the 2026 contribution and payment window of `city`."""
    title = f"关于{city}2026年度城乡居民医保参保缴费的通知"
    return (f'<html><head><meta charset="utf-8"><meta name="ArticleTitle" content="{title}">'
            f'<meta name="PubDate" content="2025-09-01 09:00"><title>{title}</title></head><body>'
            f'<div id="zoom"><div class="TRS_Editor"><p>{city}2026年度城乡居民医保个人缴费标准为每人每年{amount}元，'
            f'集中缴费期为2025年9月1日至2025年12月{end_day}日。</p></div></div></body></html>')


def article_path(city_index: int) -> str:
    """The path of the list's article about CITIES[city_index]."""
    return f"tz/2025{city_index % 12 + 1:02d}/t20250901_{city_index}.shtml"


def listing(step: int) -> str:
    """The list page of `step`: links to every article published so far, newest first."""
    shown = [c for s in sorted(LIST_ARTICLES) if s <= step for c in LIST_ARTICLES[s]]
    items = "".join(f'<li><a href="/{article_path(c)}">{CITIES[c]}参保缴费通知</a></li>' for c in reversed(shown))
    return f'<html><head><meta charset="utf-8"><title>通知公告</title></head><body><ul class="list">{items}</ul></body></html>'


class Scenario:
    """The scripted site, a slow webhook receiver and the sources file of one run, in its own directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "www").mkdir(parents=True)
        self.site = LocalSite(root / "www").start()
        self.receiver = WebhookReceiver(delay=RECEIVER_DELAY).start()
        body = [f'notify = ["{self.receiver.url()}"]\n']
        for i in range(PAGES):
            body.append(f'[[source]]\nname = "城市{i:02d}"\nurl = "{self.site.url(f"p/{i:02d}.html")}"\n'
                        f'region = "{CITIES[i]}"\n')
        body.append(f'[[source]]\nname = "通知公告"\nurl = "{self.site.url("tz/index.html")}"\nkind = "list"\n'
                    "follow = '/tz/\\d+/t\\d+_\\d+\\.shtml$'\n")
        self.sources = root / "sources.toml"
        self.sources.write_text("".join(body), encoding="utf-8")

    def apply(self, step: int) -> None:
        """Put the site in the state of `step` (files on disk, served with ETag / Last-Modified)."""
        www = self.root / "www"
        for i in range(PAGES):
            path = f"p/{i:02d}.html"
            if i in FLAKY and step in FAILING_STEPS:
                self.site.route(path, status=503, body="<h1>503 Service Unavailable</h1>")
                continue
            self.site.routes.pop("/" + path, None)
            _write(www / path, notice(CITIES[i], fee(i, step), window_end(i, step)))
        for s, cities in LIST_ARTICLES.items():
            for c in cities if s <= step else ():
                _write(www / article_path(c), notice(CITIES[c], 400 + c, 31))
        _write(www / "tz" / "index.html", listing(step))

    def relative(self, url: str | None) -> str | None:
        """`url` without the site's address (ports differ between runs)."""
        return url[len(self.site.base_url):] if url and url.startswith(self.site.base_url) else url

    def stop(self) -> None:
        self.receiver.stop()
        self.site.stop()


def _write(path: Path, text: str) -> None:
    """Write `text` unless the file already holds it (an unchanged page keeps its validators)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


# -- running checks ----------------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", *args]


def check_args(scenario: Scenario, db_url: str) -> list[str]:
    """The command line of one `policywatch check` of the scenario (waits for a lock a killed check left)."""
    return _cli("check", "--sources", str(scenario.sources), "--db", db_url, "--progress", "line",
                "--wait", "60", *FAST)


@dataclass
class Kill:
    """One interrupted check: when and how it was stopped, and how it ended."""

    step: int
    sig: str
    delay: float
    returncode: int | None = None
    stderr: str = ""


def complete_check(scenario: Scenario, db_url: str) -> subprocess.CompletedProcess:
    """One uninterrupted `policywatch check`."""
    return subprocess.run(check_args(scenario, db_url), cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=CHECK_TIMEOUT)


def killed_check(scenario: Scenario, db_url: str, sig: int, delay: float, step: int) -> Kill:
    """A `policywatch check` sent `sig` `delay` seconds after it started (unless it finished before)."""
    proc = subprocess.Popen(check_args(scenario, db_url), cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        try:
            proc.wait(delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=CHECK_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Kill(step, signal.Signals(sig).name, round(delay, 3), proc.returncode, err)


def alerts_retry(scenario: Scenario, db_url: str) -> subprocess.CompletedProcess:
    """`policywatch alerts --retry`: resends alerts whose delivery outcome is unknown, marked."""
    return subprocess.run(_cli("alerts", "--retry", "--sources", str(scenario.sources), "--db", db_url),
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=CHECK_TIMEOUT)


# -- what a run leaves ---------------------------------------------------------------------------------------
_ITEM = re.compile(r"^\d+\. \*\*(?P<line>.+?)\*\*(?:(?:  \n   原文：[^\n]*)?  \n   链接：\[[^\n]*?\]\((?P<url>[^)]*)\))?",
                   re.MULTILINE)
_RUN_LENGTH = re.compile(r"连续\d+次")


def items(markdown: str, scenario: Scenario) -> list[tuple[str, str | None]]:
    """The (line, page path) of each change in an alert's Markdown body.

    `连续N次` in a source_failing line is kept as `连续N次` without N: a killed check that stored one more HTTP
    503 before the diff stage truthfully makes it 连续4次 where the uninterrupted run says 连续3次."""
    return [(_RUN_LENGTH.sub("连续N次", m["line"]), scenario.relative(m["url"])) for m in _ITEM.finditer(markdown)]


@dataclass
class Outcome:
    """The final state of a run, in terms comparable between runs."""

    changes: list[tuple]  # sorted (path, type, kind, identity, old, new), duplicates kept
    alert_statuses: Counter  # before `alerts --retry`
    stored_items: Counter  # items over every stored alert (each change alerted once: all counts 1)
    duplicate_items: set  # items of the alerts flagged possible_duplicate by `alerts --retry`
    flagged: int  # alerts flagged possible_duplicate
    received: Counter  # unmarked items the receiver got
    resent: Counter  # items of posts marked 【重发·可能重复】
    marked_posts: int
    error_pages: set  # paths of pages with a stored failed check
    run_statuses: Counter  # of every run row
    exit_codes: list[int] = field(default_factory=list)  # of each step's uninterrupted check
    kills: list[Kill] = field(default_factory=list)


def _key(scenario: Scenario, c: dict) -> tuple:
    return (scenario.relative(c["url"]), c["type"], c["kind"], c["identity"],
            json.dumps(c["old"], sort_keys=True, ensure_ascii=False), json.dumps(c["new"], sort_keys=True, ensure_ascii=False))


def outcome(scenario: Scenario, db_url: str, statuses: Counter, exit_codes: list[int],
            kills: list[Kill]) -> Outcome:
    """Read the changes and the outbox of `db_url` and what the receiver got."""
    db = Database(db_url)
    try:
        store = ChangeStore(db)
        changes = sorted(_key(scenario, c) for c in store.changes())
        alerts = store.alerts()
        with db.session() as s:
            error_pages = {scenario.relative(url) for url in s.scalars(
                select(Page.url).join(Check, Check.page_id == Page.id).where(Check.outcome == "error"))}
            run_statuses = Counter(s.scalars(select(Run.status)))
    finally:
        db.dispose()
    stored, duplicates = Counter(), set()
    for a in alerts:
        found = items(a["body_markdown"], scenario)
        stored.update(found)
        if a["possible_duplicate"]:
            duplicates.update(found)
    received, resent, marked = Counter(), Counter(), 0
    for _, payload in list(scenario.receiver.posts):
        if payload["title"].startswith(DUPLICATE_MARK):
            marked += 1
            resent.update(items(payload["message"], scenario))
        else:
            received.update(items(payload["message"], scenario))
    return Outcome(changes, statuses, stored, duplicates, sum(a["possible_duplicate"] for a in alerts),
                   received, resent, marked, error_pages, run_statuses, exit_codes, kills)


def _statuses(db_url: str) -> Counter:
    db = Database(db_url)
    try:
        return Counter(a["status"] for a in ChangeStore(db).alerts())
    finally:
        db.dispose()


KILLS = {"sigkill": (signal.SIGKILL,), "sigterm": (signal.SIGTERM,), "mixed": (signal.SIGKILL, signal.SIGTERM)}


def run_steps(scenario: Scenario, db_url: str, kill: str | None = None, seed: int = 0,
              durations: list[float] | None = None) -> tuple[Outcome, list[float]]:
    """Check every step of the scenario, then `alerts --retry`; returns the outcome and each step's
    uninterrupted check duration.

    With `kill` (a KILLS key), each step's check is first stopped by one of its signals after a delay drawn
    uniformly over that step's typical duration (`durations`), from a RNG seeded with `seed`."""
    rng = random.Random(seed)
    exit_codes, kills, took = [], [], []
    for step in range(1, STEPS + 1):
        scenario.apply(step)
        if kill is not None:
            sig = rng.choice(KILLS[kill])
            delay = rng.uniform(0.0, (durations or [3.0] * STEPS)[step - 1])
            kills.append(killed_check(scenario, db_url, sig, delay, step))
        started = time.monotonic()
        proc = complete_check(scenario, db_url)
        took.append(time.monotonic() - started)
        assert "Traceback" not in proc.stderr, proc.stderr
        exit_codes.append(proc.returncode)
    statuses = _statuses(db_url)
    retry = alerts_retry(scenario, db_url)
    assert retry.returncode == 0 and "Traceback" not in retry.stderr, retry.stdout + retry.stderr
    time.sleep(0.05)  # the receiver appends a post just before it answers; let the last append land
    return outcome(scenario, db_url, statuses, exit_codes, kills), took
