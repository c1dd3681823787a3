"""A check whose database cannot be written because the disk is full (issue 16 item 15): exit 3 with one line
on stderr, never exit 1 with "50 error" in runs.counts only. The disk is a real one: a small tmpfs mounted in
a private mount namespace (`unshare -m` as root, `unshare -rm` — a user namespace — otherwise), filled up
with a file, so SQLite gets ENOSPC from the kernel."""
from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import FAST, ROOT, check, write_sources
from monitor.localsite import LocalSite
from storage import Database

DISK_KB = 4096
PAGES = 30
PG_DISK_KB, PG_FREE_KB = 16384, 3072


def _unshare() -> list[str]:
    return ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]


@pytest.fixture(scope="module")
def namespaces():
    """Skip (with the reason) where no private mount namespace can be made (no unshare, user namespaces off)."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = subprocess.run([*_unshare(), "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt || exit 9"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private mount namespace here: {probe.stderr.strip()}")


def run_on_full_disk(tmp_path: Path, db_file: Path, args: list[str], free_kb: int) -> subprocess.CompletedProcess:
    """`policywatch ARGS --db <copy of db_file>` with the copy on a DISK_KB tmpfs filled up but for `free_kb`;
    the database files are copied back beside db_file afterwards (the mount vanishes with its namespace)."""
    mnt = tmp_path / "disk"
    mnt.mkdir(exist_ok=True)
    script = f"""
        set -e
        mount -t tmpfs -o size={DISK_KB}k tmpfs "{mnt}"
        cp "{db_file}" "{mnt}/h.db"
        used=$(du -sk "{mnt}" | cut -f1)
        head -c $(( ({DISK_KB} - used - {free_kb}) * 1024 )) /dev/zero > "{mnt}/fill" 2>/dev/null || true
        set +e
        "$0" -m monitor "$@" --db "sqlite:///{mnt}/h.db"
        rc=$?
        rm -f "{db_file}-wal" "{db_file}-shm"
        for f in "{mnt}"/h.db*; do cp "$f" "{db_file}${{f#{mnt}/h.db}}"; done
        exit $rc
        """
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([*_unshare(), "sh", "-c", script, sys.executable, *args], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.fixture
def big_site(tmp_path):
    """PAGES pages of 8,000 random CJK characters each (≈ 24 KB, they hardly compress)."""
    www = tmp_path / "www"
    www.mkdir()
    rnd = random.Random(16)
    for i in range(PAGES):
        text = "".join(chr(rnd.randrange(0x4E00, 0x9FA5)) for _ in range(8000))
        (www / f"p{i}.html").write_text(f"<html><head><title>通知{i}</title></head><body><div class='content'>"
                                        f"<h1>通知{i}</h1><p>{text}</p></div></body></html>", encoding="utf-8")
    server = LocalSite(www).start()
    yield server
    server.stop()


def _sources(tmp_path: Path, site) -> Path:
    return write_sources(tmp_path / "sources.toml", "".join(
        f'[[source]]\nname = "来源{i}"\nurl = "{site.url(f"p{i}.html")}"\n' for i in range(PAGES)))


def _check_args(sources: Path) -> list[str]:
    return ["check", "--sources", str(sources), "--progress", "line", *FAST]


@pytest.mark.parametrize("free_kb", [0, 40, 200], ids=lambda kb: f"{kb}k-free")
def test_a_check_on_a_full_disk_exits_3_with_one_line_and_loses_nothing(namespaces, big_site, tmp_path, free_kb):
    db_file = tmp_path / "h.db"
    Database(f"sqlite:///{db_file}").dispose()
    sources = _sources(tmp_path, big_site)
    proc = run_on_full_disk(tmp_path, db_file, _check_args(sources), free_kb)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("policywatch: "), proc.stderr
    # SQLite says "database or disk is full" (a write) or "disk I/O error" (its -shm file cannot grow)
    assert "database or disk is full" in lines[0] or "disk I/O error (disk full: 0 KB free)" in lines[0], lines
    assert "Traceback" not in proc.stdout + proc.stderr
    conn = sqlite3.connect(db_file)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        counts = [c for (c,) in conn.execute("SELECT counts FROM runs")]
        assert not any('"error"' in (c or "") for c in counts), counts  # no page failed: the database did
    finally:
        conn.close()
    # With room again, the next check stores every page the full disk refused (batches stored before it are
    # complete: their pages come back not modified).
    again = check(sources, f"sqlite:///{db_file}")
    assert again.returncode == 0, (again.stdout, again.stderr)
    assert f"{PAGES} pages checked" in again.stdout and " 0 error" in again.stdout, again.stdout
    conn = sqlite3.connect(db_file)
    try:
        assert conn.execute("SELECT count(DISTINCT page_id) FROM snapshots").fetchone() == (PAGES,)
    finally:
        conn.close()


def test_a_list_page_that_cannot_be_stored_on_a_full_disk_exits_3(namespaces, big_site, tmp_path):
    """The list's check and the articles it found are written by the spider itself, in one transaction: the
    database refusing it stops the crawl the same way (it was a spider error in the log: exit 0, 0 pages)."""
    long = "x" * 300
    links = "".join(f'<li><a href="/a/{i}-{long}.html">通知{i}</a></li>' for i in range(2000))  # ≈ 1 MB of rows
    (big_site.root / "list.html").write_text(f"<html><head><title>通知公告</title></head><body><ul>{links}</ul>"
                                             "</body></html>", encoding="utf-8")
    sources = write_sources(tmp_path / "sources.toml", f"""
        [[source]]
        name = "通知公告"
        url = "{big_site.url('list.html')}"
        kind = "list"
        follow = '/a/\\d+-x+\\.html$'
        """)
    db_file = tmp_path / "h.db"
    Database(f"sqlite:///{db_file}").dispose()
    proc = run_on_full_disk(tmp_path, db_file, _check_args(sources), 200)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "database or disk is full" in lines[0], proc.stderr
    assert "0 pages checked" in proc.stdout and "(stopped: database_error)" in proc.stdout, proc.stdout


@pytest.fixture
def small_pg_database(request, tmp_path):
    """A database of the test PostgreSQL server whose tables live in a tablespace on a PG_DISK_KB tmpfs (its WAL
    stays on the server's own disk, so a full disk is an ordinary error, not a server PANIC). Root only: the
    tmpfs must be visible to the running server."""
    if os.geteuid() != 0:
        pytest.skip("needs root: a tmpfs mounted where the shared test PostgreSQL server can use it")
    import uuid

    import sqlalchemy as sa
    admin_url = request.getfixturevalue("pg_admin_url")
    disk = Path(tempfile.mkdtemp(prefix="policywatch-pgdisk-"))
    disk.chmod(0o755)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={PG_DISK_KB}k,mode=700,uid=postgres", "tmpfs",
                              str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    name = "pw_full_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE TABLESPACE {name} LOCATION '{disk}'"))
            conn.execute(sa.text(f"CREATE DATABASE {name} TABLESPACE {name}"))
        url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        Database(url).dispose()  # the schema first, then the disk is filled up
        yield url, disk
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(sa.text(f"DROP TABLESPACE IF EXISTS {name}"))
        admin.dispose()
        subprocess.run(["umount", str(disk)], check=False)
        disk.rmdir()


def test_a_check_on_a_full_postgresql_disk_exits_3_with_one_line(small_pg_database, big_site, tmp_path):
    url, disk = small_pg_database
    rnd = random.Random(5)
    for i in range(PAGES):  # ≈ 180 KB each, ≈ 5 MB in all: far more than the room left
        text = "".join(chr(rnd.randrange(0x4E00, 0x9FA5)) for _ in range(60_000))
        (big_site.root / f"q{i}.html").write_text(f"<html><head><title>通知{i}</title></head><body>"
                                                  f"<div class='content'><p>{text}</p></div></body></html>",
                                                  encoding="utf-8")
    sources = write_sources(tmp_path / "sources.toml", "".join(
        f'[[source]]\nname = "来源{i}"\nurl = "{big_site.url(f"q{i}.html")}"\n' for i in range(PAGES)))
    used = sum(f.stat().st_size for f in disk.rglob("*") if f.is_file())
    with (disk / "fill").open("wb") as fill:
        try:  # room for the sources and a run (well under 1 MB), not for the pages
            fill.write(b"\0" * max(0, PG_DISK_KB * 1024 - used - PG_FREE_KB * 1024))
        except OSError:
            pass  # full already
    proc = check(sources, url)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("policywatch: database error on postgresql"), proc.stderr
    # PostgreSQL's ENOSPC message, or its short-write variant; both with the server's hint
    assert "could not extend file" in lines[0] and lines[0].endswith("(Check free disk space.)"), lines
    # It failed in the crawl (a run was started), where a refused batch used to be 30 "error" pages, exit 1;
    # whether the run's end could still be recorded (then the summary line is printed) depends on the room left.
    # Room again before reading: a new PostgreSQL backend writes its relcache init file when it starts, and on a
    # full disk that connection itself fails (FATAL "could not write init file").
    (disk / "fill").unlink(missing_ok=True)
    import sqlalchemy as sa
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM checks WHERE outcome = 'error'")).scalar() == 0
            counts = conn.execute(sa.text("SELECT counts FROM runs")).scalar()
            assert "error" not in (counts or {}), counts  # no page failed: the database did
    finally:
        engine.dispose()
