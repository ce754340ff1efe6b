"""Post, reverse and verify transfers. Every function flushes, none commits."""

import os
import uuid as uuid_mod
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session, make_transient_to_detached

from .. import changes
from ..clock import utcnow
from ..errors import Conflict, DomainError, Invalid, NotFound
from ..months import guard as month_guard
from ..months.guard import NOT_CLOSED, refuse_time
from ..paging import Page, paginate
from .models import Account, AccountKind, Transfer, TransferKind


class InsufficientPoints(Conflict):
    code = "insufficient_points"


class AlreadyReversed(Conflict):
    code = "already_reversed"


def household_account_code(household_uuid: str) -> str:
    return f"household:{household_uuid}"


def system_account(session: Session, kind: AccountKind) -> Account:
    """Return the one account of a system kind (issuance, shop, deductions, expiry)."""
    account = session.scalar(sa.select(Account).where(Account.code == str(kind)))
    if account is None:  # created by the first migration; missing means a broken database
        raise DomainError(f"system account {kind} is missing; run `pointsmart db upgrade`")
    return account


def open_household_account(session: Session, household_uuid: str) -> Account:
    """Create the ledger account of a new household."""
    account = Account(code=household_account_code(household_uuid), kind=AccountKind.HOUSEHOLD, balance=0)
    session.add(account)
    session.flush()
    return account


def _check_amount(amount) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise Invalid(_("积分必须是正整数。"), code="invalid_amount")


_account = Account.__table__
#: built once (every posting runs them): move an account's balance by ``delta``, ``RETURNING`` its code
#: (the change log names accounts by code) …
_MOVE = (
    sa.update(_account)
    .where(_account.c.id == sa.bindparam("account_id"))
    .values(balance=_account.c.balance + sa.bindparam("delta"))
    .returning(_account.c.code)
)
#: … a debit, which a household may take only down to zero …
_DEBIT = _MOVE.where(
    sa.or_(_account.c.kind != AccountKind.HOUSEHOLD, _account.c.balance + sa.bindparam("delta") >= 0)
)
#: … and either, as the first statement of a posting, only in an open month (the database checks it
#: with the write: the posting asks no question of its own, :func:`months.guard.found_open`)
_MOVE_OPEN, _DEBIT_OPEN = _MOVE.where(NOT_CLOSED), _DEBIT.where(NOT_CLOSED)


def _apply_delta(session: Session, account_id: int, delta: int, month: str | None = None) -> str | None:
    """Add ``delta`` to a cached balance in one conditional UPDATE; return the account's code, or None
    if a household would go negative (or, with ``month``, if that month is closed).

    The condition is evaluated by the database on the locked row, so two debits racing for the same
    points cannot both pass (no read-then-write).
    """
    if month is None:
        stmt, params = (_DEBIT if delta < 0 else _MOVE), {"account_id": account_id, "delta": delta}
    else:
        stmt = _DEBIT_OPEN if delta < 0 else _MOVE_OPEN
        params = {"account_id": account_id, "delta": delta, "open_month": month}
    return session.execute(stmt, params).scalar()


def _refuse_debit(session: Session, account_id: int, needed: int) -> InsufficientPoints:
    balance = session.scalar(sa.select(Account.balance).where(Account.id == account_id))
    return InsufficientPoints(
        _("积分不足：当前余额 %(balance)s 分，需要 %(needed)s 分。", balance=balance, needed=needed),
        balance=balance,
        needed=needed,
    )


