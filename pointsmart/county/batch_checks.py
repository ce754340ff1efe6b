"""Decode and check a village's batch before anything is written.

:func:`parse` decodes the envelope before the write lock is taken. Under the lock, once the county knows
what it has already acknowledged, :func:`check_records` checks the records it does not have yet: their
sequence numbers, the digest chain (which must reach the digest the village reports), each payload's
shape for its kind, and that no transfer or stock move comes twice. The errors here are the ways a
batch is refused; each carries the code the village's push reads.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from flask_babel import gettext as _

from ..errors import Conflict, DomainError, Invalid
from ..json_limits import TooDeep, bounded, nested_too_deep
from ..org.models import Village
from ..periods import MAX_YEAR, MIN_YEAR, local
from ..sync import wire
from ..text import needs_stored_form
from . import wire_types as types


class SequenceGap(Conflict):
    code = "sequence_gap"

    def __init__(self, expected: int):
        super().__init__(
            _(
                "批次不连续：县里已确认到第 %(acked)s 条，请从第 %(n)s 条起重发。",
                acked=expected - 1,
                n=expected,
            ),
            expected_from_seq=expected,
        )
        #: also at the top level of the JSON body, where the push client reads it
        self.top_level = {"expected_from_seq": expected}


class DigestMismatch(Invalid):
    code = "digest_mismatch"


class DuplicateRecord(Invalid):
    """A transfer or stock move sent again under a new sequence number: history is written once."""

    code = "duplicate_record"


class NotStored(Invalid):
    """The database refused a batch's values: the village is told which records, and stops there."""

    code = "record_not_stored"


class WrongVillage(DomainError):
    code = "wrong_village"
    status = 403


def parse(body: bytes) -> types.Batch:
    """Decode and check a batch's envelope (records nested past the JSON depth bound are refused).

    :raises Invalid: not JSON, or not the shape of a batch; the message says where.
    """
    try:
        batch = bounded(lambda data: msgspec.json.decode(data, type=types.Batch), body)
        if nested_too_deep(batch.records):  # the records stay raw (their digest is over what was sent)
            raise TooDeep()
    except (msgspec.ValidationError, msgspec.DecodeError, TooDeep) as exc:
        raise Invalid(_("批次格式不对：%(problem)s", problem=str(exc)), code="invalid_batch") from exc
    return batch


def check_envelope(batch: types.Batch, village: Village) -> None:
    """Check what a batch says of itself: whose it is, and that it holds the records it names.

    :raises WrongVillage: the batch names another village than the key's.
    :raises Invalid: its count of records disagrees with its sequence numbers.
    """
    if batch.village_code != village.code:
        raise WrongVillage(
            _(
                "这个同步密钥属于 %(mine)s，不能提交 %(other)s 的数据。",
                mine=village.code,
                other=batch.village_code,
            )
        )
    if batch.to_seq < batch.from_seq or len(batch.records) != batch.to_seq - batch.from_seq + 1:
        raise Invalid(
            _("批次写的是第 %(a)s–%(b)s 条，却带了 %(n)s 条记录。", a=batch.from_seq, b=batch.to_seq,
              n=len(batch.records)),
            code="invalid_batch",
        )  # fmt: skip


@dataclass
class CheckedRecords:
    """The records of a batch the county does not have yet, checked and ready to write."""

    #: each kind's ``(envelope, typed payload)`` pairs, in sequence order
    typed: dict[str, list[tuple[types.Envelope, Any]]]
    #: the digest chain after the last of them (equal to what the village reported)
    digest: str
    #: whether some text needs the county's stored form (see :func:`.projection.copy_rows`)
    stored_form: bool
    count: int


