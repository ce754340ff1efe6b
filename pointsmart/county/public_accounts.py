"""The villages' public accounts (三务公开) at the county, for a family whose card now opens there.

A village publishes each closed month's figures on its own ``/accounts/``; its close reaches the county
as a ``month_close`` record holding the figures' sha256, never the figures themselves
(:func:`pointsmart.sync.kinds.month_close`). So the county shows the month as it rebuilds it from the
village's synced records (:func:`pointsmart.county.month_book.county_book`), beside the village's hash
and whether the two agree — only for a month the village closed, and with no household named (the
figures hold none). The addresses are the village's code and the month:
``/accounts/<village code>/`` and ``/accounts/<village code>/<month>``.
"""

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..org.models import Village
from .models import SyncedMonthClose


@dataclass(frozen=True)
class VillageCloses:
    village: Village
    #: the months the village closed, the latest first
    months: list[str]


def village_by_code(session: Session, code: str) -> Village | None:
    return session.scalar(sa.select(Village).where(Village.code == code))


def closed_months(session: Session, village_id: int) -> list[str]:
    """The months a village closed, as its synced closes say, the latest first."""
    return list(
        session.scalars(
            sa.select(SyncedMonthClose.month)
            .where(SyncedMonthClose.village_id == village_id)
            .distinct()
            .order_by(SyncedMonthClose.month.desc())
        )
    )


def villages_with_closes(session: Session) -> list[VillageCloses]:
    """Every village that has closed a month, by code, with its closed months."""
    months: dict[int, list[str]] = defaultdict(list)
    for village_id, month in session.execute(
        sa.select(SyncedMonthClose.village_id, SyncedMonthClose.month)
        .distinct()
        .order_by(SyncedMonthClose.village_id, SyncedMonthClose.month.desc())
    ):
        months[village_id].append(month)
    if not months:
        return []
    villages = session.scalars(sa.select(Village).where(Village.id.in_(list(months))).order_by(Village.code))
    return [VillageCloses(v, months[v.id]) for v in villages]
