"""The county dashboard's queries: a period's totals, by township and by village, trends, one village.

Every query is a plain function of ``(session, user, period)`` — the drill-down ones take the
village's code too — returning plain dataclasses, so the pages, the ``.xlsx`` exports, the charts and
``bench/`` all time and use the same code. ``user`` narrows everything to what that county user may
see (:func:`pointsmart.county.services.visible`): a township reviewer's totals count their township only.

County-wide queries (the benchmark times each one; 300 villages, ~10 million transfers):

====================== =======================================================================
``overview``           :class:`Overview` — villages registered and reporting, households, households
                       that earned points (participation), points issued / redeemed / deducted /
                       expired in the period, outstanding at its end; silent and mismatched villages
``by_township``        list of :class:`TownshipRow` — the same figures per township (sortable)
``by_village``         list of :class:`VillageRow` — the same figures per village, with its freshness:
                       last sync, days silent, the totals that disagree (sortable)
``monthly_trend``      list of :class:`MonthRow` — issued / redeemed / deducted / expired / opening per month,
                       the 12 months (or the year) ending with the period's last month
``by_category``        list of :class:`CategoryRow` — points awarded and deducted per rulebook category
``top_goods``          list of :class:`GoodsRow` — goods most redeemed (units, net of cancellations)
``recent_batches``     list of :class:`BatchRow` — the latest batches and bundles received
====================== =======================================================================

They read the rollups the ingest maintains in the same transaction as each batch (``village_month``,
``village_month_category``, ``village_month_goods``, ``household_period``), the synced households
and the village links — never ``synced_transfer``, which holds every transfer of every village.

The one-village drill-down is :mod:`pointsmart.county.drilldown`; the tables that pages and ``.xlsx``
share, :mod:`pointsmart.county.tables`.

**Outstanding** (期末未兑换积分) is defined once, by :func:`outstanding_sum` and shown on the pages as
:data:`OUTSTANDING_RULE`: the cumulative issued − redeemed − deducted − expired over every month up to
and including the period's last month. It equals the households' balances at the end of that month.
"""

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..auth.models import User
from ..clock import utcnow
from ..households.services import group_sort_key
from ..org.models import Village
from ..periods import Period, month_window
from ..settings.expiry import describe
from . import services
from .models import (
    HouseholdPeriod,
    SyncBatch,
    SyncedGoods,
    SyncedHousehold,
    SyncedPointsRule,
    VillageMonth,
    VillageMonthCategory,
    VillageMonthGoods,
)
from .opening import OPENING_CATEGORY

# --- the one definition of outstanding --------------------------------------------------------------

OUTSTANDING_RULE = _l(
    "期末未兑换积分 = 截至本期最后一个月月底，累计发放 − 累计兑换 − 累计扣减 − 累计过期"
    "（等于各户当时的积分余额之和）。"
)


def outstanding_sum(month=VillageMonth):
    """The outstanding points of the rows summed: issued − redeemed − deducted − expired.

    Summed over every month up to a period's last month, this is the period's outstanding; the
    drill-down's household balances (:func:`village_households`) add up to the same number.
    """
    return sa.func.coalesce(sa.func.sum(month.issued - month.redeemed - month.deducted - month.expired), 0)


# --- the figures of a period ------------------------------------------------------------------------

#: a village that has not synced for this long stands out on the dashboard
SILENT_AFTER = timedelta(days=7)
#: names of the totals a village link can disagree on, as people read them
MISMATCH_LABELS = {"balance_sum": _l("积分余额合计"), "transfer_count": _l("转账笔数")}


@dataclass(kw_only=True)
class Figures:
    """A period's figures for some villages (one, a township's, the whole county)."""

    villages: int = 0
    #: villages with any points movement in the period, as synced
    reporting: int = 0
    #: registered, active households (as the county knows them now)
    households: int = 0
    #: households that were awarded points in the period
    earned_households: int = 0
    #: points issued in the period, not counting the opening balances
    issued: int = 0
    #: opening balances carried over from paper cards in the period (:mod:`.opening`), outside ``issued``
    opening: int = 0
    redeemed: int = 0
    deducted: int = 0
    expired: int = 0
    #: see :data:`OUTSTANDING_RULE`
    outstanding: int = 0
    silent: int = 0
    mismatched: int = 0

    @property
    def participation(self) -> float | None:
        """Households that earned points over households, or None when there are no households."""
        return self.earned_households / self.households if self.households else None

    def add(self, other: "Figures") -> None:
        for f in fields(Figures):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(kw_only=True)
