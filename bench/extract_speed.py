"""Extractor speed: documents/s on one core for ~3 KB main texts (the issue's target: ≥ 300).

    .venv/bin/python bench/extract_speed.py [--size 3000] [--rounds 5]

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    docs = documents(args.size)
    facts = sum(len(extract(d).facts) for d in docs)  # warm-up, and a sanity figure
    best = 0.0
    for _ in range(args.rounds):
        start = time.perf_counter()
        for d in docs:
            extract(d)
        best = max(best, len(docs) / (time.perf_counter() - start))
    print(f"{len(docs)} documents of {args.size} characters ({facts / len(docs):.1f} facts each): "
          f"{best:.0f} documents/s on one core (best of {args.rounds}); target ≥ 300")


if __name__ == "__main__":
    main()
