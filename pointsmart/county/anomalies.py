"""Anomaly checks at the county (需要关注): named rules over the synced records, each with a threshold
the county admin sets, each finding a Chinese sentence and a link to its evidence on the village page.

Every check is a plain function of ``(session, user, period, threshold)`` returning :class:`Finding` s,
limited to the villages the user may see (:func:`pointsmart.county.services.visible`, through
:func:`.dashboard._scoped`); :func:`findings` runs them all and attaches the reviewers' marks.

====================== =======================================================================
``notice_short``       a round finalised in the period whose notice was shorter than the village's own
                       notice days or than N days (from its publishing to its notice's end, or
                       finalised before that end), or that has no notice photo; a village that has
                       not upgraded to 0011 sends no publishing time, notice days or photos, and its
                       rounds are held to the time from creation, an upper bound of the notice
``household_outlier``  a household whose points from the period's rounds exceed N× the village median
``manual_share``       manual points (issuance outside rounds and opening balances) above N % of the
                       village's points issued in the period
``stock_exceeded``     goods redeemed in the period whose redemptions up to the period's end exceed the
                       stock received (donations, purchases, stocktake gains — the opening stock comes in
                       as those) by more than N
``issued_spike``       a month whose points issued exceed N× the village's average of the 6 months
                       before, over those since its first activity (months before it used the system
                       are no zeros); fewer than 3 such months, or nothing in them: not compared
``quick_repeat``       a household's card redeemed at two counters (two operators) within N seconds;
                       from a village that has not upgraded to 0011 (no operator or card sent), any
                       two of a household's redemptions that close
``closed_day``         a redemption made on a weekday (in the villages' zone) that is not one of the
                       shop's opening days set in the village when it was made; a village that has not
                       set them (or set none: "not set") is not checked. No threshold: a day is open or not
``silent``             a village that has not synced for N days or more (or never)
``mismatch``           a village whose totals disagree with the county's recount (the dashboard's
                       :class:`.dashboard.VillageRow`, not computed again)
====================== =======================================================================

Cost: the rounds, round results, rollups (``village_month``, ``village_month_category``,
``village_month_goods``) and redemptions of the period (``ix_synced_redemption_at``; ``closed_day``
reads them only for villages that have set their opening days, and ``synced_opening_days`` whole, a
few rows a village); the few stock
moves that receive stock (``ix_synced_stock_move_kind``). Never ``synced_transfer``. On PostgreSQL the
households' median is taken in the database (``percentile_cont``), so only outliers come back. Not yet
timed in ``bench/county_dashboard.py``.

A finding's identity is rule + village + subject (:attr:`Finding.identity`), the same in whichever
period it is viewed: a reviewer's mark (:class:`.models.AnomalyCheck`) is kept by it, so it survives
the findings being computed again and covers the finding under its month, quarter and year alike. The
subject is what the finding is about: a round, a redemption, a month (``issued_spike``), the start of a
silence (the last sync's time, ``silent``). Three rules judge a period's sums, so their subject is the
period's too (:data:`PERIOD_BOUND`): a household's points from a quarter's rounds are another finding
than its points from one month's. A mark keeps its scope in ``AnomalyCheck.period``: "" for the rules
whose finding is the same in every period, the period's key for :data:`PERIOD_BOUND`. Marks made
before this (each with the period it was made in) still count: a mark of a period-free rule counts in
every period, and an old ``silent`` mark (no subject) counts for the silence it was made in.

Past 500 lines on purpose: the checks are one list, read whole by the page, the export and the
thresholds form; each is a short query of its own, and a module per check would scatter that one table
of rules (above) over eight files.
"""

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..audit.services import changes, record
from ..auth.models import User
from ..clock import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..org.models import Village
from ..periods import (
    WEEKDAYS,
    Period,
    last_complete_month,
    local_day,
    local_text,
    month_window,
    read_period,
    rollup_keys,
)
from ..settings.opening_days import describe as describe_days
from ..settings.opening_days import from_mask
from ..text import checked
from . import services
from .dashboard import VillageRow, _scoped, village_rows
from .models import (
    AnomalyCheck,
    AnomalyThreshold,
    SyncedGoods,
    SyncedHousehold,
    SyncedOpeningDays,
    SyncedRedemption,
    SyncedRound,
    SyncedRoundResult,
    SyncedStockMove,
    VillageMonth,
    VillageMonthCategory,
    VillageMonthGoods,
)
from .opening import OPENING_CATEGORY


