"""Diff and alert benchmark: end of a crawl → alert handed to the target, for N sources with a share changed.

    .venv/bin/python bench/diff_alerts.py [--sources 1000] [--changed 0.1] [--rounds 3] [--workers N]
                                          [--json FILE] [--sqlite-only]

No HTTP crawl: the crawl is replaced by its write path, so that only the stages after it are timed.
Per round, on a new database:

  1. build (its own process): `SnapshotStore.sync_sources` with N page sources, a first snapshot of every
     page through the crawl's write path `SnapshotStore.record_checks` (generated Chinese notices of
     2–3 KB: per page a prefecture from extractors/data/regions.tsv, a plan year, window, deadline, fees,
     channels, groups, reimbursement figures, and wording varied around sentences of
     tests/extractors/corpus/*.txt), then `extract_pending` and `diff_and_queue` (the baseline: must
     yield no change and no alert). Each page is the only one about its (prefecture, plan year), so
     the baseline has no cross-source conflicts: 333 prefectures × plan years 2023, 2024, …
  2. measure (a fresh process, like a `policywatch check`): start a `WebhookReceiver` (a real HTTP
     server on 127.0.0.1, notified through Apprise's json://), then "crawl 2": one
     `record_checks` call with a check for every page, the changed share with a new main text
     (a moved deadline, a raised fee, or both) and the rest HTTP 304 (`not_modified`). From the end
     of that call (the end of the crawl), as `policywatch check` does after a crawl: `finish_run`,
     `extract_pending` (worker processes, spawned as in a check), `diff_and_queue` with every source
     notifying the receiver (it also delivers). Timed: the extract stage; `run_diff` alone
     (sources/s = N ÷ its seconds; it also reads the check health of all N pages and looks for
     conflicts among all of them), `record_changes` (changes + outbox + snapshot health in one
     transaction; of which: linking the judged snapshots' facts into their runs, storage.factruns),
     delivery; and end of crawl → the receiver got the alert's POST.
  3. verify: exactly one POST (one message per run and target) naming every changed page's URL and
     its new values (`个人缴费 400 → 420 元/人/年`, `缴费截止日期 … → …`); in the changes table, for
     each changed page exactly the expected fact changes plus one text_changed, nothing else.

Rounds run on SQLite (a temp file); with POLICYWATCH_BENCH_PG=postgresql://user@host/db (a server where
the user may CREATE DATABASE) also on a new database there, dropped afterwards. Medians are printed.
Only 127.0.0.1 (and the PostgreSQL server you name) is contacted.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ENV = "POLICYWATCH_BENCH_PG"
CHINA = ZoneInfo("Asia/Shanghai")
FIRST_YEAR = 2023  # plan year of the first 333 pages; the next 333 get the year after, …


# -- generated pages ---------------------------------------------------------------------------
@dataclass
class Page:
    index: int
    code: str
    city: str          # 大同市
    short: str         # 大同
    province: str      # 山西
    year: int          # plan year
    fee: int
    fee_raise: int
    subsidy: int
    start: date
    end: date
    published: date
    url: str
    name: str
    mode: str | None = None  # crawl 2: None (HTTP 304), "deadline", "fee" or "both"

    def changed(self) -> "Page":
        """The page as crawl 2 sees it: deadline extended and/or fee raised."""
        if self.mode is None:
            return self
        new = Page(**{**self.__dict__})
        if self.mode in ("deadline", "both"):
            new.end = date(self.year, 1, 31) if self.end.month == 12 else self.end + timedelta(days=31)
        if self.mode in ("fee", "both"):
            new.fee, new.fee_raise = self.fee + 20, self.fee_raise + 20
        return new


def prefectures() -> list[dict]:
    with (ROOT / "extractors/data/regions.tsv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    provinces = {r["code"]: r["short"] for r in rows if r["level"] == "province"}
    return [dict(code=r["code"], name=r["name"], short=r["short"], province=provinces[r["parent"]])
            for r in rows if r["level"] == "prefecture"]


def make_pages(n: int, changed: float, seed: int = 7) -> list[Page]:
    regions = prefectures()
    pages = []
    for i in range(n):
        r, year = regions[i % len(regions)], FIRST_YEAR + i // len(regions)
        rng = random.Random(f"{seed}:{i}")
        start = date(year - 1, 9, rng.choice([1, 1, 1, 10, 15, 20]))
        end = date(year - 1, 12, rng.choice([20, 25, 31, 31, 31]))
        published = start - timedelta(days=rng.randint(5, 20))
        fee = rng.choice([350, 360, 380, 380, 400, 400, 400, 420, 430])
        url = (f"https://ybj.city{r['code']}.gov.cn/tzgg/{published:%Y%m}/"
               f"t{published:%Y%m%d}_{100000 + i}.shtml")
        pages.append(Page(i, r["code"], r["name"], r["short"], r["province"], year, fee,
                          rng.choice([20, 30]), rng.choice(range(640, 760, 10)), start, end, published, url,
                          f"{r['name']}医疗保障局·{year}年度居民医保参保缴费通知"))
    k = round(n * changed)
    chosen = sorted(random.Random(f"{seed}:changed").sample(range(n), k))
    for j, i in enumerate(chosen):
        pages[i].mode = ("deadline", "fee", "both")[j % 3]
    return pages


CHANNELS = ["“{province}税务”微信公众号", "{province}税务APP", "“{short}医保”微信公众号", "支付宝“市民中心”",
            "微信“城市服务”", "云缴费", "协作银行手机银行", "协作银行营业网点", "村（社区）网格员上门代收"]
GROUPS = ["农村居民", "城镇非从业居民", "中小学生和学龄前儿童", "大中专院校学生", "持有本市居住证的非本市户籍人员",
          "灵活就业人员", "新生儿"]
FILLER = [
    "各县（市、区）要把居民医保参保缴费工作作为一项重要民生工作，切实加强组织领导，明确工作责任，"
    "确保参保缴费工作顺利开展。",
    "医保、税务、财政、教育、民政、乡村振兴等部门要加强协作，及时共享参保数据，做好参保缴费、"
    "待遇享受和资金拨付等各环节的衔接工作。",
    "各级医保经办机构要优化经办服务，推行参保登记“一站式”办理，方便群众就近缴费，"
    "不得以任何形式强制或变相强制参保。",
    "各地要充分利用报纸、电视、网络、新媒体等多种渠道，广泛宣传居民医保政策，"
    "引导群众积极主动参保，营造良好的舆论氛围。",
    "对参保缴费中出现的新情况、新问题，要及时研究解决；重大问题及时向市医疗保障局报告。",
    "要做好参保数据比对，清理重复参保，防止漏保断保，确保应保尽保，参保率稳定在95%以上。",
    "脱贫人口和防止返贫监测对象参保情况要逐人核实，确保其全部纳入基本医疗保险覆盖范围。",
    "参保人员可登录国家医保服务平台APP查询本人参保缴费记录和待遇享受情况。",
]


def page_text(p: Page) -> tuple[str, str]:
    """(title, main text) of one notice, about 2–3 KB of UTF-8."""
    rng = random.Random(f"text:{p.index}")  # the same wording in both crawls: only the figures move
    y0 = p.year - 1
    channels = rng.sample(CHANNELS, rng.randint(3, 5))
    channels = [c.format(province=p.province, short=p.short) for c in channels]
    groups = rng.sample(GROUPS, rng.randint(3, 5))
    numerals = "一二三四五六七八"
    title = f"关于做好{p.year}年度{p.city}城乡居民基本医疗保险参保缴费工作的通知"
    sections = [
        ("参保范围", "除应参加职工基本医疗保险的人员外，下列人员可以参加本市居民医保：\n"
         + "\n".join(f"（{numerals[j]}）{g}；" for j, g in enumerate(groups))),
        ("筹资标准", f"（一）{p.year}年度本市居民医保个人缴费标准为每人每年{p.fee}元，比{y0}年度增加{p.fee_raise}元。\n"
         f"（二）各级财政补助标准为每人每年不低于{p.subsidy}元，由市、县两级财政按规定比例分担。\n"
         "（三）继续从居民医保基金中按规定标准筹集大病保险资金，个人不另行缴费。"),
        ("缴费时间和待遇享受期", f"（一）{p.year}年度集中缴费期为{p.start.year}年{p.start.month}月{p.start.day}日至"
         f"{p.end.year}年{p.end.month}月{p.end.day}日。\n"
         f"（二）在集中缴费期内参保缴费的，待遇享受期为{p.year}年1月1日至{p.year}年12月31日。\n"
         f"（三）集中缴费期结束后参保缴费的，自缴费之日起设置{rng.choice([3, 3, 2])}个月待遇享受等待期。"),
        ("资助参保", "（一）特困人员个人缴费部分由医疗救助基金给予全额资助。\n"
         f"（二）低保对象个人缴费部分给予定额资助，资助标准为每人每年{rng.choice([150, 180, 200])}元。\n"
         "（三）新生儿、农村低收入人口、退役军人不设待遇享受等待期。"),
        ("待遇标准", f"参保人员在一级定点医疗机构住院的，政策范围内报销比例为{rng.choice([85, 88, 90])}%；"
         f"在二级定点医疗机构住院的为{rng.choice([75, 78, 80])}%。"
         f"居民医保年度最高支付限额为{rng.choice([15, 18, 20])}万元。"),
        ("缴费渠道", f"参保人可通过{'、'.join(channels)}等渠道缴纳居民医保费。"),
    ]
    fillers = rng.sample(FILLER, len(FILLER))
    sections.append(("工作要求", "\n".join(f"（{numerals[j]}）{s}" for j, s in enumerate(fillers[:rng.randint(4, 7)]))))
    lines = [f"{p.short}医保发〔{y0}〕{rng.randint(8, 60)}号",
             f"各县（市、区）医疗保障局、财政局，国家税务总局{p.city}各县（市、区）税务局：",
             f"为做好{p.year}年度{p.city}城乡居民基本医疗保险（以下简称居民医保）参保缴费工作，"
             "巩固参保覆盖面，根据国家和省有关规定，现将有关事项通知如下。"]
    for j, (head, body) in enumerate(sections):
        lines += [f"{numerals[j]}、{head}", body]
    lines += [f"{p.city}医疗保障局　{p.city}财政局", f"国家税务总局{p.city}税务局",
              f"{p.published.year}年{p.published.month}月{p.published.day}日"]
    return title, "\n".join(lines)


def raw_html(title: str, text: str) -> bytes:
    body = "".join(f"<p>{line}</p>\n" for line in text.split("\n"))
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="ArticleTitle" content="{title}">'
            f"<title>{title}</title></head><body><div class=\"header\">医疗保障局</div><h1>{title}</h1>"
            f'<div id="zoom" class="TRS_Editor">{body}</div><div class="footer">主办单位：医疗保障局</div>'
            "</body></html>").encode("utf-8")


def content_of(p: Page):
    from storage.store import PageContent
    title, text = page_text(p)
    published = datetime(p.published.year, p.published.month, p.published.day, 9, 30, tzinfo=CHINA)
    return PageContent(main_text=text, title=title, published_at=published, final_url=p.url, encoding="utf-8",
                       profile="gov-cms", raw=raw_html(title, text), meta={})


def etag(p: Page) -> str:
    return '"' + p.changed().end.isoformat() + f"-{p.changed().fee}" + '"'


# -- the two phases of a round, each in its own process ----------------------------------------------------
def _open(url: str):
    from storage import Database, SnapshotStore
    from storage.store import SourceSpec
    db = Database(url)
    return db, SnapshotStore(db), SourceSpec


def _sources(store, SourceSpec, pages: list[Page]) -> tuple[dict[int, list[str]], dict[int, str], dict[str, int]]:
    """Sync the sources (as every check does); (source id → [], source id → name, page url → page id)."""
    ids = store.sync_sources([SourceSpec(name=p.name, url=p.url, region=p.code) for p in pages])
    page_ids = {s.url: s.page_id for s in store.pages_to_check()}
    return ids, {v: k for k, v in ids.items()}, page_ids


def phase_build(url: str, args) -> dict:
    """New database, first snapshot of every page, extract, diff (baseline: no change, no alert)."""
    from monitor.diff_stage import diff_and_queue
    from monitor.extract_stage import extract_pending
    from monitor.localsite import WebhookReceiver
    from storage import ChangeStore, CheckRecord
    started = time.perf_counter()
    db, store, SourceSpec = _open(url)
    pages = make_pages(args.sources, args.changed)
    ids, names, page_ids = _sources(store, SourceSpec, pages)
    run_id = store.start_run()
    records = []
    for p in pages:
        records.append(CheckRecord(page_id=page_ids[p.url], checked_at=datetime.now(CHINA), duration_ms=40,
                                   http_status=200, content=content_of(p), etag='"v1"'))
    outcomes = []
    for i in range(0, len(records), 100):
        outcomes += store.record_checks(run_id, records[i:i + 100])
    assert outcomes.count("new") == len(pages), outcomes[:5]
    store.finish_run(run_id, {"new": len(pages)})
    extracted = extract_pending(store, args.workers)
    receiver = WebhookReceiver().start()
    try:
        stage = diff_and_queue(db, run_id, {i: [receiver.url()] for i in names}, names)
    finally:
        receiver.stop()
    changes = ChangeStore(db).changes()
    assert extracted == len(pages), extracted
    assert not changes and not receiver.posts and not ChangeStore(db).alerts(), \
        f"baseline is not quiet: {len(changes)} changes, e.g. {changes[:1]}"
    texts = [r.content.main_text for r in records]
    with db.engine.connect() as conn:
        from sqlalchemy import text
        facts = conn.execute(text("SELECT count(*) FROM facts")).scalar()
    db.dispose()
    return dict(build_s=time.perf_counter() - started, facts_per_page=facts / len(pages),
                text_chars=statistics.mean(len(t) for t in texts),
                text_bytes=statistics.mean(len(t.encode()) for t in texts), baseline_delivery=stage.delivery)


class TimedPosts(list):
    """WebhookReceiver.posts that also notes when each POST arrived (perf_counter)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item) -> None:
        self.times.append(time.perf_counter())
        super().append(item)


