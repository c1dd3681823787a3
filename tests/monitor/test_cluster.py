"""Several workers on one Redis queue and one PostgreSQL: real redis-server, real worker processes, real kills."""
from __future__ import annotations

import json
import signal
import threading
from collections import Counter

import pytest

from clusterkit import list_sources, one_check_per_page, rows, scalar, wait_checks, workers, write_site
from conftest import FAST, NewDatabase, run_cli
from monitor.localredis import LocalRedis, LocalRedisError
from monitor.localsite import LocalSite
from storage.localpg import free_port


@pytest.fixture
def redis_server():
    try:
        server = LocalRedis()
    except LocalRedisError as exc:
        pytest.fail(f"{exc}: install it (as .ci/run does)", pytrace=False)
    yield server
    server.close()


@pytest.fixture
def pg(request, tmp_path):
    return NewDatabase("postgresql", tmp_path, request)


def cluster_check(sources, db: str, redis_url: str | None, *extra: str, timeout: float = 180):
    args = ["check", "--sources", str(sources), "--db", db, "--progress", "line", *FAST, *extra]
    if redis_url:
        args += ["--redis", redis_url]
    proc = run_cli(*args, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


class InBackground:
    """A call running in a thread (the coordinator's `check` while the test kills a worker or Redis)."""

    def __init__(self, call) -> None:
        self.result: dict = {}
        self.thread = threading.Thread(target=lambda: self.result.update(value=call()))
        self.thread.start()

    def join(self, timeout: float = 180):
        self.thread.join(timeout)
        assert "value" in self.result, f"the call did not return within {timeout} s"
        return self.result["value"]


def last_run(db: str) -> int:
    return scalar(db, "SELECT max(id) FROM runs")


def history(db: str) -> dict:
    """What a researcher reads, keyed by URL: snapshots' texts, current facts, changes (no ids, no times)."""
    snaps = rows(db, "SELECT p.url, s.main_text FROM snapshots s JOIN pages p ON p.id = s.page_id")
    facts = rows(db, "SELECT p.url, f.kind, f.value FROM facts f JOIN extractions e ON e.id = f.extraction_id "
                     "JOIN snapshots s ON s.id = e.snapshot_id JOIN pages p ON p.id = s.page_id")
    changes = rows(db, "SELECT p.url, c.type, c.kind, c.severity, c.old, c.new FROM changes c "
                       "JOIN pages p ON p.id = c.page_id")
    return dict(snapshots=sorted(snaps), facts=sorted(map(str, facts)), changes=sorted(map(str, changes)))


def fetches(site, since: int) -> Counter:
    return Counter(path for path, _ in site.requests[since:] if not path.endswith("robots.txt"))


def test_three_workers_fetch_each_page_once_and_store_what_one_process_stores(tmp_path, redis_server, pg):
    write_site(tmp_path / "www", lists=3, articles=29)  # 90 pages
    cluster_db, single_db = pg(), pg()
    with LocalSite(tmp_path / "www") as site:
        sources = list_sources(tmp_path / "sources.toml", site, lists=3)
        with workers(redis_server.url, cluster_db, 3) as procs:
            for round_ in range(2):
                before = len(site.requests)
                proc = cluster_check(sources, cluster_db, redis_server.url)
                assert proc.returncode == 0, proc.stderr
                pages = 90 + 6 * round_
                assert f"{pages} pages checked" in proc.stdout
                seen = fetches(site, before)
                assert len(seen) == pages and set(seen.values()) == {1}, seen.most_common(3)
                assert one_check_per_page(cluster_db, last_run(cluster_db)) == (pages, pages)
                single = cluster_check(sources, single_db, None)
                assert single.returncode == 0, single.stderr
                if round_ == 0:  # 24 notices raise their fee, and every list gains two notices
                    write_site(tmp_path / "new", lists=3, articles=31, fee=400)
                    for l in range(3):
                        (tmp_path / "www" / f"list{l}.html").write_bytes((tmp_path / "new" / f"list{l}.html").read_bytes())
                        for a in (29, 30, *range(0, 8)):
                            name = f"n{l}-{a}.html"
                            (tmp_path / "www" / name).write_bytes((tmp_path / "new" / name).read_bytes())
            status = run_cli("status", "--sources", str(sources), "--db", cluster_db, "--redis", redis_server.url,
                             "--json")
        assert history(cluster_db) == history(single_db)
        assert scalar(cluster_db, "SELECT count(*) FROM changes WHERE type = 'fact_changed'") > 0
        shown = json.loads(status.stdout)["cluster"]
        assert shown["queue"]["length"] == 0
        assert sorted(w["pid"] for w in shown["workers"]) == sorted(p.pid for p in procs)
        assert sum(w["pages_done"] for w in shown["workers"]) == 96  # the current run's


def test_a_killed_workers_pages_are_checked_by_another(tmp_path, redis_server, pg):
    write_site(tmp_path / "www", lists=1, articles=80)
    db = pg()
    with LocalSite(tmp_path / "www", latency=0.15) as site:
        defaults = f'[defaults]\nredis = "{redis_server.url}"\n'  # the queue from the sources file
        sources = list_sources(tmp_path / "sources.toml", site, lists=1, defaults=defaults)
        with workers(redis_server.url, db, 2, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4") as (victim, _):
            coordinator = InBackground(lambda: cluster_check(sources, db, None))
            wait_checks(db, 1, 20)
            victim.send_signal(signal.SIGKILL)
            proc = coordinator.join()
    assert proc.returncode == 0, proc.stderr
    assert one_check_per_page(db, 1) == (81, 81)
    assert scalar(db, "SELECT count(*) FROM run_leases WHERE run_id = 1 AND NOT done") == 0


def test_a_redis_restart_mid_run_loses_nothing(tmp_path, redis_server, pg):
    write_site(tmp_path / "www", lists=1, articles=80)
    db = pg()
    with LocalSite(tmp_path / "www", latency=0.1) as site:
        sources = list_sources(tmp_path / "sources.toml", site, lists=1)
        with workers(redis_server.url, db, 2, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"):
            coordinator = InBackground(lambda: cluster_check(sources, db, redis_server.url))
            wait_checks(db, 1, 15)
            redis_server.stop()  # the queued requests are gone with it
            threading.Event().wait(1.5)
            redis_server.start()
            proc = coordinator.join()
    assert proc.returncode == 0, proc.stderr
    assert one_check_per_page(db, 1) == (81, 81)


def test_redis_unreachable_is_one_line_and_exit_3(tmp_path, pg):
    write_site(tmp_path / "www", lists=1, articles=2)
    db = pg()
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with LocalSite(tmp_path / "www") as site:
        sources = list_sources(tmp_path / "sources.toml", site, lists=1)
        proc = cluster_check(sources, db, dead)
        worker = run_cli("worker", "--redis", dead, "--db", db, timeout=60)
    assert proc.returncode == 3 and worker.returncode == 3
    for p in (proc, worker):
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "unreachable" in lines[0] and "Traceback" not in p.stderr, p.stderr


def test_without_workers_the_coordinator_gives_up_and_the_queue_never_mixes_into_the_next_run(
        tmp_path, redis_server, pg):
    write_site(tmp_path / "www", lists=1, articles=5)
    db = pg()
    with LocalSite(tmp_path / "www") as site:
        sources = list_sources(tmp_path / "sources.toml", site, lists=1)
        lonely = cluster_check(sources, db, redis_server.url, "--wait-workers", "1")
        assert lonely.returncode == 3
        assert lonely.stderr.strip().splitlines()[-1].startswith("policywatch: no worker took the run's pages")
        import redis
        from spiders.cluster import queue_key, queued
        left = queued(redis.Redis.from_url(redis_server.url), queue_key())
        assert left == 1  # run 1's list page is still queued: a worker started now must not crawl it
        with workers(redis_server.url, db, 1):
            threading.Event().wait(2)
            assert scalar(db, "SELECT count(*) FROM checks") == 0
            proc = cluster_check(sources, db, redis_server.url)
    assert proc.returncode == 0, proc.stderr
    assert rows(db, "SELECT id, status FROM runs ORDER BY id") == [(1, "interrupted"), (2, "finished")]
    assert one_check_per_page(db, 2) == (6, 6) and one_check_per_page(db, 1) == (0, 0)


def test_a_worker_of_another_queue_protocol_is_named_not_counted(tmp_path, redis_server, pg):
    write_site(tmp_path / "www", lists=1, articles=2)
    db = pg()
    with LocalSite(tmp_path / "www") as site:
        sources = list_sources(tmp_path / "sources.toml", site, lists=1)
        with workers(redis_server.url, db, 1, "-s", "POLICYWATCH_QUEUE_PROTOCOL=0") as (old,):
            proc = cluster_check(sources, db, redis_server.url, "--wait-workers", "2")
    assert proc.returncode == 3
    assert f"pid {old.pid} (protocol 0" in proc.stderr and "upgrade" in proc.stderr
    assert scalar(db, "SELECT count(*) FROM checks") == 0


def test_per_site_concurrency_is_the_whole_clusters(tmp_path, redis_server, pg):
    write_site(tmp_path / "www", lists=1, articles=40)
    db = pg()
    with LocalSite(tmp_path / "www", latency=0.3) as site:
        sources = list_sources(tmp_path / "sources.toml", site, lists=1)
        with workers(redis_server.url, db, 2, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4"):
            threading.Event().wait(2.5)  # each worker's heartbeat has seen the other
            proc = cluster_check(sources, db, redis_server.url)
        assert proc.returncode == 0, proc.stderr
        assert 2 <= site.peak_in_flight <= 4, site.peak_in_flight  # 8 if each worker used the whole budget


def test_a_worker_at_its_share_of_one_site_takes_its_next_request_from_another_site(tmp_path, redis_server, pg):
    # Two sites (two spellings of 127.0.0.1), one request at a time each, two per worker: the run's pages are
    # planned site by site, so a worker taking the next queued request whatever its site would fetch every page
    # of the first site, one by one, before the second site's first.
    write_site(tmp_path / "www", lists=2, articles=4)
    db = pg()
    with LocalSite(tmp_path / "www", latency=0.3) as site:
        sources = list_sources(tmp_path / "sources.toml", site, lists=2)
        text = sources.read_text(encoding="utf-8")
        sources.write_text(text.replace("127.0.0.1", "127.1", 1), encoding="utf-8")
        with workers(redis_server.url, db, 1, "-s", "CONCURRENT_REQUESTS=2", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"):
            assert cluster_check(sources, db, redis_server.url).returncode == 0
            before = len(site.requests)
            proc = cluster_check(sources, db, redis_server.url)
    assert proc.returncode == 0, proc.stderr
    starts = [(headers["Host"].split(":")[0], path) for path, headers in site.requests[before:]
              if path.startswith("/n")]
    assert len(starts) == 8 and {host for host, _ in starts[:2]} == {"127.1", "127.0.0.1"}, starts
    assert site.peak_in_flight == 2
