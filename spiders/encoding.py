"""Decode HTML bytes to text, repairing pages whose declared charset is wrong.

Chinese government sites often declare utf-8 while serving GBK bytes (or the
reverse); Scrapy trusts the declaration and produces mojibake. We trust a
strict decode instead: valid UTF-8 is UTF-8, otherwise the GB family
(decoded as GB18030, a superset of GB2312 and GBK), otherwise the declaration.
"""
from __future__ import annotations

import codecs
import re

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "cp936", "x-gbk", "euc-cn"}


def canonical(name: str | None) -> str | None:
    """Python's codec name for a charset label (GB2312/GBK → gb18030), or None if unknown."""
    if not name:
        return None
    label = name.strip().strip("'\"").lower()
    if label in _GB_FAMILY or label in ("gb_2312-80", "gb_2312", "csgb2312", "chinese", "iso-ir-58"):
        return "gb18030"
    try:
        codec = codecs.lookup(label).name
    except LookupError:
        return None
    return "gb18030" if codec in _GB_FAMILY else codec


def _strict(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


_WESTERN = {"ascii", "iso8859-1", "iso8859-15", "cp1252"}
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def decode_html(body: bytes, content_type: str | None = None, override: str | None = None) -> tuple[str, str]:
    """Return (text, encoding) for an HTML body; `override` (a per-site setting) wins when it decodes."""
    forced = canonical(override)
    if forced:
        text = _strict(body, forced)
        if text is not None:
            return text, forced
    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        enc = canonical(bom_encoding) or "utf-8"
        return body[len(bom):].decode(enc, errors="replace"), enc
    declared = canonical(http_content_type_encoding(content_type) if content_type else None) \
        or canonical(html_body_declared_encoding(body))
    if not _NON_ASCII.search(body):
        return body.decode("ascii"), declared or "utf-8"
    # Valid UTF-8 with non-ASCII bytes is practically never GBK text, so try it first.
    # A western single-byte label decodes anything, so it goes after GB18030.
    western = declared in _WESTERN
    candidates = ["utf-8"]
    if declared and not western and declared not in candidates:
        candidates.append(declared)
    if "gb18030" not in candidates:
        candidates.append("gb18030")
    if western:
        candidates.append(declared)
    for enc in candidates:
        text = _strict(body, enc)
        if text is not None:
            return text, enc
    fallback = declared or "utf-8"
    return body.decode(fallback, errors="replace"), fallback


UNREADABLE_SHARE = 0.2  # replacement or control characters in the decoded document beyond which it is no page
_GARBAGE = re.compile("[\ufffd\x00-\x08\x0b\x0e-\x1f\x7f]")


def unreadable(text: str) -> str | None:
    """Why decoded HTML is not a page — mostly replacement (U+FFFD) or control characters, i.e. bytes that no
    charset decodes (scrambled, compressed or binary) — or None. A page with a few broken bytes passes."""
    if not text:
        return None
    garbage = sum(1 for _ in _GARBAGE.finditer(text))
    share = garbage / len(text)
    if share > UNREADABLE_SHARE:
        return f"not an HTML page (undecodable content: {share:.0%} replacement or control characters)"
    return None
