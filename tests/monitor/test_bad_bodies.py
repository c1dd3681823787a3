"""A body served once as binary or undecodable bytes under text/html is an error check with a clear reason,
never a version of the page: no fact_removed, no revert when the page comes back (real crawls)."""
from __future__ import annotations

import gzip
import random

import pytest

from conftest import DEMO_SITE, check, write_sources
from storage import ChangeStore, Database, SnapshotStore

TAIYUAN = "ty/live/2024903/67541.shtm"
PAGE = (DEMO_SITE / "v1" / TAIYUAN).read_bytes()


def undecodable(size: int = 6000) -> bytes:
    """Bytes that are neither UTF-8 nor GB18030 and hold no NUL (a scrambled or mis-served body)."""
    rng = random.Random(16)
    return bytes(rng.choice([0x80, 0xFF, *range(0x01, 0x09), *range(0x0E, 0x1F), 0xA0]) for _ in range(size))


BAD = {
    "gzip": (gzip.compress(PAGE), "not an HTML page (gzip-compressed bytes served as text/html without "
                                  "Content-Encoding)"),
    "undecodable": (undecodable(), "not an HTML page (undecodable content"),
}


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_body_served_once_is_an_error_not_a_version(site, db_url, tmp_path, kind):
    body, reason = BAD[kind]
    url = site.route("p.shtm", body=PAGE)
    sources = write_sources(tmp_path / "sources.toml", f'[[source]]\nname = "太原"\nurl = "{url}"\n')
    assert check(sources, db_url).returncode == 0
    site.route("p.shtm", body=body, content_type="text/html")
    assert check(sources, db_url).returncode == 1
    site.route("p.shtm", body=PAGE)
    assert check(sources, db_url).returncode == 0
    store = SnapshotStore(Database(db_url))
    checks = store.checks()
    assert [c["outcome"] for c in checks] == ["new", "error", "unchanged"]
    assert checks[1]["error"].startswith(reason), checks[1]["error"]
    assert len(store.snapshots()) == 1
    assert ChangeStore(Database(db_url)).changes() == []