@dataclass(frozen=True)
class Rule:
    """One check: its name, its threshold's label, bounds and default (no threshold: ``default`` None)."""

    key: str
    label: object
    threshold_label: object = None
    default: int | None = None
    minimum: int = 0
    maximum: int = 0
    #: where its evidence is on the village page (a section's id); a household's rules use its row
    anchor: str = ""


RULES = (
    Rule("notice_short", _l("公示期过短或没有公示照片"), _l("公示期少于（天）"), 5, 1, 30, "rounds"),
    Rule("household_outlier", _l("农户得分异常高"), _l("超过全村中位数的倍数"), 5, 2, 100, "households"),
    Rule("manual_share", _l("手工加分比例过高"), _l("手工加分占比超过（百分数）"), 30, 1, 100, "households"),
    Rule("stock_exceeded", _l("兑换超过入库"), _l("允许超出的件数"), 0, 0, 10000, "shop-goods"),
    Rule(
        "issued_spike",
        _l("月发放积分突增"),
        _l("超过前 6 个月平均的倍数（本村用了至少 3 个月才比较）"),
        3,
        2,
        100,
        "shop-months",
    ),
    Rule("quick_repeat", _l("短时间内重复兑换"), _l("两次兑换相隔少于（秒）"), 60, 1, 3600, "households"),
    Rule("closed_day", _l("非营业日兑换"), anchor="households"),
    Rule("silent", _l("长时间未同步"), _l("未同步超过（天）"), 7, 1, 365, ""),
    Rule("mismatch", _l("总数与县里重算不符")),
)
RULE_BY_KEY = {rule.key: rule for rule in RULES}
#: the rules that judge a period's sums: their finding in a month is another than in its quarter
PERIOD_BOUND = frozenset({"household_outlier", "manual_share", "stock_exceeded"})
#: the rules whose threshold the county admin sets
SETTABLE = tuple(rule for rule in RULES if rule.default is not None)


@dataclass
class Finding:
    rule: str
    village_id: int
    village_code: str
    village_name: str
    township_name: str
    #: what in the village it is about (a round's, household's, redemption's or goods' uuid, a month, the
    #: last sync's time for a silence); "" the village
    subject: str
    #: the key of the period it was found in
    period: str
    reason: str
    #: the period and the section of the village page that show the evidence
    evidence_period: Period
    anchor: str = ""
    checked_at: datetime | None = None
    checked_by: str = ""
    note: str = ""

    @property
    def scope(self) -> str:
        """The period a mark of this finding is kept for: "" (every period) unless :data:`PERIOD_BOUND`."""
        return self.period if self.rule in PERIOD_BOUND else ""

    @property
    def identity(self) -> tuple[str, int, str, str]:
        return self.rule, self.village_id, self.subject, self.scope

    @property
    def rule_label(self) -> str:
        return str(RULE_BY_KEY[self.rule].label)

    @property
    def checked(self) -> bool:
        return self.checked_at is not None

    @property
    def state(self) -> str:
        return _("已核查") if self.checked else _("待核查")


# --- thresholds -------------------------------------------------------------------------------------


def thresholds(session: Session) -> dict[str, int]:
    """Each settable rule's threshold: the county admin's, or the rule's default."""
    stored = dict(session.execute(sa.select(AnomalyThreshold.rule, AnomalyThreshold.value)).all())
    return {rule.key: stored.get(rule.key, rule.default) for rule in SETTABLE}


