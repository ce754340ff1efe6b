"""County ingest: apply a village's batch of change records, exactly once, in sequence, verified.

A batch covers ``from_seq``..``to_seq`` of one village's change log. The village's link row is locked
for the whole batch, so two batches of one village never interleave. Then:

- ``to_seq`` at or below what the county has acknowledged: a repeat, nothing changes;
- ``from_seq`` beyond the acknowledged sequence + 1: a gap, refused with the sequence to resend from;
- otherwise the records not yet applied are checked (:mod:`.batch_checks`) — the digest chain must
  reach the village's digest, every payload must have its kind's shape — and only then written
  (:mod:`.projection`): upserts by (village, uuid) for things that change, plain inserts (``COPY`` on
  PostgreSQL) for transfers and stock moves, and the monthly rollups moved by the same amounts, all in
  the caller's transaction.

The county's running totals are compared with the totals the village reported at ``to_seq``; any
difference is kept on the village's link and shown on the dashboard (:mod:`.verify` recounts them).

Text is the village's history and is taken as sent — even a NUL or a control character an older
village version accepted before the text rule (:mod:`pointsmart.text`). The digest is checked over
the records as sent; the text is then kept in the county's stored form (:func:`pointsmart.text.to_stored`:
PostgreSQL cannot hold NUL), which reads back unchanged. Identifiers that break the rule are no
village's and are refused (``invalid_record``), and so are the names of the kinds first sent after the
rule (a closer's, a photo's criterion: :data:`.batch_checks.CHECKED_TEXT`); a value the database still
cannot hold refuses the batch with ``422 record_not_stored``, which the village's push shows the chair
instead of retrying.
"""

import psycopg
import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..org.models import Village
from ..sync.kinds import KINDS
from . import wire_types as types
from .batch_checks import (
    DigestMismatch,
    DuplicateRecord,
    NotStored,
    SequenceGap,
    check_envelope,
    check_held,
    check_records,
)
from .models import SyncBatch, VillageLink
from .projection import BatchWriter


def lock_link(session: Session, village_id: int) -> VillageLink:
    """The village's link row, locked until the transaction ends and read afresh under the lock."""
    return session.scalars(
        sa.select(VillageLink)
        .where(VillageLink.village_id == village_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def ingest(session: Session, village: Village, batch: types.Batch, via: str = "http") -> tuple[int, str]:
    """Apply ``batch`` for ``village`` (whose key the caller checked).

    :returns: the sequence the county now has up to, and the digest chain there (the village compares
        it with its own, which catches a village restored from an old backup).

    :raises WrongVillage: the batch names another village.
    :raises SequenceGap: it starts after the next sequence the county expects.
    :raises DigestMismatch: its records do not chain to the digest it reports.
    :raises Invalid: its records are malformed; nothing is written.
    :raises ChangedClose, SecondClose: it changes a month close, or closes a month again.
    :raises UnknownReference: a record names what the county never received from the village.
    """
    check_envelope(batch, village)
    link = lock_link(session, village.id)
    if batch.village_url is not None:  # even on a repeat: the village's address may have changed
        link.village_url = batch.village_url.rstrip("/")
    acked = link.acked_seq
    if batch.to_seq <= acked:
        if batch.to_seq == acked and batch.totals.digest != link.digest:
            raise DigestMismatch(
                _("第 %(seq)s 条及以前的记录与县里已有的不一致（村里的数据库可能是从旧备份恢复的）。已拒收。",
                  seq=acked),
                code="diverged",
            )  # fmt: skip
        return acked, link.digest  # all of it is here already: a repeat changes nothing
    if batch.from_seq > acked + 1:
        raise SequenceGap(acked + 1)
    checked = check_records(batch, acked, link.digest)
    check_held(session, village.id, checked.typed)

    writer = BatchWriter(session, village.id, checked.stored_form)
    try:
        with session.begin_nested():  # a refused batch leaves the transaction usable for the answer
            for kind in KINDS:
                if kind in checked.typed:
                    writer.things(kind, checked.typed[kind])
    except (IntegrityError, psycopg.IntegrityError) as exc:  # the latter from COPY, straight from the driver
        raise DuplicateRecord(
            _("第 %(a)s–%(b)s 条中有县里已经收到过的转账或出入库记录（同一 uuid），已拒收。",
              a=acked + 1, b=batch.to_seq)
        ) from exc  # fmt: skip
    except (DataError, psycopg.DataError) as exc:  # a value the county's database cannot hold
        # the database's own message, its first line cut to fit the sentence (no one typed it)
        raise NotStored(
            _("县里的数据库存不下第 %(a)s–%(b)s 条中的某个值（%(problem)s），已拒收，什么也没有改。"
              "请把这条提示告诉县里。", a=acked + 1, b=batch.to_seq,
              problem=str(getattr(exc, "orig", exc)).splitlines()[0][:200])
        ) from exc  # fmt: skip
    now = utcnow()
    link.acked_seq, link.digest, link.last_sync_at = batch.to_seq, checked.digest, now
    link.balance_sum += writer.balance
    link.transfer_count += writer.transfers
    link.points_issued += writer.issued
    link.points_redeemed += writer.redeemed
    link.points_deducted += writer.deducted
    link.reported_balance_sum = batch.totals.balance_sum
    link.reported_transfer_count = batch.totals.transfer_count
    link.mismatch = ",".join(
        name
        for name, ours, theirs in (
            ("balance_sum", link.balance_sum, batch.totals.balance_sum),
            ("transfer_count", link.transfer_count, batch.totals.transfer_count),
        )
        if ours != theirs
    )
    session.add(
        SyncBatch(village_id=village.id, from_seq=acked + 1, to_seq=batch.to_seq, records=checked.count,
                  via=via, received_at=now)
    )  # fmt: skip
    session.flush()
    return batch.to_seq, checked.digest
