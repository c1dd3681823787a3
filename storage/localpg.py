"""LocalPostgres: a throw-away PostgreSQL cluster on 127.0.0.1, for the tests and the benchmarks.

initdb into a temporary folder and pg_ctl start on a free port, run as the `postgres` user when we are
root. fsync, synchronous_commit and full_page_writes are off: a scratch server, never one to keep data in.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SCRATCH_OPTS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class LocalPostgresError(RuntimeError):
    """The cluster cannot be created or started; str() is one line."""


def pg_bin(name: str) -> str | None:
    """Path of a PostgreSQL server program (Debian keeps them in /usr/lib/postgresql/N/bin), newest version."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalPostgres:
    """A started cluster; `url` reaches its `postgres` database as the superuser `postgres` (trust auth)."""

    def __init__(self, max_connections: int = 100, prefix: str = "policywatch-pg-") -> None:
        initdb, self.pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not self.pg_ctl:
            raise LocalPostgresError("PostgreSQL server binaries not found (Debian package `postgresql`)")
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.opts = f"{SCRATCH_OPTS} -c max_connections={max_connections}"
        self._run([initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"])
        self._run([self.pg_ctl, "-D", str(self.data), "-o",
                   f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 {self.opts}",
                   "-l", str(self.dir / "log"), "-w", "start"])
        self.url = f"postgresql+pg8000://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str]) -> None:
        proc = subprocess.run(self.as_user + cmd, capture_output=True, text=True)
        if proc.returncode:
            raise LocalPostgresError(f"{' '.join(cmd[:2])} failed: {proc.stderr.strip() or proc.stdout.strip()}")

    def stop_command(self) -> str:
        """The shell command that stops the cluster (for one left running on purpose)."""
        return " ".join(self.as_user + [self.pg_ctl, "-D", str(self.data), "stop"])

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server and remove its folder."""
        subprocess.run(self.as_user + [self.pg_ctl, "-D", str(self.data), "-m", mode, "stop"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
