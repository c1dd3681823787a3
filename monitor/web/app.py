"""The web view's ASGI app: pages (概览, 变化, 来源, 事实, 地区) rendered by Jinja2 with autoescape, a JSON API in the shapes
of the CLI's --json, package-served static files, and the token gate. It only reads the database."""
from __future__ import annotations

import argparse
import gc
import json
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from extractors import EXTRACTOR_VERSION, FACT_KINDS
from extractors.plausibility import load_minimums
from extractors.regions import COUNTRY, PROVINCE, load_regions
from monitor.alerts import KIND_NAMES, TYPE_NAMES, region_name, unit_of, format_value
from monitor.changes_cmd import change_json
from monitor.config import Config, ConfigError
from monitor.history import build_filter, to_json
from monitor.options import local_minute
from monitor.diff import text_diff
from monitor.web.charts import chart_groups
from monitor.web.factparts import FactParts
from monitor.web.timeline import timeline_groups
from monitor.web.downloads import MEDIA_TYPES, facts_download
from monitor.status import collect_overview, collect_status, source_rows, source_warnings
from monitor.web.cache import VersionCache
from monitor.web.gate import TokenGate
from monitor.web.paging import pager
from monitor.web.render import (
    OUTCOME_NAMES, SEVERITY_NAMES, BadRequest, change_view, check_cell, diff_line, parse_feed_query,
    safe_href, sort_matrix, source_path,
)
from storage import Database, DatabaseError, HistoryFilter, HistoryStore
from storage.dataversion import DataVersion
from storage.standards import current_pages_token
from storage.webqueries import (
    ChangeFilter, change_feed, current_facts_version, recent_runs, source_failing, region_codes, region_history,
    snapshot_text, source_checks, source_row, source_versions,
)

STATIC = Path(__file__).resolve().parent / "static"
FEED_LIMIT = 200  # changes on one page of the feed, newest first
API_LIMIT, API_MAX = 1000, 10000  # changes in one /api/changes answer: default, largest `limit`
TABLE_LIMIT = 200  # rows of the 地区 page's fact table (the downloads have them all)
SOURCES_PAGE = 100  # rows of the 来源 table on one page
CITIES_PAGE = 1  # regions (the province, then its cities) of a province's ?cities=all page: up to 460 kB each
REGIONS_PAGE = 100  # regions of the 事实 page's 全部地区 matrix on one page
DIFF_LIMIT = 200  # lines of a diff between two versions chosen on a source's page
class WebView:
    """The routes over one opened database and the sources file (for the status parts)."""

    def __init__(self, db: Database, config: Config) -> None:
        self.db, self.config = db, config
        self.cache = VersionCache(DataVersion(db), lambda: current_facts_version(db))
        self.parts = FactParts(db)
        self._below_value: tuple | None = None  # (current_pages_token, amounts below the national minimum)
        self.env = Environment(loader=PackageLoader("monitor.web", "templates"), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(minute=local_minute, region=region_name, href=safe_href, source_path=source_path)
        self.env.globals.update(KIND_NAMES=KIND_NAMES, TYPE_NAMES=TYPE_NAMES, SEVERITY_NAMES=SEVERITY_NAMES,
                                OUTCOME_NAMES=OUTCOME_NAMES)

    def warm(self) -> None:
        """What the first request would otherwise pay: the templates compiled, the region and minimum tables
        loaded, a database connection opened and its first queries planned."""
        for name in self.env.list_templates(filter_func=lambda n: n.endswith(".html")):
            self.env.get_template(name)
        load_regions()
        load_minimums()
        try:
            HistoryStore(self.db).source_names()
            # The current facts and the 事实 roll-up, and the status table's reads, for this database version
            # (computed again after a commit): ≈ 0.8 s paid at start, not by the first visitors.
            self.facts(Request({"type": "http", "method": "GET", "path": "/facts", "query_string": b"",
                                "headers": []}))
            self.status()
            # The first use of the timeline and change reads on this connection (PostgreSQL: the backend's
            # catalog caches for their tables and indexes, ≈ 0.1 s) and in this process: no timeline, one change.
            region_history(self.db, ())
            change_feed(self.db, ChangeFilter(), limit=1, newest_first=True)
        except DatabaseError:
            pass  # answered as 503 by the pages until the database is back
        gc.freeze()  # what start-up made stays out of every later collection (the pages allocate 100 k objects)

    def page(self, name: str, status_code: int = 200, **context) -> HTMLResponse:
        return HTMLResponse(self.env.get_template(name).render(**context), status_code=status_code)

    def error_page(self, exc: BadRequest) -> HTMLResponse:
        return self.page("error.html", exc.status, title="出错了", message=exc.message, status=exc.status)

    # -- pages -------------------------------------------------------------------------------
    def overview(self, request: Request) -> Response:
        status = collect_overview(self.config, self.db, memo=self._memo)
        failing = status["failing"]
        high = [change_view(r) for r in change_feed(self.db, ChangeFilter(severity="high"), limit=10,
                                                     newest_first=True)]
        return self.page("overview.html", title="概览", nav="overview", status=status, failing=failing,
                         runs=recent_runs(self.db, 10), changes=high)

    def changes(self, request: Request) -> Response:
        try:
            query = parse_feed_query(request.query_params, HistoryStore(self.db).source_names())
        except BadRequest as exc:
            return self.error_page(exc)
        rows = change_feed(self.db, query.filter, limit=FEED_LIMIT + 1, newest_first=True)
        return self.page("changes.html", title="变化", nav="changes", given=query.given,
                         changes=[change_view(r) for r in rows[:FEED_LIMIT]], more=len(rows) > FEED_LIMIT,
                         limit=FEED_LIMIT, sources=HistoryStore(self.db).source_names(), kinds=KIND_NAMES)

    def sources(self, request: Request) -> Response:
        """The sources file's sources, SOURCES_PAGE at a time (`?page=N`), in its order."""
        try:
            at = pager(request.query_params, len(self.config.sources), SOURCES_PAGE)
        except BadRequest as exc:
            return self.error_page(exc)
        rows = source_rows(self.config, self.db, at.slice(list(self.config.sources)), memo=self._memo)
        return self.page("sources.html", title="来源", nav="sources", sources=rows, pager=at,
                         links=at.links("/sources", request.query_params))

    def source(self, request: Request) -> Response:
        name = request.path_params["name"]
        src = source_row(self.db, name)
        if src is None:
            return self.error_page(BadRequest(404, f"数据库中没有名为 {name!r} 的来源"))
        versions = source_versions(self.db, src["id"])
        wanted = request.query_params.get("version")
        shown = None
        if wanted:
            if not wanted.isdigit() or (shown := snapshot_text(self.db, src["id"], int(wanted))) is None:
                return self.error_page(BadRequest(404, f"来源 {name!r} 没有版本 {wanted!r}"))
        elif versions:
            shown = snapshot_text(self.db, src["id"], versions[0]["id"])
        compared = None
        a, b = request.query_params.get("a"), request.query_params.get("b")
        if a or b:
            pair = [snapshot_text(self.db, src["id"], int(v)) if v and v.isdigit() else None for v in (a, b)]
            if None in pair:
                return self.error_page(BadRequest(404, f"来源 {name!r} 没有版本 {a!r} 或 {b!r}"))
            compared = dict(a=pair[0], b=pair[1],
                            lines=[diff_line(d) for d in text_diff(pair[0]["main_text"] or "",
                                                                   pair[1]["main_text"] or "", limit=DIFF_LIMIT)])
        checks = source_checks(self.db, src["id"])
        changes = [change_view(r) for r in change_feed(self.db, ChangeFilter(source=name), limit=20,
                                                        newest_first=True)]
        return self.page("source.html", title=f"来源：{name}", nav="sources", src=src, versions=versions,
                         shown=shown, strip=[check_cell(c) for c in checks], checks=checks[::-1][:20],
                         changes=changes, href=safe_href(src["url"]), compared=compared, given_a=a, given_b=b,
                         failing=source_failing(self.db, src["id"]),
                         warnings=self._memo("warnings", lambda: source_warnings(self.db)).get(name, []))

    def facts(self, request: Request) -> Response:
        """The province × kind roll-up; with `region=` a province's (or, 全国, every) region × kind matrix, the
        全国 one REGIONS_PAGE regions at a time (`?page=N`)."""
        p = request.query_params
        sort, scope, prefix = p.get("sort"), None, None
        if p.get("region"):
            try:
                scope, f = self._region_filter(p["region"])
            except BadRequest as exc:
                return self.error_page(exc)
            prefix = "" if scope.level == COUNTRY else (f.region_prefix or f.region)
        parts = self.fact_parts()
        years = self.cache.get(("years", prefix), lambda: parts.years(prefix), facts=True)
        wanted = p.get("plan_year") or (str(years[0]) if years else "")
        if wanted and not wanted.isdigit():
            return self.error_page(BadRequest(400, f"年度 {wanted!r} 格式不对：应为四位年份，如 2025"))
        year = int(wanted) if wanted else None
        by_code = self.cache.get(("matrix", prefix, year), lambda: parts.matrix(prefix, year), facts=True)
        matrix = sort_matrix(by_code, sort)  # what fact_matrix(rows, sort) gives, without building it again
        context = dict(title="事实", nav="facts", years=years, year=year, sort=sort, scope=scope, pager=None,
                       links=[], matrix=None, rollup=None)
        if scope is None:
            context["rollup"] = self.cache.get(("rollup", year, sort), lambda: parts.rollup(year, sort), facts=True)
        elif scope.level == COUNTRY:  # every region: 3 MB at once
            try:
                at = pager(p, len(matrix["rows"]), REGIONS_PAGE)
            except BadRequest as exc:
                return self.error_page(exc)
            context.update(matrix=dict(matrix, rows=at.slice(matrix["rows"])), pager=at,
                           links=at.links("/facts", p))
        else:
            context["matrix"] = matrix
        return self.page("facts.html", **context)

    def fact_parts(self) -> FactParts:
        """The current facts by region (monitor.web.factparts), brought up to this version of them; without the
        cache (bench/web_profile.py --uncached) built anew."""
        if not self.cache.enabled:
            parts = FactParts(self.db)
            parts.update(None)
            return parts
        self.parts.update(self.cache.token(facts=True))
        return self.parts

    def status(self) -> dict:
        """collect_status, its whole-history reads (last checks, failing sources, cut warnings, amounts under
        the national minimum) kept for this database version."""
        return collect_status(self.config, self.db, memo=self._memo)

    def _memo(self, key: str, compute):
        if key == "below":  # the amounts under the national minimum: kept while the pages they come from are
            return self._below(compute)
        return self.cache.get(("status", key), compute)

    def _below(self, compute):
        """compute()'s value (status's amounts below the national minimum) for the current pages' snapshots and
        extractions (storage.standards.current_pages_token, asked once per database version): a crawl's checks of
        unchanged pages keep it (0.1–0.2 s of /api/status at 2,000 sources)."""
        if not self.cache.enabled:
            return compute()
        token = self.cache.get(("status", "below-token"), lambda: current_pages_token(self.db, EXTRACTOR_VERSION))
        known = self._below_value
        if known is not None and known[0] == token:
            return known[1]
        value = compute()
        self._below_value = (token, value)
        return value

    @staticmethod
    def _region_filter(name: str):
        """(region, HistoryFilter) for a region's name or code; BadRequest(404) when unknown."""
        found = load_regions().lookup(name)
        if found is None:
            raise BadRequest(404, f"未知地区 {name!r}：请填写名称（山西、太原市）或区划代码（140000）")
        if found.level == COUNTRY:
            return found, HistoryFilter(region_prefix="")
        if found.level == PROVINCE:
            return found, HistoryFilter(region_prefix=found.code[:2])  # the province with its cities
        return found, HistoryFilter(region=found.code)

    def region_download(self, request: Request) -> Response:
        fmt = request.path_params["fmt"]
        try:
            if fmt not in MEDIA_TYPES:
                raise BadRequest(404, f"没有 {fmt!r} 格式：可下载 csv、jsonl、parquet")
            found, f = self._region_filter(request.path_params["name"])
            return facts_download(HistoryStore(self.db), f, fmt, f"policywatch-{found.code}-facts.{fmt}")
        except BadRequest as exc:
            return self.error_page(exc)
        except ConfigError as exc:  # Parquet without pyarrow
            return self.error_page(BadRequest(501, str(exc)))

    def region(self, request: Request) -> Response:
        try:
            found, _ = self._region_filter(request.path_params["name"])
        except BadRequest as exc:
            return self.error_page(exc)
        every_city = request.query_params.get("cities") == "all"
        cities: list[str] = []
        at, links = None, []
        if found.level == PROVINCE:
            cities = [c for c in region_codes(self.db, FACT_KINDS, found.code[:2]) if c != found.code]
        if found.level == PROVINCE and every_city:  # the province, then its cities, CITIES_PAGE regions a page
            codes = [found.code] + cities
            try:
                at = pager(request.query_params, len(codes), CITIES_PAGE)
            except BadRequest as exc:
                return self.error_page(exc)
            links = at.links(f"/regions/{found.code}", request.query_params)
            rows = region_history(self.db, FACT_KINDS, regions=at.slice(codes))
        else:  # a city, or a province's own statements (its cities' charts: ?cities=all, or their pages)
            rows = region_history(self.db, FACT_KINDS, region=found.code)
        table = [dict(r, value_text=format_value(r["kind"], json.loads(r["value"])) + unit_of(r["kind"]))
                 for r in rows[:TABLE_LIMIT]]
        return self.page("region.html", title=f"地区：{found.name}", nav="facts", region=found, cities=cities,
                         every_city=every_city, pager=at, links=links, charts=chart_groups(rows),
                         timelines=timeline_groups(rows),
                         rows=table, total=len(rows), table_limit=TABLE_LIMIT)

    # -- API -------------------------------------------------------------------------------------
    def api_changes(self, request: Request) -> Response:
        """The `changes --json` list (oldest first), filtered like the feed, at most `limit` (default 1000): the
        newest ones, or with `after=ID` the first ones after that id (`before=ID`: the newest ones before it).
        A `Link` header names the next (`after`) and, when older ones were left out, the previous page."""
        p = request.query_params
        try:
            query = parse_feed_query(p, HistoryStore(self.db).source_names())
            limit, after, before = (_count(p, "limit", API_LIMIT, 1, API_MAX), _count(p, "after"),
                                    _count(p, "before"))
        except BadRequest as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        if after is not None:
            rows = change_feed(self.db, query.filter, limit=limit, after=after, before=before)
            cut = False
        else:
            rows = change_feed(self.db, query.filter, limit=limit + 1, newest_first=True, before=before)[::-1]
            cut, rows = len(rows) > limit, rows[-limit:]
        links = []
        base = {k: v for k, v in p.items() if k not in ("after", "before", "token")}
        if rows:
            links.append(f'</api/changes?{urlencode({**base, "after": rows[-1]["id"]})}>; rel="next"')
        if cut:
            links.append(f'</api/changes?{urlencode({**base, "before": rows[0]["id"]})}>; rel="prev"')
        response = json_response([change_json(r) for r in rows])
        if links:
            response.headers["Link"] = ", ".join(links)
        return response

    def api_history(self, request: Request) -> Response:
        """The `history --json` list, with the history command's filters (region, kind, plan_year, source)."""
        p = request.query_params
        year = p.get("plan_year") or None
        if year is not None and not year.isdigit():
            return JSONResponse({"error": f"plan_year {year!r}: expected a year, e.g. 2025"}, status_code=400)
        args = argparse.Namespace(region=p.get("region") or None, kind=p.get("kind") or None,
                                  source=p.get("source") or None, plan_year=int(year) if year else None)
        store = HistoryStore(self.db)
        try:
            f = build_filter(args, store)
        except ConfigError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        return json_response([to_json(r) for r in store.history(f)])

    def api_status(self, request: Request) -> Response:
        """The `status --json` object (its datetimes as ISO 8601, as the CLI's jsonable gives them)."""
        return json_response(self.status())

    async def unavailable(self, request: Request, exc: DatabaseError) -> Response:
        """The database went away (PostgreSQL restarted, the file vanished): 503 with the one-line reason."""
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=503)
        return self.error_page(BadRequest(503, f"数据库暂时不可用：{exc}"))

    async def not_found(self, request: Request, exc) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "not found"}, status_code=404)
        return self.error_page(BadRequest(404, "没有这个页面"))


