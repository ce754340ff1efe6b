"""The change log's writer: every change to a tracked row lands in ``change_record`` in its own transaction.

Session events do the work, so no service has to remember to call anything:

- ``after_flush`` notes each new or changed row of a model in :data:`kinds.MODELS`;
- the bulk paths and the ORM-invisible updates say so through :mod:`pointsmart.changes`;
- ``before_commit`` turns what was noted into records — one per row, in its state at commit — numbers
  them from the locked head row, chains their digests and inserts them, all inside the transaction
  being committed. If the commit fails, the records go with it.

A savepoint that rolls back takes back what was noted inside it.
"""

import weakref
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..changes import KNOWN, PENDING
from ..clock import utcnow
from . import kinds, wire
from .models import OutboxHead

HOUSEHOLD_PREFIX = "household:"
_COLUMNS = ("seq", "kind", "uuid", "payload", "digest", "balance_sum", "transfer_count", "created_at")


@dataclass
class Record:
    kind: str
    uuid: str
    payload: dict


def household_delta(payload: dict) -> int:
    """How a transfer's payload moves the sum of household balances."""
    delta = 0
    if payload["to"].startswith(HOUSEHOLD_PREFIX):
        delta += payload["amount"]
    if payload["from"].startswith(HOUSEHOLD_PREFIX):
        delta -= payload["amount"]
    return delta


def _after_flush(session: Session, _flush_context) -> None:
    noted = []
    for obj in session.new:
        if type(obj) in kinds.MODELS:
            noted.append(obj)
    for obj in session.dirty:
        if type(obj) in kinds.MODELS and session.is_modified(obj, include_collections=False):
            noted.append(obj)
    if noted:
        txn = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(PENDING, []).extend(("object", obj, txn) for obj in noted)


def _after_soft_rollback(session: Session, previous_transaction) -> None:
    """Forget what was noted inside the transaction (or savepoint) that was rolled back."""
    pending = session.info.get(PENDING)
    if not pending:
        return

    def inside(txn) -> bool:
        while txn is not None:
            if txn is previous_transaction:
                return True
            txn = txn.parent
        return False

    session.info[PENDING] = [entry for entry in pending if not inside(entry[2])]


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(PENDING, None)
        session.info.pop(KNOWN, None)


def _before_commit(session: Session) -> None:
    # Flush first, always: changes not flushed yet are written by this flush and noted by it.
    session.flush()
    if not session.info.get(PENDING):
        return
    entries = session.info.pop(PENDING, [])
    with session.no_autoflush:  # flushed just above; the serializers' look-ups need not flush again
        records = _records(session, entries)
    if records:
        append(session, records)


def _records(session: Session, entries) -> list[Record]:
    look = kinds.Lookups(session)
    records: list[Record] = []
    seen: set[int] = set()
    for what, item, _txn in entries:
        if what == "bulk":
            kind, rows = item
            bulk = kinds.BULK[kind]
            bulk.prefetch(rows, look)
            records.extend(Record(kind, bulk.uuid_of(row, look), bulk.serialize(row, look)) for row in rows)
            continue
        state = sa.inspect(item)
        if id(item) in seen or not state.persistent:
            continue  # recorded already in this commit, or rolled back / deleted
        seen.add(id(item))
        kind, serialize = kinds.MODELS[type(item)]
        records.append(Record(kind, kinds.uuid_of(item), serialize(item, look)))
    return records


#: the head's statements, straight to the driver (per dialect: its paramstyle, its row lock): they run
#: in every commit that changes a tracked row, and building them as SQLAlchemy expressions each time
#: cost more than running them (about two thirds of the change log's time at the counter)
_HEAD_SELECT = "SELECT seq, digest, balance_sum, transfer_count FROM outbox_head WHERE id = 1"
_HEAD_COLUMNS = ("seq", "digest", "balance_sum", "transfer_count")


def _move_head_sql(mark) -> str:
    """The head moved from the state this process expects it in, or else only locked; either way returned.

    Every right-hand side of an ``UPDATE`` sees the row as it was, so the four ``CASE`` share one test:
    the head is exactly as expected (then it takes the new values) or it stays as it is. PostgreSQL
    re-evaluates them on the newest version of the row if a concurrent commit moved it while this waited
    for the row's lock; SQLite runs one writer at a time.
    """
    same = " AND ".join(f"{column} = {mark('was_' + column)}" for column in _HEAD_COLUMNS)
    moves = ", ".join(
        f"{column} = CASE WHEN {same} THEN {mark(column)} ELSE {column} END" for column in _HEAD_COLUMNS
    )
    return f"UPDATE outbox_head SET {moves} WHERE id = 1 RETURNING {', '.join(_HEAD_COLUMNS)}"


