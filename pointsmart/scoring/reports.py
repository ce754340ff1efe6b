"""The paper trail (台账) and what villagers see, built from the live data.

Four of the seven ledgers a county inspects come from scoring: the score sheet (打分表), the meeting
minutes (积分评定会议记录), the photos of the posted notice (积分公示影视资料) and the points register
(积分登记台账). Beside them: the public notice (公示), the honour roll (光荣榜) and a round's results
as a workbook.

Everything here is a plain function of a session and explicit arguments — no request, no current
user — so a view, a CLI command or a test calls it the same way. Points in the register and on the
honour roll are what the ledger holds for each finalised round (its transfers, reversals included),
so the register always agrees with the household's balance; the split by category is the round's
scores. The writes (minutes, photos) flush and audit, and leave the commit to the caller.
"""

import io
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path, PurePath

import openpyxl
import sqlalchemy as sa
from flask_babel import gettext as _
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.styles import Alignment, Font
from PIL import Image
from sqlalchemy.orm import Session

from ..audit.services import changes, record
from ..auth.services import user_names
from ..clock import utcnow
from ..errors import Invalid, NotFound
from ..households.models import Household
from ..i18n import signed
from ..images import CleanPhoto, clean_photo
from ..ledger.models import Transfer
from ..org.models import Village
from ..periods import local_naive
from ..xlsx import ledger_sheet, workbook_bytes
from . import services
from .models import (
    CADENCE_LABELS,
    Cadence,
    Category,
    Criterion,
    MeetingMinutes,
    NoticePhoto,
    PanelMember,
    RoundCriterion,
    RoundResult,
    RoundStatus,
    Score,
    ScoringRound,
)
from .periods import round_period
from .services import ScoringError

#: statuses whose results villagers may see
PUBLIC_STATUSES = (RoundStatus.NOTICE, RoundStatus.FINALISED)
#: how long a finalised round stays in the public list of notices (a direct link keeps working)
RECENT_DAYS = 60
HONOUR_SIZE = 10

MAX_PHOTOS = 20


# --- small helpers ----------------------------------------------------------------------------


def period_label(scoring_round: ScoringRound) -> str:
    """``2026-11 月评定``, and the group for a round of one group."""
    label = f"{scoring_round.period_key} {CADENCE_LABELS[Cadence(scoring_round.period_type)]}"
    return f"{label} · {scoring_round.scope}" if scoring_round.scope else label


def _period_order(scoring_round: ScoringRound) -> tuple:
    """Sort rounds by when their period ends, then starts: 2026-11 before 2026-Q4 before 2026-12."""
    period = round_period(scoring_round.period_type, scoring_round.period_key)
    return period.end, period.start, scoring_round.id


def _year(scoring_round: ScoringRound) -> int:
    return int(scoring_round.period_key[:4])


def with_label(name: str, label: str) -> str:
    """``张建华（执委）``: a person with their role on the panel, if they have one."""
    return _("%(name)s（%(label)s）", name=name, label=label) if label else name


def _panel_labels(session: Session, user_ids) -> dict[int, str]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    query = sa.select(PanelMember.user_id, PanelMember.label).where(PanelMember.user_id.in_(ids))
    return dict(session.execute(query).all())


def finalised_rounds(session: Session, village_id: int) -> list[ScoringRound]:
    """The village's finalised rounds, in period order."""
    found = session.scalars(
        sa.select(ScoringRound).where(
            ScoringRound.village_id == village_id, ScoringRound.status == RoundStatus.FINALISED
        )
    ).all()
    return sorted(found, key=_period_order)


def _category_points(session: Session, round_ids: list[int]) -> dict[tuple[int, int], dict[int, int]]:
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


def _round_nets(session: Session, village_id: int, rounds: list[ScoringRound]) -> dict[tuple[int, int], int]:
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
    return [c for c in services.categories(session, village_id) if c.active or c.id in used]