def check_records(batch: types.Batch, acked: int, digest: str) -> CheckedRecords:
    """Check the records after ``acked`` (whose digest chain ends at ``digest``); nothing is written.

    :raises DigestMismatch: the records do not chain to the digest the batch reports.
    :raises DuplicateRecord: a transfer or stock move comes twice in the batch.
    :raises Invalid: a record is malformed, out of sequence or of an unknown kind.
    """
    fresh = batch.records[acked + 1 - batch.from_seq :]
    try:
        envelopes = msgspec.convert(fresh, list[types.Envelope])
    except msgspec.ValidationError as exc:
        raise Invalid(_("记录格式不对：%(problem)s", problem=str(exc)), code="invalid_record") from exc
    stored_form = False
    for expected, (envelope, raw) in enumerate(zip(envelopes, fresh, strict=True), start=acked + 1):
        if envelope.seq != expected:
            raise Invalid(
                _("记录序号应为 %(expected)s，收到的是 %(seq)s。", expected=expected, seq=envelope.seq),
                code="invalid_batch",
            )
        record = wire.canonical(raw)
        digest = wire.chain(digest, record)
        stored_form = stored_form or needs_stored_form(record)
    if digest != batch.totals.digest:
        raise DigestMismatch(
            _("校验值不符：第 %(a)s–%(b)s 条记录在途中被改动，或与县里已有的记录接不上。"
              "已拒收，什么也没有改。", a=acked + 1, b=batch.to_seq)
        )  # fmt: skip
    groups: dict[str, list[types.Envelope]] = defaultdict(list)
    for envelope in envelopes:
        if envelope.kind not in types.PAYLOADS:
            raise Invalid(
                _("第 %(seq)s 条记录的类型“%(kind)s”无法识别。", seq=envelope.seq, kind=envelope.kind),
                code="invalid_record",
            )
        groups[envelope.kind].append(envelope)
    for kind in ("transfer", "stock_move"):  # history: each uuid once, ever
        seen: set[str] = set()
        for envelope in groups.get(kind, ()):
            if envelope.uuid in seen:
                raise DuplicateRecord(
                    _("第 %(seq)s 条记录（%(kind)s）与本批中前面的一条重复。", seq=envelope.seq, kind=kind)
                )
            seen.add(envelope.uuid)
    typed = {kind: list(zip(group, _typed(kind, group), strict=True)) for kind, group in groups.items()}
    return CheckedRecords(typed, digest, stored_form, len(fresh))


def _typed(kind: str, envelopes: list[types.Envelope]):
    try:
        rows = msgspec.convert([e.payload for e in envelopes], list[types.PAYLOADS[kind]])
    except msgspec.ValidationError as exc:
        # "… - at `$[3].amount`": name the record by its sequence number
        where = str(exc).rsplit("`$[", 1)
        seq = envelopes[int(where[1].split("]", 1)[0])].seq if len(where) == 2 else "?"
        raise Invalid(
            _("第 %(seq)s 条记录（%(kind)s）格式不对：%(problem)s", seq=seq, kind=kind, problem=str(exc)),
            code="invalid_record",
        ) from exc
    _check_years(kind, envelopes, rows)
    return rows


def _check_years(kind: str, envelopes: list[types.Envelope], rows) -> None:
    """Refuse a time or day outside the years the app knows, in UTC and in the villages' zone: a village
    writes the time it is, and one in the year 9999 cannot even be turned into the villages' month (it
    would overflow)."""
    for name in types.DATED[kind]:
        for envelope, row in zip(envelopes, rows, strict=True):
            value = getattr(row, name)
            # a time is also held to the years in the villages' zone: 2099-12-31 23:59 UTC is 2100 there
            if value is not None and not (
                MIN_YEAR <= value.year <= MAX_YEAR
                and (not isinstance(value, datetime) or MIN_YEAR <= local(value).year <= MAX_YEAR)
            ):
                raise Invalid(
                    _("第 %(seq)s 条记录（%(kind)s）的 %(field)s 不在 %(low)s–%(high)s 年之间：%(value)s",
                      seq=envelope.seq, kind=kind, field=name, low=MIN_YEAR, high=MAX_YEAR,
                      value=value.isoformat()),
                    code="invalid_record",
                )  # fmt: skip
