"""History at scale (issue 6): a synthetic 5-year history, then the research queries and the export timed.

    .venv/bin/python bench/history_scale.py [--db URL | --pg] [--sources 2000] [--years 5]
                                            [--repeat 5] [--extra-days 3] [--keep] [--reuse] [--explain] [--json FILE]

Quick run: `--sources 50 --years 1`. Without --db a temp SQLite file is used (removed unless --keep);
--pg starts a throw-away PostgreSQL cluster on 127.0.0.1 (storage.localpg, as the tests do; fsync,
synchronous_commit and full_page_writes off — a benchmark cluster, not a durable one), stopped and removed
at the end (left running with --keep). `--db postgresql://...` uses a server of yours instead (an empty database).

1. Schema: `storage.Database(url)` (the Alembic migrations, views included).
2. Generation, written straight into the tables (SQLAlchemy Core executemany on SQLite, COPY through the
   pg8000 connection on PostgreSQL), one transaction per 30 days, in time order as a crawl writes them:
   N sources (90 % page sources with one article page, 10 % list sources with a list page and one article
   page), each in a prefecture or province of extractors/data/regions.tsv; one run per day and one check
   per page per day (≈ 1 % error, ≈ 75 % not_modified, the rest unchanged; `new`/`changed` on the days a
   page changes, only those with a snapshot); ≈ 50 versions per article page over 5 years (a new plan
   year's notice every September, edits in between: deadline extended, fee corrected, a channel added,
   wording); per version a snapshot (health ok, ≈ 1,100-character main text holding every evidence
   sentence, its own zlib raw page), an extraction of extractors.document.EXTRACTOR_VERSION and ≈ 10
   facts in the shapes the extractors produce (tests/extractors/corpus/*.json), with evidence and span;
   per changed version the changes the diff stage writes (fact_changed/added/removed + text_changed);
   each fact linked to the first snapshot of its value's run (facts.first_snapshot_id), as the diff stage
   links it. Then storage.factruns.link_runs runs over the whole history (what migration 0006 does to an
   existing database), timed, and reports how many links it would change (0: the generator agrees).
   SQLite bulk load runs with PRAGMA synchronous=OFF (said in the output); the app's own writes later
   use its normal settings. Then the planner statistics a check run leaves: SQLite `Database.refresh_statistics`
   (approximate ANALYZE), PostgreSQL VACUUM ANALYZE (autovacuum would have run by then).
3. Timed, each a median of --repeat runs after one warm-up:
   a. `history` for one region and kind (the region with the most sources, personal_contribution);
   b. `SELECT * FROM latest_facts`, every row fetched;
   c. export of all facts to Parquet through the real export code;
   d. bytes per unchanged daily check: database size (SQLite: page_count × page_size after a TRUNCATE
      checkpoint; PostgreSQL: pg_database_size and the checks table's pg_total_relation_size), then
      --extra-days more daily runs of every page written as `policywatch check` writes them
      (`SnapshotStore.start_run` / `record_checks` in batches of 100 / `finish_run`; 304 or same hash),
      size again; growth ÷ checks added.
Prints rows and size per table and a table of figures against the targets (PASS/FAIL).
Only 127.0.0.1 is contacted (plus the PostgreSQL server of --db).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from extractors.document import EXTRACTOR_VERSION  # noqa: E402
from storage.currentfacts import refresh_all  # noqa: E402
from storage.db import Database, json_text  # noqa: E402
from storage.factruns import link_runs  # noqa: E402
from storage.localpg import LocalPostgres  # noqa: E402
from storage.history import HistoryFilter, HistoryStore  # noqa: E402
from storage.models import Change, Check, Extraction, FactRow, Page, RawPage, Run, Snapshot, Source  # noqa: E402
from storage.store import CheckRecord, PageContent, SnapshotStore  # noqa: E402

UTC = timezone.utc
TARGETS = {"history_ms": 100.0, "latest_facts_ms": 1000.0, "export_s": 30.0, "bytes_per_check": 300.0}
CHUNK_DAYS = 30
HISTORY_KIND = "personal_contribution"

CHANNELS = ["税务微信公众号", "云缴费", "协作银行营业网点", "支付宝城市服务", "微信城市服务", "电子税务局",
            "社区代收点", "银行手机APP", "村（社区）代办员", "国家医保服务平台APP"]
ELIGIBLE = ["农村居民", "城镇非从业居民", "在校学生", "新生儿", "灵活就业人员", "学龄前儿童"]
SUBSIDIZED = [("特困人员", "full"), ("低保对象", "fixed"), ("返贫致贫人口", "fixed"), ("重度残疾人", "full"),
              ("孤儿和事实无人抚养儿童", "full")]
WAITING = ["新生儿", "农村低收入人口", "退役军人", "大学生"]
FILLER = [
    "各地要高度重视城乡居民医保参保工作，切实加强组织领导，压实工作责任，确保应保尽保。",
    "医保、税务、财政、教育、民政、乡村振兴等部门要各司其职、密切配合，形成工作合力。",
    "要充分利用报纸、电视、网络等媒体，广泛宣传城乡居民医保政策，提高群众知晓度和参保积极性。",
    "各级经办机构要优化参保缴费服务，推行“一站式”办理，切实减轻群众负担。",
    "对已在其他地区参加基本医疗保险的人员，不得重复参保，避免财政重复补助。",
    "参保人员在缴费期内未按时缴费的，自缴费之日起设置待遇享受等待期，等待期内发生的医疗费用医保基金不予支付。",
    "中小学生和大学生可由学校统一组织参保，学前儿童由户籍所在地或居住地社区统一办理。",
    "各地要做好参保数据比对，及时清理重复参保和断保人员信息，提高参保数据质量。",
    "本通知由市医疗保障局负责解释，未尽事宜按国家和省有关规定执行。",
]
NATIONAL_FEE = {2021: 320, 2022: 350, 2023: 380, 2024: 400, 2025: 400, 2026: 400, 2027: 420, 2028: 440}
NATIONAL_SUBSIDY = {2021: 580, 2022: 610, 2023: 640, 2024: 670, 2025: 700, 2026: 730, 2027: 760, 2028: 790}
SEVERITY = {"payment_deadline": "high", "payment_window": "high", "monthly_window": "high",
            "personal_contribution": "high", "fiscal_subsidy": "high", "coverage_period": "high"}
NAME_KINDS = {"payment_channel", "eligible_group", "subsidized_group", "waiting_period_exemption"}


def log(msg: str = "") -> None:
    print(msg, flush=True)


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


# -- the throw-away PostgreSQL cluster ----------------------------------------------------------
def bench_cluster() -> tuple[LocalPostgres, str, str]:
    """A throw-away cluster (storage.localpg) with an empty database `pwbench`: (cluster, URL, server version)."""
    cluster = LocalPostgres(max_connections=20, prefix="policywatch-benchpg-")
    admin = sa.create_engine(cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("CREATE DATABASE pwbench"))
        version = conn.execute(sa.text("SHOW server_version")).scalar()
    admin.dispose()
    return cluster, sa.engine.make_url(cluster.url).set(database="pwbench").render_as_string(), version


def load_regions() -> tuple[list[tuple[str, str]], dict[str, str]]:
    """(prefectures and provinces as (code, name), code → short name)."""
    rows = list(csv.DictReader(open(ROOT / "extractors" / "data" / "regions.tsv", encoding="utf-8"),
                               delimiter="\t"))
    prefectures = [(r["code"], r["name"]) for r in rows if r["level"] == "prefecture"]
    provinces = [(r["code"], r["name"]) for r in rows if r["level"] == "province"]
    return prefectures, provinces


class PageModel:
    """One watched page and the evolving policy its notice states."""

    def __init__(self, pid: int, source_id: int, url: str, role: str, code: str, name: str, rng: random.Random):
        self.id, self.source_id, self.url, self.role = pid, source_id, url, role
        self.code, self.name = code, name
        self.rng = rng
        self.offset = rng.randrange(0, 40)         # fee above the national minimum
        self.channels = rng.sample(CHANNELS, 3)
        self.eligible = rng.sample(ELIGIBLE, 2)
        self.subsidized = rng.sample(SUBSIDIZED, 2)
        self.waiting = rng.sample(WAITING, 2)
        self.extra = rng.sample(["reimbursement_ratio", "annual_cap", "deductible", "monthly_window",
                                 "waiting_period_exemption"], 1)
        self.plan_year: int | None = None
        self.edits = 0
        self.last_hash: str | None = None
        self.last_snapshot_id: int | None = None
        self.last_change_day: date | None = None
        self.facts: list[dict] = []
        self.text = ""

    def new_plan_year(self, year: int) -> None:
        self.plan_year = year
        self.fee = NATIONAL_FEE.get(year, 400) + self.offset // 10 * 10
        self.fee_raise = self.fee - (NATIONAL_FEE.get(year - 1, 400) + self.offset // 10 * 10)
        self.subsidy = NATIONAL_SUBSIDY.get(year, 700)
        self.window = (date(year - 1, 9, 1) + timedelta(days=self.rng.choice([0, 0, 9, 14])), date(year - 1, 12, 31))
        self.deadline = self.window[1]
        self.ratio = (50, self.rng.choice([80, 85, 90]))
        self.cap = self.rng.choice([100000, 120000, 150000, 200000])
        self.deductible = self.rng.choice([300, 400, 500, 600, 800])
        self.month = (1, self.rng.choice([20, 25]))

    def edit(self) -> str:
        """A minor edit within the plan year; returns what changed."""
        self.edits += 1
        r = self.rng.random()
        if r < 0.35:
            self.deadline = self.deadline + timedelta(days=self.rng.choice([7, 15, 31]))
            self.window = (self.window[0], self.deadline)
            return "deadline"
        if r < 0.45:
            self.fee += 10
            return "fee"
        if r < 0.60:
            self.channels = self.channels[:2] + [self.rng.choice([c for c in CHANNELS if c not in self.channels])]
            return "channel"
        return "text"

    def render(self) -> tuple[str, str, list[dict]]:
        """(title, main text, facts) of the current version, facts in the extractors' shapes with spans."""
        y, code, city = self.plan_year, self.code, self.name
        title = f"关于做好{y}年度{city}城乡居民基本医疗保险参保缴费工作的通知"
        parts: list[tuple[str, list[tuple[str, dict, str | None]]]] = []
        parts.append((f"为做好{y}年度城乡居民基本医疗保险参保缴费工作，根据国家医保局、财政部、国家税务总局"
                      f"有关文件精神，结合{city}实际，现将有关事项通知如下。", []))
        elig = "、".join(self.eligible)
        parts.append((f"一、参保范围。{elig}等未参加职工基本医疗保险的人员均可参加城乡居民医保。",
                      [("eligible_group", {"name": g}, g) for g in self.eligible]))
        change = f"较上年增加{self.fee_raise}元" if self.fee_raise else "与上年保持一致"
        fee_ev = f"个人缴费标准为每人每年{self.fee}元，{change}"
        parts.append((f"二、筹资标准。{y}年度城乡居民医保{fee_ev}。",
                      [("personal_contribution", {"amount": self.fee, "qualifier": "exact",
                                                  "change": self.fee_raise}, fee_ev)]))
        sub_ev = f"各级财政补助标准达到每人每年不低于{self.subsidy}元"
        parts.append((f"{sub_ev}。", [("fiscal_subsidy", {"amount": self.subsidy, "qualifier": "at_least",
                                                          "change": 30}, sub_ev)]))
        win_ev = f"{cn_date(self.window[0])}至{cn_date(self.window[1])}24时"
        parts.append((f"三、缴费时间。{y}年度集中缴费期为{win_ev}。",
                      [("payment_window", {"start": self.window[0].isoformat(), "end": self.window[1].isoformat()},
                        win_ev),
                       ("payment_deadline", {"date": self.deadline.isoformat()}, win_ev)]))
        cov_ev = f"待遇享受期为{y}年1月1日至{y}年12月31日"
        parts.append((f"集中缴费期内参保缴费的，{cov_ev}。",
                      [("coverage_period", {"start": f"{y}-01-01", "end": f"{y}-12-31"}, cov_ev)]))
        parts.append(("四、缴费渠道。参保人可通过" + "、".join(f"“{c}”" for c in self.channels) + "等渠道缴费。",
                      [("payment_channel", {"name": c}, c) for c in self.channels[:2]]))
        g, mode = self.subsidized[0]
        sg_ev = f"{g}个人缴费部分由医疗救助基金给予{'全额' if mode == 'full' else '定额'}资助"
        parts.append((f"五、资助参保。{sg_ev}。", [("subsidized_group", {"name": g, "mode": mode}, sg_ev)]))
        for kind in self.extra:
            if kind == "reimbursement_ratio":
                ev = f"政策范围内住院费用报销比例为{self.ratio[0]}%至{self.ratio[1]}%"
                parts.append((f"{ev}。", [(kind, {"min": self.ratio[0], "max": self.ratio[1]}, ev)]))
            elif kind == "annual_cap":
                ev = f"年度最高支付限额为{self.cap // 10000}万元"
                parts.append((f"{ev}。", [(kind, {"amount": self.cap}, ev)]))
            elif kind == "deductible":
                ev = f"一级医疗机构住院起付标准为{self.deductible}元"
                parts.append((f"{ev}。", [(kind, {"amount": self.deductible}, ev)]))
            elif kind == "monthly_window":
                ev = f"每月{self.month[0]}-{self.month[1]}号"
                parts.append((f"集中缴费期结束后，参保人可于{ev}办理缴费。",
                              [(kind, {"start_day": self.month[0], "end_day": self.month[1]}, ev)]))
            else:
                ev = "、".join(self.waiting) + "不设待遇享受等待期"
                parts.append((f"{ev}。", [(kind, {"name": w}, ev) for w in self.waiting]))
        k = len(FILLER)
        for i in range(4):
            parts.append((FILLER[(self.id + i) % k], []))
        parts.append((f"（本通知第{self.edits}次修订，咨询电话：12393。）", []))
        text, facts, pos = [], [], 0
        for sentence, sfacts in parts:
            for kind, value, ev in sfacts:
                at = sentence.find(ev)
                span = [pos + at, pos + at + len(ev)] if at >= 0 else None
                facts.append({"kind": kind, "value": value, "plan_year": y, "region": code,
                              "evidence": ev, "span": span})
            text.append(sentence)
            pos += len(sentence) + 1
        return title, "\n".join(text), facts


