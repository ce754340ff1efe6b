"""County ingest: apply a village's batch of change records, exactly once, in sequence, verified.

A batch covers ``from_seq``..``to_seq`` of one village's change log. The village's link row is locked
for the whole batch, so two batches of one village never interleave. Then:

- ``to_seq`` at or below what the county has acknowledged: a repeat, nothing changes;
- ``from_seq`` beyond the acknowledged sequence + 1: a gap, refused with the sequence to resend from;
- otherwise the records not yet applied are checked — the digest chain must reach the village's
  digest, every payload must have its kind's shape — and only then written: upserts by
  (village, uuid) for things that change, plain inserts (``COPY`` on PostgreSQL) for transfers and
  stock moves, and the monthly rollups moved by the same amounts, all in the caller's transaction.

The county's running totals are compared with the totals the village reported at ``to_seq``; any
difference is kept on the village's link and shown on the dashboard.

Text is the village's history and is taken as sent — even a NUL or a control character an older
village version accepted before the text rule (:mod:`pointsmart.text`). The digest is checked over
the records as sent; the text is then kept in the county's stored form (:func:`pointsmart.text.to_stored`:
PostgreSQL cannot hold NUL), which reads back unchanged. Identifiers that break the rule are no
village's and are refused (``invalid_record``); a value the database still cannot hold refuses the
batch with ``422 record_not_stored``, which the village's push shows the chair instead of retrying.
"""

import json
from collections import defaultdict

import msgspec
import psycopg
import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..errors import Conflict, DomainError, Invalid
from ..json_limits import TooDeep, bounded, nested_too_deep
from ..org.models import Village
from ..periods import MonthOf, rollup_keys
from ..sync import wire
from ..sync.kinds import KINDS
from ..text import needs_stored_form, to_stored
from . import wire_types as types
from .models import (
    HouseholdPeriod,
    SyncBatch,
    SyncedCategory,
    SyncedCriterion,
    SyncedGoods,
    SyncedHousehold,
    SyncedRedemption,
    SyncedRound,
    SyncedRoundResult,
    SyncedStockMove,
    SyncedTransfer,
    VillageLink,
    VillageMonth,
    VillageMonthCategory,
    VillageMonthGoods,
)
from .opening import OPENING_CATEGORY, is_opening, opening_clause

HOUSEHOLD = "household:"


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


def _insert(session: Session):
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _upsert(
    session: Session, model, rows: list[dict], keys: tuple[str, ...] = ("village_id", "uuid")
) -> None:
    if not rows:
        return
    table = model.__table__
    stmt = _insert(session)(table)
    updates = {
        c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys and not c.primary_key
    }
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates), rows)


def _add_up(session: Session, model, keys: tuple[str, ...], rows: list[dict]) -> None:
    """Insert rollup rows, or add their amounts to the rows already there."""
    if not rows:
        return
    table = model.__table__
    stmt = _insert(session)(table)
    updates = {c.name: table.c[c.name] + stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates), rows)


