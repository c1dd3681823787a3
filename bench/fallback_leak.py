"""Which generic main-text fallback leaks less boilerplate: policywatch's `_generic`, trafilatura, readability-lxml.

    .venv/bin/python bench/fallback_leak.py [--repeat N] [--quiet]

Corpus: the fixture pages of tests/spiders/test_content.py (`PAGES`, every page cut in
"generic" mode, i.e. ignoring its site profile) plus the extra unknown-site pages in
bench/pages/ (listed with their expectations in bench/pages/cases.json).

For each extractor and page: recall (kept sentences found / total), leaks (boilerplate
strings found), output length (characters, whitespace removed), time per page, and an
approximate "extra" figure: output characters not found in a reference main text, which
catches boilerplate that the hand-written lists do not name. The reference is the site-profile
cut for the tests/ pages (the tests assert it is clean; pages whose profile is itself
"generic" get none) and the `reference` lines of bench/pages/cases.json.
Strings are compared with all whitespace (including U+3000) removed.

trafilatura and readability-lxml are NOT project dependencies; install them into the venv
only to run this measurement:  .venv/bin/pip install trafilatura readability-lxml
(readability-lxml pins cssselect<1.4 and pip downgrades the project's locked cssselect;
reinstall the locked version afterwards:  .venv/bin/pip install cssselect==1.6.0).
Without them only policywatch is measured.
"""
from __future__ import annotations

import argparse
import difflib
import importlib.metadata as md
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES_DIR = Path(__file__).resolve().parent / "pages"
for p in (str(ROOT / "tests" / "spiders"), str(ROOT / "tests"), str(ROOT)):
    if p not in sys.path:
        sys.path.insert(0, p)

import lxml.html  # noqa: E402

from spiders.content import element_text, extract_main  # noqa: E402

_WS = re.compile(r"\s+", re.UNICODE)  # \s covers \u3000, \u00a0, \u2002... in Python 3


def squash(text: str) -> str:
    return _WS.sub("", text or "").replace("\u200b", "").replace("\ufeff", "")


# -- corpus -----------------------------------------------------------------------
def load_cases() -> list[dict]:
    cases = []
    try:
        from test_content import PAGES
    except Exception as exc:  # noqa: BLE001 - a broken test module should not hide the bench pages
        print(f"!! could not import tests/spiders/test_content.py PAGES ({exc!r}); bench pages only")
        PAGES = []
    for path, real_url, profile, _local, kept, gone in PAGES:
        rel = Path(path).resolve().relative_to(ROOT)
        reference = None
        if profile != "generic":
            cut = extract_main(Path(path).read_text(encoding="utf-8"), real_url)
            reference = (cut.title or "") + "\n" + cut.main_text
        cases.append({"name": _short(rel), "path": Path(path), "url": real_url, "kept": list(kept),
                      "gone": list(gone), "origin": "tests", "reference": reference})
    spec = json.loads((PAGES_DIR / "cases.json").read_text(encoding="utf-8"))
    for page in spec["pages"]:
        cases.append({"name": "bench/" + page["file"], "path": PAGES_DIR / page["file"], "url": page["url"],
                      "kept": page["kept"], "gone": page["boilerplate"], "origin": "bench",
                      "reference": "\n".join(page.get("reference", [])) or None})
    for case in cases:
        case["html"] = case["path"].read_text(encoding="utf-8")
    return cases


def _short(rel: Path) -> str:
    parts = rel.parts
    for marker in ("v1", "v2", "site"):
        if marker in parts:
            parts = parts[parts.index(marker):]
            break
    return "/".join(parts)


def sanity_check(cases: list[dict]) -> None:
    """Every expectation must occur in the page itself, else the case measures nothing."""
    for case in cases:
        page_text = squash(lxml.html.document_fromstring(case["html"]).text_content())
        for s in case["kept"] + case["gone"]:
            if squash(s) not in page_text:
                print(f"!! {case['name']}: expectation not in the page text: {s!r}")


# -- extractors -------------------------------------------------------------------
def policywatch(html: str, url: str) -> str:
    return extract_main(html, url, profile="generic").main_text


def make_extractors() -> tuple[dict, list[str]]:
    extractors = {"policywatch _generic": policywatch}
    missing = []
    try:
        import trafilatura
    except ImportError:
        missing.append("trafilatura")
    else:
        def traf(precision: bool):
            def run(html: str, url: str) -> str:
                return trafilatura.extract(html, url=url, include_comments=False, include_tables=True,
                                           favor_precision=precision) or ""
            return run
        extractors["trafilatura precision"] = traf(True)
        extractors["trafilatura default"] = traf(False)
    try:
        from readability import Document
    except ImportError:
        missing.append("readability-lxml")
    else:
        def readability_text(html: str, url: str) -> str:
            summary = Document(html, url=url).summary(html_partial=True)
            return element_text(lxml.html.fragment_fromstring(summary, create_parent="div"))
        extractors["readability-lxml"] = readability_text
    return extractors, missing