def _move_balances(session: Session, deltas: dict[int, int], month: str) -> None:
    """Apply net balance changes, in account-id order so concurrent transactions never deadlock.

    The first change also checks that ``month`` is open (the month the transfer is dated in). A refused
    debit (or a closed month) first undoes the changes applied before it, so that nothing is left
    written and the caller needs no savepoint to record the refusal.

    :raises MonthClosed: ``month`` is closed.
    :raises InsufficientPoints: a household would go below zero.
    """
    applied = []
    checked = month_guard.is_found_open(session, month)
    for account_id in sorted(deltas):
        delta = deltas[account_id]
        if not delta:
            continue
        code = _apply_delta(session, account_id, delta, None if checked else month)
        if code is None:
            for done_id, done in reversed(applied):
                _apply_delta(session, done_id, -done)
            if not checked:
                month_guard.refuse_month(session, month)  # raises if that is why
            raise _refuse_debit(session, account_id, -delta)
        if not checked:
            month_guard.found_open(session, month)
            checked = True
        changes.known_account(session, account_id, code)  # the change log names accounts by code
        applied.append((account_id, delta))


def post(
    session: Session,
    from_account: Account,
    to_account: Account,
    amount: int,
    kind: TransferKind,
    reason: str = "",
    *,
    ref: str | None = None,
    actor_id: int | None = None,
    reverses_id: int | None = None,
) -> Transfer:
    """Move ``amount`` points from one account to another and record the transfer.

    Three statements: the two balances moved by conditional ``UPDATE … RETURNING`` their codes (the
    first also checks the month is open), the transfer inserted.

    :raises MonthClosed: the transfer would be dated in a closed month (月结); nothing is written.
    :raises InsufficientPoints: the debit would take a household below zero; nothing is written.
    """
    _check_amount(amount)
    from_id, to_id = _id_of(from_account), _id_of(to_account)
    if from_id == to_id:
        raise Invalid(_("转出和转入账户不能相同。"), code="same_account")
    now = utcnow()
    _move_balances(session, {from_id: -amount, to_id: amount}, month_guard.month_of_time(now))
    transfer = _record(session, from_id, to_id, amount, kind, reason, ref, actor_id, reverses_id, now)
    # The UPDATE above bypassed the identity map; make loaded accounts show the new balance.
    session.expire(from_account, ["balance"])
    session.expire(to_account, ["balance"])
    return transfer


def _id_of(obj) -> int:
    """A loaded row's primary key, without the refresh that reading ``obj.id`` sends once it expired."""
    identity = sa.inspect(obj).identity
    return obj.id if identity is None else identity[0]


_transfer = Transfer.__table__
#: built once: the counter inserts a transfer with every redemption
_INSERT_TRANSFER = sa.insert(_transfer).returning(_transfer.c.id)


def _record(
    session: Session,
    from_id: int,
    to_id: int,
    amount: int,
    kind: TransferKind,
    reason: str,
    ref: str | None,
    actor_id: int | None,
    reverses_id: int | None = None,
    created_at=None,
) -> Transfer:
    """Write the transfer row of a move whose balances are already updated (:func:`post`, :func:`pay`).

    One ``INSERT … RETURNING id`` rather than the ORM's unit of work (which costs more than the insert
    at the counter); the row comes back as a persistent :class:`Transfer` in the session, as a flush
    would have left it, and the change log is told of it.
    """
    values = {
        "uuid": str(uuid_mod.uuid4()),
        "from_account_id": from_id,
        "to_account_id": to_id,
        "amount": amount,
        "kind": str(kind),
        "reason": reason,
        "ref": ref,
        "reverses_id": reverses_id,
        "actor_id": actor_id,
        "created_at": created_at or utcnow(),
    }
    transfer_id = session.execute(_INSERT_TRANSFER, values).scalar_one()
    transfer = Transfer(id=transfer_id, **values)
    make_transient_to_detached(transfer)
    session.add(transfer)
    changes.touch(session, transfer)
    return transfer


def _expire_balance(session: Session, account_id: int) -> None:
    """An UPDATE bypassed the identity map: a loaded account shows the new balance on its next read."""
    loaded = session.identity_map.get(sa.inspect(Account).identity_key_from_primary_key((account_id,)))
    if loaded is not None:
        session.expire(loaded, ["balance"])


