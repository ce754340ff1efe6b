"""The year-end rule for points (积分到期规则): the chair's choice, and the expiry it posts.

The chair picks one of three rules on the settings page:

- **keep** (一直有效): points never expire — the default, and the only behaviour before this rule existed;
- **year end** (年底清零): points earned in a calendar year can be spent until 31 December of that year;
- **N months** (获得满 N 个月后过期): points earned on a day can be spent until the same day N months later.

A change applies to points earned from then on: the rules are kept as a history (:class:`PointsRule`,
appended, never edited) and each credit follows the rule in force when it was earned. Points "expire"
by an ordinary ledger transfer from the household to the expiry account (:attr:`TransferKind.EXPIRY`),
posted through :func:`ledger.services.post` by ``pointsmart ledger expire`` or by the server's daily
job; the ledger's replay (:mod:`pointsmart.ledger.expiry`) decides how much, spending the oldest points
first. Posting exactly what is due makes a second run post nothing.

The day a point can last be spent is its *expiry day*; it expires at the start of the next day in the
villages' time zone. :func:`expiring_soon` is what the family's card page and the counter's receipt
show: the points that expire within a month.
"""

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

import sqlalchemy as sa
from flask import Flask
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..audit.services import record
from ..clock import utcnow
from ..errors import Invalid
from ..extensions import db
from ..ledger import expiry as lots
from ..ledger.models import Account, AccountKind, TransferKind
from ..ledger.services import post, system_account
from ..periods import add_months, day_window, local_day, today
from ..unit import write
from . import services
from .models import MAX_RULE_MONTHS, PointsRule, PointsRuleKind

RULES = (PointsRuleKind.KEEP, PointsRuleKind.YEAR_END, PointsRuleKind.MONTHS)
RULE_LABELS = {
    PointsRuleKind.KEEP: _l("一直有效，不过期"),
    PointsRuleKind.YEAR_END: _l("每年年底清零（当年获得的积分到12月31日为止）"),
    PointsRuleKind.MONTHS: _l("获得满几个月后过期（先获得的先过期）"),
}
LABELS = {"rule": _l("积分到期规则"), "months": _l("有效月数")}
#: how far ahead the card page and the receipt warn of expiring points
WARN_MONTHS = 1


@dataclass(frozen=True)
class Rule:
    rule: str
    months: int | None
    since: datetime | None

    def describe(self) -> str:
        """The rule in words, for the settings page and the audit log."""
        return describe(self.rule, self.months)


KEEP = Rule(PointsRuleKind.KEEP, None, None)


def describe(rule: str, months: int | None) -> str:
    if rule == PointsRuleKind.YEAR_END:
        return _("每年年底清零")
    if rule == PointsRuleKind.MONTHS:
        return _("获得满 %(n)s 个月后过期", n=months)
    return _("一直有效")


def history(session: Session) -> list[Rule]:
    """Every rule the chair has chosen, oldest first (empty: points have always been kept)."""
    rows = session.execute(
        sa.select(PointsRule.rule, PointsRule.months, PointsRule.since).order_by(
            PointsRule.since, PointsRule.id
        )
    )
    return [Rule(*row) for row in rows]


def current_rule(session: Session) -> Rule:
    """The rule points earned now follow."""
    rules = history(session)
    return rules[-1] if rules else KEEP


def expiry_day(rule: Rule, earned_day: date) -> date | None:
    """The last day points earned on ``earned_day`` under ``rule`` can be spent (None: never expire)."""
    if rule.rule == PointsRuleKind.YEAR_END:
        return date(earned_day.year, 12, 31)
    if rule.rule == PointsRuleKind.MONTHS and rule.months:
        return add_months(earned_day, rule.months)
    return None