def _numbered(name: str) -> str:
    """SQLite's ``?NNN``: the new head binds 1–4, the expected one 5–8, each value once (a tuple binds
    faster than a dict of names)."""
    column = name.removeprefix("was_")
    return f"?{_HEAD_COLUMNS.index(column) + 1 + (len(_HEAD_COLUMNS) if column != name else 0)}"


_HEAD_SQL = {
    "sqlite": (
        _HEAD_SELECT,
        "UPDATE outbox_head SET seq = ?, digest = ?, balance_sum = ?, transfer_count = ? WHERE id = 1",
        f"INSERT INTO change_record ({', '.join(_COLUMNS)}) VALUES ({', '.join(['?'] * len(_COLUMNS))})",
        _move_head_sql(_numbered),
    ),
    "postgresql": (
        _HEAD_SELECT + " FOR UPDATE",
        "UPDATE outbox_head SET seq = %s, digest = %s, balance_sum = %s, transfer_count = %s WHERE id = 1",
        f"INSERT INTO change_record ({', '.join(_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})",
        _move_head_sql(lambda name: f"%({name})s"),
    ),
}

#: per engine, the head as this process last moved it (``(seq, digest, balance_sum, transfer_count)``).
#: Only a guess: it is checked against the row, under the row's lock, by the statement that moves the
#: head, so a guess that is stale (another process or thread wrote since, or that commit was rolled
#: back) costs one statement more and never a wrong record.
_expected_heads: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _lock_head(connection, select_head: str):
    head = connection.exec_driver_sql(select_head).first()
    if head is None:  # a database made without the migration's head row
        table = OutboxHead.__table__
        insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
        connection.execute(
            insert(table)
            .values(id=1, seq=0, digest="", balance_sum=0, transfer_count=0)
            .on_conflict_do_nothing()
        )
        head = connection.exec_driver_sql(select_head).first()
    return head


def _chained(head, records: list[Record], created_at) -> tuple[list[tuple], tuple]:
    """The rows of ``records`` numbered and chained after ``head``, and the head after them."""
    seq, digest, balance_sum, transfer_count = head
    canonical, record_bytes, chain = wire.canonical, wire.record_bytes, wire.chain
    rows = []
    for record in records:
        seq += 1
        payload = canonical(record.payload)
        digest = chain(digest, record_bytes(seq, record.kind, record.uuid, payload))
        if record.kind == "transfer":
            transfer_count += 1
            balance_sum += household_delta(record.payload)
        rows.append(
            (seq, record.kind, record.uuid, payload.decode(), digest, balance_sum, transfer_count, created_at)
        )
    return rows, (seq, digest, balance_sum, transfer_count)


def append(session: Session, records: list[Record]) -> int:
    """Number, chain and insert ``records`` after the head; return the last sequence number.

    Two statements when the head is where this process last left it (the usual case at a counter):
    the head moved by one ``UPDATE … RETURNING`` that checks it under its lock, then the records
    inserted. When it is not (another process or thread wrote since), that same statement has only
    locked and read the head, and the records are chained again from what it returned: three.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    select_head, update_head, insert_records, move_head = _HEAD_SQL["sqlite" if sqlite else "postgresql"]
    now = utcnow()
    # as in ledger.post_many: SQLite stores SQLAlchemy's text form of a time, PostgreSQL takes the datetime
    created_at = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
    engine = connection.engine
    expected = _expected_heads.get(engine)
    moved, current = False, None
    if expected is not None:
        rows, head = _chained(expected, records, created_at)
        if sqlite:
            parameters = (*head, *expected)
        else:
            parameters = dict(zip(_HEAD_COLUMNS, head, strict=True))
            parameters.update(zip([f"was_{c}" for c in _HEAD_COLUMNS], expected, strict=True))
        current = connection.exec_driver_sql(move_head, parameters).first()
        moved = current is not None and tuple(current) == head
    if not moved:
        if current is None:  # no guess yet (or no head row): lock and read it
            current = _lock_head(connection, select_head)
        rows, head = _chained(tuple(current), records, created_at)
        connection.exec_driver_sql(update_head, head)
    # straight to the driver: SQLAlchemy's per-row processing would cost more than the insert itself
    if len(rows) == 1:
        connection.exec_driver_sql(insert_records, rows[0])
    else:
        connection.exec_driver_sql(insert_records, rows)
    _expected_heads[engine] = head
    return head[0]


def listen() -> None:
    """Attach the change log's writer to every session (once per process)."""
    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)
        event.listen(Session, "after_transaction_end", _after_transaction_end)
        event.listen(Session, "before_commit", _before_commit)
