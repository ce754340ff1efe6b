"""积分登记台账: the points register — every household's points from each finalised round of a
year, as the ledger holds them (transfers, reversals included), split by category from the scores;
so the register always agrees with the household's balance.
"""

from dataclasses import dataclass, field
from functools import cached_property

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..exports import Column, Table, workbook
from ..households.models import Household
from ..ledger.models import Transfer
from ..org.models import Village
from ..periods import Period
from .models import (
    Category,
    RoundResult,
    ScoringRound,
)
from .periods import round_period
from .reports import (
    category_points,
    finalised_rounds,
    period_label,
    report_categories,
    round_nets,
    round_year,
)


@dataclass
class RegisterLine:
    round: ScoringRound
    by_category: dict[int, int]
    #: deductions the balance could not cover, so not posted
    shortfall: int
    #: reversals and corrections posted against the round since
    corrected: int
    #: what the ledger holds for this round
    net: int
    running: int


@dataclass
class RegisterEntry:
    household: Household
    #: the points from rounds of earlier years and a paper card's balance carried over (上年结转)
    brought_forward: int
    lines: list[RegisterLine] = field(default_factory=list)

    @property
    def year_total(self) -> int:
        return sum(line.net for line in self.lines)

    @property
    def total(self) -> int:
        return self.brought_forward + self.year_total


@dataclass
class Register:
    year: int
    group: str
    categories: list[Category]
    rounds: list[ScoringRound]
    entries: list[RegisterEntry]
    #: years that have finalised rounds, newest first (for the filter)
    years: list[int]
    #: the month of a month's register (:func:`month_register`), None for a year's
    month: Period | None = None

    @property
    def has_corrections(self) -> bool:
        return any(line.corrected for e in self.entries for line in e.lines)

    @cached_property
    def carried_label(self) -> str:
        """What the first line of a household is: the points brought from before the year or month
        (asked once per household by the page: translated once)."""
        return _("上年结转") if self.month is None else _("上期结转")

    @property
    def label(self) -> str:
        return _("%(year)s 年", year=self.year) if self.month is None else self.month.label()


#: how a paper card's balance carried over is marked (``demo:opening``, ``<import>:opening``)
OPENING_SUFFIX = ":opening"


def opening_balances(session: Session, village_id: int, year: int) -> dict[int, int]:
    """``{household_id: points}`` carried over from paper cards up to the end of ``year`` (reversals
    of such a carry-over keep its ref, so they are taken off).

    The carried-over transfers are found in one pass over the transfers (a ref's suffix can use no
    index) and matched to the village's households here: joined to the households in the query, the
    database looked up every transfer of every household instead, seconds on a village of a million.
    """
    t = Transfer.__table__
    carried = session.execute(
        sa.select(t.c.from_account_id, t.c.to_account_id, t.c.amount, t.c.created_at).where(
            t.c.ref.like(f"%{OPENING_SUFFIX}")
        )
    ).all()
    if not carried:
        return {}
    households = sa.select(Household.account_id, Household.id).where(Household.village_id == village_id)
    household_of = dict(session.execute(households).all())
    totals: dict[int, int] = {}
    for source, target, amount, created_at in carried:
        if created_at.year > year:
            continue
        for account_id, sign in ((target, 1), (source, -1)):
            household_id = household_of.get(account_id)
            if household_id is not None:
                totals[household_id] = totals.get(household_id, 0) + sign * int(amount)
    return totals


