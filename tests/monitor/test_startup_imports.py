"""Start-up cost (issue 12): a command imports what it needs when it needs it, so reading the history does not
load the crawler, the extraction rules, the alert library or the PostgreSQL drivers."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, run_cli, write_sources

# Modules a read-only command on SQLite has no use for, with what they cost to import on the 2-core machine.
NOT_NEEDED = ("scrapy", "twisted", "apprise", "pyarrow", "uvicorn", "starlette",
              "extractors.document", "extractors.rules", "sqlalchemy.dialects.postgresql")


def notice(fee: int) -> str:
    return ('<html><head><meta charset="utf-8"><meta name="ArticleTitle" content="2026年度城乡居民医保缴费通知">'
            '<meta name="PubDate" content="2025-08-20 09:00"></head><body><div id="zoom">'
            f'<p>2026年度城乡居民医保个人缴费标准为每人每年{fee}元。</p>'
            '<p>集中缴费期为2025年9月1日至2025年12月31日。</p></div></body></html>')


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A SQLite history with two imported versions of one page (a fee change), and its sources file."""
    tmp = tmp_path_factory.mktemp("startup")
    sources = write_sources(tmp / "sources.toml", '''
        [[source]]
        name = "某市医保局·缴费通知"
        url = "http://127.0.0.1:9/notice.html"
        region = "太原市"
    ''')
    db = f"sqlite:///{tmp / 'history.db'}"
    for day, fee in (("2025-08-21", 400), ("2025-09-02", 420)):
        page = tmp / f"{day}.html"
        page.write_text(notice(fee), encoding="utf-8")
        proc = run_cli("import", str(page), "--url", "http://127.0.0.1:9/notice.html", "--fetched-at", day,
                       "--sources", str(sources), "--db", db)
        assert proc.returncode == 0, proc.stderr
    return tmp, sources, db


@pytest.mark.parametrize("argv", [
    ["status"], ["sources"], ["changes"], ["history", "--kind", "personal_contribution"], ["alerts"],
    ["export", "--format", "csv", "--out", "{tmp}/facts.csv"], ["--version"],
])
def test_read_only_command_starts_without_crawler_rules_or_drivers(history, argv):
    tmp, sources, db = history
    args = [a.replace("{tmp}", str(tmp)) for a in argv]
    if args[0] != "--version":
        args += ["--sources", str(sources), "--db", db]
    code = ("import contextlib, io, json, sys\nfrom monitor.cli import main\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    try:\n        code = main(sys.argv[1:])\n    except SystemExit as exc:\n        code = exc.code\n"
            f"print(json.dumps({{'code': code, 'out': out.getvalue(), 'loaded': sorted(m for m in {NOT_NEEDED!r} "
            "if m in sys.modules)}))")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None), (result, proc.stderr)
    assert result["loaded"] == [], f"{args[0]} imported {result['loaded']}"
    if args[0] in ("changes", "history"):
        assert "420" in result["out"]  # the command did its work, not an early exit


def test_extract_loads_the_rules_on_first_use():
    """`extractors.extract` is still the package's entry point: it loads the rules when first asked for."""
    code = ("import sys\nimport extractors\nassert 'extractors.document' not in sys.modules\n"
            "from extractors import extract\nassert 'extractors.document' in sys.modules\n"
            "doc = extract('2026年度城乡居民医保个人缴费标准为每人每年420元。', title='城乡居民医保缴费通知')\n"
            "print([f.value for f in doc.facts if f.kind == 'personal_contribution'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "420" in proc.stdout
