"""`policywatch import`: saved pages (archived HTML) loaded into the history as if crawled at a given time.

Every input is read, decoded and cut (the crawl's own steps) and checked against the sources file and
the stored history before anything is written; then each page is one transaction (raw page, snapshot,
check of an import run), and the pages' timelines are judged, extracted and diffed in time order —
with no alerts. Importing the same content at the same time again writes nothing.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.config import Config, Source
from monitor.extract import HTML_SUFFIXES, InputError, read_page
from monitor.reextract import Recomputer, RecomputeStats
from spiders.encoding import decode_html
from spiders.processing import cut_page
from storage import Database, SnapshotStore
from storage.backfill import BackfillStore, ImportState, import_outcome
from storage.store import PageContent

CHINA = ZoneInfo("Asia/Shanghai")
MANIFEST = "manifest.csv"
_WHEN = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?")
_HTML = re.compile(rb"<\s*(?:!doctype|html|head|body|div|p|table|article|meta|title)\b", re.I)


EARLIEST_FETCH_YEAR = 1990


def parse_fetched_at(value: str, now: datetime | None = None) -> datetime:
    """YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+08:00] → an aware datetime; naive times are Asia/Shanghai."""
    value = (value or "").strip()
    try:
        if not _WHEN.fullmatch(value):
            raise ValueError
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"--fetched-at {value!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+08:00]") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=CHINA)
    if when > (now or datetime.now(timezone.utc)):
        raise InputError(f"--fetched-at {value!r} is in the future")
    if when.year < EARLIEST_FETCH_YEAR:  # also keeps year 1 out of UTC conversions that underflow
        raise InputError(f"--fetched-at {value!r}: before {EARLIEST_FETCH_YEAR}, when no such page was online")
    return when


@dataclass
class ImportItem:
    """One page file to import, with the URL and time it stands for."""

    path: Path
    url: str
    fetched_at: datetime
    source: Source | None = None
    content: PageContent | None = None


@dataclass
class ImportResult:
    run_id: int | None = None
    outcomes: dict[str, int] = field(default_factory=dict)  # new / changed / unchanged / already
    already: list[ImportItem] = field(default_factory=list)
    stats: RecomputeStats = field(default_factory=RecomputeStats)
    dry_run: bool = False
    planned: list[tuple[str, ImportItem]] = field(default_factory=list)  # dry run: (outcome, item), oldest first

    def summary(self) -> str:
        o = self.outcomes
        imported = sum(n for k, n in o.items() if k != "already")
        if self.dry_run:
            return (f"dry run, nothing written: would import {imported} pages "
                    f"({o.get('new', 0) + o.get('changed', 0)} new snapshots, {o.get('unchanged', 0)} unchanged), "
                    f"{o.get('already', 0)} already imported; no alerts")
        run = f"import run {self.run_id}" if self.run_id is not None else "import"
        return (f"{run}: {imported} pages imported ({o.get('new', 0) + o.get('changed', 0)} new snapshots, "
                f"{o.get('unchanged', 0)} unchanged), {o.get('already', 0)} already imported; facts extracted "
                f"for {self.stats.extracted} snapshots; changes recomputed on {self.stats.pages} pages: "
                f"{self.stats.added} added, {self.stats.removed} removed; no alerts")


def collect(path: str | Path, url: str | None, fetched_at: str | None, manifest: str | Path | None = None,
            now: datetime | None = None) -> list[ImportItem]:
    """The files to import: FILE with --url and --fetched-at, or every page file of DIR listed in its
    manifest (DIR/manifest.csv or `manifest`; columns file,url,fetched_at; empty cells take --url/--fetched-at)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    if path.is_file():
        if manifest is not None:
            raise InputError("--manifest is for importing a directory")
        if not url or not fetched_at:
            raise InputError(f"{path}: importing a file needs --url and --fetched-at")
        return [ImportItem(path, url.strip(), parse_fetched_at(fetched_at, now))]
    manifest_path = Path(manifest) if manifest else path / MANIFEST
    try:
        text = manifest_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{manifest_path}: no manifest (a directory import lists its files in "
                         f"{MANIFEST}: file,url,fetched_at)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{manifest_path}: cannot read: {getattr(exc, 'strerror', None) or 'not UTF-8'}") from None
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "file" not in reader.fieldnames:
        raise InputError(f"{manifest_path}: expected a header line file,url,fetched_at")
    items, listed = [], set()
    for n, row in enumerate(reader, start=2):
        name = (row.get("file") or "").strip()
        if not name:
            raise InputError(f"{manifest_path}:{n}: empty file name")
        row_url = (row.get("url") or "").strip() or url
        row_time = (row.get("fetched_at") or "").strip() or fetched_at
        if not row_url or not row_time:
            raise InputError(f"{manifest_path}:{n}: {name}: no url or fetched_at (and no --url/--fetched-at)")
        try:
            when = parse_fetched_at(row_time, now)
        except InputError as exc:
            raise InputError(f"{manifest_path}:{n}: {exc}") from None
        file = path / name
        # Only files inside the import folder: a manifest must not pull in ../secret or /etc/passwd,
        # directly or through a symlink.
        if Path(name).is_absolute() or not file.resolve().is_relative_to(path.resolve()):
            raise InputError(f"{manifest_path}:{n}: {name}: outside the import folder {path}")
        items.append(ImportItem(file, row_url, when))
        listed.add(file.resolve())
    unlisted = sorted(p.name for p in path.iterdir()
                      if p.is_file() and p.suffix.lower() in HTML_SUFFIXES and p.resolve() not in listed)
    if unlisted:
        raise InputError(f"{path}: {unlisted[0]} is not in {manifest_path.name}"
                         + (f" (and {len(unlisted) - 1} more)" if len(unlisted) > 1 else ""))
    if not items:
        raise InputError(f"{manifest_path}: lists no files")
    return items