# --- a round's results: the public notice and the .xlsx export ---------------------------------


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
    by_category = _category_points(session, [scoring_round.id])
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
        unscored = max(len(services.round_households(session, scoring_round)) - len(rows), 0)
    else:
        tallies = services.tally(session, scoring_round)
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
    book = openpyxl.Workbook()
    names = [c.name for c in results.categories]
    header = [_("户号"), _("户主"), _("村民小组"), *names, _("加分"), _("扣分"), _("合计")]
    if results.finalised:
        header += [_("余额不足未扣"), _("实记积分")]
    sheet = ledger_sheet(
        book.active,
        _("评定结果"),
        _(
            "%(village)s %(period)s 评定结果",
            village=village.label,
            period=period_label(results.round),
        ),
        header,
        [10, 12, 10] + [12] * len(names) + [8, 8, 8, 12, 10],
        landscape=True,
    )
    for row in results.rows:
        line = [row.household.household_no, row.household.head_name, row.household.group]
        line += [row.by_category.get(c.id, 0) for c in results.categories]
        line += [row.awarded, row.deducted, row.scored]
        if results.finalised:
            line += [row.shortfall, row.posted]
        sheet.append(line)
    total = [_("合计"), "", ""] + [results.category_total(c.id) for c in results.categories]
    total += [sum(r.awarded for r in results.rows), sum(r.deducted for r in results.rows)]
    total += [sum(r.scored for r in results.rows)]
    if results.finalised:
        total += [sum(r.shortfall for r in results.rows), sum(r.posted for r in results.rows)]
    sheet.append(total)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    return workbook_bytes(book)


# --- 打分表: the score sheet ------------------------------------------------------------------


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
    households = {h.id: h for h in services.round_households(session, scoring_round)}
    missing = [hid for hid in times if hid not in households]  # scored, stopped since
    if missing:
        households |= {
            h.id: h for h in session.scalars(sa.select(Household).where(Household.id.in_(missing)))
        }
    approvals = list(scoring_round.approvals)
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


def score_sheet_xlsx(sheet: ScoreSheet, village: Village) -> bytes:
    """The score sheet as a workbook: points per criterion (times × points), and a sheet of approvals."""
    book = openpyxl.Workbook()
    header = [_("户号"), _("户主"), _("村民小组")]
    for c in sheet.criteria:
        header.append(
            _(
                "%(category)s·%(name)s（%(points)s）",
                category=c.category_name,
                name=c.name,
                points=signed(c.points),
            )
        )
    header += [_("合计"), _("评分人")]
    page = ledger_sheet(
        book.active,
        _("打分表"),
        _("%(village)s %(period)s 打分表", village=village.label, period=period_label(sheet.round)),
        header,
        [10, 12, 10] + [11] * len(sheet.criteria) + [8, 20],
        landscape=True,
    )
    for row in sheet.rows:
        line = [row.household.household_no, row.household.head_name, row.household.group]
        line += [sheet.points(row, c) or None for c in sheet.criteria]
        line += [row.total, _("、").join(row.scorers)]
        page.append(line)
    people = ledger_sheet(
        book.create_sheet(),
        _("评分和审核"),
        _("%(period)s 评分和审核人员", period=period_label(sheet.round)),
        [_("环节"), _("姓名"), _("身份"), _("时间"), _("打分格数")],
        [10, 14, 12, 18, 10],
        landscape=False,
    )
    for person in sheet.scorers:
        people.append([_("评分"), person.name, person.label, None, person.count])
    for person in sheet.approvals:
        people.append([_("审核"), person.name, person.label, local_naive(person.at), None])
    for step, name, at in (
        (_("提交"), sheet.submitted_by, sheet.round.submitted_at),
        (_("公示"), sheet.published_by, sheet.round.published_at),
        (_("生效"), sheet.finalised_by, sheet.round.finalised_at),
    ):
        if at:
            people.append([step, name, "", local_naive(at), None])
    for cell in people["D"][2:]:
        cell.number_format = "yyyy-mm-dd hh:mm"
    return workbook_bytes(book)


