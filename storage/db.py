"""Engine set-up, URL resolution and schema migration for the history database."""
from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import sqlite3
import zlib
from contextlib import contextmanager
from functools import lru_cache
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator
from urllib.parse import quote

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_DB_URL = "sqlite:///policywatch.db"
DB_ENV = "POLICYWATCH_DB"
MIGRATIONS = Path(__file__).with_name("migrations")
# Arbitrary constant naming policywatch's migration lock among PostgreSQL advisory locks.
MIGRATION_LOCK_KEY = 0x706F6C77
VERSION_TABLE = "alembic_version"
FULL_DISK_BYTES = 1 << 20  # less free space than this beside an SQLite file explains its I/O errors


_JSON_TEXT = json.JSONEncoder(ensure_ascii=False)  # json.dumps(value, ensure_ascii=False), its encoder made once


def json_text(value) -> str:
    """A JSON column's value as stored: json.dumps as SQLAlchemy's default, but Chinese (any non-ASCII) text kept
    literal, not `\\uXXXX`-escaped, so sqlite3 / psql / Datasette users read it. A string no UTF-8 column can
    hold (a lone surrogate) falls back to the escaped form."""
    out = _JSON_TEXT.encode(value)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value)
    return out


class DatabaseError(Exception):
    """The database cannot be opened, migrated or written; the message is one readable line."""


def resolve_db_url(cli_value: str | None = None) -> str:
    """Pick the database URL: --db, then $POLICYWATCH_DB, then ./policywatch.db (SQLite)."""
    url = cli_value or os.environ.get(DB_ENV) or DEFAULT_DB_URL
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"not a database URL: {url!r} (try sqlite:///path.db or postgresql://user@host/db)")
    # Plain postgresql:// gets the pure-Python, BSD-licensed pg8000 driver.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+pg8000")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise DatabaseError(f"bad database URL {safe_url(url)}: port {parsed.port} is not between 1 and 65535")
    if parsed.get_backend_name() == "postgresql" and not parsed.username:
        # libpq's default, which pg8000 does not apply by itself (it raised a TypeError).
        parsed = parsed.set(username=getpass.getuser())
    return parsed.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    """The URL with any password masked, for messages and logs (a database's or the Redis queue's)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: say so, never echo what may be a secret
        return "<unreadable URL>"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_read_only(url: str) -> str | None:
    """Why this process cannot write an existing SQLite database file (its folder too: SQLite makes its -wal
    and -shm files there), or None when it can, or for other databases and files not made yet."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    path = Path(parsed.database).expanduser()
    if not path.is_file():
        return None
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "on a read-only filesystem"
    except OSError:
        pass
    if not os.access(path, os.W_OK):
        return "no write permission on the file"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        beside = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
        if all(f.exists() and os.access(f, os.W_OK) for f in beside):
            return None  # SQLite writes through the -wal and -shm files it finds there
        return f"no write permission on its folder {path.parent}"
    return None


def _read_only_connector(path: Path) -> Callable[[], sqlite3.Connection]:
    """Connections that only read a file this process cannot write. With its -wal file present (a writer has it
    open, or one died) SQLite reads through the WAL; without one it must be told the file is immutable, as it
    can create no -shm beside it. A check writing it at that moment can make such a read fail: run it again."""
    uri = "file:" + quote(str(path.resolve()))

    def connect() -> sqlite3.Connection:
        wal = path.with_name(path.name + "-wal").exists()
        conn = sqlite3.connect(uri + ("?mode=ro" if wal else "?mode=ro&immutable=1"), uri=True, timeout=30,
                               check_same_thread=False)
        conn.execute("PRAGMA foreign_keys=ON")
        return conn
    return connect


def _fast_timestamp(fallback):
    """A pg8000 input adapter: the timestamp as PostgreSQL prints it (DateStyle ISO) parsed in C, `fallback`
    (pg8000's own) for the rest: infinity, BC dates, years past 9999."""
    def parse(data: str):
        try:
            return datetime.fromisoformat(data)
        except ValueError:
            return fallback(data)
    return parse


@lru_cache(maxsize=1)
def timestamp_adapters() -> dict:
    """PostgreSQL type oids of timestamp and timestamptz → their adapters (pg8000 is imported only here, so a
    command on SQLite never loads it)."""
    from pg8000 import converters
    return {1114: _fast_timestamp(converters.timestamp_in), 1184: _fast_timestamp(converters.timestamptz_in)}


