"""Period keys: ``2026-11`` (monthly), ``2026-Q4`` (quarterly), ``2026-H2`` (half-yearly)."""

import re
from datetime import date

from flask_babel import gettext as _

from ..errors import Invalid
from .models import Cadence

PATTERNS = {
    Cadence.MONTHLY: re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
    Cadence.QUARTERLY: re.compile(r"^(\d{4})-Q([1-4])$"),
    Cadence.HALF_YEARLY: re.compile(r"^(\d{4})-H([12])$"),
}
EXAMPLES = {Cadence.MONTHLY: "2026-11", Cadence.QUARTERLY: "2026-Q4", Cadence.HALF_YEARLY: "2026-H2"}


def check_period(period_type: str, period_key: str) -> tuple[Cadence, str]:
    """Return the cadence and the normalised key.

    :raises Invalid: unknown period type, or a key that is not of its form.
    """
    try:
        cadence = Cadence(period_type)
    except ValueError:
        raise Invalid(_("未知的评定周期：%(t)s", t=period_type), code="bad_period") from None
    key = (period_key or "").strip().upper()
    match = PATTERNS[cadence].match(key)
    if not match or not 2000 <= int(match.group(1)) <= 2100:
        raise Invalid(
            _(
                "周期 %(key)s 格式不对，应写成 %(example)s 这样。",
                key=period_key or "",
                example=EXAMPLES[cadence],
            ),
            code="bad_period",
        )
    return cadence, key


def period_months(cadence: Cadence, key: str) -> tuple[date, date]:
    """First day of the period and first day after it."""
    year = int(key[:4])
    if cadence == Cadence.MONTHLY:
        first_month, months = int(key[5:7]), 1
    elif cadence == Cadence.QUARTERLY:
        first_month, months = (int(key[-1]) - 1) * 3 + 1, 3
    else:
        first_month, months = (int(key[-1]) - 1) * 6 + 1, 6
    end_month = first_month + months
    end = date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    return date(year, first_month, 1), end


def current_key(cadence: Cadence, today: date) -> str:
    """The period key that contains ``today``."""
    if cadence == Cadence.MONTHLY:
        return f"{today.year}-{today.month:02d}"
    if cadence == Cadence.QUARTERLY:
        return f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    return f"{today.year}-H{1 if today.month <= 6 else 2}"