def set_thresholds(session: Session, values: dict[str, int], actor_id: int | None) -> dict[str, int]:
    """Store the thresholds given (each within its rule's bounds) and audit what changed.

    :raises Invalid: an unknown rule, or a value out of its bounds (the message names the threshold).
    """
    old = thresholds(session)
    for key, value in values.items():
        rule = RULE_BY_KEY.get(key)
        if rule is None or rule.default is None:
            raise Invalid(_("没有这项检查：%(key)s", key=key), code="unknown_rule")
        if not isinstance(value, int) or not rule.minimum <= value <= rule.maximum:
            raise Invalid(
                _(
                    "%(field)s：必须是 %(low)s 到 %(high)s 之间的整数。",
                    field=rule.threshold_label,
                    low=rule.minimum,
                    high=rule.maximum,
                ),
                code="threshold_out_of_range",
            )
        found = session.get(AnomalyThreshold, key)
        if found is None:
            session.add(AnomalyThreshold(rule=key, value=value, set_by=actor_id, set_at=utcnow()))
        elif found.value != value:
            found.value, found.set_by, found.set_at = value, actor_id, utcnow()
    session.flush()
    new = thresholds(session)
    diff = changes(old, new)
    if diff["new"]:
        record(session, "county.anomaly.thresholds", actor_id, None, **diff)
    return new


# --- the checks -------------------------------------------------------------------------------------


def _villages(session: Session, user: User) -> dict[int, Village]:
    return {village.id: village for village, _link in services.registered_villages(session, user)}


def _finding(
    village: Village, rule: str, subject: str, period: Period, reason: str, evidence=None, anchor=None
):
    return Finding(
        rule=rule,
        village_id=village.id,
        village_code=village.code,
        village_name=village.name,
        township_name=village.township_name or "",
        subject=subject,
        period=period.key,
        reason=reason,
        evidence_period=evidence or period,
        anchor=RULE_BY_KEY[rule].anchor if anchor is None else anchor,
    )