class VillageRow(Figures):
    id: int
    code: str
    name: str
    township_code: str
    township_name: str
    last_sync_at: datetime | None
    acked_seq: int
    #: the totals the county's projection and the village's own report disagree on (empty: they agree)
    mismatch: tuple[str, ...] = ()
    #: whole days since the last sync when that is :data:`SILENT_AFTER` or more; else None
    silent_days: int | None = None
    #: the village's year-end rule for points in words (the latest it synced; :data:`NO_RULE` if none)
    points_rule: str = ""

    @property
    def never_synced(self) -> bool:
        return self.last_sync_at is None

    @property
    def needs_attention(self) -> bool:
        return bool(self.silent or self.mismatched)

    @property
    def mismatch_labels(self) -> list[str]:
        return [str(MISMATCH_LABELS.get(name, name)) for name in self.mismatch]


@dataclass(kw_only=True)
class TownshipRow(Figures):
    code: str
    name: str


@dataclass
class Overview:
    totals: Figures
    #: how the user's view is limited: the whole county, or one township's name
    scope: str
    as_of: datetime


@dataclass(frozen=True)
class RuleRow:
    """One choice of a village's year-end rule, as synced."""

    rule: str
    months: int | None
    since: datetime

    @property
    def text(self) -> str:
        return describe(self.rule, self.months)


#: what the county says of a village from which it has received no year-end rule: one that never
#: chose one keeps its points, and one that has not upgraded sends none
NO_RULE = _l("没有收到（默认一直有效）")


def points_rules(session: Session, user: User, village_id: int | None = None) -> dict[int, list[RuleRow]]:
    """Each visible village's year-end rules as synced, oldest first (the last is the one in force)."""
    p = SyncedPointsRule
    query = _scoped(
        session, user, sa.select(p.village_id, p.rule, p.months, p.since), p.village_id, village_id
    )
    found: dict[int, list[RuleRow]] = {}
    for v, rule, months, since in session.execute(query.order_by(p.village_id, p.since, p.id)):
        found.setdefault(v, []).append(RuleRow(rule, months, since))
    return found


def _scoped(session: Session, user: User, query, column, village_id: int | None = None, everyone=None):
    """``query`` limited to the villages the user may see (and to one of them, when given).

    When the user sees every village there is no filter at all — the cheapest plan, a plain scan of a
    rollup with no join; otherwise the query joins ``Village`` for :func:`services.visible`, the one
    place that decides who sees what.
    """
    joined = services.visible(user, query.join(Village, Village.id == column))
    if village_id is not None:
        return joined.where(column == village_id)
    if everyone is None:
        count = sa.select(sa.func.count(Village.id))
        everyone = session.scalar(count) == session.scalar(services.visible(user, count))
    return query if everyone else joined


def village_rows(
    session: Session, user: User, period: Period, village_id: int | None = None
) -> list[VillageRow]:
    """Every visible village's figures for the period: the village links, then three grouped queries
    over the rollups and the synced households, joined here."""
    villages = [
        (village, link)
        for village, link in services.registered_villages(session, user)
        if village_id is None or village.id == village_id
    ]
    if not villages:
        return []
    everyone = village_id is None and len(villages) == session.scalar(sa.select(sa.func.count(Village.id)))

    def scoped(query, column):
        return _scoped(session, user, query, column, village_id, everyone)

    m = VillageMonth
    in_period = m.month.between(period.first_month, period.last_month)

    def during(column):
        return sa.func.coalesce(sa.func.sum(sa.case((in_period, column), else_=0)), 0)

    figures = sa.select(
        m.village_id,
        during(m.issued),
        during(m.redeemed),
        during(m.deducted),
        during(m.expired),
        during(m.transfers),
        outstanding_sum(m),
    ).where(m.month <= period.last_month)
    sums = {
        row[0]: [int(v) for v in row[1:]]
        for row in session.execute(scoped(figures, m.village_id).group_by(m.village_id))
    }
    h = SyncedHousehold
    counted = sa.select(h.village_id, sa.func.count()).where(h.active.is_(True))
    households = dict(session.execute(scoped(counted, h.village_id).group_by(h.village_id)).all())
    hp = HouseholdPeriod
    counted = sa.select(hp.village_id, sa.func.count()).where(hp.period == period.key)
    earned = dict(session.execute(scoped(counted, hp.village_id).group_by(hp.village_id)).all())
    c = VillageMonthCategory
    carried = sa.select(c.village_id, sa.func.sum(c.awarded)).where(
        c.category == OPENING_CATEGORY, c.month.between(period.first_month, period.last_month)
    )
    opening = {v: int(n) for v, n in session.execute(scoped(carried, c.village_id).group_by(c.village_id))}
    rules = points_rules(session, user, village_id)
    now = utcnow()
    rows = []
    for village, link in villages:
        issued, redeemed, deducted, expired, transfers, outstanding = sums.get(village.id, [0] * 6)
        silent_days = None
        if link.last_sync_at is None:
            silent = 1
        else:
            silent = int(now - link.last_sync_at >= SILENT_AFTER)
            silent_days = (now - link.last_sync_at).days if silent else None
        mismatch = tuple(name for name in (link.mismatch or "").split(",") if name)
        rows.append(
            VillageRow(
                id=village.id,
                code=village.code,
                name=village.name,
                township_code=village.township_code or "",
                township_name=village.township_name or "",
                last_sync_at=link.last_sync_at,
                acked_seq=link.acked_seq,
                mismatch=mismatch,
                silent_days=silent_days,
                points_rule=rules[village.id][-1].text if village.id in rules else str(NO_RULE),
                villages=1,
                reporting=int(transfers > 0),
                households=households.get(village.id, 0),
                earned_households=earned.get(village.id, 0),
                issued=issued - opening.get(village.id, 0),
                opening=opening.get(village.id, 0),
                redeemed=redeemed,
                deducted=deducted,
                expired=expired,
                outstanding=outstanding,
                silent=silent,
                mismatched=int(bool(mismatch)),
            )
        )
    return rows


