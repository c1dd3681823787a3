"""Builds a page history through the real storage API (checks, extractions, health), for the history tests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from storage import ChangeStore, Database, SnapshotStore
from storage.store import CheckRecord, PageContent, SourceSpec

T0 = datetime(2025, 9, 1, 1, 0, tzinfo=timezone.utc)
TAIYUAN = {"name": "太原市", "code": "140100"}


def day(n: float) -> datetime:
    """Check time `n` days after T0."""
    return T0 + timedelta(days=n)


def fact(kind: str, value: dict, evidence: str, plan_year: int | None = 2025, region: str | None = "140100") -> dict:
    return {"kind": kind, "value": value, "plan_year": plan_year, "region": region, "evidence": evidence, "span": None}


def fee(amount: int, region: str = "140100", plan_year: int = 2025) -> dict:
    """A personal_contribution (个人缴费) fact."""
    return fact("personal_contribution", {"amount": amount, "unit": "元/人/年"},
                f"{plan_year}年度城乡居民医保个人缴费标准为每人每年{amount}元。", plan_year, region)


class History:
    """Sources, pages and their checks written with SnapshotStore / ChangeStore, at chosen times."""

    def __init__(self, url: str, sources: dict[str, str]) -> None:
        self.db = Database(url)
        self.store = SnapshotStore(self.db)
        self.changes = ChangeStore(self.db)
        self.store.sync_sources([SourceSpec(name=n, url=u) for n, u in sources.items()])
        self.pages = {p.source_name: p.page_id for p in self.store.pages_to_check()}
        self.run = self.store.start_run()

    def check(self, source: str, when: datetime, text: str | None = None, facts: list[dict] = (),
              health: str = "ok", error: str | None = None, not_modified: bool = False,
              version: str = "1", region: dict | None = TAIYUAN, published_at: datetime | None = None) -> str:
        """Record one check of the source's page; content that is new gets its facts and health stored
        (`published_at`: the page's own publish date, as the content cutter reads it)."""
        content = None
        if text is not None:
            content = PageContent(main_text=text, title=text[:20], published_at=published_at,
                                  final_url=f"http://127.0.0.1/{self.pages[source]}.html", encoding="utf-8",
                                  profile="generic", raw=text.encode())
        record = CheckRecord(page_id=self.pages[source], checked_at=when, content=content, error=error,
                             not_modified=not_modified, http_status=500 if error else 304 if not_modified else 200)
        outcome = self.store.record_checks(self.run, [record])[0]
        if outcome in ("new", "changed"):
            snapshot_id = self.store.checks(self.run)[-1]["snapshot_id"]
            self.extract(snapshot_id, facts, version=version, region=region)
            self.changes.record_changes([], snapshot_health={snapshot_id: health})
        return outcome

    def extract(self, snapshot_id: int, facts: list[dict], version: str = "1", region: dict | None = TAIYUAN) -> None:
        self.store.store_extractions([(snapshot_id, {"version": version, "region": region, "plan_year": 2025,
                                                     "facts": list(facts)})])

    def last_snapshot(self) -> int:
        return self.store.checks(self.run)[-1]["snapshot_id"]
