"""Prove the county's numbers: recount every village from its synced transfers and compare.

The county keeps running totals per village (:class:`~pointsmart.county.models.VillageLink`), moved by
every transfer a batch applies, and the totals each village reported with its last batch. A recount
from the county's own copy of the transfers must equal both; any difference means a transfer was lost,
doubled or altered on the way, and is named here so that a person can look into it.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..org.models import Village
from .models import SyncedTransfer, VillageLink


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


@dataclass
class VillageCheck:
    """One village's recount and what disagrees with it (nothing, when all is well)."""

    code: str
    name: str
    #: totals recounted from the synced transfers: transfers, balance_sum, issued, redeemed, deducted
    counted: dict
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_village(session: Session, village: Village, link: VillageLink) -> VillageCheck:
    """Recount one village and compare with the county's running totals and the village's report."""
    counted = recount(session, village.id)
    running = {
        "transfers": link.transfer_count,
        "balance_sum": link.balance_sum,
        "issued": link.points_issued,
        "redeemed": link.points_redeemed,
        "deducted": link.points_deducted,
    }
    problems = [
        f"{name}: recount {counted[name]}, running {running[name]}"
        for name in running
        if counted[name] != running[name]
    ]
    if link.reported_balance_sum is not None and (
        link.reported_balance_sum != counted["balance_sum"]
        or link.reported_transfer_count != counted["transfers"]
    ):
        problems.append(
            f"village reported balances {link.reported_balance_sum} / transfers "
            f"{link.reported_transfer_count} at {link.acked_seq}"
        )
    return VillageCheck(village.code, village.name, counted, problems)


def verify_villages(session: Session) -> list[VillageCheck]:
    """Check every registered village, in division-code order."""
    rows = session.execute(sa.select(Village, VillageLink).join(VillageLink).order_by(Village.code)).all()
    return [check_village(session, village, link) for village, link in rows]