def source_for(config: Config, url: str) -> Source:
    """The configured source a URL belongs to: a page source with exactly this url, or else the first list
    source whose `follow` pattern matches it (the page becomes one of its articles)."""
    for source in config.sources:
        if source.url == url:
            if source.kind == "list":
                raise InputError(f"{url} is the list page of source {source.name!r}; import its articles")
            return source
    for source in config.sources:
        if source.kind == "list" and source.follow and re.search(source.follow, url):
            return source
    raise InputError(f"{url} belongs to no source in {config.path} (add a source with this url, "
                     "or a list source whose follow pattern matches it)")


def cut(item: ImportItem, profiles_path: str | None = None) -> PageContent:
    """Decode and cut one saved page as the crawl does (with the sources file's user profiles at
    `profiles_path`); InputError when it is not a readable HTML page."""
    data = read_page(item.path)
    if not _HTML.search(data[:65536]):
        raise InputError(f"{item.path}: not an HTML page")
    encoding = item.source.encoding if item.source else None
    _, used = decode_html(data, None, encoding)
    try:
        data.decode(used)
    except (UnicodeDecodeError, LookupError):
        raise InputError(f"{item.path}: undecodable bytes (neither UTF-8, GB18030 nor its declared charset)") from None
    page = cut_page(data, None, item.url, encoding, item.source.profile if item.source else None, profiles_path)
    if not page.main_text.strip():
        raise InputError(f"{item.path}: page has no text content")
    return PageContent(main_text=page.main_text, title=page.title, published_at=page.published_at,
                       final_url=item.url, encoding=page.encoding, profile=page.profile, raw=data, meta=page.meta,
                       content_hash=page.content_hash, raw_sha256=page.raw_sha256, raw_zlib=page.raw_zlib)


