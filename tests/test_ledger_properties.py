"""Stateful property test of the ledger against a pure-Python model, on the real database.

Hypothesis drives random sequences of awards, deductions, redemptions, reversals, bulk batches and
expiry (a year-end rule chosen, time moved on, what is past its day posted to the expiry account)
across a few households. A plain dict predicts every balance and whether each write must succeed or
be refused; after every step the database must agree with the model, the sum over all accounts must
be zero, no household may be below zero, and :func:`ledger.verify` must prove cache = transfers.

The database persists across Hypothesis examples (one ``app`` per test), so each example opens its
own households and measures the system accounts and the transfer count from where it found them.
"""

import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from pointsmart import clock
from pointsmart.errors import DomainError, NotFound
from pointsmart.extensions import db
from pointsmart.households import services as households
from pointsmart.households.models import Household
from pointsmart.ledger import services as ledger
from pointsmart.ledger.models import Account, AccountKind, Transfer, TransferKind
from pointsmart.org.services import home_village
from pointsmart.settings import expiry
from pointsmart.settings.models import PointsRule, PointsRuleKind

HOUSEHOLDS = 3
#: what kind of transfer each debit or credit is, and which system account is on the other side
KINDS = {
    "award": (TransferKind.AWARD, AccountKind.ISSUANCE),
    "deduction": (TransferKind.DEDUCTION, AccountKind.DEDUCTIONS),
    "redemption": (TransferKind.REDEMPTION, AccountKind.SHOP),
}

SETTINGS = settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

#: where each example's clock starts (noon in the villages, far from a day's edge), so that what expires
#: depends on the example's own steps alone, never on the time or the rules earlier examples left behind
#: (Hypothesis replays an example's steps and needs the same answers)
START = datetime(2030, 6, 15, 4, 0)

#: what the runs actually exercised, so the test cannot pass by never refusing anything
seen: Counter = Counter()

household_index = st.integers(min_value=0, max_value=HOUSEHOLDS - 1)
debit_amount = st.integers(min_value=1, max_value=150)


