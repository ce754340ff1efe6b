"""The proof every sync fault test ends with: the county holds exactly the village's ledger, once.

:func:`assert_in_step` compares a village app and a county app (in this process, on their own
databases — wherever their servers run) and fails on the first difference:

- ``ledger verify`` is clean at the village (``village_totals``), and at the county the running totals
  equal a recount of the synced transfers, with no mismatch flagged (``county_totals``);
- the county's totals and acknowledged sequence equal the village's totals and log head;
- the county's receipts (``SyncBatch``) tile 1..head without overlap or hole, so every record was
  applied exactly once, however often it was sent;
- the synced transfers are the village's transfers (same uuids, amounts), every household's balance
  recomputed at the county equals its balance in the village, and the monthly rollups (moved batch by
  batch) equal the same figures recomputed from the synced transfers.
"""

from collections import defaultdict

import sqlalchemy as sa

from pointsmart.county.models import SyncBatch, SyncedHousehold, SyncedTransfer, VillageLink, VillageMonth
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.ledger.models import Account, Transfer
from pointsmart.org.models import Village
from pointsmart.sync import batches

from .sync_support import county_totals, village_totals


def county_village_id(county_app, code: str) -> int:
    with county_app.app_context():
        return db.session.scalar(sa.select(Village.id).where(Village.code == code))


def county_acked(county_app, code: str) -> int:
    with county_app.app_context():
        return db.session.scalar(sa.select(VillageLink.acked_seq).join(Village).where(Village.code == code))


def receipts(county_app, code: str) -> list[tuple[int, int, int, str]]:
    """The county's receipts for a village, in the order they were written: (from, to, records, via)."""
    village_id = county_village_id(county_app, code)
    with county_app.app_context():
        rows = db.session.execute(
            sa.select(SyncBatch.from_seq, SyncBatch.to_seq, SyncBatch.records, SyncBatch.via)
            .where(SyncBatch.village_id == village_id)
            .order_by(SyncBatch.id)
        ).all()
        return [tuple(row) for row in rows]


def assert_receipts_tile(rows, head: int) -> None:
    """Receipts cover 1..head in order, each exactly once: the proof nothing was applied twice."""
    expected = 1
    for from_seq, to_seq, records, _via in rows:
        assert from_seq == expected, f"receipt {from_seq}–{to_seq} after {expected - 1}: {rows}"
        assert records == to_seq - from_seq + 1 > 0, rows
        expected = to_seq + 1
    assert expected - 1 == head, f"receipts end at {expected - 1}, village head {head}: {rows}"
    assert sum(records for _f, _t, records, _v in rows) == head


def _village_ledger(village_app) -> tuple[set, dict, int]:
    with village_app.app_context():
        s = db.session
        transfers = set(s.execute(sa.select(Transfer.uuid, Transfer.amount)).all())
        balances = dict(
            s.execute(
                sa.select(Household.uuid, Account.balance)
                .join(Account, Account.id == Household.account_id)
                .where(Account.balance != 0)
            ).all()
        )
        households = s.scalar(sa.select(sa.func.count(Household.id)))
        return transfers, balances, households


SYSTEM = ("issuance", "shop", "deductions", "expiry")


def _county_ledger(county_app, village_id: int) -> tuple[set, dict, int]:
    with county_app.app_context():
        s = db.session
        t = SyncedTransfer
        rows = s.execute(
            sa.select(t.uuid, t.amount, t.from_kind, t.to_kind, t.household_uuid, t.month).where(
                t.village_id == village_id
            )
        ).all()
        balances: dict[str, int] = defaultdict(int)
        months: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        for _uuid, amount, from_kind, to_kind, household, month in rows:
            if to_kind == "household":
                balances[household] += amount
            if from_kind == "household":
                balances[household] -= amount
            figures = months[month]  # issued, redeemed, deducted, expired, transfers
            figures[4] += 1
            for index, system in enumerate(SYSTEM):
                sign = -1 if system == "issuance" else 1
                figures[index] += sign * amount * ((to_kind == system) - (from_kind == system))
        rollups = {
            month: [issued, redeemed, deducted, expired, transfers]
            for month, issued, redeemed, deducted, expired, transfers in s.execute(
                sa.select(
                    VillageMonth.month, VillageMonth.issued, VillageMonth.redeemed, VillageMonth.deducted,
                    VillageMonth.expired, VillageMonth.transfers,
                ).where(VillageMonth.village_id == village_id)
            )
        }  # fmt: skip
        # the monthly rollups moved with every batch equal the synced transfers: nothing counted twice
        assert rollups == dict(months)
        households = s.scalar(
            sa.select(sa.func.count(SyncedHousehold.id)).where(SyncedHousehold.village_id == village_id)
        )
        uuids = {(u, amount) for u, amount, *_rest in rows}
        assert len(uuids) == len(rows), "a transfer was applied twice"
        return uuids, {h: b for h, b in balances.items() if b}, households


def assert_in_step(village_app, county_app, code: str, *, village_knows: bool = True) -> dict:
    """Fail unless the county holds exactly the village's ledger; return the village's totals.

    ``village_knows``: the village's own memory (``SyncState.acked_seq``) must say the county has it
    all too — true after a push, not after a bundle import the village was not told of.
    """
    village = village_totals(village_app)  # asserts ledger verify ok
    county = county_totals(county_app, code)  # asserts recount == running totals, no mismatch
    assert county == village
    assert village["seq"] > 0
    assert_receipts_tile(receipts(county_app, code), village["seq"])
    village_transfers, village_balances, village_households = _village_ledger(village_app)
    county_transfers, county_balances, county_households = _county_ledger(
        county_app, county_village_id(county_app, code)
    )
    assert county_transfers == village_transfers
    assert len(county_transfers) == village["transfers"]
    assert county_balances == village_balances
    assert county_households == village_households
    if village_knows:
        with village_app.app_context():
            state = batches.state(db.session)
            assert (state.acked_seq, state.last_error) == (village["seq"], "")
            db.session.rollback()
    return village


def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table of an app's database, in a stable order: to prove nothing changed."""
    with app.app_context():
        tables = {}
        for table in db.metadata.sorted_tables:
            columns = list(table.columns)
            ordered = [c for c in columns if not isinstance(c.type, sa.JSON)]  # json has no ordering
            rows = db.session.execute(sa.select(*columns).order_by(*ordered)).all()
            tables[table.name] = [tuple(row) for row in rows]
        db.session.rollback()
        return tables