#: built once (the counter runs them for every redemption): credit a system account by its code …
_CREDIT_SYSTEM = (
    sa.update(_account)
    .where(_account.c.code == sa.bindparam("system_code"))
    .values(balance=_account.c.balance + sa.bindparam("amount"))
    .returning(_account.c.id)
)
#: … and debit a household if it holds enough
_DEBIT_HOUSEHOLD = (
    sa.update(_account)
    .where(
        _account.c.id == sa.bindparam("account_id"),
        _account.c.kind == AccountKind.HOUSEHOLD,
        _account.c.balance >= sa.bindparam("amount"),
    )
    .values(balance=_account.c.balance - sa.bindparam("amount"))
    .returning(_account.c.balance, _account.c.code)
)


def pay(
    session: Session,
    account_id: int,
    system: AccountKind,
    amount: int,
    kind: TransferKind,
    reason: str,
    *,
    ref: str | None = None,
    actor_id: int | None = None,
) -> tuple[Transfer, int]:
    """Move ``amount`` points from a household's account to a system account (a redemption's points to
    the shop); return the transfer and the household's balance after it.

    The counter's path, in three statements and no account loads: the system account is credited by its
    code (``RETURNING`` its id), the household debited by a conditional ``UPDATE … RETURNING`` its
    balance, the transfer inserted. The credit comes first: system accounts are made by the first
    migration, so their ids are below every household's, and this is the id order :func:`post` locks in
    (PostgreSQL never deadlocks between the two).

    :raises InsufficientPoints: the debit would take the household below zero; the credit is undone,
        nothing is left written.
    """
    _check_amount(amount)
    refuse_time(session)  # never into a closed month (月结)
    system_id = session.execute(_CREDIT_SYSTEM, {"system_code": str(system), "amount": amount}).scalar()
    if system_id is None:
        raise DomainError(f"system account {system} is missing; run `pointsmart db upgrade`")
    debited = session.execute(_DEBIT_HOUSEHOLD, {"account_id": account_id, "amount": amount}).first()
    if debited is None:
        _apply_delta(session, system_id, -amount)
        raise _refuse_debit(session, account_id, amount)
    # the change log names accounts by code: it need not look them up again
    changes.known_account(session, system_id, str(system))
    changes.known_account(session, account_id, debited.code)
    transfer = _record(session, account_id, system_id, amount, kind, reason, ref, actor_id)
    _expire_balance(session, account_id)
    _expire_balance(session, system_id)
    return transfer, debited.balance


