"""The ledger's invariants, through its services and against the database itself."""

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from pointsmart.errors import DomainError
from pointsmart.households.models import Household
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import Account, AccountKind, Transfer, TransferKind


def _account(session, household_id) -> Account:
    return session.get(Household, household_id).account


def test_award_moves_points_from_issuance_and_sum_stays_zero(ctx, make_household):
    hid = make_household()
    issuance = ledger.system_account(ctx, AccountKind.ISSUANCE)
    ledger.post(ctx, issuance, _account(ctx, hid), 30, TransferKind.AWARD, "美丽庭院")
    ctx.commit()
    assert _account(ctx, hid).balance == 30
    assert ledger.system_account(ctx, AccountKind.ISSUANCE).balance == -30
    report = ledger.verify(ctx)
    assert report.ok and report.balance_sum == 0 and report.transfers == 1


def test_debit_beyond_balance_is_refused_and_writes_nothing(ctx, make_household):
    hid = make_household(points=10)
    shop = ledger.system_account(ctx, AccountKind.SHOP)
    before = ctx.scalar(sa.select(sa.func.count(Transfer.id)))
    with pytest.raises(ledger.InsufficientPoints) as info:
        ledger.post(ctx, _account(ctx, hid), shop, 11, TransferKind.REDEMPTION)
    ctx.rollback()
    assert info.value.code == "insufficient_points"
    assert info.value.extra == {"balance": 10, "needed": 11}
    assert _account(ctx, hid).balance == 10
    assert ctx.scalar(sa.select(sa.func.count(Transfer.id))) == before


@pytest.mark.parametrize("amount", [0, -5, 2.5, True, "3"])
def test_amount_must_be_a_positive_integer(ctx, make_household, amount):
    hid = make_household()
    with pytest.raises(DomainError) as info:
        ledger.post(
            ctx,
            ledger.system_account(ctx, AccountKind.ISSUANCE),
            _account(ctx, hid),
            amount,
            TransferKind.AWARD,
        )
    assert info.value.code == "invalid_amount"


def test_reversal_points_to_original_and_happens_once(ctx, make_household):
    hid = make_household()
    issuance = ledger.system_account(ctx, AccountKind.ISSUANCE)
    award = ledger.post(ctx, issuance, _account(ctx, hid), 20, TransferKind.AWARD, "孝老爱亲")
    reversal = ledger.reverse(ctx, award.id, "评错了", actor_id=None)
    ctx.commit()
    assert reversal.reverses_id == award.id and reversal.amount == 20
    assert (reversal.from_account_id, reversal.to_account_id) == (award.to_account_id, award.from_account_id)
    assert _account(ctx, hid).balance == 0
    with pytest.raises(ledger.AlreadyReversed):
        ledger.reverse(ctx, award.id, "again", actor_id=None)
    with pytest.raises(ledger.AlreadyReversed):
        ledger.reverse(ctx, reversal.id, "undo the undo", actor_id=None)
    assert ledger.verify(ctx).ok


def test_reversal_of_spent_points_is_refused(ctx, make_household):
    hid = make_household()
    issuance, shop = (ledger.system_account(ctx, k) for k in (AccountKind.ISSUANCE, AccountKind.SHOP))
    award = ledger.post(ctx, issuance, _account(ctx, hid), 20, TransferKind.AWARD)
    ledger.post(ctx, _account(ctx, hid), shop, 15, TransferKind.REDEMPTION)
    with pytest.raises(ledger.InsufficientPoints):
        ledger.reverse(ctx, award.id, "评错了", actor_id=None)


def test_reversal_needs_a_reason(ctx, make_household):
    hid = make_household(points=5)
    transfer_id = ctx.scalar(sa.select(Transfer.id).where(Transfer.to_account_id == _account(ctx, hid).id))
    with pytest.raises(DomainError) as info:
        ledger.reverse(ctx, transfer_id, "  ", actor_id=None)
    assert info.value.code == "reason_required"


def test_bulk_posting_moves_net_balances_and_is_all_or_nothing(ctx, make_household):
    a, b = make_household(points=5), make_household()
    issuance = ledger.system_account(ctx, AccountKind.ISSUANCE).id
    deductions = ledger.system_account(ctx, AccountKind.DEDUCTIONS).id
    acc_a, acc_b = _account(ctx, a).id, _account(ctx, b).id
    rows = [
        {"from_account_id": issuance, "to_account_id": acc_b, "amount": 10, "kind": TransferKind.AWARD},
        {"from_account_id": acc_a, "to_account_id": deductions, "amount": 5, "kind": TransferKind.DEDUCTION},
    ]
    assert ledger.post_many(ctx, rows) == 2
    ctx.commit()
    assert (_account(ctx, a).balance, _account(ctx, b).balance) == (0, 10)

    too_much = [
        {"from_account_id": issuance, "to_account_id": acc_a, "amount": 3, "kind": TransferKind.AWARD},
        {"from_account_id": acc_b, "to_account_id": deductions, "amount": 11, "kind": TransferKind.DEDUCTION},
    ]
    count = ctx.scalar(sa.select(sa.func.count(Transfer.id)))
    with pytest.raises(ledger.InsufficientPoints):
        ledger.post_many(ctx, too_much)
    ctx.rollback()
    assert (_account(ctx, a).balance, _account(ctx, b).balance) == (0, 10)
    assert ctx.scalar(sa.select(sa.func.count(Transfer.id))) == count
    assert ledger.verify(ctx).ok


def test_history_is_newest_first_with_signed_points(ctx, make_household):
    hid = make_household(points=40)
    shop = ledger.system_account(ctx, AccountKind.SHOP)
    ledger.post(ctx, _account(ctx, hid), shop, 15, TransferKind.REDEMPTION, "洗衣粉")
    ctx.commit()
    first = ledger.history(ctx, _account(ctx, hid).id, page=1, per_page=1)
    assert (first.total, first.pages) == (2, 2)
    assert [(t.reason, points) for t, points in first.items] == [("洗衣粉", -15)]
    second = ledger.history(ctx, _account(ctx, hid).id, page=2, per_page=1)
    assert [points for _t, points in second.items] == [40]


def test_verify_catches_a_tampered_cache(ctx, make_household):
    hid = make_household(points=10)
    ctx.execute(sa.update(Account).where(Account.id == _account(ctx, hid).id).values(balance=99))
    ctx.commit()
    report = ledger.verify(ctx)
    assert not report.ok
    assert [(m.cached, m.computed) for m in report.mismatches] == [(99, 10)]


def test_database_refuses_a_negative_household_balance(ctx, make_household):
    hid = make_household(points=10)
    with pytest.raises(DBAPIError):
        ctx.execute(sa.text("UPDATE account SET balance = -1 WHERE id = :id"), {"id": _account(ctx, hid).id})
        ctx.flush()
    ctx.rollback()


@pytest.mark.parametrize("table", ["transfer", "audit_log"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET id = id", "DELETE FROM {t}"])
def test_history_tables_refuse_update_and_delete_even_in_raw_sql(ctx, make_household, table, statement):
    make_household(points=10)  # writes a transfer and audit entries
    with pytest.raises(DBAPIError, match="append-only"):
        ctx.execute(sa.text(statement.format(t=table)))
    ctx.rollback()
    assert ctx.scalar(sa.select(sa.func.count()).select_from(sa.table(table))) > 0