class Timed:
    """Wraps module attributes with timers for the duration of a with-block (behaviour unchanged)."""

    def __init__(self, *targets: tuple[object, str, str]) -> None:
        self.targets, self.seconds, self.saved = targets, {}, []

    def __enter__(self) -> "Timed":
        for owner, attr, label in self.targets:
            original = getattr(owner, attr)
            self.saved.append((owner, attr, original))

            def timed(*a, __f=original, __label=label, **kw):
                t = time.perf_counter()
                try:
                    return __f(*a, **kw)
                finally:
                    self.seconds[__label] = self.seconds.get(__label, 0.0) + time.perf_counter() - t
            setattr(owner, attr, timed)
        return self

    def __exit__(self, *exc) -> None:
        for owner, attr, original in reversed(self.saved):
            setattr(owner, attr, original)


def phase_measure(url: str, args) -> dict:
    """Crawl 2 written through record_checks; time end of crawl → alert received; verify."""
    import monitor.diff_stage as diff_stage
    from monitor.diff_stage import diff_and_queue
    from monitor.extract_stage import extract_pending
    from monitor.localsite import WebhookReceiver
    from storage import ChangeStore, CheckRecord
    from storage import store as store_module
    from storage.store import ChangeStore as StoreChangeStore

    receiver = WebhookReceiver()
    receiver.posts = TimedPosts()
    receiver.start()
    try:
        db, store, SourceSpec = _open(url)
        pages = make_pages(args.sources, args.changed)
        ids, names, page_ids = _sources(store, SourceSpec, pages)
        targets = {i: [receiver.url()] for i in names}
        run_id = store.start_run()
        records = []
        for p in pages:  # the crawl's part: fetched and cut pages, ready to store
            if p.mode:
                records.append(CheckRecord(page_id=page_ids[p.url], checked_at=datetime.now(CHINA), duration_ms=40,
                                           http_status=200, content=content_of(p.changed()), etag=etag(p)))
            else:
                records.append(CheckRecord(page_id=page_ids[p.url], checked_at=datetime.now(CHINA), duration_ms=5,
                                           http_status=304, not_modified=True))
        with Timed((diff_stage, "run_diff", "run_diff"), (StoreChangeStore, "record_changes", "record_changes"),
                   (store_module, "link_snapshots", "link"),
                   (diff_stage, "deliver_due", "deliver")) as timer:
            t_write = time.perf_counter()
            outcomes = store.record_checks(run_id, records)
            t_crawl_end = time.perf_counter()  # ---- the end of the crawl ----
            store.finish_run(run_id, {o: outcomes.count(o) for o in set(outcomes)})
            extracted = extract_pending(store, args.workers)
            t_extracted = time.perf_counter()
            stage = diff_and_queue(db, run_id, targets, names)
            t_done = time.perf_counter()
        t_post = receiver.posts.times[0] if receiver.posts.times else None
    finally:
        receiver.stop()

    changed = [p for p in pages if p.mode]
    problems = verify(db, run_id, changed, receiver.posts, stage)
    changes = ChangeStore(db).changes(run_id=run_id)
    db.dispose()
    return dict(
        write_s=t_crawl_end - t_write, extracted=extracted,
        extract_s=t_extracted - t_crawl_end, run_diff_s=timer.seconds["run_diff"],
        diff_rate=len(pages) / timer.seconds["run_diff"], record_s=timer.seconds["record_changes"],
        link_s=timer.seconds.get("link", 0.0),
        deliver_s=timer.seconds["deliver"], diff_stage_s=t_done - t_extracted,
        end_to_alert_s=(t_post - t_crawl_end) if t_post else None, end_to_done_s=t_done - t_crawl_end,
        changes=len(changes), alerted=sum(1 for c in changes if c["severity"] in ("high", "medium")),
        by_type=dict(Counter(f"{c['type']}:{c['kind'] or ''}" for c in changes)),
        posts=len(receiver.posts), message_chars=len(receiver.posts[0][1].get("message", "")) if receiver.posts else 0,
        delivery=stage.delivery, problems=problems)


