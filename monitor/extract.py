"""`policywatch extract`: one saved page (.html or .txt) or one live URL → its cut main text and facts.

Both go through the crawl's own steps: a URL is fetched by Scrapy with the project's settings
(spiders/spiders/fetch.py), and HTML is decoded and cut by spiders.processing.cut_page, the function the
crawl's workers run, so what `extract` shows is what `check` would store.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from extractors import Document, extract
from spiders.content import CHINA_TZ, clean_lines, normalize_text
from spiders.processing import cut_page
from spiders.profiles import load_profiles

HTML_SUFFIXES = {".html", ".htm", ".shtml", ".shtm", ".xhtml"}


class InputError(ValueError):
    """The file cannot be read as a page; str() is one line."""


class FetchError(RuntimeError):
    """The URL gave no usable page (unreachable, HTTP error, robots.txt, not HTML); str() is one line."""


@dataclass
class Extracted:
    """One page's facts plus how they were read: the profile that cut it and, for a URL, the fetch."""

    doc: Document
    main_text: str
    profile: str | None = None  # None for a .txt file (nothing was cut)
    encoding: str | None = None
    final_url: str | None = None  # URL input only
    http_status: int | None = None

    def to_json(self, text: bool = False) -> dict:
        """Document.to_json() (the contract), extended with `profile`, `encoding`, for a URL `final_url` and
        `http_status`, and with `text` the cut `main_text`."""
        out = self.doc.to_json()
        out.update(profile=self.profile, encoding=self.encoding)
        if self.http_status is not None:
            out.update(final_url=self.final_url, http_status=self.http_status)
        if text:
            out["main_text"] = self.main_text
        return out


def parse_published(value: str | None) -> datetime | None:
    """YYYY-MM-DD or YYYY-MM-DDTHH:MM (China time) → datetime, for --published."""
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise InputError(f"--published {value!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM")


def page_size_limit() -> int:
    """The largest page file read (bytes): the crawl's own DOWNLOAD_MAXSIZE, so a saved page the crawl would
    refuse is refused here too (a 56 MB page took 880 MB to cut)."""
    from spiders.settings import DOWNLOAD_MAXSIZE
    return DOWNLOAD_MAXSIZE


def read_page(path: Path, limit: int | None = None) -> bytes:
    """The bytes of one saved page file; InputError (one line) when it is missing, too large or binary."""
    limit = page_size_limit() if limit is None else limit
    try:
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"{path}: {size / 1048576:.1f} MB, larger than the {limit / 1048576:g} MB a crawl "
                             "accepts (DOWNLOAD_MAXSIZE): not a page")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if b"\x00" in data[:8192]:
        raise InputError(f"{path}: binary file, not a page")
    return data


def _decode_text(data: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path}: undecodable bytes (neither UTF-8 nor GB18030)")


def is_url(value: str) -> bool:
    return value.lower().startswith(("http://", "https://"))


def looks_like_html(path: Path, data: bytes) -> bool:
    return path.suffix.lower() in HTML_SUFFIXES or data.lstrip()[:15].lower().startswith((b"<!doctype", b"<html"))


def extract_file(path: str | Path, url: str | None = None, published: str | None = None,
                 title: str | None = None) -> Document:
    """Run the crawl's main-content step (for HTML) and the extractors on one file."""
    return read_file(path, url=url, published=published, title=title).doc


def read_file(path: str | Path, *, url: str | None = None, published: str | None = None, title: str | None = None,
              profile: str | None = None, profiles_path: str | None = None,
              encoding: str | None = None) -> Extracted:
    """One saved page: HTML is decoded and cut (`profile` forces one by name, `profiles_path` adds user
    profiles), any other file is taken as main text; InputError (one line) when it is no page."""
    path = Path(path)
    data = read_page(path)
    when = parse_published(published)
    if looks_like_html(path, data):
        return _cut_and_extract(data, None, url, when, title, profile, profiles_path, encoding,
                                empty=InputError(f"{path}: no text to extract from"),
                                unreadable=lambda reason: InputError(f"{path}: {reason}"))
    text = clean_lines(normalize_text(_decode_text(data, path)), load_profiles(profiles_path))
    if not text.strip():
        raise InputError(f"{path}: no text to extract from")
    return Extracted(extract(text, url=url, title=title, published=when), text)


def fetch_url(url: str, settings, *, doc_url: str | None = None, published: str | None = None,
              title: str | None = None, profile: str | None = None, profiles_path: str | None = None,
              encoding: str | None = None) -> Extracted:
    """Fetch one live page with Scrapy (the crawl's `settings`), then cut and extract it as the crawl does;
    FetchError (one line) for an unreachable URL, an HTTP error, a robots.txt refusal or a non-HTML answer."""
    when = parse_published(published)  # a bad --published fails before the network is touched
    from spiders.spiders.fetch import fetch_one
    fetched = fetch_one(url, settings)
    if fetched.close_reason not in (None, "finished"):
        raise KeyboardInterrupt()
    if fetched.error:
        raise FetchError(f"{url}: {fetched.error}")
    # The crawl extracts with the final URL (snapshots.final_url), after redirects.
    result = _cut_and_extract(fetched.body, fetched.content_type, doc_url or fetched.final_url or url, when,
                              title, profile, profiles_path, encoding,
                              empty=FetchError(f"{url}: page has no text content"),
                              unreadable=lambda reason: FetchError(f"{url}: {reason}"), cut_url=fetched.final_url or url)
    result.final_url, result.http_status = fetched.final_url, fetched.status
    return result


def _cut_and_extract(data: bytes, content_type: str | None, url: str | None, when: datetime | None,
                     title: str | None, profile: str | None, profiles_path: str | None, encoding: str | None,
                     *, empty: Exception, unreadable: Callable[[str], Exception], cut_url: str | None = None) -> Extracted:
    page = cut_page(data, content_type, cut_url or url or "", encoding, profile, profiles_path)
    if page.unreadable:
        raise unreadable(page.unreadable)
    if not page.main_text.strip():
        raise empty
    if when is None and page.published_at is not None:
        when = page.published_at.astimezone(CHINA_TZ).replace(tzinfo=None)
    doc = extract(page.main_text, url=url, title=title or page.title, published=when,
                  breadcrumb=page.meta.get("breadcrumb"))
    return Extracted(doc, page.main_text, profile=page.profile, encoding=page.encoding)
