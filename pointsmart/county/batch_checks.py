"""Decode and check a village's batch before anything is written.

:func:`parse` decodes the envelope before the write lock is taken. Under the lock, once the county knows
what it has already acknowledged, :func:`check_records` checks the records it does not have yet: their
sequence numbers, the digest chain (which must reach the digest the village reports), each payload's
shape for its kind (and the text rule for the names a record carries), and that no transfer or stock
move comes twice. Then :func:`check_held` checks them against what the county holds of the village: a
month close is never changed nor made twice, and a score photo names a round and a household (and, once
the village's rulebook is here, a criterion) the county has. The errors here are the ways a batch is
refused; each carries the code the village's push reads.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..errors import Conflict, DomainError, Invalid
from ..json_limits import TooDeep, bounded, nested_too_deep
from ..org.models import Village
from ..periods import MAX_YEAR, MIN_YEAR, Period, local, local_day, local_text
from ..sync import wire
from ..text import needs_stored_form, problem
from . import wire_types as types
from .models import SyncedCriterion, SyncedHousehold, SyncedMonthClose, SyncedRound


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


class ChangedClose(Conflict):
    """A month close sent again with other content: a close is never edited, at the village or here."""

    code = "month_close_changed"


class SecondClose(Conflict):
    """A second close (another uuid) of a month the village closed already: a month is closed once."""

    code = "month_closed_twice"


class UnknownReference(Invalid):
    """A record names a round, a household or a criterion the county never received from the village."""

    code = "unknown_reference"


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
    _check_text(kind, envelopes, rows)
    if kind == "month_close":
        _check_months_ended(envelopes, rows)
    return rows


#: each kind's names the village's users typed and the village checked with the text rule
#: (:mod:`pointsmart.text`) before it sent them, since the kind was first sent: they are held to it here
#: too. (The older kinds' text is taken as sent: an older village accepted what the rule now refuses.)
CHECKED_TEXT = {"month_close": ("closed_by_name",), "score_photo": ("criterion_name",)}


def _check_text(kind: str, envelopes: list[types.Envelope], rows) -> None:
    """Refuse a name that breaks the text rule (a control character, a direction override: a closer's
    name that reads backwards on the county's page or its print)."""
    for name in CHECKED_TEXT.get(kind, ()):
        for envelope, row in zip(envelopes, rows, strict=True):
            value = getattr(row, name)
            found = None if value is None else problem(value)
            if found:
                raise Invalid(
                    _("第 %(seq)s 条记录（%(kind)s）的 %(field)s %(problem)s。", seq=envelope.seq,
                      kind=kind, field=name, problem=found),
                    code="invalid_record",
                )  # fmt: skip


def _check_months_ended(envelopes: list[types.Envelope], rows) -> None:
    """Refuse the close of a month that had not ended, in the villages' calendar, when it was closed
    (the village closes a month only once it is over: :func:`pointsmart.closing.services.blockers`)."""
    for envelope, row in zip(envelopes, rows, strict=True):
        month = Period.containing("month", int(row.month[:4]), int(row.month[5:]))
        if local_day(row.closed_at) < month.end:
            raise Invalid(
                _("第 %(seq)s 条记录（month_close）月结了 %(month)s，但月结时间 %(at)s 时这个月还没有"
                  "过完。", seq=envelope.seq, month=row.month, at=local_text(row.closed_at)),
                code="invalid_record",
            )  # fmt: skip


def check_held(session: Session, village_id: int, typed: dict[str, list[tuple[types.Envelope, Any]]]) -> None:
    """Check a batch's records against what the county holds of the village (under its link's lock).

    :raises ChangedClose: a close the county holds (or the batch has) comes again with other content.
    :raises SecondClose: a month the county (or the batch) has a close of is closed again, another uuid.
    :raises UnknownReference: a score photo names a round, household or criterion the county lacks.
    """
    if "month_close" in typed:
        _check_closes(session, village_id, typed["month_close"])
    if "score_photo" in typed:
        _check_photo_references(session, village_id, typed)


def _held(session: Session, model, village_id: int, column, values: set) -> list:
    """The rows of ``model`` of the village whose ``column`` is one of ``values`` (in chunks)."""
    found, values = [], sorted(values)
    for start in range(0, len(values), 5_000):
        found += session.scalars(
            sa.select(model).where(model.village_id == village_id, column.in_(values[start : start + 5_000]))
        ).all()
    return found


def _close_fields(month, sha256, closed_at, closed_by, name) -> tuple:
    return month, sha256, closed_at, closed_by, name or ""


def _check_closes(session: Session, village_id: int, pairs) -> None:
    m = SyncedMonthClose
    held = _held(session, m, village_id, m.uuid, {e.uuid for e, _p in pairs}) + _held(
        session, m, village_id, m.month, {p.month for _e, p in pairs}
    )
    #: uuid → (the batch's sequence number, or None: held already; its fields)
    by_uuid = {
        c.uuid: (None, _close_fields(c.month, c.sha256, c.closed_at, c.closed_by_uuid, c.closed_by_name))
        for c in held
    }
    by_month = {c.month: (None, c.uuid) for c in held}
    for envelope, p in pairs:
        fields = _close_fields(p.month, p.sha256, p.closed_at, p.closed_by, p.closed_by_name)
        if envelope.uuid in by_uuid:
            seq, before = by_uuid[envelope.uuid]
            if fields != before:
                where = (
                    _("县里已有的这次月结（%(month)s）", month=before[0])
                    if seq is None
                    else _("本批中前面的第 %(seq)s 条", seq=seq)
                )
                raise ChangedClose(
                    _("第 %(seq)s 条记录（month_close）改动了%(where)s：月结一经发出就不能更改。"
                      "已拒收，什么也没有改。", seq=envelope.seq, where=where)
                )  # fmt: skip
            continue
        if p.month in by_month:
            seq, other = by_month[p.month]
            where = _("县里已有") if seq is None else _("本批第 %(seq)s 条已有", seq=seq)
            raise SecondClose(
                _("第 %(seq)s 条记录（month_close）又一次月结了 %(month)s，%(where)s这个月的月结"
                  "（%(uuid)s）：一个月只能月结一次。已拒收，什么也没有改。", seq=envelope.seq,
                  month=p.month, where=where, uuid=other)
            )  # fmt: skip
        by_uuid[envelope.uuid] = (envelope.seq, fields)
        by_month[p.month] = (envelope.seq, envelope.uuid)


def _check_photo_references(session: Session, village_id: int, typed) -> None:
    """A score photo's round and household must be the village's, received before or in this batch; its
    criterion too once the county has the village's rulebook (before that, the name it carries stands)."""
    photos = typed["score_photo"]
    rounds = {e.uuid for e, _p in typed.get("round", ())}
    households = {e.uuid for e, _p in typed.get("household", ())}
    criteria = {e.uuid for e, _p in typed.get("criterion", ())}
    rounds |= {r.uuid for r in _held(session, SyncedRound, village_id, SyncedRound.uuid,
                                     {p.round for _e, p in photos} - rounds)}  # fmt: skip
    households |= {h.uuid for h in _held(session, SyncedHousehold, village_id, SyncedHousehold.uuid,
                                         {p.household for _e, p in photos} - households)}  # fmt: skip
    named = {p.criterion for _e, p in photos if p.criterion is not None}
    rulebook = bool(criteria) or session.scalar(
        sa.select(sa.exists().where(SyncedCriterion.village_id == village_id))
    )
    if rulebook:
        criteria |= {c.uuid for c in _held(session, SyncedCriterion, village_id, SyncedCriterion.uuid,
                                           named - criteria)}  # fmt: skip
    for envelope, p in photos:
        for field, value, known in (
            ("round", p.round, rounds),
            ("household", p.household, households),
            ("criterion", p.criterion, criteria if rulebook else None),
        ):
            if value is not None and known is not None and value not in known:
                raise UnknownReference(
                    _("第 %(seq)s 条记录（score_photo）的 %(field)s（%(uuid)s）不是县里收到过的本村记录。"
                      "已拒收，什么也没有改。", seq=envelope.seq, field=field, uuid=value)
                )  # fmt: skip


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