def _household_names(session: Session, user: User, keys: set[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """``(village_id, household_uuid)`` → "户号 户主" for the households named."""
    if not keys:
        return {}
    h = SyncedHousehold
    query = _scoped(session, user, sa.select(h.village_id, h.uuid, h.household_no, h.head_name), h.village_id)
    query = query.where(h.uuid.in_({uuid for _v, uuid in keys}))
    return {(v, u): f"{no} {name}" for v, u, no, name in session.execute(query) if (v, u) in keys}


def days_text(length: timedelta) -> str:
    """A length in days as a sentence says it: whole days without a decimal ("5"), else one ("2.5")."""
    shown = f"{length.total_seconds() / 86400:.1f}"
    return shown.removesuffix(".0")


def notice_short(session: Session, user: User, period: Period, days: int) -> list[Finding]:
    """Rounds finalised in the period whose notice was shorter than the village's own notice days or
    than ``days`` days, or that have no photo of the posted notice (one finding a round, its reasons
    in one sentence each).

    The notice is the time from publishing to taking effect (its end, or the finalising if that came
    first). A village that has not upgraded sends neither the publishing time, its notice days nor the
    photos: its rounds are held to the creation-time bound instead (the time from creation to the
    notice's end is an upper bound of the notice, so a short one may be missed, never wrongly found),
    and their photos are not judged.
    """
    villages = _villages(session, user)
    r = SyncedRound
    start, end = period.utc_window()
    columns = (r.village_id, r.uuid, r.period_key, r.created_at, r.notice_ends_at, r.finalised_at,
               r.published_at, r.notice_days, r.notice_photos)  # fmt: skip
    query = _scoped(session, user, sa.select(*columns), r.village_id).where(
        r.status == "finalised", r.finalised_at >= start, r.finalised_at < end
    )
    found = []
    for village_id, uuid, key, created, notice_end, finalised, published, own_days, photos in session.execute(
        query.order_by(r.finalised_at)
    ):
        its = read_period(key)
        name = _("%(period)s评定", period=its.label()) if its else _("一次评定")
        reasons = []
        if notice_end is None:
            reasons.append(_("%(round)s 已生效，但没有公示结束时间（没有经过公示）。", round=name))
        elif finalised < notice_end:
            reasons.append(
                _(
                    "%(round)s 在公示结束（%(end)s）之前就生效了（%(done)s）。",
                    round=name,
                    end=local_text(notice_end),
                    done=local_text(finalised),
                )
            )
        elif published is not None and published <= notice_end:
            # (a publishing time after the notice's end is refused at ingest; one stored before that
            # check is not known, and the round is held to the creation-time bound below)
            length = notice_end - published
            shown = days_text(length)
            if own_days is not None and length < timedelta(days=own_days):
                reasons.append(
                    _(
                        "%(round)s 从公示（%(published)s）到公示结束只有 %(days)s 天，"
                        "少于本村设定的公示天数 %(own)s 天。",
                        round=name,
                        published=local_text(published),
                        days=shown,
                        own=own_days,
                    )
                )
            if length < timedelta(days=days):
                reasons.append(
                    _(
                        "%(round)s 从公示到公示结束只有 %(days)s 天，公示期少于 %(n)s 天。",
                        round=name,
                        days=shown,
                        n=days,
                    )
                )
        elif created is not None and notice_end - created < timedelta(days=days):
            reasons.append(
                _(
                    "%(round)s 从建立到公示结束只有 %(days)s 天，公示期少于 %(n)s 天。",
                    round=name,
                    days=days_text(notice_end - created),
                    n=days,
                )
            )
        if photos == 0:
            reasons.append(_("%(round)s 没有上传公示照片。", round=name))
        if reasons:
            found.append(_finding(villages[village_id], "notice_short", uuid, period, " ".join(reasons), its))
    return found


def period_round_keys(period: Period) -> list[str]:
    """The round period keys whose points count in ``period`` (:func:`.drilldown.round_belongs`)."""
    keys = {key for month in period.months for key in rollup_keys(month)}
    return sorted(k for k in keys if (p := read_period(k)) and p.last_month in period.months)


def household_outlier(session: Session, user: User, period: Period, times: int) -> list[Finding]:
    """Households whose points from the period's finalised rounds exceed ``times`` × their village's
    median (over the households those rounds scored; a median of 0 compares nothing)."""
    villages = _villages(session, user)
    r, res = SyncedRound, SyncedRoundResult
    query = _scoped(
        session,
        user,
        sa.select(res.village_id, res.household_uuid, sa.func.sum(res.awarded)).join(
            r, sa.and_(r.village_id == res.village_id, r.uuid == res.round_uuid)
        ),
        res.village_id,
    ).where(r.status == "finalised", r.period_key.in_(period_round_keys(period)))
    per = query.group_by(res.village_id, res.household_uuid).subquery()
    village_id, household, points = per.c  # the columns of the grouped query, as a table
    if session.get_bind().dialect.name == "postgresql":
        # the county's size: the median in the database, only the outliers come back
        middle = (
            sa.select(village_id.label("v"), sa.func.percentile_cont(0.5).within_group(points).label("m"))
            .group_by(village_id)
            .subquery()
        )
        flagged = [
            (v, h, int(p), float(m))
            for v, h, p, m in session.execute(
                sa.select(village_id, household, points, middle.c.m)
                .join(middle, middle.c.v == village_id)
                .where(middle.c.m > 0, points > times * middle.c.m)
            )
        ]
    else:
        by_village: dict[int, dict[str, int]] = defaultdict(dict)
        for v, h, p in session.execute(sa.select(village_id, household, points)):
            by_village[v][h] = int(p or 0)
        flagged = []
        for v, households in by_village.items():
            m = median(households.values())
            if m > 0:
                flagged += [(v, h, p, m) for h, p in households.items() if p > times * m]
    names = _household_names(session, user, {(v, h) for v, h, _p, _m in flagged})
    return [
        _finding(
            villages[v],
            "household_outlier",
            h,
            period,
            _(
                "%(household)s 本期评定得分 %(points)s 分，"
                "是全村中位数 %(median)s 分的 %(x)s 倍（超过 %(n)s 倍）。",
                household=names.get((v, h), h),
                points=p,
                median=f"{m:g}",
                x=f"{p / m:.1f}",
                n=times,
            ),
            anchor=f"household-{h}",
        )
        for v, h, p, m in flagged
    ]


def manual_share(session: Session, user: User, period: Period, percent: int) -> list[Finding]:
    """Villages whose manual points — issued outside rounds, not opening balances — are more than
    ``percent`` % of what they issued in the period (net of reversals; from the rollups)."""
    villages = _villages(session, user)
    m, c = VillageMonth, VillageMonthCategory
    in_months = (period.first_month, period.last_month)
    issued = dict(
        session.execute(
            _scoped(session, user, sa.select(m.village_id, sa.func.sum(m.issued)), m.village_id)
            .where(m.month.between(*in_months))
            .group_by(m.village_id)
        ).all()
    )
    rounds, opening = defaultdict(int), defaultdict(int)
    query = (
        _scoped(
            session,
            user,
            sa.select(
                c.village_id,
                sa.func.sum(sa.case((c.category == OPENING_CATEGORY, 0), else_=c.awarded)),
                sa.func.sum(sa.case((c.category == OPENING_CATEGORY, c.awarded), else_=0)),
            ),
            c.village_id,
        )
        .where(c.month.between(*in_months))
        .group_by(c.village_id)
    )
    for village_id, awarded, carried in session.execute(query):
        rounds[village_id], opening[village_id] = int(awarded or 0), int(carried or 0)
    found = []
    for village_id, total in issued.items():
        base = int(total or 0) - opening[village_id]
        manual = base - rounds[village_id]
        if base > 0 and manual * 100 > percent * base:
            found.append(
                _finding(
                    villages[village_id],
                    "manual_share",
                    "",
                    period,
                    _(
                        "本期手工加分 %(manual)s 分，"
                        "占发放积分 %(issued)s 分的 %(share)s%%（超过 %(n)s%%）。",
                        manual=manual,
                        issued=base,
                        share=f"{manual * 100 / base:.0f}",
                        n=percent,
                    ),
                )
            )
    return found


def stock_exceeded(session: Session, user: User, period: Period, allowance: int) -> list[Finding]:
    """Goods redeemed in the period whose redemptions (net of cancellations) up to the period's end
    exceed all the stock received by then — donations, purchases and stocktake gains — by more than
    ``allowance`` units."""
    villages = _villages(session, user)
    s, g, vg = SyncedStockMove, SyncedGoods, VillageMonthGoods
    received_kinds = ("donation", "purchase", "stocktake")
    received = dict(
        ((v, goods), int(qty))
        for v, goods, qty in session.execute(
            _scoped(session, user, sa.select(s.village_id, s.goods_uuid, sa.func.sum(s.qty)), s.village_id)
            .where(s.kind.in_(received_kinds), s.qty > 0, s.month <= period.last_month)
            .group_by(s.village_id, s.goods_uuid)
        )
    )
    query = (
        _scoped(
            session,
            user,
            sa.select(vg.village_id, vg.goods_uuid, g.name, g.spec, sa.func.sum(vg.qty)).join(
                g, sa.and_(g.village_id == vg.village_id, g.uuid == vg.goods_uuid)
            ),
            vg.village_id,
        )
        .where(vg.month <= period.last_month)
        .group_by(vg.village_id, vg.goods_uuid, g.name, g.spec)
        # only goods redeemed in the period: one found in October is not found again every month after
        .having(sa.func.sum(sa.case((vg.month >= period.first_month, vg.qty), else_=0)) > 0)
    )
    found = []
    for v, goods, name, spec, out in session.execute(query):
        came_in = received.get((v, goods), 0)
        if int(out or 0) > came_in + allowance:
            label = f"{name}（{spec}）" if spec else name
            found.append(
                _finding(
                    villages[v],
                    "stock_exceeded",
                    goods,
                    period,
                    _(
                        "%(goods)s 到本期末共兑换 %(out)s 件，多于入库的 %(in)s 件（捐赠、采购和盘盈）。",
                        goods=label,
                        out=int(out),
                        **{"in": came_in},
                    ),
                )
            )
    return found


#: the months before a month that ``issued_spike`` averages over, and how many of them must be the
#: village's (since its first activity) before it compares at all
SPIKE_MONTHS, SPIKE_LEAST = 6, 3


def issued_spike(session: Session, user: User, period: Period, times: int) -> list[Finding]:
    """Months of the period in which a village issued more than ``times`` × its average of the 6
    months before (opening balances left out). The average is over the months since the village's
    first activity (its first month in the rollups): months before it used the system are not zeros,
    which would make every village's second month a spike. Fewer than 3 such months, or nothing
    issued in them: the month is not compared."""
    villages = _villages(session, user)
    months = [p.key for p in month_window(period, len(period.months) + SPIKE_MONTHS)]
    m, c = VillageMonth, VillageMonthCategory
    first = dict(
        session.execute(
            _scoped(session, user, sa.select(m.village_id, sa.func.min(m.month)), m.village_id).group_by(
                m.village_id
            )
        ).all()
    )
    issued: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    query = _scoped(session, user, sa.select(m.village_id, m.month, m.issued), m.village_id)
    for v, month, value in session.execute(query.where(m.month.between(months[0], months[-1]))):
        issued[v][month] += int(value)
    query = _scoped(session, user, sa.select(c.village_id, c.month, c.awarded), c.village_id)
    query = query.where(c.category == OPENING_CATEGORY, c.month.between(months[0], months[-1]))
    for v, month, value in session.execute(query):
        issued[v][month] -= int(value)
    found = []
    for v, by_month in issued.items():
        for index in range(SPIKE_MONTHS, len(months)):
            counted = [k for k in months[index - SPIKE_MONTHS : index] if k >= first[v]]
            if len(counted) < SPIKE_LEAST:
                continue
            before = sum(by_month[k] for k in counted) / len(counted)
            now = by_month[months[index]]
            if before > 0 and now > times * before:
                month = read_period(months[index])
                found.append(
                    _finding(
                        villages[v],
                        "issued_spike",
                        months[index],
                        period,
                        _(
                            "%(month)s发放积分 %(issued)s 分，"
                            "是前 %(months)s 个月平均 %(avg)s 分的 %(x)s 倍（超过 %(n)s 倍）。",
                            month=month.label(),
                            issued=now,
                            months=len(counted),
                            avg=f"{before:.0f}",
                            x=f"{now / before:.1f}",
                            n=times,
                        ),
                        month,
                    )
                )
    return found


def quick_repeat(session: Session, user: User, period: Period, seconds: int) -> list[Finding]:
    """Redemptions of the period made with a household's card at another counter (another operator)
    within ``seconds`` seconds of its previous one. One counter serving twice is no finding; where
    either redemption came from a village that has not upgraded (no operator or card sent), two
    redemptions of the household that close are found, as the counters cannot be told apart."""
    villages = _villages(session, user)
    r = SyncedRedemption
    start, end = period.utc_window()
    window = {"partition_by": (r.village_id, r.household_uuid), "order_by": (r.created_at, r.id)}
    previous = sa.func.lag(r.created_at, type_=sa.DateTime).over(**window)
    previous_operator = sa.func.lag(r.operator_uuid, type_=sa.String).over(**window)
    previous_card = sa.func.lag(r.card_uuid, type_=sa.String).over(**window)
    inner = (
        _scoped(
            session,
            user,
            sa.select(
                r.village_id, r.uuid, r.household_uuid, r.created_at, r.operator_uuid, r.card_uuid,
                previous.label("previous"), previous_operator.label("previous_operator"),
                previous_card.label("previous_card"),
            ),
            r.village_id,
        )
        .where(r.status == "done", r.created_at >= start - timedelta(seconds=seconds), r.created_at < end)
        .subquery()
    )  # fmt: skip
    q = inner.c
    if session.get_bind().dialect.name == "postgresql":
        gap = sa.func.extract("epoch", q.created_at - q.previous)
    else:
        gap = (sa.func.julianday(q.created_at) - sa.func.julianday(q.previous)) * 86400
    known = sa.and_(q.operator_uuid.is_not(None), q.previous_operator.is_not(None))
    two_counters = sa.and_(
        known,
        q.operator_uuid != q.previous_operator,
        # one card: a household's other card (a replacement) is a card of its own
        sa.or_(q.card_uuid.is_(None), q.previous_card.is_(None), q.card_uuid == q.previous_card),
    )
    rows = session.execute(
        sa.select(q.village_id, q.uuid, q.household_uuid, q.created_at, q.previous, gap, known)
        .where(q.previous.is_not(None), q.created_at >= start, gap < seconds, sa.or_(two_counters, ~known))
        .order_by(q.created_at)
    ).all()
    names = _household_names(session, user, {(v, h) for v, _u, h, *_rest in rows})
    found = []
    for v, uuid, h, at, before, g, counters_known in rows:
        words = dict(household=names.get((v, h), h), s=f"{float(g):.0f}", first=local_text(before),
                     second=local_text(at))  # fmt: skip
        if counters_known:
            reason = _(
                "%(household)s 的积分卡在 %(s)s 秒内在两个柜台各兑换了一次（%(first)s 和 %(second)s）。",
                **words,
            )
        else:
            reason = _("%(household)s 在 %(s)s 秒内兑换了两次（%(first)s 和 %(second)s）。", **words)
        found.append(_finding(villages[v], "quick_repeat", uuid, period, reason, anchor=f"household-{h}"))
    return found


def closed_day(session: Session, user: User, period: Period) -> list[Finding]:
    """Redemptions of the period (not cancelled) made on a weekday, in the villages' zone, that is not
    one of the shop's opening days as the village had set them at that moment. A village that has not
    set its opening days, or set none ("not set"), is not checked; no threshold (a day is open or not).
    """
    villages = _villages(session, user)
    o = SyncedOpeningDays
    start, end = period.utc_window()
    choices: dict[int, tuple[list, list[int]]] = {}
    query = _scoped(session, user, sa.select(o.village_id, o.created_at, o.days), o.village_id)
    for v, at, days in session.execute(query.where(o.created_at < end).order_by(o.created_at, o.id)):
        times, masks = choices.setdefault(v, ([], []))
        times.append(at)
        masks.append(days)
    # only villages that have set some days: one that never did is not read at all
    choices = {v: c for v, c in choices.items() if any(c[1])}
    if not choices:
        return []
    r = SyncedRedemption
    rows = session.execute(
        sa.select(r.village_id, r.uuid, r.household_uuid, r.card_uuid, r.points, r.created_at)
        .where(r.village_id.in_(choices), r.status == "done", r.created_at >= start, r.created_at < end)
        .order_by(r.created_at, r.id)
    ).all()
    flagged = []
    for v, uuid, h, card, points, at in rows:
        times, masks = choices[v]
        index = bisect.bisect_right(times, at) - 1
        mask = masks[index] if index >= 0 else 0  # set after this redemption: not judged by it
        day = local_day(at)
        if mask and day.isoweekday() not in from_mask(mask):
            flagged.append((v, uuid, h, card, points, at, day, mask))
    names = _household_names(session, user, {(v, h) for v, _u, h, *_rest in flagged})
    found = []
    for v, uuid, h, card, points, at, day, mask in flagged:
        words = dict(
            household=names.get((v, h), h),
            date=day.isoformat(),
            weekday=WEEKDAYS[day.isoweekday()],
            time=local_text(at),
            points=points,
            days=describe_days(from_mask(mask)),
        )
        if card:
            reason = _(
                "%(household)s 的积分卡在 %(date)s（%(weekday)s）兑换了 %(points)s 分（%(time)s），"
                "这天不是积分超市的营业日（营业日：%(days)s）。",
                **words,
            )
        else:
            reason = _(
                "%(household)s 在 %(date)s（%(weekday)s）兑换了 %(points)s 分（%(time)s），"
                "这天不是积分超市的营业日（营业日：%(days)s）。",
                **words,
            )
        found.append(_finding(villages[v], "closed_day", uuid, period, reason, anchor=f"household-{h}"))
    return found


def silent(rows: list[VillageRow], villages: dict[int, Village], period: Period, days: int) -> list[Finding]:
    """Villages that have not synced for ``days`` days or more, or never (the dashboard's rows). The
    finding is the silence, its subject the last sync's time ("" never). It is a thing of now, so the
    periods the pages open on (the last complete month) and later show it; an earlier period shows it
    only if the silence began before that period's end, not the months before it began."""
    now, found = utcnow(), []
    _start, end = period.utc_window()
    current = period.last_month >= last_complete_month().key
    for row in rows:
        since = row.last_sync_at
        if since is None:
            reason = _("从未同步到县里。")
        elif now - since >= timedelta(days=days) and (current or end > since):
            reason = _(
                "已经 %(days)s 天没有同步（最近一次 %(when)s），超过 %(n)s 天。",
                days=(now - row.last_sync_at).days,
                when=local_text(row.last_sync_at),
                n=days,
            )
        else:
            continue
        subject = "" if since is None else since.isoformat(timespec="seconds")
        found.append(_finding(villages[row.id], "silent", subject, period, reason))
    return found


def mismatch(rows: list[VillageRow], villages: dict[int, Village], period: Period) -> list[Finding]:
    """Villages whose totals disagree with the county's recount (the dashboard's rows)."""
    return [
        _finding(
            villages[row.id],
            "mismatch",
            "",
            period,
            _("县里重算的总数与村里上报的不符：%(what)s。", what=_("、").join(row.mismatch_labels)),
        )
        for row in rows
        if row.mismatch
    ]


CHECKS = {
    "notice_short": notice_short,
    "household_outlier": household_outlier,
    "manual_share": manual_share,
    "stock_exceeded": stock_exceeded,
    "issued_spike": issued_spike,
    "quick_repeat": quick_repeat,
}


def findings(
    session: Session, user: User, period: Period, rows: list[VillageRow] | None = None
) -> list[Finding]:
    """Every rule's findings for the period over the villages the user may see, with their marks;
    ``rows`` are the dashboard's village rows when the caller has them already."""
    limits = thresholds(session)
    found: list[Finding] = []
    for key, check in CHECKS.items():
        found += check(session, user, period, limits[key])
    found += closed_day(session, user, period)
    rows = village_rows(session, user, period) if rows is None else rows
    villages = _villages(session, user)
    found += silent(rows, villages, period, limits["silent"])
    found += mismatch(rows, villages, period)
    _attach_checks(session, found)
    order = {rule.key: i for i, rule in enumerate(RULES)}
    return sorted(found, key=lambda f: (f.checked, order[f.rule], f.village_code, f.subject))


def _mark_for(finding: Finding, marks: dict) -> tuple | None:
    """The mark that covers a finding: one kept by its identity, or one made before marks left the
    period out (kept with the period it was made in; see the module's docstring)."""
    of = marks.get((finding.rule, finding.village_id, finding.subject), ())
    for check, who in of:
        if check.period == finding.scope:
            return check, who
    if finding.rule in PERIOD_BOUND:
        return None
    for check, who in of:
        if check.period:  # an old mark of a finding that is the same in every period
            return check, who
    if finding.rule == "silent" and finding.subject:
        # an old mark of a silence had no subject: it covers the silence it was made in
        since = datetime.fromisoformat(finding.subject)
        for check, who in marks.get((finding.rule, finding.village_id, ""), ()):
            if check.period and check.checked_at >= since:
                return check, who
    return None


def _attach_checks(session: Session, found: list[Finding]) -> None:
    if not found:
        return
    a = AnomalyCheck
    query = (
        sa.select(a, User.display_name, User.username)
        .outerjoin(User, User.id == a.checked_by)
        .where(a.village_id.in_({f.village_id for f in found}), a.rule.in_({f.rule for f in found}))
        .order_by(a.checked_at, a.id)
    )
    marks: dict[tuple[str, int, str], list] = defaultdict(list)
    for c, d, u in session.execute(query):
        marks[c.rule, c.village_id, c.subject].append((c, d or u or ""))
    for finding in found:
        if mark := _mark_for(finding, marks):
            check, who = mark
            finding.checked_at, finding.checked_by, finding.note = check.checked_at, who, check.note


def mark_checked(
    session: Session, user: User, period: Period, rule: str, village_code: str, subject: str, note: str
) -> AnomalyCheck:
    """Record that a reviewer checked a finding, with a note; the mark is kept and audited.

    :raises NotFound: the village is not one the user may see, or there is no such finding now.
    :raises Conflict: the finding is marked already.
    :raises Invalid: the note breaks the text rule.
    """
    note = checked(note, "note", _("核查说明"), max_length=500)
    village, _link = services.village_for(session, user, village_code)
    finding = next(
        (
            f
            for f in findings(session, user, period)
            if (f.rule, f.village_id, f.subject) == (rule, village.id, subject)
        ),
        None,
    )
    if finding is None:
        raise NotFound(_("没有这条需要关注的情况（可能已经不再出现）。"), code="unknown_finding")
    if finding.checked:
        raise Conflict(_("这条情况已经核查过了。"), code="already_checked")
    mark = AnomalyCheck(
        rule=rule,
        village_id=village.id,
        subject=subject,
        period=finding.scope,
        note=note,
        checked_by=user.id,
        checked_at=utcnow(),
    )
    session.add(mark)
    session.flush()
    record(
        session,
        "county.anomaly.checked",
        user.id,
        village,
        rule=rule,
        subject=subject,
        period=period.key,
        note=note,
    )
    return mark