# --- 积分评定会议记录: the scoring meeting's minutes ------------------------------------------


def minutes_of(session: Session, scoring_round: ScoringRound) -> MeetingMinutes | None:
    return session.scalar(sa.select(MeetingMinutes).where(MeetingMinutes.round_id == scoring_round.id))


def present_ids(minutes: MeetingMinutes | None) -> list[int]:
    if minutes is None:
        return []
    return [int(x) for x in minutes.panel_present.split(",") if x.strip().isdigit()]


def minutes_defaults(session: Session, scoring_round: ScoringRound, today: date) -> dict:
    """A first draft of the minutes: today, the panel members who took part in the round, a summary."""
    results = round_results(session, scoring_round)
    involved = {a.user_id for a in scoring_round.approvals}
    involved |= {scoring_round.created_by, scoring_round.submitted_by, scoring_round.published_by}
    involved |= set(
        session.scalars(sa.select(Score.entered_by).where(Score.round_id == scoring_round.id).distinct())
    )
    members = [m.user_id for m in services.panel_members(session, scoring_round.village_id)]
    summary = _(
        "本次%(period)s共评定 %(n)s 户，加分合计 %(plus)s 分，扣分合计 %(minus)s 分。",
        period=period_label(scoring_round),
        n=len(results.rows),
        plus=sum(r.awarded for r in results.rows),
        minus=sum(r.deducted for r in results.rows),
    )
    return {
        "held_on": today,
        "panel_present": [u for u in members if u in involved],
        "decisions": summary,
    }


def save_minutes(
    session: Session, scoring_round: ScoringRound, data: dict, actor_id: int | None
) -> MeetingMinutes:
    """Write or correct a round's meeting minutes; every change goes to the audit log.

    ``data`` holds ``held_on`` (a date), ``place``, ``panel_present`` (user ids), ``others_present``,
    ``decisions`` and ``notes``.

    :raises Invalid: no meeting date, or someone listed as a panel member who is not one.
    """
    held_on = data.get("held_on")
    if not isinstance(held_on, date):
        raise Invalid(_("请填写会议日期。"), code="date_required")
    present = []
    for raw in data.get("panel_present") or []:
        try:
            present.append(int(raw))
        except (TypeError, ValueError):
            raise Invalid(_("出席人员选择有误。"), code="unknown_member") from None
    existing = minutes_of(session, scoring_round)
    allowed = {m.user_id for m in services.panel_members(session, scoring_round.village_id)}
    allowed |= set(present_ids(existing))  # someone who has left the panel since stays on old minutes
    if any(uid not in allowed for uid in present):
        raise Invalid(_("出席人员中有人不是本村评比小组成员。"), code="unknown_member")
    new = {
        "held_on": held_on,
        "place": (data.get("place") or "").strip()[:100],
        "panel_present": ",".join(str(u) for u in dict.fromkeys(present)),
        "others_present": (data.get("others_present") or "").strip()[:300],
        "decisions": (data.get("decisions") or "").strip()[:5000],
        "notes": (data.get("notes") or "").strip()[:5000],
    }
    now = utcnow()
    if existing is None:
        minutes = MeetingMinutes(round_id=scoring_round.id, updated_by=actor_id, updated_at=now, **new)
        session.add(minutes)
        session.flush()
        record(session, "scoring.minutes.created", actor_id, minutes, round=scoring_round.period_key, new=new)
        return minutes
    diff = changes({k: getattr(existing, k) for k in new}, new)
    if diff["new"]:
        for key, value in diff["new"].items():
            setattr(existing, key, value)
        existing.updated_by, existing.updated_at = actor_id, now
        session.flush()
        record(session, "scoring.minutes.updated", actor_id, existing, round=scoring_round.period_key, **diff)
    return existing