def scope_label(session: Session, user: User) -> str:
    """The scope of the user's figures: 全县 (the whole county), or the one township they are limited to."""
    if user.township_code:
        names = [t.name for t in services.townships(session, user)]
        return names[0] if names else user.township_code
    return _("全县")


def overview_of(session: Session, user: User, rows: list[VillageRow]) -> Overview:
    totals = Figures()
    for row in rows:
        totals.add(row)
    return Overview(totals=totals, scope=scope_label(session, user), as_of=utcnow())


def townships_of(rows: list[VillageRow]) -> list[TownshipRow]:
    found: dict[str, TownshipRow] = {}
    for row in rows:
        township = found.get(row.township_code)
        if township is None:
            township = found[row.township_code] = TownshipRow(code=row.township_code, name=row.township_name)
        township.add(row)
    return sorted(found.values(), key=lambda t: t.code)


def overview(session: Session, user: User, period: Period) -> Overview:
    """The period's totals over every village the user may see."""
    return overview_of(session, user, village_rows(session, user, period))


def by_township(
    session: Session, user: User, period: Period, sort: str | None = None, descending: bool = False
) -> list[TownshipRow]:
    """The period's figures per township, by township code unless sorted (see :data:`SORTS`)."""
    return sort_rows(townships_of(village_rows(session, user, period)), sort, descending)


def by_village(
    session: Session, user: User, period: Period, sort: str | None = None, descending: bool = False
) -> list[VillageRow]:
    """The period's figures per village, by township then code unless sorted (see :data:`SORTS`)."""
    return sort_rows(village_rows(session, user, period), sort, descending)


def group_ranks(rows) -> dict[str, int]:
    """Each 村民小组's place when groups are counted (一社, 二社 … 十一社): what the page's own sorting
    script orders the group column by, so that it agrees with the server's order."""
    names = sorted({r.group or "" for r in rows}, key=group_sort_key)
    return {name: place for place, name in enumerate(names)}


#: sortable columns: ?sort=<key>&dir=asc|desc; each key's value for a row, and its first direction
SORTS: dict[str, tuple[Callable, bool]] = {
    "code": (lambda r: r.code, False),
    "name": (lambda r: r.name, False),
    "township": (lambda r: (r.township_code, r.code), False),
    "villages": (lambda r: r.villages, True),
    "reporting": (lambda r: r.reporting, True),
    "households": (lambda r: r.households, True),
    "earned": (lambda r: r.earned_households, True),
    "participation": (lambda r: -1 if r.participation is None else r.participation, True),
    "issued": (lambda r: r.issued, True),
    "redeemed": (lambda r: r.redeemed, True),
    "deducted": (lambda r: r.deducted, True),
    "opening": (lambda r: r.opening, True),
    "outstanding": (lambda r: r.outstanding, True),
    "silent": (lambda r: r.silent, True),
    "last_sync": (lambda r: r.last_sync_at or datetime.min, True),
    "balance": (lambda r: r.balance, True),
    "household_no": (lambda r: r.household_no, False),
    "head_name": (lambda r: r.head_name, False),
    "group": (lambda r: (group_sort_key(r.group), r.household_no), False),
}


def sort_rows(rows: list, sort: str | None, descending: bool = False) -> list:
    """Rows sorted by a :data:`SORTS` key (ties keep their order); an unknown key leaves them as they are."""
    if sort not in SORTS:
        return rows
    value = SORTS[sort][0]
    try:
        return sorted(rows, key=value, reverse=descending)
    except AttributeError:  # a key of another table's rows
        return rows


# --- trends, categories, goods ----------------------------------------------------------------------


