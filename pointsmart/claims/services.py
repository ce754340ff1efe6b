"""Families' claims: what a family may claim, filing a claim with its photos, and the panel's answer.

A claim is filed into the round open for scoring (评分中) that covers the household and the period its
day falls in, for the criterion as that round holds it. Accepting one writes the household's cell
through :func:`pointsmart.scoring.score_entry.set_score` — the same rules (draft rounds only, panel
members of the household's group, the criterion's per-period maximum) and the same audit entry as a
score typed into the grid — and the claim's photos stay as the evidence of that cell.

What a family sends is only ever read back by the same household (by its card's token) or by the
village's chair and panel. Writes flush and audit; the caller commits.
"""

from dataclasses import dataclass
from datetime import date
from operator import attrgetter
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from ..audit.services import record
from ..auth.models import User
from ..cards.models import Card
from ..clock import utcnow
from ..errors import DomainError, Invalid, NotFound
from ..exports import DAY, INTEGER, TEXT, Column, Table
from ..households.models import Household
from ..images import CleanPhoto, photo_path, store_photo
from ..months.guard import is_closed, month_label, month_of_round
from ..periods import Period, check_day, local_day
from ..scoring.models import (
    Cadence,
    Category,
    Criterion,
    RoundCriterion,
    RoundStatus,
    Score,
    ScoringRound,
)
from ..scoring.notice_photos import place_picture
from ..scoring.photo_storage import require_room
from ..scoring.reports import period_label
from ..scoring.score_entry import may_score, set_score
from ..scoring.score_photos import round_order
from ..text import checked
from ..xlsx import Book
from .models import Claim, ClaimPhoto, ClaimStatus

#: a note and a decline reason are short: a sentence for the panel, a sentence back
NOTE_LENGTH, REASON_LENGTH = 200, 200
MAX_PHOTOS = 3
#: claims of one household waiting for the panel at once
MAX_OPEN_CLAIMS = 5
#: the longest side a stored claim photo keeps (a phone's 4000 px photo is ten times what a panel needs)
STORED_SIDE = 1600


class ClaimError(DomainError):
    code = "claim_refused"
    status = 409


# --- what may be claimed -----------------------------------------------------------------------------


def claimable_criteria(session: Session, village_id: int) -> list[Criterion]:
    """The rulebook in force's criteria the chair marked claimable (active, in an active category)."""
    return list(
        session.scalars(
            sa.select(Criterion)
            .join(Category)
            .where(
                Category.village_id == village_id,
                Category.active.is_(True),
                Criterion.active.is_(True),
                Criterion.claimable.is_(True),
            )
            .order_by(Category.position, Category.id, Criterion.position, Criterion.id)
        )
    )


def open_rounds(session: Session, household: Household) -> list[ScoringRound]:
    """The rounds open for scoring that could take the household's claims (village-wide or its group's):
    with none, the card page and the claim form say so up front instead of offering the form."""
    return list(
        session.scalars(
            sa.select(ScoringRound)
            .where(
                ScoringRound.village_id == household.village_id,
                ScoringRound.scope.in_(["", household.group]),
                ScoringRound.status == RoundStatus.DRAFT,
            )
            .order_by(ScoringRound.id)
        )
    )


def open_round_for(
    session: Session, household: Household, criterion: Criterion, day: date
) -> tuple[ScoringRound, RoundCriterion]:
    """The round open for scoring that takes a claim of ``criterion`` on ``day`` for ``household``.

    :raises ClaimError: no such round (``no_open_round``; ``month_closed`` when the period's month is
        closed, so no round will open for it), or its round does not hold the criterion.
    """
    cadence = Cadence(criterion.cadence)
    period = Period.of(day, cadence.period_kind)
    rounds = session.scalars(
        sa.select(ScoringRound).where(
            ScoringRound.village_id == household.village_id,
            ScoringRound.period_type == cadence,
            ScoringRound.period_key == period.key,
            ScoringRound.scope.in_(["", household.group]),
        )
    ).all()
    open_rounds = [r for r in rounds if r.status == RoundStatus.DRAFT]
    if not open_rounds:
        month = month_of_round(period.key)
        if month is not None and is_closed(session, month, household.village_id):
            # a closed month's round will never open again: waiting for it is no advice
            message = _(
                "%(month)s已经月结，不能再申领这个月的积分。申领的日期要在还没有月结的月份里。",
                month=month_label(month),
            )
            raise ClaimError(message, code="month_closed", field="happened_on")
        if rounds:
            message = _("%(period)s的评定已经结束打分，不能再申领。", period=period.label())
        else:
            message = _(
                "%(period)s的评定还没有开始打分，现在不能申领。请等村里开始评定后再来。",
                period=period.label(),
            )
        raise ClaimError(message, code="no_open_round", field="happened_on")
    scoring_round = open_rounds[0]
    held = session.scalar(
        sa.select(RoundCriterion).where(
            RoundCriterion.round_id == scoring_round.id, RoundCriterion.criterion_id == criterion.id
        )
    )
    if held is None:
        raise ClaimError(
            _("“%(name)s”不在%(period)s的评定里，不能申领。", name=criterion.name, period=period.label()),
            code="criterion_not_in_round",
            field="criterion_id",
        )
    return scoring_round, held