def minutes_xlsx(
    scoring_round: ScoringRound, minutes: MeetingMinutes, present: list[str], recorder: str, village: Village
) -> bytes:
    """The minutes as a two-column workbook (item, content), set up to print on A4."""
    book = openpyxl.Workbook()
    sheet = ledger_sheet(
        book.active,
        _("会议记录"),
        _(
            "%(village)s %(period)s 积分评定会议记录",
            village=village.label,
            period=period_label(scoring_round),
        ),
        [_("项目"), _("内容")],
        [18, 90],
        landscape=False,
    )
    for item, content in (
        (_("会议日期"), minutes.held_on),
        (_("地点"), minutes.place),
        (_("出席的评比小组成员"), _("、").join(present)),
        (_("其他参会人员"), minutes.others_present),
        (_("评定结果和决定"), minutes.decisions),
        (_("其他记录"), minutes.notes),
        (_("记录人"), recorder),
    ):
        sheet.append([item, content])
    for row in sheet.iter_rows(min_row=3):
        row[0].font = Font(bold=True)
        row[0].alignment = Alignment(vertical="top")
        row[1].alignment = Alignment(wrap_text=True, vertical="top")
    sheet["B3"].number_format = "yyyy-mm-dd"
    return workbook_bytes(book)


# --- 积分公示影视资料: photos of the posted notice ---------------------------------------------


def photos_of(session: Session, scoring_round: ScoringRound) -> list[NoticePhoto]:
    return list(
        session.scalars(
            sa.select(NoticePhoto)
            .where(NoticePhoto.round_id == scoring_round.id)
            .order_by(NoticePhoto.posted_from, NoticePhoto.id)
        )
    )


def get_photo(session: Session, village_id: int, photo_id: int) -> tuple[NoticePhoto, ScoringRound]:
    """A photo and its round, if the round is this village's.

    :raises NotFound: no such photo here.
    """
    photo = session.get(NoticePhoto, photo_id)
    scoring_round = session.get(ScoringRound, photo.round_id) if photo else None
    if scoring_round is None or scoring_round.village_id != village_id:
        raise NotFound(_("找不到这张照片。"), code="unknown_photo")
    return photo, scoring_round


def photo_path(folder: Path, stored_name: str) -> Path:
    """Where a stored photo lives; only names we made (a plain file name) resolve."""
    if PurePath(stored_name).name != stored_name or stored_name.startswith("."):
        raise NotFound(_("找不到这张照片。"), code="unknown_photo")
    return folder / stored_name