def deadlines(rules: Sequence[Rule]) -> lots.DeadlineOf:
    """``deadline_of(earned_at)`` for the ledger's replay: the stored (UTC) moment the points stop
    counting — the start of the day after their expiry day — under the rule in force when earned."""
    starts = [r.since for r in rules]

    @lru_cache(maxsize=4096)
    def of_day(index: int, earned_day: date) -> datetime | None:
        last = expiry_day(rules[index], earned_day)
        return None if last is None else day_window(last)[1]

    def deadline_of(earned_at: datetime) -> datetime | None:
        index = bisect.bisect_right(starts, earned_at) - 1
        if index < 0 or rules[index].rule == PointsRuleKind.KEEP:
            return None
        return of_day(index, local_day(earned_at))

    return deadline_of


def _expires(rules: Sequence[Rule]) -> bool:
    return any(r.rule != PointsRuleKind.KEEP for r in rules)


def clean_rule(rule, months) -> tuple[str, int | None]:
    """The rule and its months as stored.

    :raises Invalid: an unknown rule, or months missing or outside 1–:data:`MAX_RULE_MONTHS` for the
        N-months rule, naming the field.
    """
    if rule not in RULES:
        raise Invalid(
            _("%(field)s：请选择一种规则。", field=LABELS["rule"]), code="invalid_points_rule", field="rule"
        )
    if rule != PointsRuleKind.MONTHS:
        return rule, None
    if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= MAX_RULE_MONTHS:
        raise Invalid(
            _("%(field)s：请填 1 到 %(max)s 之间的月数。", field=LABELS["months"], max=MAX_RULE_MONTHS),
            code="invalid_rule_months",
            field="months",
        )
    return rule, months


def set_rule(session: Session, actor_id: int, rule: str, months: int | None) -> Rule | None:
    """Choose the rule for points earned from now on, and audit it; None when it is the rule already.

    :raises Invalid: see :func:`clean_rule`.
    """
    rule, months = clean_rule(rule, months)
    services.for_update(session)  # one change at a time, and in turn with the expiry job
    old = current_rule(session)
    if (old.rule, old.months) == (rule, months):
        return None
    now = utcnow()
    row = PointsRule(rule=rule, months=months, since=now, set_by=actor_id, created_at=now)
    session.add(row)
    session.flush()
    record(
        session,
        "settings.points_rule.changed",
        actor_id,
        row,
        old={"rule": old.rule, "months": old.months},
        new={"rule": rule, "months": months},
    )
    return Rule(rule, months, now)


# --- posting expiry ---------------------------------------------------------------------------------


@dataclass
class ExpiryReport:
    #: ``(account id, points)`` of every household whose points expired (or would, on a dry run)
    expired: list[tuple[int, int]] = field(default_factory=list)

    @property
    def households(self) -> int:
        return len(self.expired)

    @property
    def points(self) -> int:
        return sum(points for _account, points in self.expired)


def _due_by_account(session: Session, deadline_of, now: datetime, account_ids=None) -> dict[int, int]:
    balances = dict(
        session.execute(
            sa.select(Account.id, Account.balance).where(
                Account.kind == AccountKind.HOUSEHOLD,
                Account.balance > 0,
                *([Account.id.in_(list(account_ids))] if account_ids is not None else []),
            )
        ).all()
    )
    due = {}
    for account_id, moves in lots.moves_of(session, balances).items():
        amount = min(lots.due(lots.replay(account_id, moves, deadline_of), now), balances[account_id])
        if amount > 0:
            due[account_id] = amount
    return due