def _pg_session(dbapi_conn, _record) -> None:
    # pg8000 leaves Nagle's algorithm on: every message over ~4 KB then waits up to 40 ms for an ACK.
    sock = getattr(dbapi_conn, "_usock", None)
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # pg8000 parses timestamps with strptime, ≈ 10 µs each: half the time of reading latest_facts (22 k rows).
    for oid, adapter in timestamp_adapters().items():
        dbapi_conn.register_in_adapter(oid, adapter)
    # JIT compiling the history views' plans costs more than running them (1.3 s of 2.3 s for latest_facts
    # at 2,000 sources); policywatch's queries are short. Committed, or the pool's rollback would undo it.
    cur = dbapi_conn.cursor()
    cur.execute("SET jit = off")
    cur.close()
    dbapi_conn.commit()


class Database:
    """An opened, migrated history database. `session()` yields a transaction that commits or rolls back.

    With `create=False` (the commands that only read) a database that does not exist yet is an error, never
    made; with `create=True` a new SQLite file is made only in an existing folder, and `created` tells so."""

    def __init__(self, url: str | None = None, *, migrate: bool = True, create: bool = True) -> None:
        self.url = resolve_db_url(url)
        self.created = False
        self._check_sqlite_path(self.url, create)
        # Why this process cannot write the SQLite file, or None: then it is opened read-only (the commands that
        # only read work), and a command that writes (create=True) is refused at once.
        self.read_only = _sqlite_read_only(self.url)
        if self.read_only and create:
            raise DatabaseError(f"cannot write database {make_url(self.url).database}: it is read-only "
                                f"({self.read_only}); the commands that only read can still use it")
        # Called before a transaction that wrote commits (raising rolls it back): DatabaseLock.protect sets it.
        self.write_guard: Callable[[], None] | None = None
        self.engine = self._make_engine(self.url, read_only=bool(self.read_only))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._sessions, "do_orm_execute", _mark_write)
        event.listen(self._sessions, "after_flush", _mark_flushed)
        if migrate:
            self.migrate(create=create)

    def map_reads(self, size: int = 2 ** 31) -> None:
        """SQLite: every connection from now on reads the file through a memory map of up to `size` bytes (SQLite
        caps it at 2 GB), not a read() and a copy per page: a quarter less CPU for a province's timelines on the
        5-year history, whose rows lie on a different page each. The open connections are closed. PostgreSQL:
        nothing. For the web view, which only reads."""
        if self.dialect != "sqlite":
            return

        def mmap(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA mmap_size={int(size)}")
            cur.close()
        event.listen(self.engine, "connect", mmap)
        self.engine.dispose()

    @staticmethod
    def _check_sqlite_path(url: str, create: bool) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "sqlite":
            return
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseError(f"{safe_url(url)} is an in-memory database: nothing would be kept; "
                                "give a file, e.g. sqlite:///policywatch.db")
        path = Path(parsed.database).expanduser()
        if path.exists():
            return
        if not create:
            raise DatabaseError(f"no history database at {path}: nothing has been checked into it yet "
                                "(run `policywatch check`), or --db / $POLICYWATCH_DB is mistyped")
        if not path.parent.is_dir():
            raise DatabaseError(f"cannot create database {path}: folder {path.parent} does not exist "
                                "(a mistyped --db? create the folder first)")

    @staticmethod
    def _make_engine(url: str, read_only: bool = False) -> Engine:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and read_only:
            return create_engine("sqlite://", creator=_read_only_connector(Path(parsed.database).expanduser()),
                                 poolclass=QueuePool, json_serializer=json_text)
        if parsed.get_backend_name() == "sqlite":
            engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=json_text)
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        engine = create_engine(url, pool_pre_ping=True, json_serializer=json_text)
        event.listen(engine, "connect", _pg_session)
        return engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _alembic_config(self) -> Config:
        from alembic.config import Config
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def current_revision(self) -> str | None:
        """The schema revision stored in the database (Alembic's version table), None before the first."""
        with self.engine.connect() as conn:
            return _stored_revision(conn)

    @staticmethod
    def head_revision() -> str:
        """The newest migration's revision: migrations are named NNNN_what.py with revision "NNNN" (a test
        checks this against Alembic's own reading), so a current schema is confirmed without importing
        Alembic or executing every migration module on every start."""
        return max(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))

    def migrate(self, create: bool = True) -> None:
        """Create or upgrade the schema to the newest revision; safe when several machines start at once.
        Without `create`, a database with no policywatch schema yet is an error (DatabaseError)."""
        try:
            current = self.current_revision()
            if current == self.head_revision():
                return
            if current is None and not create:
                raise DatabaseError(f"{safe_url(self.url)} holds no policywatch history yet "
                                    "(run `policywatch check` first), or --db is mistyped")
            self.created = current is None
            cfg = self._alembic_config()
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
                else:
                    # sqlite3 starts transactions only before INSERT/UPDATE/DELETE, so DDL would commit one
                    # statement at a time and a migration failing half-way would leave half a schema. One
                    # explicit transaction, taken for writing at once, also makes concurrent openers wait.
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                if _stored_revision(conn) != self.head_revision():
                    from alembic import command
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot open database {safe_url(self.url)}: {self.reason(exc)}") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction that commits at the end or rolls back on an error; one that wrote anything first
        passes `write_guard` (a lost lock raises there, and nothing is committed)."""
        with self._sessions() as session:
            try:
                with session.begin():
                    yield session
                    if self.write_guard is not None and _wrote(session):
                        session.flush()
                        self.write_guard()
            except SQLAlchemyError as exc:
                raise DatabaseError(f"database error on {safe_url(self.url)}: {self.reason(exc)}") from exc

    def refresh_statistics(self) -> None:
        """Tell the query planner how big the tables are and how selective their indexes: SQLite keeps no
        statistics by itself and then guesses that every index is selective (a history filtered by source and
        kind took 2 s through the kind index instead of 3 ms). An approximate ANALYZE, a few hundred rows per
        index, takes milliseconds at any size; PostgreSQL's autovacuum keeps its own statistics."""
        if self.dialect != "sqlite":
            return
        try:
            with self.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA analysis_limit=400")
                conn.exec_driver_sql("ANALYZE")
        except SQLAlchemyError as exc:
            raise DatabaseError(f"database error on {safe_url(self.url)}: {self.reason(exc)}") from exc

    def reason(self, exc: BaseException) -> str:
        """The driver's message, one line; SQLite's vague "disk I/O error" names a full disk when it is one
        (the -shm/-wal files cannot grow: no space left on the folder's filesystem)."""
        message = _first_line(exc)
        if self.read_only and "readonly" in message:
            return f"{message} ({self.read_only})"
        parsed = make_url(self.url)
        if parsed.get_backend_name() != "sqlite" or "full" in message or not parsed.database:
            return message
        try:
            free = shutil.disk_usage(Path(parsed.database).expanduser().parent).free
        except OSError:
            return message
        return f"{message} (disk full: {free // 1024} KB free)" if free < FULL_DISK_BYTES else message

    def dispose(self) -> None:
        self.engine.dispose()