def add_photo(
    session: Session,
    scoring_round: ScoringRound,
    data: "bytes | CleanPhoto",
    original_name: str,
    posted_from: date | None,
    posted_until: date | None,
    folder: Path,
    actor_id: int | None,
) -> NoticePhoto:
    """Keep a photo of the posted notice under a random name in ``folder``, and record it.

    The file is written before the row is flushed; if the caller's transaction does not commit, it
    calls :func:`discard_photo_file` with the returned photo's ``stored_name``. ``data`` is the
    upload's bytes, or the :class:`~pointsmart.images.CleanPhoto` a view made of them before its write
    transaction; the file is stored without EXIF (no GPS position on a photo the public sees).

    :raises ScoringError: the round has not been put on notice yet, or has all the photos it may have.
    :raises Invalid: the dates are the wrong way round.
    :raises PhotoRefused: see :func:`~pointsmart.images.check_image`.
    """
    if scoring_round.status not in PUBLIC_STATUSES:
        raise ScoringError(_("这次评定还没有公示，不能上传公示照片。"), code="not_published")
    count = session.scalar(
        sa.select(sa.func.count(NoticePhoto.id)).where(NoticePhoto.round_id == scoring_round.id)
    )
    if count >= MAX_PHOTOS:
        raise ScoringError(_("每次评定最多上传 %(n)s 张公示照片。", n=MAX_PHOTOS), code="too_many_photos")
    if posted_from and posted_until and posted_until < posted_from:
        raise Invalid(_("撤下日期不能早于张贴日期。"), code="bad_dates")
    photo = data if isinstance(data, CleanPhoto) else clean_photo(data)  # stored without EXIF
    data, info = photo.data, photo.info
    folder.mkdir(parents=True, exist_ok=True)
    stored_name = f"{secrets.token_hex(16)}.{info.extension}"
    with open(photo_path(folder, stored_name), "xb") as f:
        f.write(data)
    photo = NoticePhoto(
        round_id=scoring_round.id,
        stored_name=stored_name,
        original_name=PurePath((original_name or "").replace("\\", "/")).name[:200],
        content_type=info.content_type,
        width=info.width,
        height=info.height,
        size=len(data),
        posted_from=posted_from,
        posted_until=posted_until,
        uploaded_by=actor_id,
        uploaded_at=utcnow(),
    )
    try:
        session.add(photo)
        session.flush()
    except Exception:
        discard_photo_file(folder, stored_name)
        raise
    record(
        session,
        "scoring.notice_photo.uploaded",
        actor_id,
        photo,
        round=scoring_round.period_key,
        original_name=photo.original_name,
        stored_name=stored_name,
        content_type=info.content_type,
        size=len(data),
        width=info.width,
        height=info.height,
        posted_from=posted_from,
        posted_until=posted_until,
    )
    return photo


def delete_photo(session: Session, photo: NoticePhoto, actor_id: int | None) -> str:
    """Remove a photo's record (audited). Returns its file name: remove the file once committed."""
    scoring_round = session.get(ScoringRound, photo.round_id)
    record(
        session,
        "scoring.notice_photo.deleted",
        actor_id,
        photo,
        round=scoring_round.period_key,
        original_name=photo.original_name,
        stored_name=photo.stored_name,
        posted_from=photo.posted_from,
        posted_until=photo.posted_until,
    )
    stored_name = photo.stored_name
    session.delete(photo)
    session.flush()
    return stored_name


def discard_photo_file(folder: Path, stored_name: str) -> None:
    photo_path(folder, stored_name).unlink(missing_ok=True)


def photos_xlsx(
    scoring_round: ScoringRound,
    photos: list[NoticePhoto],
    folder: Path,
    names: dict[int, str],
    village: Village,
) -> bytes:
    """The photo evidence as a workbook: one row per photo with its dates, and the photo itself."""
    book = openpyxl.Workbook()
    sheet = ledger_sheet(
        book.active,
        _("公示照片"),
        _(
            "%(village)s %(period)s 积分公示影视资料",
            village=village.label,
            period=period_label(scoring_round),
        ),
        [_("序号"), _("张贴日期"), _("撤下日期"), _("上传人"), _("上传时间"), _("照片")],
        [6, 12, 12, 10, 17, 60],
        landscape=False,
    )
    for number, photo in enumerate(photos, start=1):
        sheet.append(
            [
                number,
                photo.posted_from,
                photo.posted_until,
                names.get(photo.uploaded_by, ""),
                local_naive(photo.uploaded_at),
            ]
        )
        row = sheet.max_row
        for column in "BC":
            sheet[f"{column}{row}"].number_format = "yyyy-mm-dd"
        sheet[f"E{row}"].number_format = "yyyy-mm-dd hh:mm"
        thumbnail = _thumbnail(photo_path(folder, photo.stored_name))
        if thumbnail is not None:
            picture = SheetImage(thumbnail)
            sheet.add_image(picture, f"F{row}")
            sheet.row_dimensions[row].height = picture.height * 0.75  # pixels → points
        else:
            sheet[f"F{row}"] = _("（照片文件缺失）")
    return workbook_bytes(book)


