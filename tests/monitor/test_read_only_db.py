"""A history database the user cannot write (issue 16 item 15): the commands that only read work on it (exit 0),
`check` stops with exit 3 and one line. Two real cases: the file and its folder without write permission
(chmod 444 / 555, commands run without the power to ignore permissions — as root, root without
CAP_DAC_OVERRIDE via `setpriv`), and a read-only filesystem (a read-only bind mount in a private mount namespace)."""
from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, check, write_sources

READING = [("status",), ("sources",), ("history",), ("changes",), ("alerts",),
           ("export", "--format", "csv", "--out", "-")]

PAGE = ("<html><head><title>缴费通知</title></head><body><div class='article'><h1>关于居民医保缴费的通知</h1>"
        "<p>2026年度个人缴费标准为每人每年400元，缴费截止日期为2025年12月31日。</p></div></body></html>")


@pytest.fixture
def shared_dir():
    """A folder every user can enter (pytest's tmp_path is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="policywatch-ro-"))
    path.chmod(0o755)
    yield path
    for p in [path, *path.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(path)


@pytest.fixture
def checked(site, shared_dir):
    """A database with one checked page (written by a normal check), its sources file readable by all."""
    site.route("ro/a.html", body=PAGE)
    sources = write_sources(shared_dir / "sources.toml", f'[[source]]\nname = "甲"\nurl = "{site.url("ro/a.html")}"\n')
    sources.chmod(0o644)
    folder = shared_dir / "db"
    folder.mkdir()
    db_file = folder / "h.db"
    proc = check(sources, f"sqlite:///{db_file}")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["h.db"]  # closed cleanly: no -wal / -shm left
    return sources, db_file


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(prefix: list[str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    env.update({"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"})
    return subprocess.run([*prefix, sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                          env=env, cwd="/", timeout=120)


def _as_unprivileged_user() -> list[str]:
    """A prefix that runs a command without the power to ignore file permissions. As root: root without
    CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (setpriv), so chmod 444 / 555 stop it as they stop any owner (running
    as nobody instead fails when the checkout is in a folder only root may enter, as in CI's mktemp clone)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.fail("running as root without setpriv (Debian package util-linux): cannot drop root's override of "
                    "file permissions", pytrace=False)
    prefix = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]
    with tempfile.TemporaryDirectory() as tmp:
        probe_file = Path(tmp) / "probe"
        probe_file.write_text("")
        probe_file.chmod(0o444)
        probe = subprocess.run([*prefix, sys.executable, "-c", f"open({str(probe_file)!r}, 'a')"],
                               capture_output=True, text=True)
    assert probe.returncode != 0 and "Permission denied" in probe.stderr, probe.stderr
    return prefix


def _expect_reads_work_and_check_refused(prefix: list[str], sources: Path, db_file: Path) -> None:
    """Every reading command exits 0 with output and a silent stderr; check exits 3 with one line; the file is
    byte for byte unchanged and nothing was made beside it."""
    before = _digest(db_file)
    db = ["--sources", str(sources), "--db", f"sqlite:///{db_file}"]
    for command in READING:
        proc = _run(prefix, *command, *db)
        assert proc.returncode == 0, (command, proc.stderr)
        assert proc.stderr == "" and proc.stdout, (command, proc.stderr)
    history = _run(prefix, "history", "--json", *db)
    assert '"personal_contribution"' in history.stdout and "400" in history.stdout, history.stdout
    proc = _run(prefix, "check", "--progress", "line", *db)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "read-only" in lines[0] and str(db_file) in lines[0], proc.stderr
    for writing in (("reextract",), ("alerts", "--retry")):  # they open it like the reading ones, then write
        proc = _run(prefix, *writing, *db)
        assert proc.returncode == 3, (writing, proc.stdout, proc.stderr)
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and "readonly database" in lines[0], (writing, proc.stderr)
    assert _digest(db_file) == before
    assert sorted(p.name for p in db_file.parent.iterdir()) == ["h.db"]


def test_read_only_file_and_folder_serve_the_reading_commands_and_refuse_check(checked):
    sources, db_file = checked
    db_file.chmod(0o444)
    db_file.parent.chmod(0o555)
    _expect_reads_work_and_check_refused(_as_unprivileged_user(), sources, db_file)


def test_a_database_on_a_read_only_filesystem_serves_the_reading_commands_and_refuses_check(checked):
    sources, db_file = checked
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    folder = db_file.parent
    prefix = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    script = (f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}" "{folder}" || exit 97; '
              'exec "$@"')
    probe = subprocess.run([*prefix, "sh", "-c", script, "sh", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount in a private mount namespace: {probe.stderr.strip()}")
    _expect_reads_work_and_check_refused([*prefix, "sh", "-c", script, "sh"], sources, db_file)


def test_a_read_only_reader_sees_the_owners_latest_commit_still_in_the_wal(site, checked):
    """While the owner writes (its -wal file is there), the reader goes through the WAL, not an old file."""
    sources, db_file = checked
    holder = sqlite3.connect(db_file)  # keeps -wal and -shm; its open read stops a full checkpoint
    try:
        holder.execute("BEGIN")
        holder.execute("SELECT count(*) FROM checks").fetchone()
        site.route("ro/a.html", body=PAGE.replace("400元", "420元"))
        proc = check(sources, f"sqlite:///{db_file}", "--force")
        assert proc.returncode == 0, proc.stderr
        assert (db_file.parent / "h.db-wal").exists()
        db_file.chmod(0o444)
        db_file.parent.chmod(0o555)
        history = _run(_as_unprivileged_user(), "history", "--json", "--db", f"sqlite:///{db_file}")
        assert history.returncode == 0 and history.stderr == "", history.stderr
        assert '"amount": 420' in history.stdout or "420" in history.stdout, history.stdout
    finally:
        holder.rollback()
        holder.close()