def refuse_closed_day(session: Session, village_id: int, day: date) -> None:
    """A claim dated in a closed month (月结) is refused, whatever round is open: a round carried past
    its month's close (结转) still takes claims, but only of days in months still open.

    :raises ClaimError: ``month_closed``, on the field ``happened_on``."""
    month = Period.of(day).key
    if is_closed(session, month, village_id):
        raise ClaimError(
            _(
                "%(month)s已经月结，不能再申领这个月的积分。申领的日期要在还没有月结的月份里。",
                month=month_label(month),
            ),
            code="month_closed",
            field="happened_on",
        )


def refuse_full_cell(session: Session, household: Household, held: RoundCriterion) -> None:
    """A claim of a criterion the household already holds its most of for the period would add
    nothing: refused up front, naming the count (the panel could only decline it).

    :raises ClaimError: ``cell_full``, on the field ``criterion_id``."""
    times = session.scalar(
        sa.select(Score.times).where(
            Score.round_id == held.round_id,
            Score.household_id == household.id,
            Score.round_criterion_id == held.id,
        )
    )
    if times is not None and times >= held.max_per_period:
        raise ClaimError(
            _(
                "“%(name)s”这一项本期已经满 %(n)s 次（每期最多 %(n)s 次），再申领也不能加分，不用再申领了。",
                name=held.name,
                n=held.max_per_period,
            ),
            code="cell_full",
            field="criterion_id",
        )


# --- photos --------------------------------------------------------------------------------------------


def discard_photo_files(folder: Path, names: list[str]) -> None:
    """Remove files written for a claim whose transaction did not commit."""
    for name in names:
        photo_path(folder, name).unlink(missing_ok=True)


def claim_photo_bytes(session: Session, village_id: int) -> int:
    """How many bytes of the village's storage its families' claim photos take."""
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(ClaimPhoto.size), 0))
            .join(Claim, ClaimPhoto.claim_id == Claim.id)
            .where(Claim.village_id == village_id)
        )
    )


# --- a family files a claim ----------------------------------------------------------------------------


@dataclass
class ClaimInput:
    criterion_id: int | None
    happened_on: date | None
    note: str


@dataclass
class CheckedClaim:
    """A claim that passed every check but the photos' own (:func:`check_claim`)."""

    household: Household
    criterion: Criterion
    note: str
    day: date
    round: ScoringRound
    round_criterion: RoundCriterion


