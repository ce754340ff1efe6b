"""Write a checked batch into the county's projection of a village, and move its rollups with it.

Things that change (households, cards, rulebook, goods, rounds, redemptions, the year-end rule, the shop's
opening days, score photos) are upserted by (village, uuid), each uuid's last state in the batch winning.
History (transfers, stock moves) is appended — ``COPY`` on PostgreSQL — and the monthly rollups
(``village_month``, ``village_month_category``, ``village_month_goods``, ``household_period``) are
moved by the same amounts in the same transaction, so the dashboard reads sums that are always in step
with the rows. Nothing here checks a record:
:mod:`.batch_checks` did, and :mod:`.ingest` decides whether to write at all.
"""

import json
from collections import defaultdict

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..periods import MonthOf, rollup_keys
from ..settings.opening_days import to_mask
from ..text import to_stored
from .models import (
    HouseholdPeriod,
    SyncedCard,
    SyncedCategory,
    SyncedCriterion,
    SyncedGoods,
    SyncedHousehold,
    SyncedMonthClose,
    SyncedOpeningDays,
    SyncedPointsRule,
    SyncedRedemption,
    SyncedRound,
    SyncedRoundResult,
    SyncedScorePhoto,
    SyncedStockMove,
    SyncedTransfer,
    VillageMonth,
    VillageMonthCategory,
    VillageMonthGoods,
)
from .opening import OPENING_CATEGORY, is_opening, opening_clause

HOUSEHOLD = "household:"


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


def _last_by_uuid(pairs):
    """Keep each uuid's last state in the batch (records are in sequence order)."""
    latest = {}
    for envelope, payload in pairs:
        latest[envelope.uuid] = payload
    return latest.items()


class BatchWriter:
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
        elif kind == "card":
            rows = [
                {"village_id": v, "uuid": u, "household_uuid": p.household, "token_digest": p.token_digest,
                 "status": p.status, "issued_at": p.issued_at, "revoked_at": p.revoked_at}
                for u, p in latest
            ]  # fmt: skip
            _upsert(self.session, SyncedCard, rows)
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
                 "notice_ends_at": p.notice_ends_at, "finalised_at": p.finalised_at,
                 "published_at": p.published_at, "notice_days": p.notice_days,
                 "notice_photos": p.notice_photos}
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
                 "lines": json.dumps([msgspec.to_builtins(line) for line in p.lines], ensure_ascii=False),
                 "operator_uuid": p.operator, "card_uuid": p.card}
                for u, p in latest
            ]  # fmt: skip
            _upsert(self.session, SyncedRedemption, rows)
        elif kind == "points_rule":
            rows = [{"village_id": v, "uuid": u, "rule": p.rule, "months": p.months, "since": p.since,
                     "created_at": p.created_at} for u, p in latest]  # fmt: skip
            _upsert(self.session, SyncedPointsRule, rows)
        elif kind == "opening_days":
            rows = [{"village_id": v, "uuid": u, "days": to_mask(p.days),
                     "created_at": p.created_at} for u, p in latest]  # fmt: skip
            _upsert(self.session, SyncedOpeningDays, rows)
        elif kind == "month_close":
            rows = [{"village_id": v, "uuid": u, "month": p.month, "sha256": p.sha256,
                     "closed_at": p.closed_at, "closed_by_uuid": p.closed_by,
                     "closed_by_name": p.closed_by_name or ""} for u, p in latest]  # fmt: skip
            _upsert(self.session, SyncedMonthClose, rows)
        elif kind == "score_photo":
            rows = [
                {"village_id": v, "uuid": u, "round_uuid": p.round, "household_uuid": p.household,
                 "criterion_uuid": p.criterion, "criterion_name": p.criterion_name, "stage": p.stage,
                 "taken_at": p.taken_at, "public": p.public, "sha256": p.sha256, "size": p.size,
                 "deleted": p.deleted}
                for u, p in latest
            ]  # fmt: skip
            _upsert(self.session, SyncedScorePhoto, rows)
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
