"""Extractor speed: documents/s on one core for 3,000- and 30,000-character main texts (targets ≥ 300, ≥ 100).

    .venv/bin/python bench/extract_speed.py [--size 3000 --size 30000] [--rounds 5]

Texts are built from the labeled corpus (tests/extractors/corpus/*.txt), concatenated and cut to --size
characters, so they read like real notices and produce facts.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from extractors import extract  # noqa: E402


def documents(size: int) -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests/extractors/corpus").glob("*.txt"))]
    docs = []
    for i in range(len(texts)):
        doc, j = "", i
        while len(doc) < size:
            doc += texts[j % len(texts)] + "\n"
            j += 1
        docs.append(doc[:size])
    return docs


TARGETS = {3000: 300, 30000: 100}


def speed(size: int, rounds: int) -> tuple[int, float, float]:
    """(documents, facts per document, best documents/s of `rounds`) for texts of `size` characters."""
    docs = documents(size)
    facts = sum(len(extract(d).facts) for d in docs)  # warm-up, and a sanity figure
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for d in docs:
            extract(d)
        best = max(best, len(docs) / (time.perf_counter() - start))
    return len(docs), facts / len(docs), best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, action="append", help="characters per text (repeatable)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    for size in args.size or sorted(TARGETS):
        count, facts, best = speed(size, args.rounds)
        target = f"; target ≥ {TARGETS[size]}" if size in TARGETS else ""
        print(f"{count} documents of {size} characters ({facts:.1f} facts each): "
              f"{best:.0f} documents/s on one core (best of {args.rounds}){target}")


if __name__ == "__main__":
    main()