def expected_changes(p: Page) -> dict[str, tuple[dict, dict]]:
    """kind → (old value, new value) of the fact changes crawl 2 makes on page `p`."""
    new = p.changed()
    out = {}
    if p.mode in ("deadline", "both"):
        out["payment_deadline"] = ({"date": p.end.isoformat()}, {"date": new.end.isoformat()})
        out["payment_window"] = ({"start": p.start.isoformat(), "end": p.end.isoformat()},
                                 {"start": new.start.isoformat(), "end": new.end.isoformat()})
    if p.mode in ("fee", "both"):
        out["personal_contribution"] = ({"amount": p.fee, "qualifier": "exact", "change": p.fee_raise},
                                        {"amount": new.fee, "qualifier": "exact", "change": new.fee_raise})
    return out


def verify(db, run_id: int, changed: list[Page], posts: list, stage) -> list[str]:
    """What is wrong with the recorded changes, the outbox and the received alert (empty: all as expected)."""
    from monitor.alerts import change_line
    from storage import ChangeStore
    problems = []
    store = ChangeStore(db)
    changes = store.changes(run_id=run_id)
    by_url: dict[str, list[dict]] = {}
    for c in changes:
        by_url.setdefault(c["url"], []).append(c)
    if set(by_url) != {p.url for p in changed}:
        problems.append(f"changes on {len(by_url)} pages, expected the {len(changed)} changed ones")
    lines = []
    for p in changed:
        got = by_url.get(p.url, [])
        want = expected_changes(p)
        facts = {c["kind"]: (c["old"], c["new"]) for c in got if c["type"] == "fact_changed"}
        others = sorted(c["type"] for c in got if c["type"] != "fact_changed")
        if facts != want or others != ["text_changed"] or len(got) != len(want) + 1:
            problems.append(f"{p.url} ({p.mode}): got {sorted((c['type'], c['kind']) for c in got)}")
        lines += [change_line(dict(type="fact_changed", kind=k, old=o, new=n, plan_year=p.year))
                  for k, (o, n) in want.items()]
    alerts, expected = store.alerts(), 1 if changed else 0  # one message per run and target
    if len(alerts) != expected or any(a["status"] != "sent" for a in alerts):
        problems.append(f"outbox: {[(a['status'], a['last_error']) for a in alerts]}")
    if stage.delivery != {"sent": expected, "retried": 0, "failed": 0}:
        problems.append(f"delivery {stage.delivery}")
    if len(posts) != expected:
        problems.append(f"{len(posts)} POSTs received, expected {expected}")
    if posts:
        message = posts[0][1].get("message", "")
        missing = [p.url for p in changed if p.url not in message]
        missing += [line for line in lines if line not in message]
        if missing:
            problems.append(f"{len(missing)} URLs/values missing from the alert, e.g. {missing[:2]}")
    return problems


