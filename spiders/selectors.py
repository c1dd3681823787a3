"""Fast CSS selection for the crawl's hot path.

lxml's CSSSelector turns every selector into an XPath that scans the whole
tree; with ~40 boilerplate rules that was ~2 ms of a page's budget. Here one
pass indexes a page's elements by tag, id and class token, and the simple
selectors profiles use (`tag`, `#id`, `.class`, `tag.class#id`,
`[class*=x]`, `[id*=x]`, `meta[name=x]`) become dictionary lookups. Anything
else falls back to CSSSelector.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lxml.cssselect import CSSSelector

_SIMPLE = re.compile(r"^(?P<tag>[a-zA-Z][a-zA-Z0-9]*)?(?P<rest>(?:[#.][\w-]+)*)$")
_ATTR = re.compile(r"^(?P<tag>[a-zA-Z][a-zA-Z0-9]*)?\[(?P<attr>class|id|name)(?P<op>\*=|=)(?P<quote>['\"]?)(?P<value>[^'\"\]]+)(?P=quote)\]$")


class DocIndex:
    """Elements of one parsed page by tag, id and class token, with their document order."""

    def __init__(self, doc) -> None:
        self.order: dict = {}
        self.by_tag: dict[str, list] = {}
        self.by_id: dict[str, list] = {}
        self.by_class: dict[str, list] = {}
        self.by_name: dict[str, list] = {}
        for i, el in enumerate(doc.iter()):
            tag = el.tag
            if not isinstance(tag, str):
                continue
            self.order[el] = i
            self.by_tag.setdefault(tag, []).append(el)  # the HTML parser lower-cases tags
            attrib = el.attrib
            if "id" in attrib:
                self.by_id.setdefault(attrib["id"], []).append(el)
            if "class" in attrib:
                for token in attrib["class"].split():
                    self.by_class.setdefault(token, []).append(el)
            if "name" in attrib:
                self.by_name.setdefault(attrib["name"].lower(), []).append(el)
        self.doc = doc


@dataclass(frozen=True)
class _Simple:
    tag: str | None
    ids: tuple[str, ...]
    classes: tuple[str, ...]

    def find(self, index: DocIndex) -> list:
        if self.ids:
            pool = index.by_id.get(self.ids[0], [])
        elif self.classes:
            pool = index.by_class.get(self.classes[0], [])
        else:
            return list(index.by_tag.get(self.tag, []))
        out = []
        for el in pool:
            if self.tag and el.tag != self.tag:
                continue
            if self.classes and not set(self.classes) <= set((el.get("class") or "").split()):
                continue
            if len(self.ids) > 1 or (self.ids and el.get("id") != self.ids[0]):
                continue
            out.append(el)
        return out


@dataclass(frozen=True)
class _Attr:
    tag: str | None
    attr: str
    contains: bool
    value: str

    def find(self, index: DocIndex) -> list:
        if self.attr == "class":
            table = index.by_class
        elif self.attr == "id":
            table = index.by_id
        else:
            table = index.by_name
        if self.contains:
            pool = [el for key, els in table.items() if self.value in key for el in els]
        else:
            pool = table.get(self.value.lower() if self.attr == "name" else self.value, [])
        return [el for el in pool if not self.tag or el.tag == self.tag]


@dataclass(frozen=True)
class _Css:
    selector: CSSSelector

    def find(self, index: DocIndex) -> list:
        return self.selector(index.doc)


def _compile_part(part: str):
    m = _SIMPLE.match(part)
    if m and (m.group("tag") or m.group("rest")):
        rest = m.group("rest")
        ids = tuple(re.findall(r"#([\w-]+)", rest))
        classes = tuple(re.findall(r"\.([\w-]+)", rest))
        return _Simple((m.group("tag") or "").lower() or None, ids, classes)
    m = _ATTR.match(part)
    if m:
        return _Attr((m.group("tag") or "").lower() or None, m.group("attr"), m.group("op") == "*=", m.group("value"))
    return _Css(CSSSelector(part))


class Selector:
    """A CSS selector group ("a, b, c") evaluated against a DocIndex."""

    def __init__(self, css: str) -> None:
        self.css = css
        self.parts = [_compile_part(p.strip()) for p in css.split(",") if p.strip()]

    def find(self, index: DocIndex) -> list:
        """Matching elements in document order, without duplicates."""
        if len(self.parts) == 1:
            found = self.parts[0].find(index)
        else:
            found = list({el: None for part in self.parts for el in part.find(index)})
        order = index.order
        return sorted(found, key=lambda el: order.get(el, 0))

    def find_within(self, index: DocIndex, root) -> list:
        """Matches that are descendants of `root`."""
        return [el for el in self.find(index) if any(a is root for a in el.iterancestors())]

    def exists(self, index: DocIndex) -> bool:
        return any(part.find(index) for part in self.parts)

    def __repr__(self) -> str:
        return f"Selector({self.css!r})"