def uuid4_many(n: int) -> list[str]:
    """``n`` random (version 4) uuids as text, from one read of the system's random source: what
    ``str(uuid.uuid4())`` gives one at a time, at a sixth of its cost (a round posts thousands)."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = bytes((b & 0x0F) | 0x40 for b in raw[6::16])  # the version, 4
    raw[8::16] = bytes((b & 0x3F) | 0x80 for b in raw[8::16])  # the variant, RFC 4122
    h = raw.hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-{h[i + 20 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


#: the columns the bulk path inserts, in order
_BULK_COLUMNS = (
    "uuid",
    "from_account_id",
    "to_account_id",
    "amount",
    "kind",
    "reason",
    "ref",
    "actor_id",
    "created_at",
)


def post_many(
    session: Session, rows: Iterable[dict], *, ref: str | None = None, actor_id: int | None = None
) -> int:
    """Post many transfers at once: the bulk path a round's finalisation uses.

    Each row has ``from_account_id``, ``to_account_id``, ``amount``, ``kind`` and optionally
    ``reason``, ``ref``, ``actor_id`` (the keyword arguments give the default of the last two), and
    ``category``, which only the sync change log carries.
    Balances move by their net change per account, then the
    transfers go in with one ``executemany`` straight to the driver (SQLAlchemy's per-row type
    processing costs more than SQLite's own insert here). All or nothing: a household that would go
    below zero raises before anything is inserted, and the caller rolls back.

    :raises InsufficientPoints: a household's net change would take it below zero.
    :returns: the number of transfers posted.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    now = utcnow()
    refuse_time(session, now)  # never into a closed month (月结)
    # SQLite stores times as text in SQLAlchemy's format; PostgreSQL's driver takes the datetime itself.
    created_at = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
    deltas: dict[int, int] = defaultdict(int)
    values, posted = [], []
    rows = list(rows)
    for row, transfer_uuid in zip(rows, uuid4_many(len(rows)), strict=True):
        amount, source, target = row["amount"], row["from_account_id"], row["to_account_id"]
        _check_amount(amount)
        if source == target:
            raise Invalid(_("转出和转入账户不能相同。"), code="same_account")
        deltas[source] -= amount
        deltas[target] += amount
        kind, reason = str(row["kind"]), row.get("reason", "")
        values.append(
            (
                transfer_uuid,
                source,
                target,
                amount,
                kind,
                reason,
                row.get("ref", ref),
                row.get("actor_id", actor_id),
                created_at,
            )
        )
        posted.append(
            {
                "uuid": transfer_uuid,
                "from_account_id": source,
                "to_account_id": target,
                "amount": amount,
                "kind": kind,
                "reason": reason,
                "category": row.get("category"),
                "created_at": now,
            }
        )
    if not values:
        return 0
    _move_balances_locked(session, deltas)
    placeholders = ", ".join(["?" if sqlite else "%s"] * len(_BULK_COLUMNS))
    connection.exec_driver_sql(
        f"INSERT INTO transfer ({', '.join(_BULK_COLUMNS)}) VALUES ({placeholders})", values
    )
    changes.bulk(session, "transfer", posted)
    session.expire_all()
    return len(values)


def _move_balances_locked(session: Session, deltas: dict[int, int]) -> None:
    """Apply many net balance changes with one UPDATE executed for every account.

    The accounts are locked first, in id order (``FOR UPDATE`` on PostgreSQL; SQLite's
    ``BEGIN IMMEDIATE`` holds the whole database), so the balances read here cannot change before the
    update, and two bulk postings cannot deadlock. A household that would go below zero is refused
    before anything is written; the CHECK constraint stays the backstop.
    """
    table = Account.__table__
    ids = sorted(account_id for account_id, delta in deltas.items() if delta)
    current = session.execute(
        sa.select(table.c.id, table.c.kind, table.c.balance)
        .where(table.c.id.in_(ids))
        .order_by(table.c.id)
        .with_for_update()
    ).all()
    for account_id, kind, balance in current:
        if kind == AccountKind.HOUSEHOLD and balance + deltas[account_id] < 0:
            raise _refuse_debit(session, account_id, -deltas[account_id])
    session.execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("account_id"))
        .values(balance=table.c.balance + sa.bindparam("delta")),
        [{"account_id": account_id, "delta": deltas[account_id]} for account_id in ids],
    )


def reverse(session: Session, transfer_id: int, reason: str, actor_id: int | None = None) -> Transfer:
    """Undo a transfer with a reversing transfer that points to it.

    :raises NotFound: no such transfer.
    :raises AlreadyReversed: it was reversed before, or it is itself a reversal.
    :raises InsufficientPoints: the points were already spent.
    """
    if not reason or not reason.strip():
        raise Invalid(_("撤销必须填写原因。"), code="reason_required")
    # Lock the original first: a second reversal racing this one waits here until we commit, and its
    # check below (a new statement, so a new snapshot under READ COMMITTED) then sees our reversal.
    original = session.get(Transfer, transfer_id, with_for_update=True)
    if original is None:
        raise NotFound(_("找不到这笔积分记录。"))
    if original.kind == TransferKind.REVERSAL:
        raise AlreadyReversed(_("撤销记录本身不能再撤销。"))
    done = session.scalar(sa.select(Transfer.id).where(Transfer.reverses_id == original.id))
    if done is not None:
        raise AlreadyReversed(_("这笔积分记录已经撤销过了。"))
    return post(
        session,
        session.get(Account, original.to_account_id),
        session.get(Account, original.from_account_id),
        original.amount,
        TransferKind.REVERSAL,
        reason.strip(),
        ref=original.ref,
        actor_id=actor_id,
        reverses_id=original.id,
    )


