"""Every extractor output over a fixed set of texts, one JSON line each: diff two revisions' dumps to prove a
speed-up changed nothing.

    cd REVISION && python /path/to/bench/extract_identity.py [EXTRA_DIR ...] > /tmp/REVISION.jsonl

The code and texts are those of the current directory (run it in each worktree): the labeled corpora
(tests/extractors/corpus, heldout) with their gold inputs (HTML cut as `policywatch extract` does), each of
their texts bare, each sentence alone under a topic heading, the bench's dense and prose texts
(bench/extract_speed.py) at four sizes, and the texts of any EXTRA_DIR (*.txt, *.html; read, never copied).
"""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))

from bench.extract_speed import documents, prose_documents  # noqa: E402
from extractors import extract  # noqa: E402
from extractors.segment import sentences  # noqa: E402
from monitor.extract import extract_file  # noqa: E402

HEADING = "城乡居民基本医疗保险\n"
SIZES = (1000, 3000, 10000, 30000)


def emit(name: str, doc) -> None:
    print(json.dumps({"input": name, **doc.to_json()}, ensure_ascii=False, sort_keys=True))


def main() -> None:
    for folder in ("tests/extractors/corpus", "tests/extractors/heldout"):
        for gold_path in sorted((ROOT / folder).glob("*.json")):
            inp = json.loads(gold_path.read_text(encoding="utf-8")).get("input", {})
            for path in sorted(gold_path.parent.glob(gold_path.stem + ".*")):
                if path.suffix == ".json":
                    continue
                emit(f"{folder}/{path.name}", extract_file(path, url=inp.get("url"), published=inp.get("published"),
                                                          title=inp.get("title")))
                if path.suffix == ".txt":
                    text = path.read_text(encoding="utf-8")
                    emit(f"{folder}/{path.name} bare", extract(text))
                    emit(f"{folder}/{path.name} published", extract(text, published=date(2024, 9, 1)))
                    for i, (a, b) in enumerate(sentences(text)):
                        emit(f"{folder}/{path.name} sentence {i}", extract(HEADING + text[a:b]))
    for size in SIZES:
        for i, text in enumerate(documents(size)):
            emit(f"dense {size} {i}", extract(text))
        for i, text in enumerate(prose_documents(size)):
            emit(f"prose {size} {i}", extract(text))
    for extra in sys.argv[1:]:
        for path in sorted(Path(extra).glob("*")):
            if path.suffix in (".txt", ".html"):
                emit(f"extra {path.name}", extract_file(path))


if __name__ == "__main__":
    main()