def check_claim(session: Session, card: Card, data: ClaimInput, photo_count: int) -> CheckedClaim:
    """The cheap checks of a claim, each a query or two: the view runs them before it decodes a single
    photo (seconds of work for a large one), so a claim that would be refused anyway answers at once;
    :func:`submit_claim` runs them again under the write lock, where they decide.

    :raises Invalid: see :func:`submit_claim` (more than three photos: ``too_many_photos``).
    :raises ClaimError: no round open for scoring for that period, the criterion not in it, the same
        criterion already waiting, or too many claims waiting.
    """
    household = session.get(Household, card.household_id)
    note = checked(data.note, "note", _("说明"), max_length=NOTE_LENGTH, multiline=True)
    if photo_count > MAX_PHOTOS:
        raise Invalid(_("最多上传 %(n)s 张照片。", n=MAX_PHOTOS), code="too_many_photos", field="photos")
    criterion = session.get(Criterion, data.criterion_id) if data.criterion_id else None
    if criterion is None or criterion not in claimable_criteria(session, household.village_id):
        raise Invalid(
            _("请选择一个可以申领的积分条目。"), code="criterion_not_claimable", field="criterion_id"
        )
    day = data.happened_on
    if day is None:
        raise Invalid(_("请填写日期。"), code="date_required", field="happened_on")
    check_day(day, "happened_on", _("日期"))
    refuse_closed_day(session, household.village_id, day)
    scoring_round, round_criterion = open_round_for(session, household, criterion, day)
    refuse_full_cell(session, household, round_criterion)
    waiting = session.scalars(
        sa.select(Claim.round_criterion_id).where(
            Claim.household_id == household.id, Claim.status == ClaimStatus.PENDING
        )
    ).all()
    if round_criterion.id in waiting:
        raise ClaimError(
            _("“%(name)s”已经申领过，正在等评比小组审核。", name=criterion.name), code="already_claimed"
        )
    if len(waiting) >= MAX_OPEN_CLAIMS:
        raise ClaimError(
            _("您已有 %(n)s 条申领在等审核，审核后再提交新的申领。", n=len(waiting)), code="too_many_open"
        )
    return CheckedClaim(household, criterion, note, day, scoring_round, round_criterion)


def submit_claim(
    session: Session,
    card: Card,
    data: ClaimInput,
    photos: list[CleanPhoto],
    folder: Path,
    written: list[str],
    limit: int | None = None,
) -> Claim:
    """File a family's claim from its card's page, with its (cleaned, shrunk) photos; with ``limit``,
    the photos must fit in what is left of the village's photo storage (:mod:`..scoring.photo_storage`).

    Each photo file is written before the rows are flushed and its name appended to ``written``; if the
    caller's transaction does not commit, it calls :func:`discard_photo_files` with them.

    :raises Invalid: no or an unknown or unclaimable criterion, no or a bad day, a day to come, a note
        too long or with characters the text rule refuses, more than three photos.
    :raises ClaimError: no round open for scoring for that period, the criterion not in it, the same
        criterion already waiting, or too many claims waiting.
    """
    # one claim of a household at a time, so the open-claims count holds
    session.execute(sa.select(Household.id).where(Household.id == card.household_id).with_for_update())
    found = check_claim(session, card, data, len(photos))
    household, criterion, note, day = found.household, found.criterion, found.note, found.day
    scoring_round, round_criterion = found.round, found.round_criterion
    if limit is not None and photos:
        require_room(session, household.village_id, limit, sum(len(photo.data) for photo in photos))
    claim = Claim(
        village_id=household.village_id,
        household_id=household.id,
        card_id=card.id,
        criterion_id=criterion.id,
        round_id=scoring_round.id,
        round_criterion_id=round_criterion.id,
        happened_on=day,
        note=note,
        status=ClaimStatus.PENDING,
        submitted_at=utcnow(),
        reason="",
    )
    session.add(claim)
    session.flush()
    for photo in photos:
        stored_name = store_photo(folder, photo.data, photo.info.extension)
        written.append(stored_name)
        session.add(
            ClaimPhoto(
                claim_id=claim.id,
                stored_name=stored_name,
                content_type=photo.info.content_type,
                width=photo.info.width,
                height=photo.info.height,
                size=len(photo.data),
                uploaded_at=utcnow(),
            )
        )
    session.flush()
    record(
        session,
        "claims.claim.submitted",
        None,
        claim,
        household=household.household_no,
        card=card.number,
        round=scoring_round.period_key,
        criterion=round_criterion.name,
        happened_on=day,
        note=note,
        photos=len(photos),
    )
    return claim


def household_claims(session: Session, household_id: int, limit: int = 20) -> list[Claim]:
    """A household's own claims, newest first (its card page)."""
    return list(
        session.scalars(
            sa.select(Claim)
            .where(Claim.household_id == household_id)
            .order_by(Claim.submitted_at.desc(), Claim.id.desc())
            .limit(limit)
        )
    )


def family_photo(session: Session, card: Card, photo_id: int) -> ClaimPhoto:
    """A photo of one of the card's household's own claims.

    :raises NotFound: no such photo, or another household's."""
    photo = session.get(ClaimPhoto, photo_id)
    if photo is None or photo.claim.household_id != card.household_id:
        raise NotFound(_("找不到这张照片。"), code="unknown_photo")
    return photo


