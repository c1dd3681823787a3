"""The diff stage's shortcuts change no result (issue 12): on random histories of checks (errors, 304s, new
versions, maintenance pages, interrupted runs, imports and reextracts, sources disabled and enabled again), each
run's diff finds exactly the changes and health the full reads find, although it reads the checks only of pages
that can have a health transition and skips the conflict search when a finished check covered the same inputs."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from monitor.diff import run_diff
from monitor.extract_stage import extract_pending
from storage import ChangeStore, CheckRecord, Database, SnapshotStore
from storage.diffdata import DiffData
from storage.store import PageContent, SourceSpec

FEES = (380, 400, 420)
# Province and cities of one province: a fee stated differently by two of them is a conflict.
PLACES = (("山西省", "山西省"), ("太原市", "太原市"), ("太原市", "太原市"), ("大同市", "大同市"), ("山西省", "太原市"))
MAINTENANCE = "系统维护中，请稍后访问。" * 3


class FullReads(DiffData):
    """The reads without shortcuts: every checked page's checks, and always a conflict search."""

    @staticmethod
    def _health_candidates(s, checked, pending_health):
        return sorted(s.scalars(checked))

    def conflicts_settled(self, run_id, token):
        return False


def notice(region: str, fee: int, deadline: int) -> str:
    return (f"{region}2025年度城乡居民医保的缴费时间为2024年9月1日至2025年2月{deadline}日，缴费截止日期为2月{deadline}日。"
            f"个人缴费标准为{fee}元/人/年。请广大参保群众及时缴费。")


def content(url: str, text: str) -> PageContent:
    return PageContent(main_text=text, title="居民医保缴费通知", published_at=None, final_url=url, encoding="utf-8",
                       profile="generic", raw=text.encode())


class History:
    def __init__(self, url: str, seed: int, maintenance: float) -> None:
        self.maintenance = maintenance  # the share of new versions that are a maintenance page
        self.down: set[int] = set()  # pages whose site fails for a while
        self.db = Database(url)
        self.store = SnapshotStore(self.db)
        self.rnd = random.Random(seed)
        self.clock = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.specs = [SourceSpec(name=f"s{i}", url=f"http://127.0.0.1:9/{i}.html", region=scope)
                      for i, (_, scope) in enumerate(PLACES)]
        self.enabled = [True] * len(PLACES)
        self.compared = 0

    def tick(self) -> datetime:
        self.clock += timedelta(minutes=self.rnd.choice((1, 7, 60)))
        return self.clock

    def sync(self) -> dict[str, int]:
        if self.rnd.random() < 0.15:
            i = self.rnd.randrange(len(self.specs))
            self.enabled[i] = not self.enabled[i]
        specs = [SourceSpec(**{**s.__dict__, "enabled": on}) for s, on in zip(self.specs, self.enabled)]
        return self.store.sync_sources(specs)

    def record(self, run_id: int) -> None:
        records = []
        for page in self.store.pages_to_check():
            if self.rnd.random() < 0.2:
                self.down ^= {page.page_id}
            roll = self.rnd.random()
            at = self.tick()
            i = int(page.url.rsplit("/", 1)[1].split(".")[0])
            if page.page_id in self.down and roll < 0.9 or roll < 0.05:
                records.append(CheckRecord(page_id=page.page_id, checked_at=at, http_status=503, error="HTTP 503"))
            elif roll < 0.6:
                records.append(CheckRecord(page_id=page.page_id, checked_at=at, http_status=304, not_modified=True))
            else:
                text = (MAINTENANCE if self.rnd.random() < self.maintenance
                        else notice(PLACES[i][0], self.rnd.choice(FEES), self.rnd.choice((20, 25))))
                records.append(CheckRecord(page_id=page.page_id, checked_at=at, http_status=200,
                                           content=content(page.url, text)))
        self.store.record_checks(run_id, records)

    def check_run(self) -> None:
        """A check: sync, crawl, and unless it dies first, extract and diff (compared with the full reads)."""
        self.sync()
        run_id = self.store.start_run()
        self.record(run_id)
        if self.rnd.random() < 0.15:
            self.store.finish_run(run_id, {}, "interrupted")  # killed before its diff stage
            return
        self.store.finish_run(run_id, {}, "running")
        extract_pending(self.store, workers=0)
        full = run_diff(FullReads(self.db), run_id)
        fast = run_diff(DiffData(self.db), run_id)
        assert fast.changes == full.changes
        assert fast.health == full.health
        assert fast.conflicts_token == full.conflicts_token
        self.compared += len(full.changes)
        ChangeStore(self.db).record_changes(fast.changes, snapshot_health=fast.health,
                                            conflicts_token=(run_id, fast.conflicts_token))
        self.store.finish_run(run_id, {}, "finished")

    def other_run(self) -> None:
        """An import in between: a run of its own that stores and judges new versions, searching no conflicts."""
        run_id = self.store.start_run()
        self.record(run_id)
        extract_pending(self.store, workers=0)
        judged = run_diff(FullReads(self.db)).health
        ChangeStore(self.db).record_changes([], snapshot_health=judged)
        self.store.finish_run(run_id, {}, "imported")


@pytest.mark.parametrize("seed, maintenance", [(0, 0.0), (1, 0.0), (3, 0.15), (5, 0.3)])
def test_each_run_finds_what_the_full_reads_find(db_url, seed, maintenance):
    history = History(db_url, seed, maintenance)
    try:
        for _ in range(40):
            if history.rnd.random() < 0.1:
                history.other_run()
            else:
                history.check_run()
        kinds = {c["type"] for c in ChangeStore(history.db).changes()}
        # the histories reach every kind of change the shortcuts are about
        assert {"source_failing", "source_recovered", "conflict"} <= kinds, kinds
        assert history.compared > 0
    finally:
        history.db.dispose()
