"""A round's period: its cadence and key (``2026-11`` monthly, ``2026-Q4`` quarterly, ``2026-H2``
half-yearly), read and checked with the one calendar (:mod:`pointsmart.periods`)."""

from datetime import date

from flask_babel import gettext as _

from ..errors import Invalid
from ..periods import Period, read_period
from .models import Cadence

EXAMPLES = {
    Cadence.MONTHLY: "2026-11 / 2026年11月",
    Cadence.QUARTERLY: "2026-Q4 / 2026年第4季度",
    Cadence.HALF_YEARLY: "2026-H2 / 2026年下半年",
}


def check_period(period_type: str, period_key: str) -> tuple[Cadence, str]:
    """Return the cadence and the key in its normal form (``2026年11月`` → ``2026-11``).

    :raises Invalid: unknown period type, or a key that is not a period of that cadence.
    """
    try:
        cadence = Cadence(period_type)
    except ValueError:
        raise Invalid(_("未知的评定周期：%(t)s", t=period_type), code="bad_period") from None
    period = read_period(period_key or "")
    if period is None or period.kind != cadence.period_kind:
        raise Invalid(
            _(
                "周期 %(key)s 格式不对，应写成 %(example)s 这样。",
                key=(period_key or "")[:20],  # only quoted back, shortened to fit the message
                example=EXAMPLES[cadence],
            ),
            code="bad_period",
        )
    return cadence, period.key


def round_period(period_type: str, period_key: str) -> Period:
    """The calendar period of a stored round (its key was checked when the round was made)."""
    period = read_period(period_key)
    if period is None or period.kind != Cadence(period_type).period_kind:
        raise ValueError(f"not a {period_type} period: {period_key!r}")
    return period


def current_key(cadence: Cadence, today: date) -> str:
    """The key of the period of ``cadence`` that holds ``today``."""
    return Period.of(today, cadence.period_kind).key
