"""Cut a page's main content: title, publish time, breadcrumb, lead and main text.

Pure functions over HTML text (lxml, no Scrapy), so the same step runs in the
crawl, in `policywatch extract` and over raw pages stored years ago.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone, timedelta
from urllib.parse import urlsplit

from lxml import etree

from spiders.profiles import Profile, ProfileSet, load_profiles
from spiders.selectors import DocIndex

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

_BLOCK_TAGS = frozenset("""address article aside blockquote body br center dd details dialog div dl dt
fieldset figcaption figure h1 h2 h3 h4 h5 h6 header hr li main ol p pre section summary table tbody td
tfoot th thead tr ul""".split())
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2002\u2003\u2009\u200b\u3000\ufeff]+")
_DATETIME = re.compile(
    r"((?:19|20)\d{2})\s*[-年/.]\s*(\d{1,2})\s*[-月/.]\s*(\d{1,2})\s*日?"
    r"(?:\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?)?")


@dataclass
class MainContent:
    """The parts of a page worth keeping; `main_text` is normalized (one paragraph per line)."""

    main_text: str
    title: str | None = None
    published_at: datetime | None = None
    lead: str | None = None
    breadcrumb: str | None = None
    profile: str = "generic"
    meta: dict = field(default_factory=dict)


def normalize_text(text: str) -> str:
    """Collapse runs of spaces inside lines, strip lines, drop empty ones."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def element_text(el) -> str:
    """The text of an element with one line per block (p, div, li, br...)."""
    parts: list[str] = []

    def walk(node) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        block = tag in _BLOCK_TAGS
        if block:
            parts.append("\n")
        if node.text and tag:
            parts.append(node.text)
        for child in node:
            walk(child)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append("\n")

    walk(el)
    return normalize_text("".join(parts))


def parse_datetime(text: str | None) -> datetime | None:
    """First date(-time) in the text, read as China time; None if there is none."""
    if not text:
        return None
    m = _DATETIME.search(text)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(x) if x else 0 for x in m.groups())
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=CHINA_TZ)
    except ValueError:
        return None


def choose_profile(index: DocIndex, url: str, profiles: ProfileSet, forced: str | None = None) -> Profile | None:
    """The profile for a page: forced by name, else by domain + detection, else by detection alone."""
    if forced and forced != "generic":
        return profiles.by_name(forced)
    if forced == "generic":
        return None
    host = urlsplit(url).hostname or ""
    for p in profiles.profiles:
        if p.domains and p.matches_host(host) and (p.detect is None or p.detect.exists(index)):
            return p
    for p in profiles.profiles:
        if not p.domains and p.detect is not None and p.detect.exists(index):
            return p
    return None


def _first(index: DocIndex, selectors) -> list:
    for sel in selectors:
        found = sel.find(index)
        if found:
            return found
    return []


def _meta(index: DocIndex, names) -> str | None:
    for name in names:
        for el in index.by_name.get(name.lower(), []):
            if el.tag == "meta":
                value = (el.get("content") or "").strip()
                if value:
                    return value
    return None


def _drop(elements) -> None:
    for el in elements:
        parent = el.getparent()
        if parent is None:
            continue
        # Keep the tail text: it belongs to the parent, not to the dropped element.
        if el.tail:
            prev = el.getprevious()
            if prev is not None:
                prev.tail = (prev.tail or "") + el.tail
            else:
                parent.text = (parent.text or "") + el.tail
        parent.remove(el)


def clean_lines(text: str, profiles: ProfileSet) -> str:
    """Drop boilerplate lines and cut the text at the related-articles heading."""
    bp = profiles.boilerplate
    kept = []
    for line in text.splitlines():
        if len(line) <= bp.stop_line_max_chars and bp.stop_lines.search(line):
            break
        if bp.drop_lines.search(line):
            continue
        kept.append(line)
    return "\n".join(kept)


def extract_main(html: str, url: str = "", profile: str | None = None,
                 profiles: ProfileSet | None = None) -> MainContent:
    """Cut the main content of an HTML page; `profile` forces a profile by name ("generic" for the fallback)."""
    profiles = profiles or load_profiles()
    doc = parse_html(html)
    index = DocIndex(doc)
    chosen = choose_profile(index, url, profiles, profile)
    page_title = doc.findtext(".//title")
    if chosen is None:
        _drop(profiles.boilerplate.drop.find(index))
        return _generic(doc, page_title, profiles)

    sel = chosen.selectors
    meta_title = _meta(index, chosen.meta["title_meta"])
    meta_published = _meta(index, chosen.meta["published_meta"])
    title_el = _first(index, sel["title"])
    title = meta_title or (element_text(title_el[0]) if title_el else None) or _clean_title(page_title)
    published_el = _first(index, sel["published"])
    published = parse_datetime(meta_published) or (
        parse_datetime(element_text(published_el[0])) if published_el else None)
    crumb_el = _first(index, sel["breadcrumb"])
    breadcrumb = _one_line(element_text(crumb_el[0])) if crumb_el else None
    lead_el = _first(index, sel["lead"])
    content_els = _first(index, sel["content"])
    meta: dict = {}
    if chosen.meta["source_meta"]:
        source = _meta(index, chosen.meta["source_meta"])
        if source:
            meta["source"] = source
    _drop(profiles.boilerplate.drop.find(index))
    lead = clean_lines(element_text(lead_el[0]), profiles) if lead_el else None
    if not content_els:
        return _generic(doc, title, profiles, published=published, breadcrumb=breadcrumb)
    content = content_els[0]
    _drop([el for s in sel["drop"] for el in s.find_within(index, content)])
    _drop_link_lists(content)
    text = clean_lines(element_text(content), profiles)
    if lead:
        text = normalize_text(lead + "\n" + text)
    if breadcrumb:
        meta["breadcrumb"] = breadcrumb
    if lead:
        meta["lead"] = lead
    return MainContent(main_text=text, title=title, published_at=published, lead=lead,
                       breadcrumb=breadcrumb, profile=chosen.name, meta=meta)


