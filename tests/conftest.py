"""Shared fixtures: the local fixture site, databases (SQLite and a real PostgreSQL), the CLI runner."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from monitor.localsite import LocalSite, WebhookReceiver
from storage.localpg import LocalPostgres, LocalPostgresError

ROOT = Path(__file__).resolve().parent.parent
SITE = Path(__file__).resolve().parent / "site"
DEMO_SITE = ROOT / "monitor" / "demo_site"
PG_ENV = "POLICYWATCH_TEST_PG"  # URL of an existing server to use instead of starting one


# -- the local site -------------------------------------------------------------
def _serve(root: Path):
    shutil.copytree(DEMO_SITE / "v1", root)
    shutil.copytree(SITE, root, dirs_exist_ok=True)
    server = LocalSite(root).start()
    server.dir = root
    return server


@pytest.fixture
def site(tmp_path):
    """A real HTTP server on 127.0.0.1 serving a copy of the demo site (v1) plus tests/site pages."""
    server = _serve(tmp_path / "www")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def module_site(module_db, tmp_path_factory):
    """A local site for the tests of one module and one database kind (one crawl, many assertions)."""
    server = _serve(tmp_path_factory.mktemp("site") / "www")
    yield server
    server.stop()


def overlay_v2(site) -> None:
    """Switch the fixture site to the demo's version 2 pages."""
    shutil.copytree(DEMO_SITE / "v2", site.dir, dirs_exist_ok=True)


# -- databases ------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_admin_url():
    if os.environ.get(PG_ENV):
        yield os.environ[PG_ENV]
        return
    try:
        server = LocalPostgres()
    except LocalPostgresError as exc:
        pytest.fail(f"{exc}: install it (as .ci/run does) or set {PG_ENV} to a server URL", pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


class NewDatabase:
    """Creates empty databases: a file for SQLite, CREATE DATABASE on the PostgreSQL test server."""

    def __init__(self, kind: str, tmp_dir: Path, request) -> None:
        self.kind, self.tmp_dir, self.request = kind, tmp_dir, request

    def __call__(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp_dir / ('history-' + uuid.uuid4().hex[:8] + '.db')}"
        import sqlalchemy as sa
        admin_url = self.request.getfixturevalue("pg_admin_url")
        name = "pw_" + uuid.uuid4().hex[:12]
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        admin.dispose()
        return sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


DB_KINDS = ["sqlite", "postgresql"]


@pytest.fixture(params=DB_KINDS)
def db_url(request, tmp_path):
    """Each test using it runs once on SQLite and once on a real PostgreSQL server."""
    return NewDatabase(request.param, tmp_path, request)()


@pytest.fixture(scope="module", params=DB_KINDS)
def module_db(request, tmp_path_factory):
    """A database factory shared by one test module, once per database kind."""
    return NewDatabase(request.param, tmp_path_factory.mktemp("db"), request)


# -- running the real command line -------------------------------------------------
def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120, env: dict | None = None):
    """Run `policywatch ARGS` in a child process (Twisted's reactor cannot restart in one process)."""
    full_env = {k: v for k, v in os.environ.items() if k != "POLICYWATCH_DB"}
    full_env.update({"PYTHONPATH": str(ROOT), **(env or {})})
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout, env=full_env)


FAST = ["-s", "AUTOTHROTTLE_ENABLED=False", "-s", "RETRY_BACKOFF_BASE=0.05", "-s", "DOWNLOAD_TIMEOUT=5",
        "-s", "POLICYWATCH_STORE_INTERVAL=0.2"]


def write_sources(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    return path


def check(sources: Path, db: str, *extra: str, timeout: float = 120):
    """`policywatch check` with settings that keep tests quick; fails the test on a traceback."""
    proc = run_cli("check", "--sources", str(sources), "--db", db, "--progress", "line", *FAST, *extra,
                   timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


# -- a real webhook receiver (json:// targets) -----------------------------------------------
Receiver = WebhookReceiver


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def run_rows(db_url: str) -> list:
    """The `runs` rows of a database, oldest first (read with a short-lived engine of its own)."""
    from sqlalchemy import select

    from storage import Database
    from storage.models import Run
    db = Database(db_url)
    try:
        with db.session() as s:
            return list(s.scalars(select(Run).order_by(Run.id)))
    finally:
        db.dispose()
