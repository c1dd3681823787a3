"""Text diff cost on a page whose big table changes: seconds per diff for 250–2,000 changed rows, the current
monitor.diff.text_diff beside a baseline revision's, in one run (issue 16: 1,000 rows took 20 s under the lock).

    .venv/bin/python bench/text_diff.py [--baseline 2e86e3e] [--rows 250 --rows 2000] [--timeout 60]

The baseline's monitor/diff.py is read with `git show REV:monitor/diff.py` and run in a child process, cut
at --timeout seconds (reported as "> N s").
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time, types
sys.path.insert(0, sys.argv[1])
module = types.ModuleType("baseline_diff")
sys.modules["baseline_diff"] = module  # dataclasses look their module up
exec(compile(sys.stdin.read(), "baseline/monitor/diff.py", "exec"), module.__dict__)
rows = int(sys.argv[2])
def table(fee):
    return "\n".join(f"第{i}行 第{i}社区 参保人数{i * 3 + fee % 7}人 个人缴费{fee}元。" for i in range(rows))
old, new = table(380), table(400)
start = time.perf_counter()
module.text_diff(old, new)
print(json.dumps(time.perf_counter() - start))
"""


def timed(source: str, rows: int, timeout: float) -> float | None:
    """Seconds one text_diff of a `rows`-row table took with this diff.py source (None: past the timeout)."""
    try:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(rows)], input=source, text=True,
                              capture_output=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(proc.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="2e86e3e", help="git revision to compare with (default 2e86e3e)")
    parser.add_argument("--rows", type=int, action="append", help="changed table rows (repeatable)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a diff is cut off")
    args = parser.parse_args()
    current = (ROOT / "monitor/diff.py").read_text(encoding="utf-8")
    baseline = subprocess.run(["git", "-C", str(ROOT), "show", f"{args.baseline}:monitor/diff.py"],
                              capture_output=True, text=True, check=True).stdout
    print(f"{'rows':>6} {'current':>10} {'baseline ' + args.baseline:>18}")
    for rows in args.rows or [250, 500, 1000, 2000]:
        now, before = timed(current, rows, args.timeout), timed(baseline, rows, args.timeout)
        show = lambda t: f"> {args.timeout:.0f} s" if t is None else f"{t:.3f} s"  # noqa: E731
        print(f"{rows:>6} {show(now):>10} {show(before):>18}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"(bench took {time.perf_counter() - started:.0f} s)")
