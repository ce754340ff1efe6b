"""The shop's opening days (营业日): which weekdays the village's points shop opens.

Not set (no weekday ticked, the default) means the county does not check the days of redemptions;
set, a redemption made on another weekday is a finding at the county (``closed_day`` in
:mod:`pointsmart.county.anomalies`). Each change is a new row, audited and carried to the county.
"""

from collections.abc import Iterable

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..audit.services import record
from ..clock import utcnow
from ..errors import Invalid
from ..periods import WEEKDAYS
from . import services
from .models import OpeningDays

#: ISO weekday → its name (1 周一 … 7 周日)
WEEKDAY_LABELS = WEEKDAYS
LABEL = _l("营业日")


def to_mask(days: Iterable[int]) -> int:
    mask = 0
    for day in days:
        mask |= 1 << (day - 1)
    return mask


def from_mask(mask: int) -> tuple[int, ...]:
    """The ISO weekdays of a mask, Monday first."""
    return tuple(day for day in range(1, 8) if mask & (1 << (day - 1)))


def describe(days: Iterable[int]) -> str:
    """ "周一、周三、周五", or "不设置（不检查）" for none."""
    days = sorted(set(days))
    return _("、").join(str(WEEKDAY_LABELS[d]) for d in days) if days else _("不设置（不检查）")


def current_days(session: Session) -> tuple[int, ...]:
    """The weekdays set now (empty: not set)."""
    mask = session.scalar(sa.select(OpeningDays.days).order_by(OpeningDays.id.desc()).limit(1))
    return from_mask(mask or 0)


def clean_days(values) -> tuple[int, ...]:
    """The weekdays as ISO numbers, from what a form or a caller sent ("1" … "7", each once).

    :raises Invalid: anything else (too many values, a value not a weekday), naming the field.
    """
    values = list(values or ())
    problem = _("%(field)s：只能勾选周一到周日，每天一次。", field=LABEL)
    if len(values) > 7:
        raise Invalid(problem, code="invalid_opening_days", field="days")
    days = []
    for value in values:
        text = str(value)
        if len(text) != 1 or text not in "1234567":
            raise Invalid(problem, code="invalid_opening_days", field="days")
        days.append(int(text))
    if len(set(days)) != len(days):
        raise Invalid(problem, code="invalid_opening_days", field="days")
    return tuple(sorted(days))


def set_days(session: Session, actor_id: int, values) -> tuple[int, ...] | None:
    """Set the shop's opening days from now on, and audit it; None when they are the days already.

    :raises Invalid: see :func:`clean_days`.
    """
    days = clean_days(values)
    services.for_update(session)  # one change at a time
    old = current_days(session)
    if old == days:
        return None
    mask = to_mask(days)
    row = OpeningDays(days=mask, set_by=actor_id, created_at=utcnow())
    session.add(row)
    session.flush()
    record(session, "settings.opening_days.changed", actor_id, row, old=list(old), new=list(days))
    return days