_PARSER = etree.HTMLParser(remove_comments=True, remove_pis=True)


def parse_html(html: str):
    """An lxml tree for any HTML text, including empty or XML-declared documents.

    Plain lxml.etree elements: lxml.html's per-element class lookup cost ~0.3 ms a page.
    """
    if html.lstrip().startswith("<?xml"):
        html = re.sub(r"^\s*<\?xml[^>]*\?>", "", html)
    try:
        root = etree.fromstring(html, _PARSER) if html.strip() else None
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        root = None
    return root if root is not None else etree.fromstring("<html><body></body></html>", _PARSER)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    # "文章标题_栏目_站点" → the first part
    return re.split(r"\s*[_|｜]\s*|\s+-\s+", title.strip())[0] or None


def _link_text_ratio(el) -> tuple[int, float]:
    text = "".join(el.itertext())
    total = len(_SPACES.sub("", text))
    linked = sum(len(_SPACES.sub("", "".join(a.itertext()))) for a in el.iter("a"))
    return total, (linked / total if total else 0.0)


def _drop_link_lists(content) -> None:
    """Remove lists inside the content that are mostly links (embedded 'related articles' blocks)."""
    doomed = []
    for el in content.iter("ul", "ol", "dl"):
        links = sum(1 for _ in el.iter("a"))
        if links >= 3:
            _, ratio = _link_text_ratio(el)
            if ratio > 0.6:
                doomed.append(el)
    _drop(doomed)


# Inline wrappers whose text belongs to the block around them: Word-pasted articles put every paragraph's
# text in <span style=…> or <font>, which must count for the <p> (links do not: they are navigation).
_INLINE = frozenset("span font strong b em i u small big sub sup label nobr ins mark abbr cite q s strike tt".split())


def _own_text(el) -> str:
    """The text an element says itself: its text, its children's tails and the text of inline wrappers."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str) and child.tag in _INLINE and not any(
                isinstance(d.tag, str) and (d.tag in _BLOCK_TAGS or d.tag == "a") for d in child.iterdescendants()):
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    return "".join(parts)


_POSITIVE = re.compile(r"article|content|main|post|entry|text|body|detail|zoom|正文", re.I)
_NEGATIVE = re.compile(r"comment|footer|foot|sidebar|side|nav|menu|related|recommend|hot|share|banner|"
                       r"header|ad-|ads|crumb|bread|tag|list|rank|link", re.I)
_PUNCT = re.compile(r"[，。；：、！？,.;]")


def _generic(doc, title: str | None, profiles: ProfileSet, *, published=None, breadcrumb=None) -> MainContent:
    """Readability-style fallback: the block with the most sentence-like, least link-heavy text."""
    scores: dict = {}
    for el in doc.iter("p", "div", "td", "section", "article", "li", "pre"):
        own = _SPACES.sub("", _own_text(el))
        if len(own) < 20:
            continue
        score = 1 + len(_PUNCT.findall(own)) + min(len(own) / 100, 3)
        parent = el.getparent()
        for ancestor, share in ((el, 1.0), (parent, 1.0), (parent.getparent() if parent is not None else None, 0.5)):
            if ancestor is not None and isinstance(ancestor.tag, str):
                scores[ancestor] = scores.get(ancestor, 0.0) + score * share
    best, best_score = None, 0.0
    for el, score in scores.items():
        hint = f"{el.get('class', '')} {el.get('id', '')}"
        if _POSITIVE.search(hint):
            score *= 1.25
        if _NEGATIVE.search(hint):
            score *= 0.5
        if el.tag == "article":
            score *= 1.25
        _, link_ratio = _link_text_ratio(el)
        score *= 1 - link_ratio
        if score > best_score:
            best, best_score = el, score
    if best is None:
        body = doc.find("body")
        best = body if body is not None else doc
    _drop_link_lists(best)
    headings = doc.xpath("//h1")
    visible_title = element_text(headings[0]) if headings else None
    text = clean_lines(element_text(best), profiles)
    if published is None:
        published = parse_datetime(_nearby_date_text(doc))
    return MainContent(main_text=text, title=visible_title or _clean_title(title), published_at=published,
                       breadcrumb=breadcrumb, profile="generic",
                       meta={"breadcrumb": breadcrumb} if breadcrumb else {})


def _nearby_date_text(doc) -> str | None:
    for el in doc.iter("time"):
        return el.get("datetime") or element_text(el)
    for el in doc.xpath("//*[contains(@class,'time') or contains(@class,'date')]"):
        return element_text(el)
    return None
