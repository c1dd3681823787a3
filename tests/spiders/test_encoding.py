"""Decoding: UTF-8, GBK family with correct / missing / wrong declarations, as functions and in a real crawl."""
from __future__ import annotations

import pytest

from conftest import SITE, check, write_sources
from spiders.encoding import canonical, decode_html
from storage import Database, SnapshotStore

SAMPLE = (SITE / "gov" / "encoding_sample.html").read_text(encoding="utf-8")
KEPT = "一、缴费标准：个人缴费每人每年400元，在校学生和未成年人同样执行此标准。"
RARE = "五、联系人：王祎，社区服务站医保窗口；李溥，网格员。"  # 祎 is in GBK but not in GB2312


def page(meta: str | None) -> str:
    return SAMPLE.replace("<head>", f"<head>\n{meta}", 1) if meta else SAMPLE


def test_sample_page_has_no_charset_of_its_own():
    assert "charset" not in SAMPLE.lower()


@pytest.mark.parametrize("meta, encoding", [
    ('<meta charset="utf-8">', "utf-8"),
    ('<meta http-equiv="Content-Type" content="text/html; charset=gbk">', "gbk"),
    ('<meta charset="gb2312">', "gbk"),
    ('<meta charset="gb18030">', "gb18030"),
    (None, "gbk"),
    ('<meta charset="utf-8">', "gbk"),  # the lie Scrapy falls for
])
def test_declared_missing_and_wrong_charsets_decode(meta, encoding):
    text, used = decode_html(page(meta).encode(encoding))
    assert KEPT in text and RARE in text
    assert used == ("utf-8" if encoding == "utf-8" else "gb18030")


def test_gbk_page_with_wrong_http_header_decodes():
    text, used = decode_html(page(None).encode("gbk"), "text/html; charset=UTF-8")
    assert KEPT in text and used == "gb18030"


def test_gbk_page_served_as_latin1_decodes():
    text, _ = decode_html(page(None).encode("gbk"), "text/html; charset=ISO-8859-1")
    assert KEPT in text


def test_site_override_wins_when_it_decodes():
    body = page('<meta charset="utf-8">').encode("big5", errors="ignore")
    _, used = decode_html(body, None, override="big5")
    assert used == "big5"


def test_undecodable_bytes_fall_back_without_error():
    text, used = decode_html(b"<html><body>\xff\xfe\xfa\x80\x81 hello</body></html>", "text/html; charset=utf-8")
    assert "hello" in text and used in ("utf-8", "gb18030")


def test_gb_labels_map_to_gb18030():
    assert {canonical(x) for x in ("GB2312", "gbk", "x-gbk", "GB_2312-80", "cp936", "GB18030")} == {"gb18030"}
    assert canonical("no-such-charset") is None


CASES = {
    "utf8": ('<meta charset="utf-8">', "utf-8", "text/html"),
    "gbk-meta": ('<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', "gbk", "text/html"),
    "gbk-none": (None, "gbk", "text/html"),
    "gbk-wrong-meta": ('<meta charset="utf-8">', "gbk", "text/html"),
    "gbk-wrong-header": (None, "gbk", "text/html; charset=utf-8"),
}


def test_real_crawl_stores_correct_text_for_every_encoding_case(site, db_url, tmp_path):
    for name, (meta, encoding, ctype) in CASES.items():
        site.route(f"enc/{name}.html", body=page(meta).encode(encoding), content_type=ctype)
    body = "".join(f'[[source]]\nname = "{n}"\nurl = "{site.url(f"enc/{n}.html")}"\n' for n in CASES)
    proc = check(write_sources(tmp_path / "sources.toml", body), db_url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    snaps = {s["source"]: s for s in SnapshotStore(Database(db_url)).snapshots()}
    assert set(snaps) == set(CASES)
    for name, snap in snaps.items():
        assert KEPT in snap["main_text"] and RARE in snap["main_text"], name
        assert "\ufffd" not in snap["main_text"], name
        assert snap["encoding"] == ("utf-8" if name == "utf8" else "gb18030"), name


def test_a_page_with_a_few_broken_bytes_is_readable_and_scrambled_bytes_are_not():
    from spiders.encoding import unreadable
    page = ("<html><body><p>" + "城乡居民医保个人缴费标准为每人每年400元。" * 50 + "</p></body></html>").encode("utf-8")
    broken = page[:300] + b"\xff\xfe\x80" + page[300:]
    assert unreadable(decode_html(broken)[0]) is None
    scrambled = bytes([0x80, 0x01, 0xFF, 0x1B] * 500)
    reason = unreadable(decode_html(scrambled)[0])
    assert reason is not None and reason.startswith("not an HTML page (undecodable content: ")
