"""`policywatch extract`: one saved page (.html or .txt) → the JSON document of its facts."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from extractors import Document, extract
from spiders.content import CHINA_TZ, clean_lines, extract_main, normalize_text
from spiders.encoding import decode_html
from spiders.profiles import load_profiles

HTML_SUFFIXES = {".html", ".htm", ".shtml", ".shtm", ".xhtml"}


class InputError(ValueError):
    """The file cannot be read as a page; str() is one line."""


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


def read_page(path: Path) -> bytes:
    try:
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


def extract_file(path: str | Path, url: str | None = None, published: str | None = None,
                 title: str | None = None) -> Document:
    """Run the crawl's main-content step (for HTML) and the extractors on one file."""
    path = Path(path)
    data = read_page(path)
    when = parse_published(published)
    breadcrumb = None
    if path.suffix.lower() in HTML_SUFFIXES or data.lstrip()[:15].lower().startswith((b"<!doctype", b"<html")):
        html, _ = decode_html(data)
        main = extract_main(html, url or "")
        text, breadcrumb = main.main_text, main.breadcrumb
        title = title or main.title
        if when is None and main.published_at is not None:
            when = main.published_at.astimezone(CHINA_TZ).replace(tzinfo=None)
    else:
        text = clean_lines(normalize_text(_decode_text(data, path)), load_profiles())
    if not text.strip():
        raise InputError(f"{path}: no text to extract from")
    return extract(text, url=url, title=title, published=when, breadcrumb=breadcrumb)
