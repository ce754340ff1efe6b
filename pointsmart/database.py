"""Connection set-up that every engine gets, whichever app or script made it.

SQLite is tuned for a village PC that may lose power at any moment (WAL, ``synchronous=FULL``) and
for several counters writing at once: Python's sqlite3 sends no ``BEGIN`` before a ``SELECT``, so a
read-then-write would race. We take ``BEGIN`` over and make every transaction ``BEGIN IMMEDIATE``:
the write lock is taken up front, a second writer waits (``busy_timeout``) instead of failing midway.

SQLite's own waiting is a sleep-and-retry loop that lets newcomers jump the queue: under four busy
counters a request could wait two seconds while others went by. So the threads of one process first
queue for the database in arrival order (:class:`FairLock`), and only then send ``BEGIN IMMEDIATE``;
``busy_timeout`` is left to arbitrate between processes (the server and a CLI command).
"""

import sqlite3
import threading
from collections import deque

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

SQLITE_BUSY_TIMEOUT_MS = 15_000
_LOCK_KEY = "pointsmart_fair_lock"


class FairLock:
    """A lock handed over to its waiters first come, first served."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[threading.Event] = deque()

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held and not self._waiters:
                self._held = True
                return True
            turn = threading.Event()
            self._waiters.append(turn)
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as we gave up: it is ours
                return True
            self._waiters.remove(turn)
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().set()  # ownership passes straight to the next in line
            else:
                self._held = False


_locks: dict[str, FairLock] = {}
_locks_guard = threading.Lock()


def _lock_for(database: str | None) -> FairLock:
    with _locks_guard:
        return _locks.setdefault(database or ":memory:", FairLock())


def _release(info: dict) -> None:
    lock = info.pop(_LOCK_KEY, None)
    if lock is not None:
        lock.release()


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None  # we send BEGIN ourselves, below
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@event.listens_for(Engine, "begin")
def _on_begin(conn):
    if conn.dialect.name != "sqlite":
        return
    lock = _lock_for(conn.engine.url.database)
    if not lock.acquire(SQLITE_BUSY_TIMEOUT_MS / 1000):
        raise sqlite3.OperationalError("database is locked (waited for the other counters too long)")
    conn.info[_LOCK_KEY] = lock
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _release(conn.info)
        raise


# The turn ends with the transaction: on commit, on rollback, or when the pool resets a connection
# that came back without either.
@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _on_end(conn):
    _release(conn.info)


@event.listens_for(Pool, "reset")
def _on_reset(dbapi_connection, connection_record, reset_state):
    if connection_record is not None:
        _release(connection_record.info)


@event.listens_for(Pool, "checkin")
def _on_checkin(dbapi_connection, connection_record):
    if connection_record is not None:
        _release(connection_record.info)


@event.listens_for(Pool, "invalidate")
def _on_invalidate(dbapi_connection, connection_record, exception):
    if connection_record is not None:
        _release(connection_record.info)


def append_only_ddl(dialect: str, table: str) -> list[str]:
    """SQL that makes a table refuse UPDATE and DELETE, for migrations to run.

    History tables (transfers, the audit log, and later stock moves) are insert only; the database
    enforces it so that no bug and no hand-typed SQL can rewrite what happened.
    """
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        ]
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION pointsmart_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation'; "
            "END $$",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION pointsmart_append_only()",
        ]
    raise RuntimeError(f"no append-only triggers for {dialect}")