def balance_of(session: Session, account_id: int) -> int:
    return session.scalar(sa.select(Account.balance).where(Account.id == account_id))


def history(session: Session, account_id: int, page: int = 1, per_page: int = 20) -> Page:
    """One page of an account's transfers, newest first.

    Each item is ``(transfer, signed_amount)``: positive when points came in.
    """
    involved = sa.or_(Transfer.from_account_id == account_id, Transfer.to_account_id == account_id)
    newest_first = sa.select(Transfer).where(involved).order_by(Transfer.id.desc())
    found = paginate(session, newest_first, page, per_page)
    signed = [(t, t.amount if t.to_account_id == account_id else -t.amount) for t in found.items]
    return replace(found, items=signed)


def reversed_ids(session: Session, transfer_ids: list[int]) -> set[int]:
    """Of these transfers, the ones that have been reversed."""
    if not transfer_ids:
        return set()
    return set(session.scalars(sa.select(Transfer.reverses_id).where(Transfer.reverses_id.in_(transfer_ids))))


@dataclass
class Mismatch:
    account_code: str
    cached: int
    computed: int


@dataclass
class VerifyReport:
    accounts: int = 0
    transfers: int = 0
    points_moved: int = 0
    balance_sum: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    negative_households: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.balance_sum == 0 and not self.mismatches and not self.negative_households


def verify(session: Session) -> VerifyReport:
    """Recompute every balance from the transfers and compare with the cache; check the sum is zero."""
    t = Transfer.__table__
    incoming = (
        sa.select(t.c.to_account_id.label("id"), sa.func.sum(t.c.amount).label("s"))
        .group_by(t.c.to_account_id)
        .subquery()
    )
    outgoing = (
        sa.select(t.c.from_account_id.label("id"), sa.func.sum(t.c.amount).label("s"))
        .group_by(t.c.from_account_id)
        .subquery()
    )
    computed = sa.func.coalesce(incoming.c.s, 0) - sa.func.coalesce(outgoing.c.s, 0)
    rows = session.execute(
        sa.select(Account.code, Account.kind, Account.balance, computed)
        .outerjoin(incoming, incoming.c.id == Account.id)
        .outerjoin(outgoing, outgoing.c.id == Account.id)
    ).all()
    report = VerifyReport()
    report.transfers, moved = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(t.c.amount), 0))
    ).one()
    report.points_moved = int(moved)
    for code, kind, cached, recomputed in rows:
        report.accounts += 1
        report.balance_sum += cached
        if cached != recomputed:
            report.mismatches.append(Mismatch(code, cached, int(recomputed)))
        if kind == AccountKind.HOUSEHOLD and cached < 0:
            report.negative_households.append(code)
    return report


@dataclass
class Summary:
    #: household accounts, and the points they hold between them
    households: int
    household_balance_sum: int
    transfers: int
    #: net of reversals: points that came out of issuance, went into the shop, went to deductions
    points_issued: int
    points_redeemed: int
    points_deducted: int


def summary(session: Session) -> Summary:
    """The ledger's totals, the figures a village reports to the county (from the cached balances,
    which :func:`verify` proves against the transfers)."""
    households, held = session.execute(
        sa.select(sa.func.count(Account.id), sa.func.coalesce(sa.func.sum(Account.balance), 0)).where(
            Account.kind == AccountKind.HOUSEHOLD
        )
    ).one()
    system = {
        kind: balance
        for kind, balance in session.execute(
            sa.select(Account.kind, Account.balance).where(Account.kind != AccountKind.HOUSEHOLD)
        )
    }
    return Summary(
        households=households,
        household_balance_sum=int(held),
        transfers=session.scalar(sa.select(sa.func.count(Transfer.id))),
        points_issued=-system.get(AccountKind.ISSUANCE, 0),
        points_redeemed=system.get(AccountKind.SHOP, 0),
        points_deducted=system.get(AccountKind.DEDUCTIONS, 0),
    )
