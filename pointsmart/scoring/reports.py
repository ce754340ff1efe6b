"""What scoring shows, built from the live data: a round's results (the public notice and its
workbook), the public notice and honour roll villagers see, and the index of the scoring ledgers.

Four of the seven ledgers a county inspects come from scoring, each in its own module: the score
sheet (打分表, :mod:`.score_sheets`), the meeting minutes (积分评定会议记录, :mod:`.meeting_minutes`), the
photos of the posted notice (积分公示影视资料, :mod:`.notice_photos`) and the points register (积分登记台账,
:mod:`.points_register`).

Everything here is a plain function of a session and explicit arguments — no request, no current
user — so a view, a CLI command or a test calls it the same way. Points on the honour roll are what
the ledger holds for each finalised round (its transfers, reversals included). Nothing here writes.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..errors import NotFound
from ..exports import Column, Table, workbook
from ..households.models import Household
from ..ledger.models import Transfer
from ..org.models import Village
from ..periods import read_period
from . import criteria, finalisation
from .models import (
    CADENCE_LABELS,
    Cadence,
    Category,
    Criterion,
    MeetingMinutes,
    NoticePhoto,
    RoundCriterion,
    RoundResult,
    RoundStatus,
    Score,
    ScoringRound,
)
from .periods import round_period
from .rounds import list_rounds, round_households

#: statuses whose results villagers may see
PUBLIC_STATUSES = (RoundStatus.NOTICE, RoundStatus.FINALISED)


#: how long a finalised round stays in the public list of notices (a direct link keeps working)
RECENT_DAYS = 60


HONOUR_SIZE = 10


def round_label(period_type: str, period_key: str, scope: str = "") -> str:
    """``2026年11月 月评定``, ``2026年第4季度 季评定``, ``2026年下半年 半年评定``, and the group for a
    round of one group. A key this version cannot read is shown as it is.

    :raises ValueError: a cadence this version does not know (a newer village's, at the county).
    """
    cadence = CADENCE_LABELS[Cadence(period_type)]
    found = read_period(period_key)
    label = f"{found.label() if found is not None else period_key} {cadence}"
    return f"{label} · {scope}" if scope else label


def period_label(scoring_round: ScoringRound) -> str:
    """The round's :func:`round_label` (a village's round, or the county's synced copy of one)."""
    return round_label(scoring_round.period_type, scoring_round.period_key, scoring_round.scope)


def _period_order(scoring_round: ScoringRound) -> tuple:
    """Sort rounds by when their period ends, then starts: 2026-11 before 2026-Q4 before 2026-12."""
    period = round_period(scoring_round.period_type, scoring_round.period_key)
    return period.end, period.start, scoring_round.id


def round_year(scoring_round: ScoringRound) -> int:
    """The calendar year a round's period falls in."""
    return int(scoring_round.period_key[:4])


def with_label(name: str, label: str) -> str:
    """``张建华（执委）``: a person with their role on the panel, if they have one."""
    return _("%(name)s（%(label)s）", name=name, label=label) if label else name


def finalised_rounds(session: Session, village_id: int) -> list[ScoringRound]:
    """The village's finalised rounds, in period order."""
    found = session.scalars(
        sa.select(ScoringRound).where(
            ScoringRound.village_id == village_id, ScoringRound.status == RoundStatus.FINALISED
        )
    ).all()
    return sorted(found, key=_period_order)


def category_points(session: Session, round_ids: list[int]) -> dict[tuple[int, int], dict[int, int]]:
    """``{(round_id, household_id): {category_id: points as scored}}``."""
    if not round_ids:
        return {}
    rows = session.execute(
        sa.select(
            Score.round_id,
            Score.household_id,
            Criterion.category_id,
            sa.func.sum(Score.times * RoundCriterion.points),
        )
        .join(RoundCriterion, Score.round_criterion_id == RoundCriterion.id)
        .join(Criterion, RoundCriterion.criterion_id == Criterion.id)
        .where(Score.round_id.in_(round_ids), Score.times > 0)
        .group_by(Score.round_id, Score.household_id, Criterion.category_id)
    )
    found: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for round_id, household_id, category_id, points in rows:
        found[(round_id, household_id)][category_id] = int(points)
    return found


def round_nets(session: Session, village_id: int, rounds: list[ScoringRound]) -> dict[tuple[int, int], int]:
    """``{(round_id, household_id): points}``: what the ledger holds for each round, reversals included."""
    if not rounds:
        return {}
    by_ref = {r.ref: r.id for r in rounds}
    refs = list(by_ref)
    credits = (
        sa.select(
            Transfer.ref.label("ref"), Household.id.label("household_id"), Transfer.amount.label("amount")
        )
        .join(Household, Household.account_id == Transfer.to_account_id)
        .where(Transfer.ref.in_(refs), Household.village_id == village_id)
    )
    debits = (
        sa.select(
            Transfer.ref.label("ref"), Household.id.label("household_id"), (-Transfer.amount).label("amount")
        )
        .join(Household, Household.account_id == Transfer.from_account_id)
        .where(Transfer.ref.in_(refs), Household.village_id == village_id)
    )
    moves = sa.union_all(credits, debits).subquery()
    rows = session.execute(
        sa.select(moves.c.ref, moves.c.household_id, sa.func.sum(moves.c.amount)).group_by(
            moves.c.ref, moves.c.household_id
        )
    )
    # PostgreSQL sums BIGINT into NUMERIC: back to whole points
    return {(by_ref[ref], household_id): int(total) for ref, household_id, total in rows}


def report_categories(session: Session, village_id: int, used=()) -> list[Category]:
    """The rulebook's categories, in its order: the active ones and any others that hold points."""
    used = set(used)
    return [c for c in criteria.categories(session, village_id) if c.active or c.id in used]


@dataclass
class ResultRow:
    household: Household
    #: category id → points as scored (awards and deductions of the category together)
    by_category: dict[int, int]
    awarded: int
    deducted: int
    #: deductions the balance could not cover (finalised rounds only)
    shortfall: int = 0

    @property
    def scored(self) -> int:
        return self.awarded - self.deducted

    @property
    def posted(self) -> int:
        return self.scored + self.shortfall


@dataclass
class RoundResults:
    round: ScoringRound
    categories: list[Category]
    rows: list[ResultRow]
    #: households of the round that scored nothing (not listed)
    unscored: int

    @property
    def finalised(self) -> bool:
        return self.round.status == RoundStatus.FINALISED

    @property
    def has_shortfall(self) -> bool:
        return any(r.shortfall for r in self.rows)

    def category_total(self, category_id: int) -> int:
        return sum(r.by_category.get(category_id, 0) for r in self.rows)


def round_results(session: Session, scoring_round: ScoringRound) -> RoundResults:
    """Every household of a round that scored, with its points by category.

    A finalised round lists what was posted (its :class:`RoundResult` rows, so a household stopped
    since still shows); a round under way lists its current scores.
    """
    by_category = category_points(session, [scoring_round.id])
    rows: list[ResultRow] = []
    if scoring_round.status == RoundStatus.FINALISED:
        results = session.execute(
            sa.select(RoundResult, Household)
            .join(Household, RoundResult.household_id == Household.id)
            .where(RoundResult.round_id == scoring_round.id)
            .order_by(Household.household_no)
        ).all()
        for result, household in results:
            rows.append(
                ResultRow(
                    household,
                    by_category.get((scoring_round.id, household.id), {}),
                    result.awarded,
                    result.deducted,
                    result.shortfall,
                )
            )
        unscored = max(len(round_households(session, scoring_round)) - len(rows), 0)
    else:
        tallies = finalisation.tally(session, scoring_round)
        for t in tallies:
            if t.times:
                rows.append(
                    ResultRow(
                        t.household,
                        by_category.get((scoring_round.id, t.household.id), {}),
                        t.awarded,
                        t.deducted,
                    )
                )
        unscored = len(tallies) - len(rows)
    used = {c for row in rows for c in row.by_category}
    return RoundResults(
        scoring_round, report_categories(session, scoring_round.village_id, used), rows, unscored
    )


def round_results_xlsx(results: RoundResults, village: Village) -> bytes:
    """A round's results as a workbook: one row per household, a column per category."""
    rows = results.rows
    columns = [
        Column(_("户号"), 10, lambda r: r.household.household_no),
        Column(_("户主"), 12, lambda r: r.household.head_name),
        Column(_("村民小组"), 10, lambda r: r.household.group),
        *(Column(c.name, 12, lambda r, c=c: r.by_category.get(c.id, 0)) for c in results.categories),
        Column(_("加分"), 8, attrgetter("awarded")),
        Column(_("扣分"), 8, attrgetter("deducted")),
        Column(_("合计"), 8, attrgetter("scored")),
    ]
    total = [_("合计"), "", ""] + [results.category_total(c.id) for c in results.categories]
    total += [sum(r.awarded for r in rows), sum(r.deducted for r in rows), sum(r.scored for r in rows)]
    if results.finalised:
        columns += [
            Column(_("余额不足未扣"), 12, attrgetter("shortfall")),
            Column(_("实记积分"), 10, attrgetter("posted")),
        ]
        total += [sum(r.shortfall for r in rows), sum(r.posted for r in rows)]
    heading = _("%(village)s %(period)s 评定结果", village=village.label, period=period_label(results.round))
    return workbook("", [Table(_("评定结果"), columns, rows, footer=total, landscape=True, heading=heading)])


def public_rounds(session: Session, village_id: int, now: datetime) -> list[ScoringRound]:
    """Rounds on notice now, and rounds finalised in the last :data:`RECENT_DAYS` days."""
    return list(
        session.scalars(
            sa.select(ScoringRound)
            .where(
                ScoringRound.village_id == village_id,
                sa.or_(
                    ScoringRound.status == RoundStatus.NOTICE,
                    sa.and_(
                        ScoringRound.status == RoundStatus.FINALISED,
                        ScoringRound.finalised_at >= now - timedelta(days=RECENT_DAYS),
                    ),
                ),
            )
            .order_by(ScoringRound.published_at.desc(), ScoringRound.id.desc())
        )
    )


def public_round(session: Session, village_id: int, round_uuid: str) -> ScoringRound:
    """A round villagers may see: on notice or finalised. Drafts and rounds in review do not exist here.

    :raises NotFound: no such round, or not public (yet).
    """
    found = session.scalar(
        sa.select(ScoringRound).where(ScoringRound.uuid == round_uuid, ScoringRound.village_id == village_id)
    )
    if found is None or found.status not in PUBLIC_STATUSES:
        raise NotFound(_("找不到这次公示。"), code="unknown_notice")
    return found


@dataclass
class HonourEntry:
    rank: int
    household: Household
    points: int


@dataclass
class HonourRoll:
    #: the chosen period key, or ""
    period: str
    #: the chosen year (also set when a period is chosen)
    year: int | None
    group: str
    rounds: list[ScoringRound]
    entries: list[HonourEntry]
    periods: list[str]
    years: list[int]


def honour_roll(
    session: Session,
    village_id: int,
    period: str = "",
    year: int | None = None,
    group: str = "",
    size: int = HONOUR_SIZE,
) -> HonourRoll:
    """The top households by points from finalised rounds of one period, or of one year (the latest
    year by default), optionally of one group. Equal points share a rank (1, 2, 2, 4); everyone tied
    with the last place shown is shown."""
    done = finalised_rounds(session, village_id)
    periods = sorted({r.period_key for r in done}, reverse=True)
    years = sorted({round_year(r) for r in done}, reverse=True)
    if period:
        chosen = [r for r in done if r.period_key == period]
        year = int(period[:4]) if period[:4].isdigit() else None
    else:
        year = year or (years[0] if years else None)
        chosen = [r for r in done if round_year(r) == year]
    totals: dict[int, int] = defaultdict(int)
    for (_round_id, household_id), net in round_nets(session, village_id, chosen).items():
        totals[household_id] += net
    ids = [hid for hid, points in totals.items() if points > 0]
    query = sa.select(Household).where(Household.id.in_(ids))
    if group:
        query = query.where(Household.group == group)
    ranked = sorted(session.scalars(query), key=lambda h: (-totals[h.id], h.household_no))
    entries: list[HonourEntry] = []
    for position, household in enumerate(ranked, start=1):
        points = totals[household.id]
        rank = entries[-1].rank if entries and entries[-1].points == points else position
        if rank > size:
            break
        entries.append(HonourEntry(rank, household, points))
    return HonourRoll(period, year, group, chosen, entries, periods, years)


@dataclass
class LedgerRound:
    round: ScoringRound
    has_minutes: bool
    photos: int


def ledger_rounds(session: Session, village_id: int) -> list[LedgerRound]:
    """Every round of the village, newest first, with whether its minutes and photos are there."""
    rounds = list_rounds(session, village_id)
    ids = [r.id for r in rounds]
    with_minutes = (
        set(session.scalars(sa.select(MeetingMinutes.round_id).where(MeetingMinutes.round_id.in_(ids))))
        if ids
        else set()
    )
    photos = (
        dict(
            session.execute(
                sa.select(NoticePhoto.round_id, sa.func.count(NoticePhoto.id))
                .where(NoticePhoto.round_id.in_(ids))
                .group_by(NoticePhoto.round_id)
            ).all()
        )
        if ids
        else {}
    )
    return [LedgerRound(r, r.id in with_minutes, photos.get(r.id, 0)) for r in rounds]