def register(session: Session, village_id: int, year: int, group: str = "") -> Register:
    """Every household's points from finalised rounds in ``year``, by period and category, with a
    running total that starts from what earlier years' rounds and a paper card carried over brought."""
    done = finalised_rounds(session, village_id)
    years = sorted({round_year(r) for r in done}, reverse=True)
    rounds = [r for r in done if round_year(r) == year]
    upto = [r for r in done if round_year(r) <= year]
    nets = round_nets(session, village_id, upto)
    by_category = category_points(session, [r.id for r in rounds])
    results = {
        (r.round_id, r.household_id): r
        for r in session.scalars(
            sa.select(RoundResult).where(RoundResult.round_id.in_([r.id for r in rounds]))
        )
    }
    query = sa.select(Household).where(Household.village_id == village_id)
    if group:
        query = query.where(Household.group == group)
    openings = opening_balances(session, village_id, year)
    earning = {household_id for _round_id, household_id in nets} | set(openings)
    entries = []
    for household in session.scalars(query.order_by(Household.household_no)):
        if not household.active and household.id not in earning:
            continue
        brought = openings.get(household.id, 0) + sum(
            nets.get((r.id, household.id), 0) for r in upto if round_year(r) < year
        )
        entry = RegisterEntry(household, brought)
        running = brought
        for r in rounds:
            key = (r.id, household.id)
            result = results.get(key)
            if result is None and key not in nets:
                continue
            net = nets.get(key, 0)
            running += net
            entry.lines.append(
                RegisterLine(
                    r,
                    by_category.get(key, {}),
                    result.shortfall if result else 0,
                    net - (result.net if result else 0),
                    net,
                    running,
                )
            )
        entries.append(entry)
    used = {c for line in (x for e in entries for x in e.lines) for c in line.by_category}
    return Register(year, group, report_categories(session, village_id, used), rounds, entries, years)


def month_register(session: Session, village_id: int, month: Period) -> Register:
    """The year's register cut to the finalised rounds whose period ends in ``month`` (a quarter's round
    belongs to its last month): each household that has a line in them, brought forward from
    everything before them, so its running total is the year's."""
    year = register(session, village_id, month.year)
    rounds = [r for r in year.rounds if round_period(r.period_type, r.period_key).last_month == month.key]
    entries = []
    for entry in year.entries:
        lines = [line for line in entry.lines if line.round in rounds]
        if lines:
            entries.append(RegisterEntry(entry.household, lines[0].running - lines[0].net, lines))
    used = {c for e in entries for line in e.lines for c in line.by_category}
    categories = [c for c in year.categories if c.id in used]
    return Register(month.year, "", categories, rounds, entries, year.years, month)


def register_table(ledger: Register, village: Village) -> Table:
    """The register as a table: a line per household and round, with the running total."""
    corrections = ledger.has_corrections
    columns = [
        Column(_("户号"), 10, lambda r: r[0].household.household_no),
        Column(_("户主"), 12, lambda r: r[0].household.head_name),
        Column(_("村民小组"), 10, lambda r: r[0].household.group),
        Column(_("期别"), 16, lambda r: period_label(r[1].round) if r[1] else ledger.carried_label),
        *(
            Column(c.name, 12, lambda r, c=c: r[1].by_category.get(c.id) if r[1] else None)
            for c in ledger.categories
        ),
        Column(_("余额不足未扣"), 10, lambda r: (r[1].shortfall or None) if r[1] else None),
        *(
            [Column(_("撤销更正"), 10, lambda r: (r[1].corrected or None) if r[1] else None)]
            if corrections
            else []
        ),
        Column(_("本期积分"), 10, lambda r: r[1].net if r[1] else r[0].brought_forward),
        Column(_("累计"), 10, lambda r: r[1].running if r[1] else r[0].brought_forward),
    ]
    # a household's first line is what earlier years brought (no round), then a line per round
    rows = [(entry, line) for entry in ledger.entries for line in (None, *entry.lines)]
    if ledger.month is None:
        title = _("%(village)s %(year)s 年积分登记台账", village=village.label, year=ledger.year)
    else:
        title = _("%(village)s %(month)s积分登记台账", village=village.label, month=ledger.month.label())
    if ledger.group:
        title += f" · {ledger.group}"
    return Table(_("积分登记台账"), columns, rows, landscape=True, heading=title, empty=_("没有农户。"))


def register_xlsx(ledger: Register, village: Village) -> bytes:
    """The register as a workbook: a line per household and round, with the running total."""
    return workbook("", [register_table(ledger, village)])