def copy_rows(
    session: Session, model, columns: tuple[str, ...], rows: list[tuple], stored_form: bool = True
) -> None:
    """Append rows: ``COPY`` on PostgreSQL (the fast path), an executemany elsewhere.

    ``COPY`` skips the columns' types, so text is put in the county's stored form here — unless the
    caller knows no value needs it (``stored_form=False``), which spares the hot path a look at each.
    """
    if not rows:
        return
    connection = session.connection()
    table = model.__table__
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        names = ", ".join(f'"{table.c[c].name}"' for c in columns)
        with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                if stored_form:
                    row = [to_stored(v) if isinstance(v, str) else v for v in row]
                copy.write_row(row)
        return
    session.execute(sa.insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def _typed(kind: str, envelopes: list[types.Envelope]):
    try:
        return msgspec.convert([e.payload for e in envelopes], list[types.PAYLOADS[kind]])
    except msgspec.ValidationError as exc:
        # "… - at `$[3].amount`": name the record by its sequence number
        where = str(exc).rsplit("`$[", 1)
        seq = envelopes[int(where[1].split("]", 1)[0])].seq if len(where) == 2 else "?"
        raise Invalid(
            _("第 %(seq)s 条记录（%(kind)s）格式不对：%(problem)s", seq=seq, kind=kind, problem=str(exc)),
            code="invalid_record",
        ) from exc


def _last_by_uuid(pairs):
    """Keep each uuid's last state in the batch (records are in sequence order)."""
    latest = {}
    for envelope, payload in pairs:
        latest[envelope.uuid] = payload
    return latest.items()


class _Apply:
    """Writes one batch's records for one village and sums what they change."""

    def __init__(self, session: Session, village_id: int, stored_form: bool = True):
        self.session, self.village_id = session, village_id
        #: whether some text of the batch needs the county's stored form (see :func:`copy_rows`)
        self.stored_form = stored_form
        self.month = MonthOf()
        self.balance = self.transfers = self.issued = self.redeemed = self.deducted = 0

    def things(self, kind: str, pairs) -> None:
        v = self.village_id
        latest = _last_by_uuid(pairs)
        if kind == "household":
            rows = [
                {"village_id": v, "uuid": u, "household_no": p.household_no, "head_name": p.head_name,
                 "group_name": p.group, "members": p.members, "active": p.active, "created_at": p.created_at}
                for u, p in latest
            ]  # fmt: skip
            _upsert(self.session, SyncedHousehold, rows)
        elif kind == "category":
            rows = [{"village_id": v, "uuid": u, "name": p.name, "position": p.position, "active": p.active}
                    for u, p in latest]  # fmt: skip
            _upsert(self.session, SyncedCategory, rows)
        elif kind == "criterion":
            rows = [
                {"village_id": v, "uuid": u, "category_uuid": p.category, "name": p.name, "points": p.points,
                 "cadence": p.cadence, "max_per_period": p.max_per_period, "active": p.active}
                for u, p in latest
            ]  # fmt: skip
            _upsert(self.session, SyncedCriterion, rows)
        elif kind == "goods":
            rows = [{"village_id": v, "uuid": u, "name": p.name, "spec": p.spec, "price": p.price,
                     "active": p.active} for u, p in latest]  # fmt: skip
            _upsert(self.session, SyncedGoods, rows)
        elif kind == "round":
            rows = [
                {"village_id": v, "uuid": u, "period_type": p.period_type, "period_key": p.period_key,
                 "scope": p.scope, "status": p.status, "created_at": p.created_at,
                 "notice_ends_at": p.notice_ends_at, "finalised_at": p.finalised_at}
                for u, p in latest
            ]  # fmt: skip
            _upsert(self.session, SyncedRound, rows)
        elif kind == "round_result":
            rows = [
                {"village_id": v, "uuid": u, "round_uuid": p.round, "household_uuid": p.household,
                 "awarded": p.awarded, "deducted": p.deducted, "shortfall": p.shortfall}
                for u, p in latest
            ]  # fmt: skip
            _upsert(self.session, SyncedRoundResult, rows)
        elif kind == "redemption":
            rows = [
                {"village_id": v, "uuid": u, "household_uuid": p.household, "points": p.points,
                 "status": p.status, "created_at": p.created_at, "cancelled_at": p.cancelled_at,
                 "lines": json.dumps([msgspec.to_builtins(line) for line in p.lines], ensure_ascii=False)}
                for u, p in latest
            ]  # fmt: skip
            _upsert(self.session, SyncedRedemption, rows)
        elif kind == "transfer":
            self._transfers(pairs)
        elif kind == "stock_move":
            self._stock_moves(pairs)

    def _transfers(self, pairs) -> None:
        v, month_of = self.village_id, self.month
        months: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        by_category: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        earned: set[tuple[str, str]] = set()
        opening = self._opening_reversed(pairs)
        rows = []
        for envelope, p in pairs:
            source, target, amount = p.from_, p.to, p.amount
            month = month_of(p.created_at)
            household = None
            if target.startswith(HOUSEHOLD):
                household, to_kind = target[len(HOUSEHOLD) :], "household"
                self.balance += amount
            else:
                to_kind = target
            if source.startswith(HOUSEHOLD):
                household, from_kind = source[len(HOUSEHOLD) :], "household"
                self.balance -= amount
            else:
                from_kind = source
            rows.append((v, envelope.uuid, p.kind, amount, from_kind, to_kind, household, p.category,
                         p.reason, p.reverses, p.created_at, month))  # fmt: skip
            figures = months[month]  # issued, redeemed, deducted, expired, transfers
            figures[4] += 1
            for index, system in enumerate(("issuance", "shop", "deductions", "expiry")):
                sign = -1 if index == 0 else 1  # issuance gives points out; the others take them in
                if to_kind == system:
                    figures[index] += sign * amount
                elif from_kind == system:
                    figures[index] -= sign * amount
            if p.category:
                by_category[month, p.category][0 if p.kind == "award" else 1] += amount
            if is_opening(p.kind, from_kind, to_kind, p.reason):
                opening.add(envelope.uuid)
                by_category[month, OPENING_CATEGORY][0] += amount  # their own figure, not "issued"
            elif p.reverses in opening and to_kind == "issuance":
                by_category[month, OPENING_CATEGORY][0] -= amount
            elif from_kind == "issuance" and household and p.kind in ("award", "adjustment"):
                earned.add((month, household))
        copy_rows(self.session, SyncedTransfer, _TRANSFER_COLUMNS, rows, self.stored_form)
        self.transfers += len(rows)
        for figures in months.values():
            self.issued += figures[0]
            self.redeemed += figures[1]
            self.deducted += figures[2]
        _add_up(
            self.session, VillageMonth, ("village_id", "month"),
            [{"village_id": v, "month": m, "issued": f[0], "redeemed": f[1], "deducted": f[2],
              "expired": f[3], "transfers": f[4]} for m, f in months.items()],
        )  # fmt: skip
        _add_up(
            self.session, VillageMonthCategory, ("village_id", "month", "category"),
            [{"village_id": v, "month": m, "category": c, "awarded": f[0], "deducted": f[1]}
             for (m, c), f in by_category.items()],
        )  # fmt: skip
        household_periods = {(period, h) for month, h in earned for period in rollup_keys(month)}
        if not household_periods:
            return
        if self.session.get_bind().dialect.name == "postgresql":
            # one statement for the batch's thousand rows, not a thousand statements
            by_period, by_household = zip(*household_periods, strict=True)
            self.session.execute(
                _HOUSEHOLD_PERIODS_PG, {"v": v, "ps": list(by_period), "hs": list(by_household)}
            )
        else:
            stmt = _insert(self.session)(HouseholdPeriod.__table__).on_conflict_do_nothing()
            self.session.execute(
                stmt, [{"village_id": v, "period": p, "household_uuid": h} for p, h in household_periods]
            )

    def _opening_reversed(self, pairs) -> set[str]:
        """The opening transfers (see :mod:`.opening`) that this batch's reversals undo and that came in
        an earlier batch (those of this batch are found as they pass)."""
        reversed_ = {p.reverses for _e, p in pairs if p.kind == "reversal" and p.reverses}
        if not reversed_:
            return set()
        t = SyncedTransfer
        return set(
            self.session.scalars(
                sa.select(t.uuid).where(
                    t.village_id == self.village_id, t.uuid.in_(reversed_), opening_clause(t)
                )
            )
        )

    def _stock_moves(self, pairs) -> None:
        v, month_of = self.village_id, self.month
        redeemed: dict[tuple[str, str], int] = defaultdict(int)
        rows = []
        for envelope, p in pairs:
            month = month_of(p.created_at)
            rows.append((v, envelope.uuid, p.goods, p.kind, p.qty, p.donor, p.moved_on, p.redemption,
                         p.created_at, month))  # fmt: skip
            if p.kind in ("redemption", "cancellation"):
                redeemed[month, p.goods] -= p.qty  # out of stock is a redemption; back in undoes it
        copy_rows(self.session, SyncedStockMove, _MOVE_COLUMNS, rows, self.stored_form)
        _add_up(
            self.session,
            VillageMonthGoods,
            ("village_id", "month", "goods_uuid"),
            [{"village_id": v, "month": m, "goods_uuid": g, "qty": q} for (m, g), q in redeemed.items()],
        )


_HOUSEHOLD_PERIODS_PG = sa.text(
    "INSERT INTO household_period (period, village_id, household_uuid) "
    "SELECT p, :v, h FROM unnest(CAST(:ps AS varchar[]), CAST(:hs AS varchar[])) AS t(p, h) "
    "ON CONFLICT DO NOTHING"
)
_TRANSFER_COLUMNS = ("village_id", "uuid", "kind", "amount", "from_kind", "to_kind", "household_uuid",
                     "category", "reason", "reverses_uuid", "created_at", "month")  # fmt: skip
_MOVE_COLUMNS = ("village_id", "uuid", "goods_uuid", "kind", "qty", "donor", "moved_on", "redemption_uuid",
                 "created_at", "month")  # fmt: skip


def lock_link(session: Session, village_id: int) -> VillageLink:
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
    link = lock_link(session, village.id)
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
    fresh = batch.records[acked + 1 - batch.from_seq :]
    try:
        envelopes = msgspec.convert(fresh, list[types.Envelope])
    except msgspec.ValidationError as exc:
        raise Invalid(_("记录格式不对：%(problem)s", problem=str(exc)), code="invalid_record") from exc
    digest, stored_form = link.digest, False
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

    apply = _Apply(session, village.id, stored_form)
    try:
        with session.begin_nested():  # a refused batch leaves the transaction usable for the answer
            for kind in KINDS:
                if kind in typed:
                    apply.things(kind, typed[kind])
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
    link.acked_seq, link.digest, link.last_sync_at = batch.to_seq, digest, now
    link.balance_sum += apply.balance
    link.transfer_count += apply.transfers
    link.points_issued += apply.issued
    link.points_redeemed += apply.redeemed
    link.points_deducted += apply.deducted
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
        SyncBatch(village_id=village.id, from_seq=acked + 1, to_seq=batch.to_seq, records=len(fresh), via=via,
                  received_at=now)
    )  # fmt: skip
    session.flush()
    return batch.to_seq, digest


def recount(session: Session, village_id: int) -> dict:
    """A village's totals recomputed from its synced transfers (what the running totals must equal)."""
    t = SyncedTransfer.__table__

    def net(kind: str, sign: int = 1):
        into = sa.case((t.c.to_kind == kind, t.c.amount), else_=0)
        out = sa.case((t.c.from_kind == kind, t.c.amount), else_=0)
        return sign * sa.func.coalesce(sa.func.sum(into - out), 0)

    row = session.execute(
        sa.select(
            sa.func.count(),
            net("household"),
            net("issuance", -1),
            net("shop"),
            net("deductions"),
        ).where(t.c.village_id == village_id)
    ).one()
    names = ("transfers", "balance_sum", "issued", "redeemed", "deducted")
    return dict(zip(names, map(int, row), strict=True))