def expire_points(session: Session, *, now: datetime | None = None, dry_run: bool = False) -> ExpiryReport:
    """Post every household's points that are past their expiry day to the expiry account.

    Call it inside a write transaction (the caller commits). The settings row is locked first, so two
    servers' daily jobs run one after the other, and the households found due are locked before they
    are counted again, so a redemption at the counter cannot slip in between counting and posting.
    ``dry_run`` counts without posting or locking anything.
    """
    now = now or utcnow()
    rules = history(session)
    report = ExpiryReport()
    if not _expires(rules):
        return report  # points have always been kept: nothing to read
    deadline_of = deadlines(rules)
    if dry_run:
        report.expired = sorted(_due_by_account(session, deadline_of, now).items())
        return report
    services.for_update(session)
    candidates = _due_by_account(session, deadline_of, now)
    if not candidates:
        return report
    # lock the households and the expiry account in id order, as the ledger does (the expiry account,
    # made by the first migration, comes first), so an expiry undone at the same moment, which the
    # ledger locks expiry account → household, waits instead of deadlocking; then count again
    expiry = system_account(session, AccountKind.EXPIRY)
    locked = sorted({*candidates, expiry.id})
    session.execute(
        sa.select(Account.id).where(Account.id.in_(locked)).order_by(Account.id).with_for_update()
    ).all()
    due = _due_by_account(session, deadline_of, now, candidates)
    if not due:
        return report
    day = local_day(now) - timedelta(days=1)
    reason = _("积分到期：%(day)s 及以前到期的积分", day=f"{day.year}年{day.month}月{day.day}日")
    accounts = {a.id: a for a in session.scalars(sa.select(Account).where(Account.id.in_(sorted(due))))}
    for account_id in sorted(due):
        post(
            session,
            accounts[account_id],
            expiry,
            due[account_id],
            TransferKind.EXPIRY,
            reason,
            ref=f"expiry:{local_day(now).isoformat()}",
        )
        report.expired.append((account_id, due[account_id]))
    record(session, "ledger.expiry", None, None, households=report.households, points=report.points)
    return report


def run_due(app: Flask) -> ExpiryReport | None:
    """Post the day's expiry, once a day in each server process (what the server's scheduler calls).

    None when this process has already done it today, or on a county server (which holds no village's
    ledger). Several processes may each run it: they take turns on the settings row, and the second
    finds nothing left to post.
    """
    if app.config.get("POINTSMART_MODE") == "county":
        return None
    with app.app_context():
        try:
            day = today()
            if app.extensions.get("pointsmart_expiry_day") == day:
                return None
            with write():
                report = expire_points(db.session)
            app.extensions["pointsmart_expiry_day"] = day
            return report
        finally:
            db.session.remove()


# --- what the family and the counter are told -------------------------------------------------------


@dataclass(frozen=True)
class Expiring:
    points: int
    #: the last day they can be spent
    day: date

    @property
    def sentence(self) -> str:
        """``30 分将于 2026年12月31日 到期``."""
        return _(
            "%(n)s 分将于 %(day)s 到期",
            n=self.points,
            day=_("%(y)s年%(m)s月%(d)s日", y=self.day.year, m=self.day.month, d=self.day.day),
        )


def expiring_soon(session: Session, account_id: int, now: datetime | None = None) -> list[Expiring]:
    """The household's points that expire within a month from now, soonest first, by expiry day.

    Points already past their day but not yet posted are left out: the daily job takes them.
    """
    rules = history(session)
    if not _expires(rules):
        return []
    moves = lots.moves_of(session, [account_id]).get(account_id, [])
    return expiring_of(rules, account_id, moves, now or utcnow())


def expiring_of(rules: Sequence[Rule], account_id: int, moves, now: datetime) -> list[Expiring]:
    """:func:`expiring_soon` of an account's ``moves`` (oldest first) under ``rules``: the village's
    own, or the county's synced copy of them (the county's family page)."""
    if not _expires(rules):
        return []
    deadline_of = deadlines(rules)
    horizon = day_window(add_months(local_day(now), WARN_MONTHS))[1]
    by_day: dict[date, int] = {}
    for lot in lots.replay(account_id, moves, deadline_of):
        if lot.deadline is not None and now < lot.deadline <= horizon:
            last = local_day(lot.deadline) - timedelta(days=1)
            by_day[last] = by_day.get(last, 0) + lot.left
    return [Expiring(points, day) for day, points in sorted(by_day.items())]