class LedgerMachine(RuleBasedStateMachine):
    """One example: its own households, a model of their balances, and the transfers it made."""

    def __init__(self):
        super().__init__()
        self.session = db.session
        s = self.session
        s.execute(sa.delete(PointsRule))  # each example starts under "keep", at the same moment
        clock.reset()
        clock.advance(START - clock.utcnow())
        self.system = {
            kind: ledger.system_account(s, kind).id
            for kind in (AccountKind.ISSUANCE, AccountKind.SHOP, AccountKind.DEDUCTIONS, AccountKind.EXPIRY)
        }
        #: expected balance of every account this example moves: system accounts from where we found them
        self.expected = {acc_id: ledger.balance_of(s, acc_id) for acc_id in self.system.values()}
        self.transfers_before = self._transfer_count()
        village_id = home_village(s).id
        self.household_ids: list[int] = []
        self.accounts: list[int] = []
        for _ in range(HOUSEHOLDS):
            data = {"household_no": f"P{uuid.uuid4().hex[:12]}", "head_name": "性质测试户", "group": "一社"}
            household = households.create_household(s, village_id, data, actor_id=None)
            self.household_ids.append(household.id)
            self.accounts.append(household.account_id)
            self.expected[household.account_id] = 0
        s.commit()
        #: the transfers this example wrote: id → {"from", "to", "amount", "reversal", "reversed"}
        self.transfers: dict[int, dict] = {}
        #: expiries this example's runs posted for earlier examples' households (the database is shared)
        self.foreign_transfers = 0

    # --- helpers -------------------------------------------------------------------------------

    def _transfer_count(self) -> int:
        return self.session.scalar(sa.select(sa.func.count(Transfer.id)))

    def _household(self, index: int) -> Household:
        return self.session.get(Household, self.household_ids[index])

    def _account(self, account_id: int) -> Account:
        return self.session.get(Account, account_id)

    def _book(self, transfer: Transfer, *, reversal: bool = False) -> None:
        """Record a committed transfer in the model and move the expected balances."""
        self.transfers[transfer.id] = {
            "from": transfer.from_account_id,
            "to": transfer.to_account_id,
            "kind": transfer.kind,
            "amount": transfer.amount,
            "reversal": reversal,
            "reversed": False,
        }
        self.expected[transfer.from_account_id] -= transfer.amount
        self.expected[transfer.to_account_id] += transfer.amount

    def _assert_refused_and_nothing_written(self, error, transfers_before: int, candidates) -> None:
        """After a refused write: roll back, then the database must look exactly as before."""
        self.session.rollback()
        assert error.code == "insufficient_points"
        assert (error.extra["balance"], error.extra["needed"]) in candidates
        assert self._transfer_count() == transfers_before
        for account_id, expected in self.expected.items():
            assert ledger.balance_of(self.session, account_id) == expected
        seen["refused"] += 1

    def _debit(self, index: int, amount: int, kind_name: str, via_service: bool = False) -> None:
        kind, other = KINDS[kind_name]
        account_id = self.accounts[index]
        balance = self.expected[account_id]
        before = self._transfer_count()
        try:
            if via_service:  # the chair's deduction screen: an adjustment, with an audit entry
                transfer = households.adjust_points(
                    self.session, self._household(index), -amount, "扣分", actor_id=None
                )
            else:
                transfer = ledger.post(
                    self.session,
                    self._account(account_id),
                    self._account(self.system[other]),
                    amount,
                    kind,
                    kind_name,
                )
        except ledger.InsufficientPoints as error:
            assert amount > balance, f"a debit of {amount} from {balance} was refused"
            self._assert_refused_and_nothing_written(error, before, {(balance, amount)})
            return
        assert amount <= balance, f"a debit of {amount} from {balance} was allowed"
        assert (transfer.from_account_id, transfer.to_account_id, transfer.amount) == (
            account_id,
            self.system[other],
            amount,
        )
        self.session.commit()
        self._book(transfer)
        seen["debited"] += 1

    # --- rules ---------------------------------------------------------------------------------

    @initialize(
        opening=st.lists(st.integers(min_value=0, max_value=200), min_size=HOUSEHOLDS, max_size=HOUSEHOLDS)
    )
    def open_with_points(self, opening):
        for index, points in enumerate(opening):
            if points:
                transfer = households.adjust_points(
                    self.session, self._household(index), points, "开户积分", actor_id=None
                )
                self.session.commit()
                self._book(transfer)

    @rule(index=household_index, amount=st.integers(min_value=1, max_value=100))
    def award(self, index, amount):
        account_id = self.accounts[index]
        transfer = ledger.post(
            self.session,
            self._account(self.system[AccountKind.ISSUANCE]),
            self._account(account_id),
            amount,
            TransferKind.AWARD,
            "美丽庭院",
        )
        self.session.commit()
        assert (transfer.from_account_id, transfer.to_account_id) == (
            self.system[AccountKind.ISSUANCE],
            account_id,
        )
        self._book(transfer)

    @rule(index=household_index, amount=debit_amount, via_service=st.booleans())
    def deduct(self, index, amount, via_service):
        self._debit(index, amount, "deduction", via_service)

    @rule(index=household_index, amount=debit_amount)
    def redeem(self, index, amount):
        self._debit(index, amount, "redemption")

    @precondition(lambda self: self.transfers)
    @rule(data=st.data(), via_household=st.booleans())
    def reverse(self, data, via_household):
        transfer_id = data.draw(st.sampled_from(sorted(self.transfers)), label="transfer")
        original = self.transfers[transfer_id]
        before = self._transfer_count()
        # the reversal moves the points back: a household that received them must still have them
        debited = original["to"]
        balance = self.expected[debited]
        if via_household and original["kind"] == TransferKind.REDEMPTION:
            # the household page refuses: a redemption is cancelled at the counter, goods and all
            index = self.accounts.index(original["from"])
            with pytest.raises(DomainError) as refused:
                households.reverse_transfer(self.session, self._household(index), transfer_id, "录错了", None)
            self.session.rollback()
            assert refused.value.code == "use_redemption_cancel" and self._transfer_count() == before
            return
        try:
            if via_household:
                index = self.accounts.index(
                    original["from"] if original["from"] in self.accounts else original["to"]
                )
                reversal = households.reverse_transfer(
                    self.session, self._household(index), transfer_id, "录错了", actor_id=None
                )
            else:
                reversal = ledger.reverse(self.session, transfer_id, "录错了", actor_id=None)
        except ledger.AlreadyReversed as error:
            self.session.rollback()
            assert original["reversal"] or original["reversed"], "a first reversal was refused"
            assert error.code == "already_reversed"
            assert self._transfer_count() == before
            seen["already_reversed"] += 1
            return
        except ledger.InsufficientPoints as error:
            assert not (original["reversal"] or original["reversed"]), "would reverse twice"
            assert debited in self.accounts and original["amount"] > balance
            self._assert_refused_and_nothing_written(error, before, {(balance, original["amount"])})
            return
        assert not (original["reversal"] or original["reversed"]), "reversed twice, or a reversal reversed"
        assert debited not in self.accounts or original["amount"] <= balance
        assert reversal.reverses_id == transfer_id and reversal.kind == TransferKind.REVERSAL
        assert (reversal.from_account_id, reversal.to_account_id, reversal.amount) == (
            original["to"],
            original["from"],
            original["amount"],
        )
        self.session.commit()
        original["reversed"] = True
        self._book(reversal, reversal=True)
        seen["reversed"] += 1

    @precondition(lambda self: self.transfers)
    @rule(data=st.data())
    def reverse_through_the_wrong_household(self, data):
        """A chair may reverse only a transfer of the household on screen."""
        transfer_id = data.draw(st.sampled_from(sorted(self.transfers)), label="transfer")
        original = self.transfers[transfer_id]
        involved = (original["from"], original["to"])
        strangers = [i for i, acc in enumerate(self.accounts) if acc not in involved]
        index = data.draw(st.sampled_from(strangers), label="household")
        before = self._transfer_count()
        with pytest.raises(NotFound):
            households.reverse_transfer(
                self.session, self._household(index), transfer_id, "录错了", actor_id=None
            )
        self.session.rollback()
        assert self._transfer_count() == before

    @rule(
        batch=st.lists(
            st.tuples(
                st.sampled_from(sorted(KINDS)), household_index, st.integers(min_value=1, max_value=100)
            ),
            min_size=1,
            max_size=8,
        )
    )
    def post_many(self, batch):
        rows, net = [], Counter()
        for kind_name, index, amount in batch:
            kind, other = KINDS[kind_name]
            household, system = self.accounts[index], self.system[other]
            source, target = (system, household) if kind_name == "award" else (household, system)
            rows.append(
                {
                    "from_account_id": source,
                    "to_account_id": target,
                    "amount": amount,
                    "kind": kind,
                    "reason": "批量",
                }
            )
            net[source] -= amount
            net[target] += amount
        # all or nothing, by each household's net change: the model of post_many's documented rule
        short = {
            (self.expected[acc], -net[acc]) for acc in self.accounts if self.expected[acc] + net[acc] < 0
        }
        before = self._transfer_count()
        last_id = self.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Transfer.id), 0)))
        try:
            posted = ledger.post_many(self.session, rows)
        except ledger.InsufficientPoints as error:
            assert short, f"batch {batch} was refused though every household covers it"
            self._assert_refused_and_nothing_written(error, before, short)
            return
        assert not short, f"batch {batch} was allowed though a household cannot cover it"
        assert posted == len(rows)
        self.session.commit()
        written = self.session.scalars(sa.select(Transfer).where(Transfer.id > last_id)).all()
        key = ("from_account_id", "to_account_id", "amount", "kind")
        assert sorted(tuple(str(getattr(t, k)) for k in key) for t in written) == sorted(
            tuple(str(r[k]) for k in key) for r in rows
        )
        for transfer in written:
            self._book(transfer)
        seen["batches"] += 1

    @rule(months=st.sampled_from([None, 1, 2]), days=st.integers(min_value=1, max_value=40))
    def expire(self, months, days):
        """Choose a rule (None: clear at year end), let ``days`` pass, post what has expired — twice."""
        rule = PointsRuleKind.YEAR_END if months is None else PointsRuleKind.MONTHS
        expiry.set_rule(self.session, None, rule, months)
        self.session.commit()
        clock.advance(timedelta(days=days))
        balances = {acc: ledger.balance_of(self.session, acc) for acc in self.accounts}
        dry = expiry.expire_points(self.session, dry_run=True)
        last_id = self.session.scalar(sa.select(sa.func.coalesce(sa.func.max(Transfer.id), 0)))
        report = expiry.expire_points(self.session)
        self.session.commit()
        written = self.session.scalars(sa.select(Transfer).where(Transfer.id > last_id)).all()
        assert sorted((t.from_account_id, t.amount) for t in written) == sorted(report.expired)
        assert sorted(report.expired) == sorted(dry.expired), "the dry run counted something else"
        for transfer in written:
            assert transfer.kind == TransferKind.EXPIRY
            assert transfer.to_account_id == self.system[AccountKind.EXPIRY]
            if transfer.from_account_id in self.accounts:
                assert transfer.amount <= balances[transfer.from_account_id]
                self._book(transfer)
            else:
                self.expected[transfer.to_account_id] += transfer.amount
                self.foreign_transfers += 1
        # idempotent: what is due was posted, so a second run finds nothing
        assert expiry.expire_points(self.session).points == 0
        self.session.commit()
        seen["expired"] += bool(report.points)

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def ledger_balances(self):
        s = self.session
        assert s.scalar(sa.select(sa.func.sum(Account.balance))) == 0
        assert (
            s.scalar(
                sa.select(sa.func.count(Account.id)).where(
                    Account.kind == AccountKind.HOUSEHOLD, Account.balance < 0
                )
            )
            == 0
        )
        report = ledger.verify(s)
        assert report.ok, report
        assert report.transfers == self.transfers_before + len(self.transfers) + self.foreign_transfers
        for account_id, expected in self.expected.items():
            assert ledger.balance_of(s, account_id) == expected, f"account {account_id}"
        reversed_in_db = ledger.reversed_ids(s, list(self.transfers))
        assert reversed_in_db == {tid for tid, t in self.transfers.items() if t["reversed"]}
        s.rollback()  # end the read transaction (on SQLite it holds the write lock)

    def teardown(self):
        self.session.rollback()


def test_ledger_matches_a_model_under_random_operations(app):
    seen.clear()
    with app.app_context():
        run_state_machine_as_test(LedgerMachine, settings=SETTINGS)
        assert ledger.verify(db.session).ok
    # the random runs must have gone down every path, or they proved little
    assert {"refused", "debited", "reversed", "already_reversed", "batches", "expired"} <= set(seen), seen