# -- measurement ------------------------------------------------------------------
def measure(extractors: dict, cases: list[dict], repeat: int) -> dict:
    results: dict = {name: [] for name in extractors}
    for name, fn in extractors.items():
        fn(cases[0]["html"], cases[0]["url"])  # warm-up: imports, regex compilation, caches
        for case in cases:
            t0 = time.perf_counter()
            for _ in range(repeat):
                text = fn(case["html"], case["url"])
            ms = (time.perf_counter() - t0) * 1000 / repeat
            flat = squash(text)
            found = [s for s in case["kept"] if squash(s) in flat]
            missed = [s for s in case["kept"] if squash(s) not in flat]
            leaks = [s for s in case["gone"] if squash(s) in flat]
            results[name].append({"case": case, "text": text, "ms": ms, "chars": len(flat),
                                  "found": found, "missed": missed, "leaks": leaks,
                                  "extra": extra_chars(text, case["reference"])})
    return results


def extra_chars(text: str, reference: str | None) -> int | None:
    """Output characters (no whitespace, no table bars) outside runs of >=4 chars shared with the reference."""
    if reference is None:
        return None
    out, ref = squash(text).replace("|", ""), squash(reference)
    blocks = difflib.SequenceMatcher(None, ref, out, autojunk=False).get_matching_blocks()
    return len(out) - sum(b.size for b in blocks if b.size >= 4)


def summarize(rows: list[dict]) -> dict:
    kept = sum(len(r["found"]) + len(r["missed"]) for r in rows)
    return {"recall": sum(len(r["found"]) for r in rows) / kept if kept else 0.0,
            "full": sum(1 for r in rows if not r["missed"]),
            "leaks": sum(len(r["leaks"]) for r in rows),
            "leaky_pages": sum(1 for r in rows if r["leaks"]),
            "chars": sum(r["chars"] for r in rows) / len(rows),
            "extra": sum(r["extra"] for r in rows if r["extra"] is not None)
            / max(1, sum(1 for r in rows if r["extra"] is not None)),
            "ms": sum(r["ms"] for r in rows) / len(rows)}


def print_table(results: dict, cases: list[dict]) -> None:
    subsets = [("all pages", lambda c: True), ("tests/ fixtures", lambda c: c["origin"] == "tests"),
               ("bench/pages", lambda c: c["origin"] == "bench")]
    n_gone = {label: sum(len(c["gone"]) for c in cases if keep(c)) for label, keep in subsets}
    for label, keep in subsets:
        n = sum(1 for c in cases if keep(c))
        if not n:
            continue
        print(f"\n== {label}: {n} pages, {n_gone[label]} boilerplate strings ==")
        print(f"{'extractor':24} {'recall':>7} {'full':>6} {'leaks':>6} {'leaky':>6} {'avg chars':>10}"
              f" {'avg extra':>10} {'ms/page':>8}")
        for name, rows in results.items():
            s = summarize([r for r in rows if keep(r["case"])])
            print(f"{name:24} {s['recall']:7.1%} {s['full']:>3}/{n:<2} {s['leaks']:>6} {s['leaky_pages']:>3}/{n:<2}"
                  f" {s['chars']:10.0f} {s['extra']:10.0f} {s['ms']:8.2f}")
    print("  recall = kept sentences found / all kept; full = pages with every kept sentence;"
          " leaks = boilerplate strings found;\n  leaky = pages with >=1 leak; chars without whitespace;"
          " extra = chars outside the reference main text (approximate; pages with a reference only)")


def print_details(results: dict, cases: list[dict]) -> None:
    print("\n== per page: recall and leaked strings ==")
    for i, case in enumerate(cases):
        print(f"\n{case['name']}  ({case['url']})")
        for name, rows in results.items():
            r = rows[i]
            n = len(r["found"]) + len(r["missed"])
            leaks = ", ".join(r["leaks"]) if r["leaks"] else "-"
            extra = "-" if r["extra"] is None else r["extra"]
            print(f"  {name:24} kept {len(r['found'])}/{n}  chars {r['chars']:5}  extra {extra:>4}  leaks: {leaks}")
            for s in r["missed"]:
                print(f"  {'':24}   missed: {s[:48]}")


def leak_origin(html: str, needle: str) -> str:
    """The deepest element of the original page whose text holds the string, with its ancestors."""
    doc = lxml.html.document_fromstring(html)
    target = squash(needle)
    best = None
    for el in doc.iter():
        if isinstance(el.tag, str) and target in squash(el.text_content()):
            best = el  # iter() is document order, so later matches are deeper (or later siblings)
    if best is None:
        return "?"
    chain = []
    el = best
    while el is not None and el.tag not in ("body", "html") and len(chain) < 5:
        cls, ident = (el.get("class") or "").split(), el.get("id")
        chain.append(el.tag + (f"#{ident}" if ident else "") + "".join(f".{c}" for c in cls[:2]))
        el = el.getparent()
    return " < ".join(chain)