# -- orchestration -----------------------------------------------------------------------------------------
def child(phase: str, url: str, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--db", url,
           "--sources", str(args.sources), "--changed", str(args.changed)]
    if args.workers is not None:
        cmd += ["--workers", str(args.workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"{phase} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pg_database(admin_url: str):
    import sqlalchemy as sa
    from storage.db import resolve_db_url
    admin = sa.create_engine(resolve_db_url(admin_url), isolation_level="AUTOCOMMIT")
    name = "pw_bench_" + uuid.uuid4().hex[:10]
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()
    return sa.engine.make_url(resolve_db_url(admin_url)).set(database=name).render_as_string(hide_password=False), drop


COLUMNS = [("extract_s", "extract s", "{:.2f}"), ("run_diff_s", "run_diff s", "{:.2f}"),
           ("diff_rate", "diff sources/s", "{:.0f}"), ("record_s", "record s", "{:.3f}"),
           ("link_s", "of which link s", "{:.3f}"),
           ("deliver_s", "deliver s", "{:.3f}"), ("diff_stage_s", "diff+alert s", "{:.2f}"),
           ("end_to_alert_s", "end of crawl → alert s", "{:.2f}")]


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(backend: str, runs: list[dict]) -> str:
    def cell(fmt: str, value) -> str:
        return "–" if value is None else fmt.format(value)
    rows = [[f"{backend} #{i + 1}"] + [cell(fmt, r[k]) for k, _, fmt in COLUMNS] for i, r in enumerate(runs)]
    rows.append([f"{backend} median"] + [cell(fmt, median(r[k] for r in runs)) for k, _, fmt in COLUMNS])
    head = [""] + [label for _, label, _ in COLUMNS]
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    out = [" | ".join(x.ljust(w) for x, w in zip(head, widths))]
    out.append("-+-".join("-" * w for w in widths))
    out += [" | ".join(x.ljust(w) for x, w in zip(row, widths)) for row in rows]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--changed", type=float, default=0.1, help="share of pages changed in crawl 2")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per database (each on a new database)")
    ap.add_argument("--workers", type=int, default=None, help="extract workers (default: as a check, all cores)")
    ap.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    ap.add_argument("--sqlite-only", action="store_true", help=f"ignore ${PG_ENV}")
    ap.add_argument("--phase", choices=["build", "measure"], help=argparse.SUPPRESS)
    ap.add_argument("--db", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        result = (phase_build if args.phase == "build" else phase_measure)(args.db, args)
        print(json.dumps(result, default=str))
        return

    backends = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) and not args.sqlite_only else [])
    k = round(args.sources * args.changed)
    print(f"{args.sources} sources, {k} changed in crawl 2 ({args.changed:.0%}), the rest HTTP 304; "
          f"{os.cpu_count()} cores; no HTTP crawl (stages after it only)")
    report = dict(sources=args.sources, changed=args.changed, cores=os.cpu_count(), results={})
    failed = False
    for backend in backends:
        runs = []
        for r in range(args.rounds):
            tmp = None
            if backend == "sqlite":
                tmp = tempfile.mkdtemp(prefix="pw-diffbench-")
                url, drop = f"sqlite:///{tmp}/history.db", lambda: None
            else:
                url, drop = pg_database(os.environ[PG_ENV])
            try:
                built = child("build", url, args)
                measured = child("measure", url, args)
            finally:
                drop()
                if tmp:
                    shutil.rmtree(tmp, ignore_errors=True)
            run = {**built, **measured}
            runs.append(run)
            status = "ok" if not run["problems"] else "PROBLEMS: " + "; ".join(run["problems"][:3])
            print(f"  {backend} round {r + 1}: built in {run['build_s']:.1f} s "
                  f"(texts {run['text_chars']:.0f} chars / {run['text_bytes'] / 1024:.1f} KB, "
                  f"{run['facts_per_page']:.1f} facts/page); crawl 2 write {run['write_s']:.2f} s; "
                  f"{run['extracted']} extracted; {run['changes']} changes ({run['alerted']} alerted) "
                  f"{run['by_type']}; {run['posts']} POST ({run['message_chars']} chars); {status}", flush=True)
            failed |= bool(run["problems"])
        report["results"][backend] = dict(runs=runs, median={k: median(r[k] for r in runs) for k, _, _ in COLUMNS})
    print()
    for backend in backends:
        print(table(backend, report["results"][backend]["runs"]))
        print()
    print("extract: extract_pending (spawns its worker pool); run_diff: judging and diffing (sources/s = "
          "sources ÷ its time); record: changes + outbox + health in one transaction (of which link: the "
          "judged snapshots' facts linked into their runs); deliver: Apprise POST; diff+alert: diff_and_queue; "
          "end of crawl → alert: from the end of record_checks to the receiver getting the POST")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
