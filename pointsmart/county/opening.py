"""Opening balances (期初结转): the points a village carried over from its paper point cards.

A village starts on PointsMart by posting each household's paper-card balance as a chair's adjustment
(``pointsmart demo`` posts ``seed/demo/opening_balances.csv`` so, with the reason
"纸质积分卡余额结转（2026年1—10月）"; a chair types a reason like "开户积分" or "期初余额"). Those
points were earned before, on paper: counted as the month's issued points they dwarf the trend and
make every household look like it earned in that month. The county tells them apart by what the sync
carries — the transfer's kind, its ends and its reason:

an **opening transfer** is an ``adjustment`` from ``issuance`` to a household whose reason contains
one of :data:`MARKS`; the reversal of an opening transfer is one too (it subtracts).

The ingest keeps them in the month's rollup under :data:`OPENING_CATEGORY` (a category name no
round can send: rounds' categories are never empty) and leaves them out of the households that
earned points; the dashboard shows them as their own figure and series, outside "issued".
"""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

#: words in a reason that mark a carried-over balance
MARKS = ("结转", "期初", "开户")
#: the ``village_month_category.category`` under which a month's opening points are summed
OPENING_CATEGORY = ""

RULE = _l(
    "期初结转：村里把纸质积分卡上的余额记入系统的临时加分（原因里写着“结转”“期初”或“开户”），"
    "单独列出，不算作当月发放的积分，也不算得分农户；期末未兑换积分里包括它。"
)


def is_opening(kind: str, from_kind: str, to_kind: str, reason: str | None) -> bool:
    """Whether a synced transfer is an opening balance carried over from a paper card."""
    return (
        kind == "adjustment"
        and from_kind == "issuance"
        and to_kind == "household"
        and any(mark in (reason or "") for mark in MARKS)
    )


def opening_clause(transfer):
    """SQL: ``transfer`` (a ``SyncedTransfer`` or its alias) is an opening transfer (no reversals)."""
    return sa.and_(
        transfer.kind == "adjustment",
        transfer.from_kind == "issuance",
        transfer.to_kind == "household",
        sa.or_(*(transfer.reason.contains(mark, autoescape=True) for mark in MARKS)),
    )