def print_leak_origins(results: dict, cases: list[dict]) -> None:
    rows = results["policywatch _generic"]
    print("\n== where policywatch _generic's leaks come from (deepest element holding the string) ==")
    any_leak = False
    for r in rows:
        for s in r["leaks"]:
            any_leak = True
            print(f"  {r['case']['name']}: {s!r}\n      from {leak_origin(r['case']['html'], s)}")
    if not any_leak:
        print("  none")


# -- licences ---------------------------------------------------------------------
_COPYLEFT = re.compile(r"\b(A?GPL|LGPL|GNU (Affero |Lesser |Library )?General Public)", re.I)


def _licence(dist: str) -> str:
    meta = md.metadata(dist)
    parts = []
    expr = meta.get("License-Expression")
    if expr:
        parts.append(expr)
    lic = (meta.get("License") or "").strip()
    if lic and lic.upper() != "UNKNOWN":
        first = lic.splitlines()[0].strip()
        parts.append(first[:60] + ("…" if len(first) > 60 or "\n" in lic else ""))
    parts += [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    seen = []
    for p in parts:
        if p not in seen:
            seen.append(p)
    return "; ".join(seen) or "not declared"


def _requires(dist: str, extras: frozenset = frozenset()) -> list[tuple[str, frozenset]]:
    try:
        from packaging.requirements import Requirement
    except ImportError:
        Requirement = None
    out = []
    for raw in md.requires(dist) or []:
        if Requirement is None:
            if ";" in raw:
                continue
            out.append((re.split(r"[\s\[(<>=!~;]", raw, 1)[0], frozenset()))
            continue
        req = Requirement(raw)
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in (extras or {""})):
            continue
        out.append((req.name, frozenset(req.extras)))
    return out


def dependency_tree(root: str) -> list[tuple[int, str, str, str]]:
    """(depth, name, version, licence) for root and everything it installs, each once."""
    seen: dict[str, set] = {}
    rows = []

    def walk(name: str, extras: frozenset, depth: int) -> None:
        key = re.sub(r"[-_.]+", "-", name).lower()
        try:
            version = md.version(name)
        except md.PackageNotFoundError:
            rows.append((depth, name + (f"[{','.join(sorted(extras))}]" if extras else ""), "-", "NOT INSTALLED"))
            return
        if key in seen:
            new = set(extras) - seen[key]
            if not new:
                return
            seen[key] |= new
            base = {d for d, _ in _requires(name)}
            for dep, dep_extras in _requires(name, frozenset(new)):
                if dep not in base:  # only what the newly requested extras add
                    walk(dep, dep_extras, depth + 1)
            return
        seen[key] = set(extras) | {""}
        rows.append((depth, name, version, _licence(name)))
        for dep, dep_extras in _requires(name, extras):
            walk(dep, dep_extras, depth + 1)

    walk(root, frozenset(), 0)
    return rows


def print_licences(roots: list[str]) -> None:
    print("\n== licences (installed metadata: License-Expression / License / classifiers) ==")
    for root in roots:
        try:
            md.version(root)
        except md.PackageNotFoundError:
            continue
        flagged = []
        print(f"\n{root}:")
        for depth, name, version, lic in dependency_tree(root):
            mark = "  <-- GPL/LGPL" if _COPYLEFT.search(lic) else ""
            if mark:
                flagged.append(name)
            print(f"  {'  ' * depth}{name} {version}: {lic}{mark}")
        print(f"  GPL/LGPL in {root}'s tree: {', '.join(flagged) if flagged else 'none'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per page for the timing (default 5)")
    ap.add_argument("--quiet", action="store_true", help="only the summary tables")
    args = ap.parse_args()

    cases = load_cases()
    sanity_check(cases)
    extractors, missing = make_extractors()
    if missing:
        print(f"!! not installed: {', '.join(missing)} -- measuring only the rest. They are not project "
              f"dependencies; for this measurement: .venv/bin/pip install {' '.join(missing)}")
    results = measure(extractors, cases, max(1, args.repeat))
    print_table(results, cases)
    trafs = [n for n in results if n.startswith("trafilatura")]
    if trafs:
        def key(n):
            s = summarize(results[n])
            return (s["leaks"], -s["recall"])
        best = min(trafs, key=key)
        print(f"  better trafilatura setting (fewest leaks, then recall): {best}")
    if not args.quiet:
        print_details(results, cases)
        print_leak_origins(results, cases)
    print_licences(["trafilatura", "readability-lxml"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
