"""A check stopped after its crawl, while it extracts facts, is recorded as interrupted (not finished), exits
130 with one line (SIGTERM) or is found interrupted by the next check (SIGKILL), and the next check extracts
and diffs what it left (issue 16 item 15)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select

from conftest import FAST, ROOT, check, run_rows, write_sources
from extractors import EXTRACTOR_VERSION
from storage import Database
from storage.models import Extraction, Snapshot

sys.path.insert(0, str(ROOT / "bench"))
from pagegen import generate, write_site  # noqa: E402

PAGES = 240


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_stopped_while_extracting_the_run_is_interrupted_and_the_next_check_finishes_it(site, tmp_path, sig):
    write_site(generate(PAGES, target=30_000), site.dir)
    body = "".join(f'[[source]]\nname = "p{i:04d}"\nurl = "{site.url(f"p/{i:04d}.html")}"\n'
                   for i in range(1, PAGES + 1))
    sources = write_sources(tmp_path / "sources.toml", body)
    db_url = f"sqlite:///{tmp_path / 'h.db'}"
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "check", "--sources", str(sources), "--db", db_url,
                             "--progress", "line", *FAST,
                             # facts left to the stage after the crawl, which is stopped while it extracts
                             "-s", "POLICYWATCH_EXTRACT_DURING_CRAWL=False"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (tmp_path / "h.db").exists() and any(r.finished_at is not None for r in run_rows(db_url)):
            break  # the crawl is over: extraction of 240 long pages has begun
        time.sleep(0.05)
    assert proc.poll() is None, "the check ended before it could be stopped while extracting"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    (run,) = run_rows(db_url)
    assert run.counts.get("new") == PAGES and run.finished_at is not None
    if sig == signal.SIGTERM:
        assert proc.returncode == 130, (proc.returncode, err)
        assert "Traceback" not in err and err.strip().endswith("policywatch: terminated"), err
        assert run.status == "interrupted"
    else:
        assert proc.returncode == -signal.SIGKILL
        assert run.status == "running"  # never "finished": its facts and changes are not all stored
    crawl_end = run.finished_at

    again = check(sources, db_url)
    assert again.returncode == 0, again.stdout + again.stderr
    db = Database(db_url)
    with db.session() as s:
        snapshots = s.scalar(select(func.count()).select_from(Snapshot))
        extracted = s.scalar(select(func.count()).select_from(Extraction)
                             .where(Extraction.extractor_version == EXTRACTOR_VERSION))
    assert snapshots == PAGES and extracted == PAGES  # what the stopped run left was extracted by the next
    first, second = run_rows(db_url)
    assert (first.status, second.status) == ("interrupted", "finished")
    assert first.finished_at == crawl_end  # a killed run keeps the time its crawl ended