# --- the panel answers -----------------------------------------------------------------------------


def round_claims(session: Session, scoring_round: ScoringRound) -> list[Claim]:
    """The claims filed into a round: waiting ones first, then the answered, newest first."""
    return list(
        session.scalars(
            sa.select(Claim)
            .where(Claim.round_id == scoring_round.id)
            .order_by(
                sa.case((Claim.status == ClaimStatus.PENDING, 0), else_=1),
                Claim.submitted_at.desc(),
                Claim.id.desc(),
            )
        )
    )


def accepted_evidence(
    session: Session, scoring_round: ScoringRound, household_id: int | None = None
) -> list[Claim]:
    """The round's accepted claims that came with photos (of one household, if given), by household:
    their photos are the evidence of the cells they wrote, shown beside the score photos. They stay the
    claim's rows and files — counted once against the storage limit, and never in the change log (a
    score photo may travel to the county; a family's photo stays in the village)."""
    query = (
        sa.select(Claim)
        .where(
            Claim.round_id == scoring_round.id,
            Claim.status == ClaimStatus.ACCEPTED,
            sa.exists().where(ClaimPhoto.claim_id == Claim.id),
        )
        .order_by(Claim.household_id, Claim.id)
    )
    if household_id is not None:
        query = query.where(Claim.household_id == household_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class ClaimLine:
    """An accepted claim's photo as the village's photos ledger lists it (家庭申领照片（已采纳）): village
    only — a family's photo never travels to the county, so the county's rebuilt book has no such lines
    and the month's figures (账目校验码) know nothing of them."""

    #: the photo's id: the staff's address of its thumbnail (``claims.photo``); not a column
    photo_id: int
    #: the round's label (:func:`pointsmart.scoring.reports.period_label`)
    round: str
    household_no: str
    head_name: str
    #: the criterion's name as the round kept it
    criterion: str
    #: the day the family said it happened
    happened_on: date
    #: the day the panel accepted it, in the villages' calendar
    accepted_on: date
    #: what the acceptance added to the cell (None: accepted before it was kept)
    added: int | None
    #: the photo's number among its claim's photos (1 to 3)
    number: int
    size: int
    #: the file's name under the claims' uploads (the workbook's thumbnail); not a column
    stored_name: str

    @staticmethod
    def columns() -> list[Column]:
        return [
            Column(_("评定"), 22, attrgetter("round")),
            Column(_("户号"), 8, attrgetter("household_no"), TEXT),
            Column(_("户主"), 8, attrgetter("head_name"), TEXT),
            Column(_("条目"), 16, attrgetter("criterion"), TEXT),
            Column(_("申领日期"), 11, attrgetter("happened_on"), DAY),
            Column(_("采纳日期"), 11, attrgetter("accepted_on"), DAY),
            Column(_("加次数"), 7, attrgetter("added"), INTEGER),
            Column(_("第几张"), 7, attrgetter("number"), INTEGER),
            Column(_("字节数"), 10, attrgetter("size"), INTEGER),
        ]


def ledger_lines(session: Session, rounds: list[ScoringRound]) -> list[ClaimLine]:
    """The photos of ``rounds``' accepted claims (a month book's rounds:
    :func:`pointsmart.book.month_rounds`), a line each: by round (as the score photos' lines), then
    household number, the day claimed and the photo. Declined and waiting claims are never listed."""
    lines = []
    for scoring_round in rounds:
        label = period_label(scoring_round)
        order = round_order(scoring_round.period_type, scoring_round.period_key, scoring_round.scope)
        rows = session.execute(
            sa.select(Claim, Household.household_no, Household.head_name, RoundCriterion.name)
            .join(Household, Household.id == Claim.household_id)
            .join(RoundCriterion, RoundCriterion.id == Claim.round_criterion_id)
            .where(Claim.round_id == scoring_round.id, Claim.status == ClaimStatus.ACCEPTED)
        )
        for claim, no, head, name in rows:
            accepted_on = local_day(claim.decided_at)
            for number, photo in enumerate(claim.photos, start=1):
                line = ClaimLine(photo.id, label, no, head, name, claim.happened_on, accepted_on, claim.added,
                                 number, photo.size, photo.stored_name)  # fmt: skip
                lines.append(((order, no, claim.happened_on, claim.id, number), line))
    return [line for _key, line in sorted(lines, key=lambda entry: entry[0])]


def add_photos_sheet(book: Book, title: str, lines: list[ClaimLine], folder: Path) -> None:
    """家庭申领照片（已采纳） as a sheet of a round's photos workbook: the ledger's columns, and each
    photo's thumbnail in its row's last cell (a file gone from ``folder`` says so there)."""
    table = Table(
        _("家庭申领照片（已采纳）"),
        [*ClaimLine.columns(), Column(_("照片"), 60, lambda line: None)],
        lines,
        heading=title,
        landscape=True,
        notes=["", _("家庭申领的照片只给本村妇联主席和评比小组看，不上公示，不报县里。")],
    )
    sheet = table.add_to(book)
    column = get_column_letter(len(table.columns))
    for row, line in enumerate(lines, start=3):  # under the heading and the column headings
        place_picture(sheet, f"{column}{row}", photo_path(folder, line.stored_name))


def pending_count(session: Session, scoring_round: ScoringRound) -> int:
    return session.scalar(
        sa.select(sa.func.count(Claim.id)).where(
            Claim.round_id == scoring_round.id, Claim.status == ClaimStatus.PENDING
        )
    )


def waiting_by_round(session: Session, user: User) -> list[tuple[ScoringRound, int, int]]:
    """The claims of ``user``'s village waiting for an answer, by round: ``(round, how many ``user``
    may answer, how many only other panel members may)`` — the home page's to-do lines."""
    pending = session.scalars(
        sa.select(Claim)
        .where(Claim.village_id == user.village_id, Claim.status == ClaimStatus.PENDING)
        .order_by(Claim.round_id, Claim.id)
    ).all()
    counts: dict[int, list[int]] = {}
    for claim in pending:
        counts.setdefault(claim.round_id, [0, 0])[0 if can_answer(session, user, claim) else 1] += 1
    return [
        (session.get(ScoringRound, round_id), mine, others) for round_id, (mine, others) in counts.items()
    ]


def get_claim(session: Session, village_id: int, claim_id: int) -> Claim:
    """A claim of this village.

    :raises NotFound: no such claim here."""
    claim = session.get(Claim, claim_id)
    if claim is None or claim.village_id != village_id:
        raise NotFound(_("找不到这条申领。"), code="unknown_claim")
    return claim


def staff_photo(session: Session, village_id: int, photo_id: int) -> ClaimPhoto:
    """A claim photo of this village (the chair's and the panel's view).

    :raises NotFound: no such photo here."""
    photo = session.get(ClaimPhoto, photo_id)
    if photo is None or photo.claim.village_id != village_id:
        raise NotFound(_("找不到这张照片。"), code="unknown_photo")
    return photo


def cell_times(claim: Claim, cells: dict[tuple[int, int], int]) -> int:
    """What the claim's cell of the grid holds now (``cells``: :func:`~..scoring.rounds.scores_of`)."""
    return cells.get((claim.household_id, claim.round_criterion_id), 0)


def suggested_times(session: Session, claim: Claim, cells: dict[tuple[int, int], int]) -> int:
    """What the cell would hold after accepting, by default: one time more than now, within the maximum."""
    return min(cell_times(claim, cells) + 1, claim.round_criterion.max_per_period)


def _lock_pending(session: Session, claim: Claim, user: User) -> Claim:
    locked = session.scalar(
        sa.select(Claim)
        .where(Claim.id == claim.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked.status != ClaimStatus.PENDING:
        raise ClaimError(_("这条申领已经处理过了。"), code="already_decided")
    if not can_answer(session, user, locked):
        raise ClaimError(
            _("您不是评比小组成员，或这一户不在您负责的小组。"), code="not_panel_member", status=403
        )
    return locked


def accept_claim(session: Session, claim: Claim, times: int, user: User, seen: int) -> Claim:
    """Accept a claim: the household's cell of the round becomes ``times`` (the cell's total after
    accepting, as the form says: "本格现在 2 次，采纳后 3 次") through the score service (audited there
    as ``scoring.score.set``), and the claim records who, when, what it added and the total.

    Accepting never lowers the cell: a family's claim adds to what the panel has entered, so ``times``
    below what the cell already holds is refused (``would_lower_score``), naming the cell's count —
    never silently raised to it, as the panel then accepts at a number it did not choose. To lower a
    cell the panel edits the grid, where the change is its own. ``seen`` is what the form showed the
    cell holding: if the grid changed it since, the total chosen was chosen against another number,
    so it is refused (``cell_changed``) naming the cell's count now. Accepting adds at least one: a
    ``times`` equal to the cell's would tell the family its claim counted when it added nothing, so
    it is refused (``adds_nothing``; ``cell_full`` when the cell is at the criterion's maximum) — the
    panel declines it with a reason instead.

    :raises ClaimError: already answered, the user may not score this household, ``times`` is not
        above the cell's, or the cell changed since the form was shown.
    :raises ScoringError: the round is past its draft (from the score service).
    :raises Invalid: more times than the criterion allows.
    """
    claim = _lock_pending(session, claim, user)
    scoring_round = session.get(ScoringRound, claim.round_id)
    held = (
        session.scalar(
            sa.select(Score.times)
            .where(
                Score.round_id == claim.round_id,
                Score.household_id == claim.household_id,
                Score.round_criterion_id == claim.round_criterion_id,
            )
            .with_for_update()
        )
        or 0
    )
    name = claim.round_criterion.name
    if seen != held:
        raise ClaimError(
            _(
                "这一户“%(name)s”刚才已改成 %(held)s 次（您看到的是 %(seen)s 次），请看清后再采纳。",
                name=name,
                held=held,
                seen=seen,
            ),
            code="cell_changed",
            field="times",
        )
    if times < held:
        raise ClaimError(
            _(
                "这一户“%(name)s”已经计了 %(held)s 次，采纳不能把它改少：请填 %(held)s 次或更多，"
                "或者不采纳。",
                name=name,
                held=held,
            ),
            code="would_lower_score",
            field="times",
        )
    if held >= claim.round_criterion.max_per_period:
        raise ClaimError(
            _(
                "这一户“%(name)s”本期已经满 %(held)s 次（每期最多 %(max)s 次），采纳也加不了分："
                "请点“不采纳”，写明原因（例如本期已满），申领的家庭会看到。",
                name=name,
                held=held,
                max=claim.round_criterion.max_per_period,
            ),
            code="cell_full",
            field="times",
        )
    if times == held:
        raise ClaimError(
            _(
                "这一户“%(name)s”现在是 %(held)s 次，采纳后次数也填了 %(held)s 次，等于没有加："
                "采纳至少要加 1 次（请填 %(more)s 次或更多），不加分请点“不采纳”并写明原因。",
                name=name,
                held=held,
                more=held + 1,
            ),
            code="adds_nothing",
            field="times",
        )
    saved = set_score(session, scoring_round, claim.household_id, claim.round_criterion_id, times, user)
    claim.status, claim.times, claim.added = ClaimStatus.ACCEPTED, saved, saved - held
    claim.decided_by, claim.decided_at = user.id, utcnow()
    session.flush()
    record(
        session,
        "claims.claim.accepted",
        user.id,
        claim,
        household=claim.household.household_no,
        round=scoring_round.period_key,
        criterion=name,
        before=held,
        added=claim.added,
        times=saved,
        photos=[p.stored_name for p in claim.photos],
    )
    return claim


def decline_claim(session: Session, claim: Claim, reason: str, user: User) -> Claim:
    """Decline a claim with a reason the family will read.

    :raises Invalid: no reason, or one too long or with refused characters.
    :raises ClaimError: already answered, or the user may not score this household.
    """
    reason = checked(reason, "reason", _("不采纳的原因"), max_length=REASON_LENGTH)
    if not reason:
        raise Invalid(_("请写明不采纳的原因，申领的家庭会看到。"), code="reason_required", field="reason")
    claim = _lock_pending(session, claim, user)
    claim.status, claim.reason = ClaimStatus.DECLINED, reason
    claim.decided_by, claim.decided_at = user.id, utcnow()
    session.flush()
    record(
        session,
        "claims.claim.declined",
        user.id,
        claim,
        household=claim.household.household_no,
        criterion=claim.round_criterion.name,
        reason=reason,
    )
    return claim


def can_answer(session: Session, user: User, claim: Claim) -> bool:
    """Whether ``user`` may accept or decline ``claim``: as :func:`may_score` says for its household (a
    panel member of the village, for that household's group) — the chair too, when she is on the panel."""
    return user.village_id == claim.village_id and may_score(session, user, claim.household)
