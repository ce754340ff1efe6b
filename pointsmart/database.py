"""Connection set-up that every engine gets, whichever app or script made it.

SQLite is tuned for a village PC that may lose power at any moment (WAL, ``synchronous=FULL``) and
for several counters writing at once: Python's sqlite3 sends no ``BEGIN`` before a ``SELECT``, so a
read-then-write would race. We take ``BEGIN`` over and make every transaction ``BEGIN IMMEDIATE``:
the write lock is taken up front, a second writer waits (``busy_timeout``) instead of failing midway.
"""

import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 15_000


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
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


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
