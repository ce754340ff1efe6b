"""打分表: a round's score sheet — every household's scores by criterion, with who scored and
approved — and its workbook.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter, itemgetter

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..auth.services import user_names
from ..exports import WHEN, Column, Table, workbook
from ..households.models import Household
from ..i18n import signed
from ..org.models import Village
from .models import (
    PanelMember,
    RoundCriterion,
    Score,
    ScoringRound,
)
from .reports import period_label, with_label
from .rounds import round_households
from .workflow import counted_approvals


def _panel_labels(session: Session, user_ids) -> dict[int, str]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    query = sa.select(PanelMember.user_id, PanelMember.label).where(PanelMember.user_id.in_(ids))
    return dict(session.execute(query).all())


@dataclass
class SheetRow:
    household: Household
    #: round criterion id → times met
    times: dict[int, int]
    total: int
    #: who entered this household's scores
    scorers: list[str]


@dataclass
class Person:
    name: str
    label: str = ""
    at: datetime | None = None
    count: int = 0

    @property
    def shown(self) -> str:
        return with_label(self.name, self.label)


@dataclass
class ScoreSheet:
    round: ScoringRound
    criteria: list[RoundCriterion]
    #: (category name, number of criteria under it), for the two-line header
    category_spans: list[tuple[str, int]]
    rows: list[SheetRow]
    #: panel members who entered scores, with how many cells each
    scorers: list[Person]
    approvals: list[Person]
    submitted_by: str = ""
    published_by: str = ""
    finalised_by: str = ""

    def points(self, row: SheetRow, criterion: RoundCriterion) -> int:
        return row.times.get(criterion.id, 0) * criterion.points


def score_sheet(session: Session, scoring_round: ScoringRound) -> ScoreSheet:
    """The round's scores per household and criterion, who entered them, and who approved the round."""
    criteria = list(scoring_round.criteria)
    spans: list[tuple[str, int]] = []
    for criterion in criteria:
        if spans and spans[-1][0] == criterion.category_name:
            spans[-1] = (criterion.category_name, spans[-1][1] + 1)
        else:
            spans.append((criterion.category_name, 1))
    cells = session.execute(
        sa.select(Score.household_id, Score.round_criterion_id, Score.times, Score.entered_by).where(
            Score.round_id == scoring_round.id
        )
    ).all()
    times: dict[int, dict[int, int]] = defaultdict(dict)
    entered: dict[int, set[int]] = defaultdict(set)
    counts: dict[int, int] = defaultdict(int)
    for household_id, criterion_id, n, by in cells:
        if n:
            times[household_id][criterion_id] = n
            counts[by] += 1
        if by:
            entered[household_id].add(by)
    households = {h.id: h for h in round_households(session, scoring_round)}
    missing = [hid for hid in times if hid not in households]  # scored, stopped since
    if missing:
        households |= {
            h.id: h for h in session.scalars(sa.select(Household).where(Household.id.in_(missing)))
        }
    approvals = counted_approvals(scoring_round)  # never the submitter's own
    people = {by for ids in entered.values() for by in ids} | {a.user_id for a in approvals}
    people |= {scoring_round.submitted_by, scoring_round.published_by, scoring_round.finalised_by}
    names = user_names(session, people)
    labels = _panel_labels(session, people)
    points = {c.id: c.points for c in criteria}
    rows = []
    for household in sorted(households.values(), key=lambda h: h.household_no):
        mine = times.get(household.id, {})
        rows.append(
            SheetRow(
                household,
                mine,
                sum(n * points.get(cid, 0) for cid, n in mine.items()),
                sorted(names.get(u, "?") for u in entered.get(household.id, ())),
            )
        )
    scorers = sorted(
        (Person(names.get(u, "?"), labels.get(u, ""), count=n) for u, n in counts.items() if u),
        key=lambda p: (-p.count, p.name),
    )
    return ScoreSheet(
        scoring_round,
        criteria,
        spans,
        rows,
        scorers,
        [Person(names.get(a.user_id, "?"), labels.get(a.user_id, ""), a.at) for a in approvals],
        names.get(scoring_round.submitted_by, ""),
        names.get(scoring_round.published_by, ""),
        names.get(scoring_round.finalised_by, ""),
    )


def score_table(sheet: ScoreSheet, village: Village) -> Table:
    """The scores as a table: a row per household, points per criterion (times × points)."""
    criteria = [
        Column(
            _(
                "%(category)s·%(name)s（%(points)s）",
                category=c.category_name,
                name=c.name,
                points=signed(c.points),
            ),
            11,
            lambda row, c=c: sheet.points(row, c) or None,
        )
        for c in sheet.criteria
    ]
    return Table(
        _("打分表"),
        [
            Column(_("户号"), 10, lambda row: row.household.household_no),
            Column(_("户主"), 12, lambda row: row.household.head_name),
            Column(_("村民小组"), 10, lambda row: row.household.group),
            *criteria,
            Column(_("合计"), 8, attrgetter("total")),
            Column(_("评分人"), 20, lambda row: _("、").join(row.scorers)),
        ],
        sheet.rows,
        landscape=True,
        heading=_("%(village)s %(period)s 打分表", village=village.label, period=period_label(sheet.round)),
    )


def score_sheet_xlsx(sheet: ScoreSheet, village: Village) -> bytes:
    """The score sheet as a workbook: points per criterion (times × points), and a sheet of approvals."""
    scores = score_table(sheet, village)
    steps = [(_("评分"), p.name, p.label, None, p.count) for p in sheet.scorers]
    steps += [(_("审核"), p.name, p.label, p.at, None) for p in sheet.approvals]
    for step, name, at in (
        (_("提交"), sheet.submitted_by, sheet.round.submitted_at),
        (_("公示"), sheet.published_by, sheet.round.published_at),
        (_("生效"), sheet.finalised_by, sheet.round.finalised_at),
    ):
        if at:
            steps.append((step, name, "", at, None))
    people = Table(
        _("评分和审核"),
        [
            Column(_("环节"), 10, itemgetter(0)),
            Column(_("姓名"), 14, itemgetter(1)),
            Column(_("身份"), 12, itemgetter(2)),
            Column(_("时间"), 18, itemgetter(3), WHEN),
            Column(_("打分格数"), 10, itemgetter(4)),
        ],
        steps,
        landscape=False,
        heading=_("%(period)s 评分和审核人员", period=period_label(sheet.round)),
    )
    return workbook("", [scores, people])
