"""Connection set-up that every engine gets, and the two kinds of transaction.

SQLite is tuned for a village PC that may lose power at any moment (WAL, ``synchronous=FULL``,
``foreign_keys``). In WAL mode a reader works in a snapshot and never waits for the writer; only
writers exclude one another. So every transaction is one of two kinds, chosen by the unit of work
(:mod:`pointsmart.unit`) through :data:`MODE`:

- **read** — a plain (deferred) ``BEGIN``. It takes no lock and never queues, so a page, a report or
  ``/healthz`` answers while the counter writes. Writing in it is a programming error
  (:class:`WriteOutsideWriteTransaction`), caught in the tests, never a silent lock upgrade that could
  fail midway on a stale snapshot.
- **write** — the threads of one process first queue for the database in arrival order
  (:class:`FairLock`), then send ``BEGIN IMMEDIATE``: the write lock is taken up front and everything
  read in the transaction is current, so read-check-write cannot race. SQLite's own waiting is a
  sleep-and-retry loop that lets newcomers jump the queue (under four busy counters a request could
  wait two seconds while others went by); ``busy_timeout`` is left to arbitrate between processes
  (the server and a CLI command).

Outside a request (commands, scripts, tests calling services) every transaction is a write
transaction, as before. PostgreSQL gives readers a snapshot anyway; there the modes only guard
against a write in a read transaction.
"""

import sqlite3
import threading
from collections import deque
from contextvars import ContextVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from .errors import DomainError

SQLITE_BUSY_TIMEOUT_MS = 15_000
#: how long a writer waits for its turn in this process before the request is answered 503
WRITER_WAIT_S = 30.0
_LOCK_KEY = "pointsmart_fair_lock"

READ, WRITE = "read", "write"
#: the kind of transaction the next ``BEGIN`` starts; set by :mod:`pointsmart.unit`
MODE: ContextVar[str] = ContextVar("pointsmart_transaction_mode", default=WRITE)

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class WriterBusy(DomainError):
    """The write lock could not be had in time: the client may retry; nothing was written."""

    code = "busy"
    status = 503

    def __init__(self):
        super().__init__(_l("系统正忙，请稍等几秒再试一次。"))


class WriteOutsideWriteTransaction(RuntimeError):
    """A statement that writes ran in a read transaction: wrap the service call in ``unit.write()``."""


class FairLock:
    """A lock handed over to its waiters first come, first served; it knows which thread holds it."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._owner: int | None = None
        self._waiters: deque[tuple[threading.Event, int]] = deque()

    def acquire(self, timeout: float) -> bool:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                # Two sessions of one thread: the second would wait for ever on the first.
                raise RuntimeError(
                    "this thread already holds the SQLite write lock in another session: "
                    "commit or roll back that session first"
                )
            if self._owner is None and not self._waiters:
                self._owner = me
                return True
            turn = threading.Event()
            self._waiters.append((turn, me))
        if turn.wait(timeout):
            return True
        with self._mutex:
            if turn.is_set():  # handed over just as we gave up: it is ours
                return True
            self._waiters.remove((turn, me))
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                turn, self._owner = self._waiters.popleft()
                turn.set()  # ownership passes straight to the next in line
            else:
                self._owner = None


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
    if MODE.get() == READ:
        conn.exec_driver_sql("BEGIN")
        return
    lock = _lock_for(conn.engine.url.database)
    if not lock.acquire(WRITER_WAIT_S):
        raise WriterBusy()
    conn.info[_LOCK_KEY] = lock
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _release(conn.info)
        raise


@event.listens_for(Engine, "before_cursor_execute")
def _guard_read(conn, cursor, statement, parameters, context, executemany):
    if MODE.get() == READ and statement.lstrip()[:7].upper().startswith(_WRITES):
        raise WriteOutsideWriteTransaction(
            f"a write in a read transaction (wrap it in pointsmart.unit.write()): {statement[:80]}"
        )


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
