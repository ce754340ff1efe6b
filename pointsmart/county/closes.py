"""What the county shows of a village's closes (月结): per month, closed or not, when, by whom, the
village's hash of its figures and the hash of the figures the county rebuilds from its synced records."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..closing.figures import rebuilt_digest
from ..periods import Period, last_complete_month
from .models import SyncedMonthClose, SyncedTransfer
from .month_figures import county_month_figures

#: the months the village page lists, newest first
SHOWN_MONTHS = 12


@dataclass
class CountyMonth:
    month: str
    label: str
    closed_at: datetime | None = None
    #: the id the village derives from the user who closed the month
    closed_by: str | None = None
    #: their name as the village shows it ("" when the village's close did not carry one)
    closed_by_name: str = ""
    village_sha256: str | None = None
    county_sha256: str | None = None

    @property
    def closed(self) -> bool:
        return self.village_sha256 is not None

    @property
    def closer(self) -> str:
        """Who closed the month: their name, or — from a village whose close carried none — their id,
        said to be one."""
        if self.closed_by_name:
            return self.closed_by_name
        if self.closed_by:
            return _("编号 %(id)s（村里没有同步姓名）", id=self.closed_by[:8])
        return ""

    @property
    def agrees(self) -> bool | None:
        return None if not self.closed else self.village_sha256 == self.county_sha256


def county_close(session: Session, village_id: int, month: str, figures: bool = True) -> CountyMonth:
    """One month as the county sees it, the figures rebuilt when the village closed it (``figures``
    False: the close alone, its ``county_sha256`` left for the caller to fill)."""
    period = Period.containing("month", int(month[:4]), int(month[5:]))
    row = CountyMonth(month, period.label())
    close = session.scalar(
        sa.select(SyncedMonthClose)
        .where(SyncedMonthClose.village_id == village_id, SyncedMonthClose.month == month)
        .order_by(SyncedMonthClose.id)
        .limit(1)
    )
    if close is not None:
        row.closed_at, row.closed_by, row.village_sha256 = close.closed_at, close.closed_by_uuid, close.sha256
        row.closed_by_name = close.closed_by_name
        if figures:
            row.county_sha256 = rebuilt_digest(
                county_month_figures(session, village_id, month, close.closed_at), close.sha256
            )
    return row


def county_months(session: Session, village_id: int, limit: int = SHOWN_MONTHS) -> list[CountyMonth]:
    """The village's months, newest first: from its first synced month (or closed month) to the last
    month that has ended, at most ``limit`` of them."""
    first = session.scalar(
        sa.select(sa.func.min(SyncedTransfer.month)).where(SyncedTransfer.village_id == village_id)
    )
    first_close = session.scalar(
        sa.select(sa.func.min(SyncedMonthClose.month)).where(SyncedMonthClose.village_id == village_id)
    )
    starts = [m for m in (first, first_close) if m]
    if not starts:
        return []
    last = last_complete_month()
    months, month = [], last
    while month.key >= min(starts) and len(months) < limit:
        months.append(county_close(session, village_id, month.key))
        month = month.previous
    return months
