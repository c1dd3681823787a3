"""SiteQueues on a real redis-server: one FIFO list per site, and the set of sites with requests kept exact."""
from __future__ import annotations

import pytest
import redis
from scrapy.http import Request

from monitor.localredis import LocalRedis, LocalRedisError
from spiders.cluster import RequestQueue, SiteQueues, queue_key, queued
from spiders.spiders.watch import WatchSpider


@pytest.fixture(scope="module")
def server():
    try:
        local = LocalRedis()
    except LocalRedisError as exc:
        pytest.fail(f"{exc}: install it (as .ci/run does)", pytrace=False)
    yield redis.Redis.from_url(local.url)
    local.close()


@pytest.fixture
def queues(server):
    server.flushdb()
    return SiteQueues(server, "t:requests", WatchSpider())


def urls(requests):
    return [r.url if r is not None else None for r in requests]


def test_each_site_pops_its_own_requests_oldest_first(queues):
    queues.push([Request("http://a.gov.cn/1"), Request("http://B.gov.cn/1"), Request("http://a.gov.cn/2"),
                 Request("http://c.gov.cn:8080/1")])
    assert queues.sites() == ["a.gov.cn", "b.gov.cn", "c.gov.cn"] and len(queues) == 4
    assert urls([queues.pop("a.gov.cn"), queues.pop("a.gov.cn"), queues.pop("a.gov.cn")]) == [
        "http://a.gov.cn/1", "http://a.gov.cn/2", None]
    assert urls([queues.pop("c.gov.cn")]) == ["http://c.gov.cn:8080/1"]


def test_popping_a_sites_last_request_takes_it_out_of_the_set_and_a_push_brings_it_back(queues):
    queues.push([Request("http://a.gov.cn/1"), Request("http://b.gov.cn/1")])
    queues.pop("a.gov.cn")
    assert queues.sites() == ["b.gov.cn"] and queues.has_requests()
    queues.pop("b.gov.cn")
    assert queues.sites() == [] and not queues.has_requests() and len(queues) == 0
    queues.push([Request("http://a.gov.cn/3")])
    assert queues.sites() == ["a.gov.cn"] and urls([queues.pop("a.gov.cn")]) == ["http://a.gov.cn/3"]


def test_a_queued_page_request_keeps_its_run_page_and_callbacks(server):
    server.flushdb()
    queue = RequestQueue(server)
    assert queue.push(7, [(1, "http://a.gov.cn/x.html"), (2, "http://b.gov.cn/y.html")]) == 2
    assert len(queue) == 2 == queued(server, queue_key())
    request = SiteQueues(server, queue_key(), WatchSpider()).pop("b.gov.cn")
    assert (request.meta["pw_run"], request.meta["pw_page"], request.callback.__name__,
            request.errback.__name__, request.dont_filter) == (7, 2, "parse_page", "on_error", True)


def test_clear_drops_every_site_list_the_set_and_a_one_list_queue_of_the_same_name(queues, server):
    queues.push([Request(f"http://s{i}.gov.cn/1") for i in range(5)])
    server.lpush("t:requests", b"left over by protocol 1")
    server.lpush("t:other", b"not ours")
    queues.clear()
    assert len(queues) == 0 and queues.sites() == [] and sorted(server.keys()) == [b"t:other"]


def test_a_restarted_redis_loses_the_pop_script_and_the_pop_still_works(queues, server):
    queues.push([Request("http://a.gov.cn/1")])
    server.script_flush()
    assert urls([queues.pop("a.gov.cn")]) == ["http://a.gov.cn/1"]
