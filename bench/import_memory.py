"""Import memory: peak RSS of `policywatch import DIR` on a folder of saved pages, whole process.

    .venv/bin/python bench/import_memory.py [--pages 2000] [--size 30000] [--db URL] [--json FILE]

Writes `--pages` generated pages of about `--size` bytes each (bench/pagegen.py: 本地宝 and government
layouts, a fifth GBK) with a manifest into a temporary folder, then runs `policywatch import` on it in a child
process against a new SQLite database (or `--db`), and reports the input size, the wall time, the child's peak
RSS (os.wait4's ru_maxrss) and the pages imported. Nothing but local files and the database is touched.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.pagegen import generate  # noqa: E402


def write_import(folder: Path, pages: int, size: int) -> tuple[Path, int]:
    """The import folder (pages + manifest.csv) and the sources file naming its list source; input bytes."""
    folder.mkdir(parents=True)
    total, lines = 0, ["file,url,fetched_at"]
    for page in generate(pages, target=size):
        name = Path(page.path).name
        (folder / name).write_bytes(page.body)
        total += len(page.body)
        lines.append(f"{name},http://ybj.example.gov.cn/p/{name},2025-09-01T10:00:00+08:00")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    sources = folder.parent / "sources.toml"
    sources.write_text('[[source]]\nname = "示例医保局·通知公告"\nurl = "http://ybj.example.gov.cn/list.html"\n'
                       'kind = "list"\nfollow = "/p/\\\\d+\\\\.html"\nregion = "太原市"\n', encoding="utf-8")
    return sources, total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--size", type=int, default=30_000, help="bytes per page, about")
    ap.add_argument("--db", help="database URL (default: a new SQLite file)")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sources, total = write_import(Path(tmp) / "pages", args.pages, args.size)
        db = args.db or f"sqlite:///{tmp}/import.db"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        cmd = [sys.executable, "-m", "monitor", "import", str(Path(tmp) / "pages"), "--sources", str(sources),
               "--db", db]
        env.pop("POLICYWATCH_DB", None)
        with open(Path(tmp) / "out", "w+b") as out_file, open(Path(tmp) / "err", "w+b") as err_file:
            start = time.monotonic()
            proc = subprocess.Popen(cmd, stdout=out_file, stderr=err_file, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - start
            out_file.seek(0), err_file.seek(0)
            out, err = out_file.read(), err_file.read()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"import failed: {err.decode()[-600:]}")
    report = dict(pages=args.pages, input_mb=round(total / 1e6, 1), wall_s=round(wall, 1),
                  peak_rss_mb=round(usage.ru_maxrss / 1024, 1), summary=out.decode().strip().splitlines()[-1])
    print(f"import of {report['pages']} pages ({report['input_mb']} MB): {report['wall_s']} s, "
          f"peak RSS {report['peak_rss_mb']} MB\n  {report['summary']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