def _count(params, name: str, default: int | None = None, low: int = 0, high: int | None = None) -> int | None:
    """A whole-number query parameter (`default` when absent); BadRequest(400) when malformed or out of range."""
    given = params.get(name)
    if not given:
        return default
    if not given.isdigit() or int(given) < low or (high is not None and int(given) > high):
        raise BadRequest(400, f"{name} {given!r}: expected a whole number from {low}"
                              + (f" to {high}" if high is not None else ""))
    return int(given)


def _iso(value):
    """json.dumps' `default`: a datetime as ISO 8601 (what monitor.cliutil.jsonable makes of it)."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def json_response(data) -> Response:
    """JSON of the CLI's shapes: UTF-8, Chinese unescaped, datetimes as ISO 8601. Not indented: with `indent`
    the json module falls back to its pure-Python encoder (0.2 s of /api/status's 0.9 MB); the C one is ≈ 10×
    faster, and the parsed data is the same."""
    return Response(json.dumps(data, ensure_ascii=False, default=_iso), media_type="application/json")


def create_app(db: Database, config: Config, token: str | None = None) -> TokenGate:
    """The whole web view over `db`; with `token`, every request must carry it."""
    db.map_reads()
    view = WebView(db, config)
    view.warm()
    routes = [
        Route("/", view.overview), Route("/changes", view.changes), Route("/sources", view.sources),
        Route("/sources/{name:path}", view.source), Route("/facts", view.facts),
        Route("/regions/{name}", view.region), Route("/regions/{name}/facts.{fmt}", view.region_download),
        Route("/api/changes", view.api_changes), Route("/api/history", view.api_history),
        Route("/api/status", view.api_status),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: view.not_found, DatabaseError: view.unavailable})
    return TokenGate(app, token)
