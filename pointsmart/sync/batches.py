"""Batches: slices of the change log as the county's ingest takes them (``POST /api/v1/sync/batches``)."""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from . import wire
from .models import ChangeRecord, OutboxHead, SyncState

#: records per batch: about 300–600 KB of JSON, well under the county's request size limit
BATCH_SIZE = 2000
#: bytes per batch at most: half the county's request size limit (``MAX_CONTENT_LENGTH``, 8 MB), so a
#: village whose records are big (long names, long reasons) still sends batches the county accepts
BATCH_BYTES = 4 * 1024 * 1024


@dataclass
class Batch:
    from_seq: int
    to_seq: int
    records: int
    #: the request body, ready to send: records in their canonical bytes
    body: bytes


def digest_at(session: Session, seq: int) -> str:
    """The digest chain at ``seq`` (empty before the first record)."""
    if seq <= 0:
        return ""
    return session.scalar(sa.select(ChangeRecord.digest).where(ChangeRecord.seq == seq)) or ""


def head_seq(session: Session) -> int:
    return session.scalar(sa.select(OutboxHead.seq).where(OutboxHead.id == 1)) or 0


def state(session: Session) -> SyncState:
    """The push client's memory, to read (a database without its row reads as never synced)."""
    found = session.get(SyncState, 1)
    if found is None:
        return SyncState(id=1, acked_seq=0, last_error="", push_message="", push_head_seq=0, push_acked_seq=0)
    return found


def state_for_update(session: Session) -> SyncState:
    """The push client's memory, to change inside a write transaction (the migration makes its one
    row; a bare database gets it here)."""
    found = session.get(SyncState, 1)
    if found is None:  # two requests may get here at once: the second one's insert does nothing
        insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(SyncState).values(id=1, acked_seq=0, last_error="").on_conflict_do_nothing())
        found = session.get(SyncState, 1)
    return found


def build(
    session: Session,
    village_code: str,
    from_seq: int,
    limit: int = BATCH_SIZE,
    max_bytes: int = BATCH_BYTES,
    village_url: str | None = None,
) -> Batch | None:
    """The batch of up to ``limit`` records from ``from_seq`` on, or None when there are none.

    The batch stops before the record that would take its body over ``max_bytes``; it always holds at
    least one record (one record alone is far below the county's limit).
    """
    rows = session.execute(
        sa.select(
            ChangeRecord.seq,
            ChangeRecord.kind,
            ChangeRecord.uuid,
            ChangeRecord.payload,
            ChangeRecord.digest,
            ChangeRecord.balance_sum,
            ChangeRecord.transfer_count,
        )
        .where(ChangeRecord.seq >= from_seq)
        .order_by(ChangeRecord.seq)
        .limit(limit)
    ).all()
    if not rows:
        return None
    # room for the envelope: its fields are a few hundred bytes at most
    room, encoded = max_bytes - 512, []
    for seq, kind, uuid, payload, *_ in rows:
        record = wire.record_bytes(seq, kind, uuid, payload.encode())
        room -= len(record) + 1
        if room < 0 and encoded:
            break
        encoded.append(record)
    rows = rows[: len(encoded)]
    last = rows[-1]
    records = b",".join(encoded)
    head = {
        "village_code": village_code,
        "from_seq": rows[0].seq,
        "to_seq": last.seq,
        "totals": {
            "balance_sum": last.balance_sum,
            "transfer_count": last.transfer_count,
            "digest": last.digest,
        },
    }
    if village_url:
        head["village_url"] = village_url
    # the envelope's fields, then the records spliced in as they are (no decoding and re-encoding)
    envelope = wire.canonical(head)
    body = envelope[:-1] + b',"records":[' + records + b"]}"
    return Batch(rows[0].seq, last.seq, len(rows), body)


def waiting(session: Session) -> int:
    """Records the county has not acknowledged yet."""
    return max(0, head_seq(session) - state(session).acked_seq)