def _mark_write(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["wrote"] = True


def _mark_flushed(session: Session, _context) -> None:
    session.info["wrote"] = True


def _wrote(session: Session) -> bool:
    """Whether the transaction executed an INSERT / UPDATE / DELETE or has ORM changes to flush."""
    return bool(session.info.get("wrote") or session.new or session.dirty or session.deleted)


def _first_line(exc: BaseException) -> str:
    """The driver's error as one readable line: pg8000 gives the server's fields as a dict, its message is 'M'
    and its hint 'H' ("could not extend file …: No space left on device (Check free disk space.)" rather than
    "{'S': 'ERROR', 'V': …}")."""
    orig = getattr(exc, "orig", None) or exc
    fields = orig.args[0] if getattr(orig, "args", None) else None
    if isinstance(fields, dict) and fields.get("M"):
        hint = f" ({str(fields['H']).strip().splitlines()[0]})" if str(fields.get("H") or "").strip() else ""
        return str(fields["M"]).strip().splitlines()[0] + hint  # the hint: "Check free disk space."
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def compress(data: bytes) -> bytes:
    return zlib.compress(data, 6)


def decompress(data: bytes, compression: str) -> bytes:
    if compression != "zlib":
        raise DatabaseError(f"unknown compression {compression!r} in raw_pages")
    return zlib.decompress(data)


def _stored_revision(conn) -> str | None:
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