def run_key(f: dict) -> tuple:
    """What makes facts of consecutive snapshots one run: kind, region, plan year, value."""
    return f["kind"], f["region"], f["plan_year"], json.dumps(f["value"], sort_keys=True)


def identity(f: dict) -> tuple:
    return (f["kind"], f["plan_year"], f["region"], f["value"].get("name") if f["kind"] in NAME_KINDS else None)


def diff_changes(old: list[dict], new: list[dict]) -> list[tuple[str, dict | None, dict | None]]:
    """(type, old, new) as monitor/diff.py reports them: one fact per identity on both sides is a change."""
    a = {identity(f): f for f in old}
    b = {identity(f): f for f in new}
    out = []
    for key, f in b.items():
        if key not in a:
            out.append(("fact_added", None, f))
        elif a[key]["value"] != f["value"]:
            out.append(("fact_changed", a[key], f))
    out += [("fact_removed", f, None) for key, f in a.items() if key not in b]
    return out


class World:
    """Sources, pages, the day-by-day schedule of checks and versions."""

    def __init__(self, n_sources: int, years: float, seed: int = 6) -> None:
        self.rng = random.Random(seed)
        prefectures, provinces = load_regions()
        self.days = max(2, round(years * 365.25))
        self.end = datetime.now(UTC).date() - timedelta(days=1)
        self.start = self.end - timedelta(days=self.days - 1)
        self.sources: list[dict] = []
        self.pages: list[PageModel] = []
        now = datetime.combine(self.start, datetime.min.time(), UTC) - timedelta(hours=6)
        for i in range(n_sources):
            code, name = provinces[i % len(provinces)] if i % 10 == 9 else prefectures[i % len(prefectures)]
            kind = "list" if i % 10 == 4 else "page"
            sid = i + 1
            host = f"ybj{sid:04d}.bench.invalid"
            url = f"http://{host}/col/tzgg/index.html" if kind == "list" else f"http://{host}/art/{sid}/notice.html"
            self.sources.append(dict(id=sid, name=f"{name}医疗保障局-{sid:04d}", url=url, kind=kind, region=name,
                                     follow=r"/art/\d+/" if kind == "list" else None, profile=None,
                                     encoding=None, enabled=True, created_at=now, updated_at=now))
            if kind == "list":
                self.pages.append(PageModel(len(self.pages) + 1, sid, url, "list", code, name, self.rng))
                url = f"http://{host}/art/{sid}/notice.html"
            self.pages.append(PageModel(len(self.pages) + 1, sid, url, "article", code, name, self.rng))
        # Version days per page: day 0 (new), every 1 September (a new plan year's notice), edits between.
        sept = [i for i in range(1, self.days) if (self.start + timedelta(days=i)).timetuple()[1:3] == (9, 1)]
        self.change_days: dict[int, list[PageModel]] = {}
        for p in self.pages:
            if p.role == "list":
                days = set(self.rng.sample(range(1, self.days), k=min(self.days - 1, self.days // 60)))
            else:
                n_edits = max(0, round(self.days / 365.25 * 10) - len(sept) - 1 + self.rng.randint(-3, 3))
                days = set(self.rng.sample(range(1, self.days), k=min(self.days - 1, n_edits)))
                days.update(d + self.rng.randint(0, 20) for d in sept if d + 20 < self.days)
            for d in days:
                self.change_days.setdefault(d, []).append(p)
        self.changes_today = {d: {p.id for p in ps} for d, ps in self.change_days.items()}

    def day_date(self, i: int) -> date:
        return self.start + timedelta(days=i)


# -- writers ------------------------------------------------------------------------------------
def _copy_value(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, (dict, list)):
        return json_text(v)  # as the app's JSON columns store it (storage.db.json_text: Chinese kept literal)
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    return str(v)


class Writer:
    """Bulk inserts of dict rows: Core executemany on SQLite, COPY … FROM STDIN (csv) on PostgreSQL."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pg = db.dialect == "postgresql"
        self.counts: dict[str, int] = {}

    def insert(self, conn, table: sa.Table, rows: list[dict]) -> None:
        if not rows:
            return
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
        if not self.pg:
            conn.execute(table.insert(), rows)
            return
        cols = list(rows[0])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for r in rows:
            w.writerow([_copy_value(r[c]) for c in cols])
        buf.seek(0)
        cur = conn.connection.dbapi_connection.cursor()
        cur.execute(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN WITH (FORMAT csv)", stream=buf)
        cur.close()


def generate(db: Database, world: World) -> dict:
    """Write the whole synthetic history; returns counts and seconds."""
    t0 = time.perf_counter()
    w = Writer(db)
    rng = world.rng
    if not w.pg:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.commit()
    first = datetime.combine(world.start, datetime.min.time(), UTC) - timedelta(hours=6)
    with db.engine.begin() as conn:
        w.insert(conn, Source.__table__, world.sources)
        w.insert(conn, Page.__table__, [dict(id=p.id, source_id=p.source_id, url=p.url, role=p.role, etag=None,
                                             last_modified=None, last_snapshot_id=None, last_hash=None,
                                             first_seen_at=first) for p in world.pages])
    ids = dict(snapshot=0, extraction=0)
    n_pages = len(world.pages)
    for chunk_start in range(0, world.days, CHUNK_DAYS):
        runs, raws, snaps, exts, facts, changes, checks = [], [], [], [], [], [], []
        for d in range(chunk_start, min(world.days, chunk_start + CHUNK_DAYS)):
            day = world.day_date(d)
            # the daily crawl starts at 02:00 Beijing time (18:00 UTC the day before)
            run_start = datetime.combine(day, datetime.min.time(), UTC) - timedelta(hours=6)
            run_id = d + 1
            changing = world.changes_today.get(d, set())
            counts = dict(new=0, changed=0, unchanged=0, not_modified=0, error=0)
            for p in world.pages:
                at = run_start + timedelta(seconds=p.id * 1.7 * 2000 / max(n_pages, 1) + rng.random())
                snap_id = None
                status, err, outcome = 200, None, None
                if d == 0 or p.id in changing:
                    outcome = "new" if d == 0 else "changed"
                    if p.role == "list":
                        p.last_hash = hashlib.sha256(f"links {p.id} {d}".encode()).hexdigest()
                    else:
                        what = None
                        year = day.year + 1 if day.month >= 9 else day.year
                        if p.plan_year != year:
                            p.new_plan_year(year)
                        else:
                            what = p.edit()
                        title, text, new_facts = p.render()
                        ids["snapshot"] += 1
                        snap_id = ids["snapshot"]
                        html = (f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
                                f"<div class='crumb'>首页 &gt; 政策法规 &gt; 通知公告</div><h1>{title}</h1>"
                                "<div class='content'><p>" + text.replace("\n", "</p><p>") + "</p></div></body></html>"
                                ).encode("utf-8")
                        raw_zlib = zlib.compress(html, 6)
                        raws.append(dict(id=snap_id, sha256=hashlib.sha256(html).hexdigest(), size=len(html),
                                         compression="zlib", data=raw_zlib))
                        content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
                        published = datetime.combine(day, datetime.min.time(), UTC) - timedelta(hours=8)
                        snaps.append(dict(id=snap_id, page_id=p.id, fetched_at=at, content_hash=content_hash,
                                          title=title, published_at=published, main_text=text, final_url=p.url,
                                          encoding="utf-8", profile=None,
                                          page_meta={"breadcrumb": ["首页", "政策法规", "通知公告"]},
                                          raw_id=snap_id, health="ok"))
                        ids["extraction"] += 1
                        ext_id = ids["extraction"]
                        exts.append(dict(id=ext_id, snapshot_id=snap_id, extractor_version=EXTRACTOR_VERSION,
                                         region_code=p.code, region_name=p.name, plan_year=p.plan_year,
                                         extracted_at=at + timedelta(seconds=30)))
                        # each fact's run start, as the diff stage links it (storage/factruns.py)
                        carried = {run_key(f): f["first"] for f in p.facts}
                        for f in new_facts:
                            f["first"] = carried.get(run_key(f), snap_id)
                            facts.append(dict(extraction_id=ext_id, kind=f["kind"], value=f["value"],
                                              first_snapshot_id=None if f["first"] == snap_id else f["first"],
                                              plan_year=f["plan_year"], region=f["region"], evidence=f["evidence"],
                                              span_start=f["span"][0] if f["span"] else None,
                                              span_end=f["span"][1] if f["span"] else None))
                        if p.last_snapshot_id is not None:
                            base = dict(run_id=run_id, source_id=p.source_id, page_id=p.id,
                                        detected_at=run_start + timedelta(minutes=40), url=p.url,
                                        snapshot_before=p.last_snapshot_id, snapshot_after=snap_id)
                            for typ, old, new in diff_changes(p.facts, new_facts):
                                f = new or old
                                changes.append(dict(base, type=typ, kind=f["kind"],
                                                    identity=json.dumps(identity(f), ensure_ascii=False),
                                                    old=old["value"] if old else None,
                                                    new=new["value"] if new else None,
                                                    severity=SEVERITY.get(f["kind"], "medium"),
                                                    region=f["region"], plan_year=f["plan_year"],
                                                    evidence_before=old["evidence"] if old else None,
                                                    evidence_after=new["evidence"] if new else None, detail=None))
                            changes.append(dict(base, type="text_changed", kind=None, identity=None, old=None,
                                                new=None, severity="low", region=None, plan_year=None,
                                                evidence_before=None, evidence_after=None,
                                                detail={"diff": [f"~ （本通知第[-{p.edits - 1}-]{{+{p.edits}+}}次修订"
                                                                 f"，咨询电话：12393。）"] if what == "text" else []}))
                        p.facts, p.last_snapshot_id, p.last_hash = new_facts, snap_id, content_hash
                    p.last_change_day = day
                else:
                    r = rng.random()
                    if r < 0.01:
                        outcome = "error"
                        if r < 0.005:
                            status, err = 503, "HTTP 503"
                        else:
                            status, err = None, "TimeoutError: User timeout caused connection failure."
                    elif r < 0.76:
                        outcome, status = "not_modified", 304
                    else:
                        outcome = "unchanged"
                counts[outcome] += 1
                checks.append(dict(run_id=run_id, page_id=p.id, checked_at=at, outcome=outcome, http_status=status,
                                   duration_ms=rng.randrange(40, 900) if err is None else 30000,
                                   snapshot_id=snap_id, error=err))
            runs.append(dict(id=run_id, started_at=run_start, finished_at=run_start + timedelta(minutes=40),
                             status="finished", host="bench", pid=4242, counts=counts))
        with db.engine.begin() as conn:
            w.insert(conn, Run.__table__, runs)
            w.insert(conn, RawPage.__table__, raws)
            w.insert(conn, Snapshot.__table__, snaps)
            w.insert(conn, Extraction.__table__, exts)
            w.insert(conn, FactRow.__table__, facts)
            w.insert(conn, Change.__table__, changes)
            w.insert(conn, Check.__table__, checks)
        if (chunk_start // CHUNK_DAYS) % 12 == 11:
            log(f"  … day {chunk_start + CHUNK_DAYS}/{world.days}: {w.counts.get('checks', 0):,} checks, "
                f"{w.counts.get('facts', 0):,} facts, {time.perf_counter() - t0:.0f} s")
    # The pages' crawl state, as record_checks leaves it.
    page_rows = [dict(b_id=p.id, etag=f'"{p.last_hash[:16]}"',
                      last_modified=_http_date(p.last_change_day), last_snapshot_id=p.last_snapshot_id,
                      last_hash=p.last_hash) for p in world.pages]
    with db.engine.begin() as conn:
        t = Page.__table__
        conn.execute(t.update().where(t.c.id == sa.bindparam("b_id")), page_rows)
        # The current_facts table, as the diff stage keeps it (the migration filled it while it was empty).
        refresh_all(conn)
        if w.pg:
            for table in ("sources", "pages", "runs", "raw_pages", "snapshots", "extractions", "facts",
                          "changes", "checks"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT coalesce(max(id), 1) FROM {table}))")
    load_s = time.perf_counter() - t0
    if w.pg:
        admin = sa.create_engine(db.url, isolation_level="AUTOCOMMIT")  # no pre-ping: it would open a transaction
        with admin.connect() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        admin.dispose()
    else:
        db.refresh_statistics()  # as every check run leaves them
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return dict(counts=w.counts, load_s=load_s, total_s=time.perf_counter() - t0)


def _http_date(d: date) -> str:
    return datetime.combine(d, datetime.min.time(), UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


# -- sizes --------------------------------------------------------------------------------------
def sqlite_path(db: Database) -> Path:
    return Path(sa.engine.make_url(db.url).database)


def db_size(db: Database) -> dict:
    """{'total': bytes, 'checks': bytes (table + indexes), 'tables': {table: bytes incl. indexes}}."""
    if db.dialect == "sqlite":
        db.engine.dispose()
        con = sqlite3.connect(sqlite_path(db))
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            page_count = con.execute("PRAGMA page_count").fetchone()[0]
            page_size = con.execute("PRAGMA page_size").fetchone()[0]
            freelist = con.execute("PRAGMA freelist_count").fetchone()[0]
            owner = {name: tbl for name, tbl in con.execute("SELECT name, tbl_name FROM sqlite_master")}
            tables: dict[str, int] = {}
            for name, size in con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
                tbl = owner.get(name, name)
                tables[tbl] = tables.get(tbl, 0) + size
        finally:
            con.close()
        return dict(total=page_count * page_size, freelist=freelist * page_size, checks=tables.get("checks", 0),
                    tables=tables)
    with db.engine.connect() as conn:
        tables = dict(conn.execute(sa.text(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'")).all())
        total = conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar()
    tables = {k: int(v) for k, v in tables.items()}
    return dict(total=int(total), freelist=0, checks=tables.get("checks", 0), tables=tables)


def add_unchanged_days(db: Database, world: World, n_days: int) -> int:
    """n_days more daily runs in which nothing changed, written as `policywatch check` writes them."""
    store = SnapshotStore(db)
    with db.session() as s:
        state = {r.id: r for r in s.execute(sa.select(Page.id, Page.role, Page.last_hash, Page.etag,
                                                      Page.last_modified))}
    rng = random.Random(66)
    added = 0
    for k in range(n_days):
        day = world.end + timedelta(days=k + 1)
        run_start = datetime.combine(day, datetime.min.time(), UTC) - timedelta(hours=6)
        run_id = store.start_run()
        records = []
        for i, p in enumerate(sorted(state.values(), key=lambda r: (r.role != "list", r.id))):
            at = run_start + timedelta(seconds=i * 0.5)
            if rng.random() < 0.76:
                rec = CheckRecord(page_id=p.id, checked_at=at, duration_ms=rng.randrange(40, 300), http_status=304,
                                  not_modified=True)
            elif p.role == "list":
                rec = CheckRecord(page_id=p.id, checked_at=at, duration_ms=rng.randrange(40, 900), http_status=200,
                                  etag=p.etag, last_modified=p.last_modified, links_hash=p.last_hash)
            else:
                content = PageContent(main_text="", title=None, published_at=None, final_url="", encoding="utf-8",
                                      profile=None, raw=b"", content_hash=p.last_hash, raw_sha256="-",
                                      raw_zlib=b"-")
                rec = CheckRecord(page_id=p.id, checked_at=at, duration_ms=rng.randrange(40, 900), http_status=200,
                                  etag=p.etag, last_modified=p.last_modified, content=content)
            records.append(rec)
        counts: dict[str, int] = {}
        for b in range(0, len(records), 100):  # the crawl's batches: 100 checks per transaction
            for outcome in store.record_checks(run_id, records[b:b + 100]):
                counts[outcome] = counts.get(outcome, 0) + 1
        store.finish_run(run_id, counts)
        assert set(counts) <= {"unchanged", "not_modified"}, counts
        added += len(records)
    return added


# -- the timed queries --------------------------------------------------------------------------
def timed(fn, repeat: int) -> tuple[float, list[float], object]:
    """Median of `repeat` runs after a warm-up run; one run only when the warm-up took over 10 s."""
    t = time.perf_counter()
    result = fn()  # warm-up
    times = []
    for _ in range(repeat if time.perf_counter() - t < 10 else 1):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, result


def attempt(fn):
    """fn() or the exception's first line (a measurement that cannot run is reported, not fatal)."""
    try:
        return fn(), None
    except Exception as exc:  # noqa: BLE001
        return None, f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


def pick_region(db: Database) -> str:
    with db.engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT region_code FROM extractions GROUP BY region_code ORDER BY count(*) DESC, region_code LIMIT 1"
        )).scalar()


def history_path(db: Database):
    """The query of `policywatch history`: HistoryStore.history(HistoryFilter(region, kind))."""
    store = HistoryStore(db)
    return "HistoryStore.history(HistoryFilter(region=, kind=))", lambda region, kind: store.history(
        HistoryFilter(region=region, kind=kind))


def history_sql(db: Database, region: str, kind: str) -> str:
    """The SQL text of the history query, literal values in (for EXPLAIN)."""
    q = HistoryStore(db).facts_query(HistoryFilter(region=region, kind=kind))
    return str(q.compile(db.engine, compile_kwargs={"literal_binds": True}))


def relink(db: Database) -> tuple[float, int]:
    """storage.factruns.link_runs over every page (what migration 0006 does to an existing history): seconds,
    and how many facts it linked differently from the generator (0: the generator links as the app does)."""
    t = time.perf_counter()
    with db.engine.begin() as conn:
        pages = [r[0] for r in conn.execute(sa.text("SELECT DISTINCT page_id FROM snapshots WHERE health = 'ok'"))]
        written = link_runs(conn, dict.fromkeys(pages))
    return time.perf_counter() - t, written


def latest_facts(db: Database):
    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM latest_facts")).all()


def export_path(db: Database, out: Path):
    """`policywatch export --format parquet --out FILE` (every fact timeline), the real command in a child process."""
    exe = ROOT / ".venv" / "bin" / "policywatch"
    cmd = [str(exe) if exe.exists() else "policywatch", "export", "--db", db.url, "--format", "parquet",
           "--out", str(out)]

    def run():
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
        return proc.stderr.strip()
    return "policywatch export --format parquet --out FILE (child process, start-up included)", run


def explain(db: Database, sql: str, params: dict) -> str:
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            rows = conn.execute(sa.text("EXPLAIN QUERY PLAN " + sql), params).all()
            return "\n".join(f"    {r[3]}" for r in rows)
        rows = conn.execute(sa.text("EXPLAIN (ANALYZE, BUFFERS) " + sql), params).all()
        return "\n".join("    " + r[0] for r in rows)


# -- main ---------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="database URL (default: a temp SQLite file)")
    ap.add_argument("--pg", action="store_true", help="start a throw-away PostgreSQL cluster on 127.0.0.1")
    ap.add_argument("--sources", type=int, default=2000)
    ap.add_argument("--years", type=float, default=5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--extra-days", type=int, default=3)
    ap.add_argument("--keep", action="store_true",
                    help="keep the SQLite file (with --pg: leave the cluster running, for --db URL --reuse)")
    ap.add_argument("--reuse", action="store_true",
                    help="--db already holds a generated history: skip generation, re-run the newest migration "
                         "(downgrade one, upgrade head: picks up changed views/indexes) and measure")
    ap.add_argument("--explain", action="store_true", help="print the query plans")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()

    cluster = None
    tmp = Path(tempfile.mkdtemp(prefix="policywatch-history-bench-"))
    try:
        if args.pg:
            cluster, url, version = bench_cluster()
            log(f"PostgreSQL {version}: throw-away cluster on 127.0.0.1:{cluster.port} "
                f"({cluster.opts.replace('-c ', '')})")
        else:
            url = args.db or f"sqlite:///{tmp / 'history.db'}"
        db = Database(url)
        log(f"database {db.dialect}, migrations at {db.current_revision()}")
        world = World(args.sources, args.years)
        if args.reuse:
            from alembic import command
            cfg = db._alembic_config()
            with db.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "-1")
                command.upgrade(cfg, "head")
            with db.engine.connect() as conn:
                last = conn.execute(sa.select(sa.func.max(Check.checked_at))).scalar()
                gen = dict(counts={}, load_s=0.0, total_s=0.0)
            world.end = (last + timedelta(hours=6)).date()
            log(f"reusing the generated history (checks up to {last}); newest migration re-run")
        else:
            log(f"generating {len(world.sources):,} sources, {len(world.pages):,} pages, {world.days} days "
                f"({world.start} … {world.end})"
                f"{' — PRAGMA synchronous=OFF during the load' if db.dialect == 'sqlite' else ''}")
            gen = generate(db, world)
            log(f"generated in {gen['total_s']:.0f} s (load {gen['load_s']:.0f} s"
                f"{', then VACUUM ANALYZE' if db.dialect == 'postgresql' else ''})")
        size0 = db_size(db)
        log(f"\n{'table':<14}{'rows':>12}{'MB':>10}{'B/row':>8}")
        for table in sorted(size0["tables"], key=lambda t: -size0["tables"][t]):
            with db.engine.connect() as conn:
                n = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
            b = size0["tables"][table]
            log(f"{table:<14}{n:>12,}{b / 1e6:>10.1f}{(b / n if n else 0):>8.0f}")
        log(f"{'database':<14}{'':>12}{size0['total'] / 1e6:>10.1f}")

        fig: dict = dict(dialect=db.dialect, sources=len(world.sources), pages=len(world.pages), days=world.days,
                         generation_s=round(gen["total_s"], 1), rows=gen["counts"], sizes=size0["tables"],
                         db_bytes=size0["total"])
        if not args.reuse:
            secs, written = relink(db)
            fig.update(relink_s=secs, relink_written=written)
            log(f"\nlink_runs over the whole history (migration 0006's backfill, checking the generator's links): "
                f"{secs:.0f} s, {written:,} facts linked differently")
        region = pick_region(db)
        label, hist = history_path(db)
        res, err = attempt(lambda: timed(lambda: hist(region, HISTORY_KIND), args.repeat))
        fig.update(history_path=label, history_region=region, history_error=err)
        if res:
            med, times, rows = res
            fig.update(history_ms=med * 1000, history_rows=len(rows))
            log(f"\n(a) history {region} {HISTORY_KIND} via {label}: {len(rows)} rows, median {med * 1000:.1f} ms "
                f"(runs {', '.join(f'{t * 1000:.1f}' for t in times)})")
        else:
            log(f"\n(a) history via {label}: cannot run: {err}")
        if args.explain:
            log(attempt(lambda: explain(db, history_sql(db, region, HISTORY_KIND), {}))[0] or "    (no plan)")
        res, err = attempt(lambda: timed(lambda: latest_facts(db), args.repeat))
        fig.update(latest_facts_error=err)
        if res:
            med, times, rows = res
            fig.update(latest_facts_ms=med * 1000, latest_facts_rows=len(rows))
            log(f"(b) SELECT * FROM latest_facts: {len(rows):,} rows, median {med * 1000:.0f} ms "
                f"(runs {', '.join(f'{t * 1000:.0f}' for t in times)})")
        else:
            log(f"(b) latest_facts: cannot run: {err}")
        if args.explain:
            log(attempt(lambda: explain(db, "SELECT * FROM latest_facts", {}))[0] or "    (no plan)")
        out = tmp / "facts.parquet"
        label, export = export_path(db, out)
        res, err = attempt(lambda: timed(export, max(1, min(args.repeat, 3))))
        fig.update(export_path=label, export_error=err)
        if res:
            med, times, said = res
            fig.update(export_s=med, export_bytes=out.stat().st_size if out.exists() else None)
            log(f"(c) export of all facts to Parquet via {label}: median {med:.1f} s "
                f"(runs {', '.join(f'{t:.1f}' for t in times)}), {fig['export_bytes'] or 0:,} bytes: {said}")
        else:
            log(f"(c) export via {label}: cannot run: {err}")

        before = db_size(db)
        added = add_unchanged_days(db, world, args.extra_days)
        after = db_size(db)
        # used pages (page_count − freelist): pages freed earlier (a re-run migration) are reused first
        per_check = ((after["total"] - after["freelist"]) - (before["total"] - before["freelist"])) / added
        per_check_checks = (after["checks"] - before["checks"]) / added
        fig.update(bytes_per_check=per_check, checks_bytes_per_check=per_check_checks, extra_checks=added)
        log(f"(d) {args.extra_days} more unchanged days = {added:,} checks through SnapshotStore.record_checks: "
            f"database +{per_check * added:,.0f} B used (file +{after['total'] - before['total']:,} B) = "
            f"{per_check:.0f} B/check "
            f"(checks table + indexes: {per_check_checks:.0f} B/check)")

        log(f"\n{'target':<48}{'measured':>14}  {'':4}")
        def row(name, key, unit, scale=1.0, fmt="{:.1f}"):
            v = fig.get(key)
            if v is None:
                return name, "n/a", False
            return name, fmt.format(v * scale) + unit, v < TARGETS[key]
        rows_ = [
            row(f"history one region+kind < {TARGETS['history_ms']:.0f} ms", "history_ms", " ms"),
            row(f"latest_facts all regions < {TARGETS['latest_facts_ms'] / 1000:.0f} s", "latest_facts_ms", " ms",
                fmt="{:.0f}"),
            row(f"export all facts to Parquet < {TARGETS['export_s']:.0f} s", "export_s", " s"),
            row(f"DB bytes per unchanged daily check < {TARGETS['bytes_per_check']:.0f}", "bytes_per_check", " B",
                fmt="{:.0f}"),
        ]
        for name, value, ok in rows_:
            log(f"{name:<48}{value:>14}  {'PASS' if ok else 'FAIL'}")
        fig["pass"] = {name: ok for name, _, ok in rows_}
        if args.json:
            Path(args.json).write_text(json.dumps(fig, indent=2, ensure_ascii=False, default=str))
        db.dispose()
        if args.keep:
            log(f"kept: {url}" + (f" (stop: {cluster.stop_command()})" if cluster else ""))
        return 0 if all(ok for _, _, ok in rows_) else 1
    finally:
        if cluster and not args.keep:
            cluster.stop("fast")
        if not (args.keep and not args.db and not cluster):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