@dataclass
class MonthRow:
    month: str
    #: issued in the month, not counting the opening balances
    issued: int = 0
    redeemed: int = 0
    deducted: int = 0
    expired: int = 0
    transfers: int = 0
    #: opening balances carried over from paper cards in the month (:mod:`.opening`)
    opening: int = 0


def month_rows(
    session: Session, user: User, period: Period, village_id: int | None, count: int
) -> list[MonthRow]:
    """Issued, redeemed, deducted and expired per month for the ``count`` months ending with the
    period's last month (every month of a longer period), of every visible village or one."""
    m = VillageMonth
    window = [m.key for m in month_window(period, max(count, len(period.months)))]
    found = {
        month: MonthRow(month, *(int(v) for v in values))
        for month, *values in session.execute(
            _scoped(
                session,
                user,
                sa.select(
                    m.month,
                    sa.func.sum(m.issued),
                    sa.func.sum(m.redeemed),
                    sa.func.sum(m.deducted),
                    sa.func.sum(m.expired),
                    sa.func.sum(m.transfers),
                ),
                m.village_id,
                village_id,
            )
            .where(m.month.between(window[0], window[-1]))
            .group_by(m.month)
        )
    }
    c = VillageMonthCategory
    carried = _scoped(
        session, user, sa.select(c.month, sa.func.sum(c.awarded)), c.village_id, village_id
    ).where(c.category == OPENING_CATEGORY, c.month.between(window[0], window[-1]))
    for month, points in session.execute(carried.group_by(c.month)):
        if month in found and points:
            found[month].opening = int(points)
            found[month].issued -= int(points)
    return [found.get(month) or MonthRow(month) for month in window]


def monthly_trend(session: Session, user: User, period: Period, months: int = 12) -> list[MonthRow]:
    """Issued and redeemed points per month: the 12 months ending with the period's last month."""
    return month_rows(session, user, period, None, months)


@dataclass
class CategoryRow:
    category: str
    awarded: int
    deducted: int
    villages: int

    @property
    def net(self) -> int:
        return self.awarded - self.deducted


def by_category(session: Session, user: User, period: Period) -> list[CategoryRow]:
    """Points scoring rounds awarded and deducted per rulebook category (by name across villages)."""
    c = VillageMonthCategory
    rows = session.execute(
        _scoped(
            session,
            user,
            sa.select(
                c.category,
                sa.func.sum(c.awarded),
                sa.func.sum(c.deducted),
                sa.func.count(sa.distinct(c.village_id)),
            ),
            c.village_id,
            None,
        )
        .where(c.month.between(period.first_month, period.last_month), c.category != OPENING_CATEGORY)
        .group_by(c.category)
    )
    found = [CategoryRow(name, int(a), int(d), int(v)) for name, a, d, v in rows]
    return sorted(found, key=lambda r: (-r.awarded, -r.deducted, r.category))


@dataclass
class GoodsRow:
    name: str
    spec: str
    qty: int
    villages: int = 1


def goods_rows(session: Session, user: User, period: Period, village_id: int | None, limit: int | None):
    """Goods redeemed in the period (units net of cancellations), most first, of every visible village
    or one; ``limit`` rows at most when given."""
    g, s = VillageMonthGoods, SyncedGoods
    qty = sa.func.sum(g.qty)
    query = (
        _scoped(
            session,
            user,
            sa.select(s.name, s.spec, qty, sa.func.count(sa.distinct(g.village_id))).join(
                s, sa.and_(s.village_id == g.village_id, s.uuid == g.goods_uuid)
            ),
            g.village_id,
            village_id,
        )
        .where(g.month.between(period.first_month, period.last_month))
        .group_by(s.name, s.spec)
        .having(qty > 0)
        .order_by(qty.desc(), s.name, s.spec)
    )
    if limit:
        query = query.limit(limit)
    return [GoodsRow(name, spec or "", int(q), int(v)) for name, spec, q, v in session.execute(query)]


def top_goods(session: Session, user: User, period: Period, limit: int = 20) -> list[GoodsRow]:
    """The goods redeemed most in the period (units, net of cancellations), by name and spec."""
    return goods_rows(session, user, period, None, limit)


@dataclass
class BatchRow:
    village_code: str
    village_name: str
    from_seq: int
    to_seq: int
    records: int
    via: str
    received_at: datetime


def recent_batches(
    session: Session, user: User, period: Period | None = None, limit: int = 20
) -> list[BatchRow]:
    """The latest batches (``http``) and bundles (``bundle``) received from the visible villages."""
    b = SyncBatch
    query = services.visible(
        user,
        sa.select(Village.code, Village.name, b.from_seq, b.to_seq, b.records, b.via, b.received_at).join(
            Village, Village.id == b.village_id
        ),
    ).order_by(b.id.desc())
    return [BatchRow(*row) for row in session.execute(query.limit(limit))]