def _plan(todo: list[tuple[ImportItem, int | None, bool, ImportState | None]], result: ImportResult) -> None:
    """The outcome each new item would get (import_outcome, as record_import decides it) against the page's
    version at its time, whether stored (its ImportState) or one of the earlier items of this import."""
    versions: dict[str, list[tuple[datetime, str]]] = {}  # url → (time, hash) of the snapshots planned so far
    for item, _, new, state in todo:
        if not new:
            result.planned.append(("already", item))
            continue
        previous = (state.version_at, state.hash_at) if state and state.version_at else None
        for at, content_hash in versions.get(item.url, []):
            if at <= item.fetched_at and (previous is None or at >= previous[0]):
                previous = (at, content_hash)
        outcome = import_outcome(previous[1] if previous else None, item.content.content_hash)
        if outcome != "unchanged":
            versions.setdefault(item.url, []).append((item.fetched_at, item.content.content_hash))
        result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
        result.planned.append((outcome, item))


def local_time(item: ImportItem) -> str:
    """The item's fetch time as China time, for messages."""
    return item.fetched_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S%z")


def prepare_items(items: list[ImportItem], config: Config) -> list[ImportItem]:
    """Give every item its source and cut content; the distinct ones, oldest first (InputError on a file
    that belongs to no source, or on two different files for one URL and time). Touches no database."""
    seen: dict[tuple[str, datetime], ImportItem] = {}
    for item in items:
        item.source = source_for(config, item.url)
        item.content = cut(item, config.profiles_path)
        twin = seen.setdefault((item.url, item.fetched_at), item)
        if twin is not item and twin.content.content_hash != item.content.content_hash:
            raise InputError(f"{twin.path} and {item.path}: two different pages for {item.url} "
                             f"at {local_time(item)}")
    # Oldest first, so each check's outcome (new / changed / unchanged) follows the page's own timeline.
    return sorted({id(i): i for i in seen.values()}.values(), key=lambda i: i.fetched_at)


def import_pages(prepared: list[ImportItem], config: Config, db: Database,
                 workers: int | None = None, dry_run: bool = False, files: int | None = None) -> ImportResult:
    """Store the prepared items (prepare_items), then judge, extract and diff the affected pages (no alerts).
    With `dry_run` only say what each would be (new / changed / unchanged / already)."""
    backfill = BackfillStore(db)
    result = ImportResult()
    todo = []  # (item, page id, new, what the history says at its time)
    for item in prepared:
        page_id = backfill.find_page(item.source.name, item.url)
        state = backfill.import_state(page_id, item.fetched_at) if page_id else None
        if state and state.waiting:
            raise InputError(f"{item.url}: {state.waiting} snapshots of an interrupted check are not diffed yet; "
                             "run `policywatch check` first")
        if state and state.checked_at_exists:
            if state.hash_at != item.content.content_hash:
                raise InputError(f"{item.path}: a different version of {item.url} is already stored "
                                 f"at {local_time(item)}")
            result.already.append(item)
            result.outcomes["already"] = result.outcomes.get("already", 0) + 1
            todo.append((item, page_id, False, state))
        else:
            todo.append((item, page_id, True, state))
    if dry_run:
        result.dry_run = True
        _plan(todo, result)
        return result
    store = SnapshotStore(db)
    ids = store.sync_sources([s.spec() for s in config.sources])
    if any(new for _, _, new, _ in todo):
        result.run_id = store.start_run()
    page_ids, status = set(), "interrupted"
    try:
        for item, page_id, new, _ in todo:
            if new:
                page_id = backfill.import_page(ids[item.source.name], item.url, item.fetched_at)
                outcome, _ = backfill.record_import(result.run_id, page_id, item.fetched_at, item.content,
                                                    meta={"file": item.path.name, "run_id": result.run_id})
                result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
            page_ids.add(page_id)
        # Also re-done for pages already imported: a killed import left them extracted or judged only in part.
        worker = Recomputer(db, workers=workers, run_id=result.run_id)
        try:
            ordered = sorted(page_ids)
            for i in range(0, len(ordered), 100):
                result.stats.add(worker.pages(ordered[i:i + 100]))
        finally:
            worker.close()
        db.refresh_statistics()
        status = "imported"
    finally:
        if result.run_id is not None:
            store.finish_run(result.run_id, dict(kind="import", files=files if files is not None else len(prepared), **result.outcomes), status)
    return result
