"""The parts of bench/crawl.py: page server, subprocess runs, database sizes, urlwatch, report."""
from __future__ import annotations

from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent
