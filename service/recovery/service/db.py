"""Engine, sessions and migrations. SQLite runs in WAL mode with full fsync and immediate
transactions; PostgreSQL as is."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Database", "insert_skipping_known"]

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # an acknowledged commit survives a crash
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class _Writers:
    """SQLite's write lock, queued first inside the process: threads wait on a lock that wakes
    them at once, instead of each polling the database with growing sleeps, which starves
    some for seconds under load. Across processes SQLite's busy timeout still applies."""

    def __init__(self, wait_seconds: float = 30.0) -> None:
        self.lock, self.wait_seconds = threading.Lock(), wait_seconds

    def begin(self, conn: Any) -> None:
        if not self.lock.acquire(timeout=self.wait_seconds):
            raise TimeoutError("no database transaction could start within "
                               f"{self.wait_seconds:.0f} s")
        conn.info["holds_writer_lock"] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.end(conn)
            raise

    def end(self, conn: Any) -> None:
        if conn.info.pop("holds_writer_lock", False):
            self.lock.release()


class Database:
    """One engine and session factory per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # the driver's own transaction handling off: every transaction begins IMMEDIATE
            # (takes the write lock first, waiting up to busy_timeout), so a read-then-write
            # transaction never fails with "database is locked" when another process wrote
            self.engine: Engine = create_engine(url, connect_args={
                "check_same_thread": False, "isolation_level": None})
            event.listen(self.engine, "connect", _sqlite_pragmas)
            writers = _Writers()
            event.listen(self.engine, "begin", writers.begin)
            event.listen(self.engine, "commit", writers.end)
            event.listen(self.engine, "rollback", writers.end)
            # long reads (the drift monitor) on their own connections, in deferred
            # transactions: WAL lets writers commit meanwhile
            self.read_engine: Engine = create_engine(url, connect_args={
                "check_same_thread": False, "isolation_level": None})
            event.listen(self.read_engine, "connect", _sqlite_pragmas)
            event.listen(self.read_engine, "begin",
                         lambda conn: conn.exec_driver_sql("BEGIN DEFERRED"))
        else:
            self.engine = self.read_engine = create_engine(url, pool_pre_ping=True)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._reads = sessionmaker(self.read_engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring the schema to the latest migration (creates the database file if needed)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        self.read_engine.dispose()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction that holds no write lock, however long it reads."""
        with self._reads() as s:
            try:
                yield s
            finally:
                s.rollback()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on any error."""
        with self.sessions() as s, s.begin():
            yield s


def insert_skipping_known(s: Session, table: Any, rows: list[dict[str, Any]],
                          keys: list[str]) -> int:
    """Insert the rows whose `keys` are not stored yet (ON CONFLICT DO NOTHING, so two
    racing requests cannot both insert one); how many were inserted."""
    insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    key = next(iter(table.__table__.primary_key.columns))
    stmt = insert(table).values(rows).on_conflict_do_nothing(index_elements=keys).returning(key)
    return len(s.execute(stmt).all())