def _thumbnail(path: Path, box=(400, 300)) -> io.BytesIO | None:
    try:
        with Image.open(path) as image:
            image.thumbnail(box)
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=80)
    except (OSError, ValueError):
        return None
    out.seek(0)
    return out


# --- 积分登记台账: the points register ---------------------------------------------------------


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
    #: the points from rounds of earlier years (上年结转)
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

    @property
    def has_corrections(self) -> bool:
        return any(line.corrected for e in self.entries for line in e.lines)


def register(session: Session, village_id: int, year: int, group: str = "") -> Register:
    """Every household's points from finalised rounds in ``year``, by period and category, with a
    running total that starts from what earlier years' rounds brought."""
    done = finalised_rounds(session, village_id)
    years = sorted({_year(r) for r in done}, reverse=True)
    rounds = [r for r in done if _year(r) == year]
    upto = [r for r in done if _year(r) <= year]
    nets = _round_nets(session, village_id, upto)
    by_category = _category_points(session, [r.id for r in rounds])
    results = {
        (r.round_id, r.household_id): r
        for r in session.scalars(
            sa.select(RoundResult).where(RoundResult.round_id.in_([r.id for r in rounds]))
        )
    }
    query = sa.select(Household).where(Household.village_id == village_id)
    if group:
        query = query.where(Household.group == group)
    earning = {household_id for _round_id, household_id in nets}
    entries = []
    for household in session.scalars(query.order_by(Household.household_no)):
        if not household.active and household.id not in earning:
            continue
        brought = sum(nets.get((r.id, household.id), 0) for r in upto if _year(r) < year)
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


def register_xlsx(ledger: Register, village: Village) -> bytes:
    """The register as a workbook: a line per household and round, with the running total."""
    book = openpyxl.Workbook()
    names = [c.name for c in ledger.categories]
    header = [_("户号"), _("户主"), _("村民小组"), _("期别"), *names, _("余额不足未扣")]
    if ledger.has_corrections:
        header.append(_("撤销更正"))
    header += [_("本期积分"), _("累计")]
    title = _("%(village)s %(year)s 年积分登记台账", village=village.label, year=ledger.year)
    if ledger.group:
        title += f" · {ledger.group}"
    sheet = ledger_sheet(
        book.active,
        _("积分登记台账"),
        title,
        header,
        [10, 12, 10, 16] + [12] * len(names) + [10, 10, 10, 10],
        landscape=True,
    )
    pad = [None] * len(names)
    for entry in ledger.entries:
        h = entry.household
        sheet.append(
            [h.household_no, h.head_name, h.group, _("上年结转"), *pad, None]
            + ([None] if ledger.has_corrections else [])
            + [entry.brought_forward, entry.brought_forward]
        )
        for line in entry.lines:
            row = [h.household_no, h.head_name, h.group, period_label(line.round)]
            row += [line.by_category.get(c.id) for c in ledger.categories]
            row.append(line.shortfall or None)
            if ledger.has_corrections:
                row.append(line.corrected or None)
            row += [line.net, line.running]
            sheet.append(row)
    return workbook_bytes(book)


# --- what villagers see: the public notice and the honour roll ---------------------------------


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
    years = sorted({_year(r) for r in done}, reverse=True)
    if period:
        chosen = [r for r in done if r.period_key == period]
        year = int(period[:4]) if period[:4].isdigit() else None
    else:
        year = year or (years[0] if years else None)
        chosen = [r for r in done if _year(r) == year]
    totals: dict[int, int] = defaultdict(int)
    for (_round_id, household_id), net in _round_nets(session, village_id, chosen).items():
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


# --- the ledgers' index -----------------------------------------------------------------------


@dataclass
class LedgerRound:
    round: ScoringRound
    has_minutes: bool
    photos: int


def ledger_rounds(session: Session, village_id: int) -> list[LedgerRound]:
    """Every round of the village, newest first, with whether its minutes and photos are there."""
    rounds = services.list_rounds(session, village_id)
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
