"""The village's change log (outbox) and what the push client remembers.

Every change the county must see is written here in the same transaction as the change itself (see
:mod:`pointsmart.sync.outbox`). Rows are append-only and numbered 1, 2, 3 … without gaps, in commit
order: a single head row, locked by each writing transaction, hands out the numbers and carries the
running totals and the digest chain, so every record knows the village's totals as of itself.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class ChangeRecord(db.Model):
    #: the per-village sequence number: 1, 2, 3 … in commit order, never reused
    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    #: what it is: ``household``, ``transfer``, ``round`` … (see ``outbox.KINDS``)
    kind: Mapped[str] = mapped_column(sa.String(20))
    #: the global id of the thing; a later record of the same kind and uuid supersedes an earlier one
    uuid: Mapped[str] = mapped_column(sa.String(36))
    #: the thing's state after the change, as canonical JSON text
    payload: Mapped[str] = mapped_column(sa.Text)
    #: sha256 over the previous record's digest and this record's canonical bytes (a hash chain)
    digest: Mapped[str] = mapped_column(sa.String(64))
    #: the village's totals as of this record: what a batch ending here reports to the county
    balance_sum: Mapped[int] = mapped_column(sa.BigInteger)
    transfer_count: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxHead(db.Model):
    """One row (id 1): the last sequence number handed out, and the totals and digest as of it."""

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    digest: Mapped[str] = mapped_column(sa.String(64), default="")
    balance_sum: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    transfer_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class SyncState(db.Model):
    """One row (id 1): how far the county has acknowledged, and how the last push went."""

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    acked_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: when the county last acknowledged something (a push, or an import of our bundle we were told of)
    last_sync_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    #: the last push's failure, in words, or empty after a success
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    # The push under way or last finished, as the sync page shows it: kept here, not in a process's
    # memory, so that any server process can answer the page and only one push runs at a time.
    push_started_at: Mapped[datetime | None]
    #: the pushing process writes this after every batch; a push whose beat stopped is over (it died)
    push_beat_at: Mapped[datetime | None]
    push_finished_at: Mapped[datetime | None]
    push_ok: Mapped[bool | None]
    push_message: Mapped[str] = mapped_column(sa.String(500), default="")
    push_head_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    push_acked_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    push_records: Mapped[int] = mapped_column(default=0)
    push_batches: Mapped[int] = mapped_column(default=0)
    push_retries: Mapped[int] = mapped_column(default=0)
