"""打分佐证照片: photos a panel member attaches to a household's score in a round, from the phone.

A photo is checked, turned upright, stripped of EXIF (a phone's photo carries where the family lives)
and scaled down before it is stored under a random name in the instance folder; only the village's
chair and panel see it, and the public notice shows it only once the chair marks it public. Every
photo the village keeps — these and the notice photos — counts against one storage limit (a config
value), so a busy month cannot fill the village PC's disk. Writes flush and audit; the caller commits.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from operator import attrgetter
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from .. import changes as change_log
from ..audit.services import record
from ..auth.models import User
from ..errors import Invalid, NotFound
from ..exports import DAY, INTEGER, TEXT, Column
from ..households.models import Household
from ..ids import derived_uuid
from ..images import CleanPhoto, photo_path, store_photo
from ..months.guard import refuse_round
from ..periods import local_day, read_period
from .errors import ScoringError
from .models import PHOTO_STAGE_LABELS, PhotoStage, RoundCriterion, RoundStatus, ScorePhoto, ScoringRound
from .notice_photos import round_photo
from .photo_storage import require_room
from .reports import period_label
from .rounds import lock_round
from .score_entry import may_score, score_cell

#: a photo is scaled down to at most this many pixels on its longer side before it is stored
FIT_SIDE = 1600
#: photos per household per round (before and after of a few criteria, and a few more)
MAX_PER_HOUSEHOLD = 12
#: the words that make a category's criteria take 整改前 / 整改后 (a 美丽庭院 is judged by its change)
BEFORE_AFTER_WORDS = ("美丽庭院", "庭院")


def folder_of(instance_path: str) -> Path:
    """Where score photos are kept: the instance folder, never ``static/`` (they are private)."""
    return Path(instance_path) / "uploads" / "scores"


def takes_before_after(criterion: RoundCriterion | None) -> bool:
    """Whether photos of this criterion are marked before or after (美丽庭院's criteria)."""
    return criterion is not None and any(w in criterion.category_name for w in BEFORE_AFTER_WORDS)


# --- reading ------------------------------------------------------------------------------------


def photos_of_round(session: Session, scoring_round: ScoringRound) -> list[ScorePhoto]:
    return list(
        session.scalars(
            sa.select(ScorePhoto)
            .where(ScorePhoto.round_id == scoring_round.id)
            .order_by(ScorePhoto.household_id, ScorePhoto.round_criterion_id, ScorePhoto.id)
        )
    )


def by_household(photos: list[ScorePhoto]) -> dict[int, list[ScorePhoto]]:
    found: dict[int, list[ScorePhoto]] = defaultdict(list)
    for photo in photos:
        found[photo.household_id].append(photo)
    return dict(found)


def photos_of_household(session: Session, scoring_round: ScoringRound, household_id: int) -> list[ScorePhoto]:
    return list(
        session.scalars(
            sa.select(ScorePhoto)
            .where(ScorePhoto.round_id == scoring_round.id, ScorePhoto.household_id == household_id)
            .order_by(ScorePhoto.id)
        )
    )


def counts_by_household(session: Session, scoring_round: ScoringRound) -> dict[int, int]:
    """How many photos each household has in the round (for the phone's household list)."""
    rows = session.execute(
        sa.select(ScorePhoto.household_id, sa.func.count(ScorePhoto.id))
        .where(ScorePhoto.round_id == scoring_round.id)
        .group_by(ScorePhoto.household_id)
    )
    return {household_id: n for household_id, n in rows}


def public_photos(session: Session, scoring_round: ScoringRound) -> list[ScorePhoto]:
    """The photos the chair marked public, for the round's public notice."""
    return list(
        session.scalars(
            sa.select(ScorePhoto)
            .where(ScorePhoto.round_id == scoring_round.id, ScorePhoto.public.is_(True))
            .order_by(ScorePhoto.household_id, ScorePhoto.id)
        )
    )


def get_photo(session: Session, village_id: int, photo_id: int) -> tuple[ScorePhoto, ScoringRound]:
    """A score photo and its round, if the round is this village's (:func:`notice_photos.round_photo`)."""
    return round_photo(session, ScorePhoto, village_id, photo_id)


# --- writing ------------------------------------------------------------------------------------


def add_photo(
    session: Session,
    scoring_round: ScoringRound,
    household_id: int,
    round_criterion_id: int | None,
    stage: str,
    photo: CleanPhoto,
    folder: Path,
    user: User,
    limit: int,
) -> ScorePhoto:
    """Keep a cleaned photo as evidence of a household's score in a draft round, and record it.

    ``photo`` is what :func:`pointsmart.images.clean_photo` made of the upload (with ``fit``) before
    the write transaction. The file is written before the row is flushed; if the caller's transaction
    does not commit, it calls :func:`~.notice_photos.discard_photo_file` with the ``stored_name``.

    :raises ScoringError: the round is no longer open for scoring (``wrong_status``), the user may not
        score this household (``not_panel_member``), the household has all the photos it may have
        (``too_many_photos``), or the village's storage is full (``storage_full``).
    :raises NotFound: the household or the criterion is not in this round.
    :raises Invalid: a stage other than before/after, or one on a criterion that takes none.
    """
    lock_round(session, scoring_round, shared=True)
    if scoring_round.status != RoundStatus.DRAFT:
        raise _refused(
            session,
            user,
            scoring_round,
            household_id,
            ScoringError(
                _("这次评定已经不在打分阶段，不能再上传佐证照片。"), code="wrong_status", status=409
            ),
        )
    criterion = None
    if round_criterion_id is None:
        household = session.get(Household, household_id)
        if (
            household is None
            or household.village_id != scoring_round.village_id
            or not household.active
            or (scoring_round.scope and household.group != scoring_round.scope)
        ):
            raise NotFound(_("这一户不在这次评定范围内。"), code="unknown_household")
    else:  # the same checks, and the criterion is the round's
        household, criterion = score_cell(session, scoring_round, household_id, round_criterion_id)
    if not may_score(session, user, household):
        raise _refused(
            session,
            user,
            scoring_round,
            household.id,
            ScoringError(
                _("您不是评比小组成员，或这一户不在您负责的小组。"), code="not_panel_member", status=403
            ),
        )
    if stage not in (PhotoStage.NONE, PhotoStage.BEFORE, PhotoStage.AFTER):
        raise Invalid(_("照片类型只能是整改前或整改后。"), code="bad_stage", field="stage")
    if stage and not takes_before_after(criterion):
        raise Invalid(_("只有美丽庭院的条目才分整改前和整改后。"), code="bad_stage", field="stage")
    count = session.scalar(
        sa.select(sa.func.count(ScorePhoto.id)).where(
            ScorePhoto.round_id == scoring_round.id, ScorePhoto.household_id == household.id
        )
    )
    if count >= MAX_PER_HOUSEHOLD:
        raise _refused(
            session,
            user,
            scoring_round,
            household.id,
            ScoringError(
                _("每户每次评定最多上传 %(n)s 张佐证照片。", n=MAX_PER_HOUSEHOLD), code="too_many_photos"
            ),
        )
    try:
        require_room(session, scoring_round.village_id, limit, len(photo.data))
    except ScoringError as err:
        raise _refused(session, user, scoring_round, household.id, err, size=len(photo.data)) from None
    stored_name = store_photo(folder, photo.data, photo.info.extension)
    row = ScorePhoto(
        round_id=scoring_round.id,
        household_id=household.id,
        round_criterion_id=criterion.id if criterion else None,
        stage=stage,
        stored_name=stored_name,
        content_type=photo.info.content_type,
        width=photo.info.width,
        height=photo.info.height,
        size=len(photo.data),
        sha256=hashlib.sha256(photo.data).hexdigest(),
        uploaded_by=user.id,
    )
    try:
        session.add(row)
        session.flush()
    except Exception:
        photo_path(folder, stored_name).unlink(missing_ok=True)
        raise
    record(
        session,
        "scoring.score_photo.uploaded",
        user.id,
        row,
        round=scoring_round.period_key,
        household_id=household.id,
        criterion=criterion.name if criterion else "",
        stage=stage,
        stored_name=stored_name,
        size=row.size,
        width=row.width,
        height=row.height,
    )
    return row


def _refused(session, user: User, scoring_round, household_id, err: ScoringError, **extra) -> ScoringError:
    """Record a refused upload (auditors ask about those too) and mark the error to keep the record:
    nothing else was written before a refusal, so the unit of work commits the entry alone."""
    record(
        session,
        "scoring.score_photo.refused",
        user.id,
        scoring_round,
        round=scoring_round.period_key,
        household_id=household_id,
        code=err.code,
        **extra,
    )
    err.keep = True
    return err


def set_public(session: Session, photo: ScorePhoto, public: bool, actor_id: int | None) -> bool:
    """Show a photo on the round's public notice, or take it off. Returns whether it changed.

    :raises MonthClosed: the round's month is closed (its photos are lines of the month's book)."""
    scoring_round = session.get(ScoringRound, photo.round_id)
    refuse_round(session, scoring_round)
    if photo.public == public:
        return False
    photo.public = public
    session.flush()
    record(
        session,
        "scoring.score_photo.made_public" if public else "scoring.score_photo.made_private",
        actor_id,
        photo,
        round=scoring_round.period_key,
        household_id=photo.household_id,
        stored_name=photo.stored_name,
    )
    return True


def delete_photo(session: Session, photo: ScorePhoto, actor_id: int | None) -> str:
    """Remove a photo's record (audited). Returns its file name: remove the file once committed.

    :raises MonthClosed: the round's month is closed (its photos are lines of the month's book)."""
    scoring_round = session.get(ScoringRound, photo.round_id)
    refuse_round(session, scoring_round)
    record(
        session,
        "scoring.score_photo.deleted",
        actor_id,
        photo,
        round=scoring_round.period_key,
        household_id=photo.household_id,
        stored_name=photo.stored_name,
        size=photo.size,
    )
    stored_name = photo.stored_name
    # the county hears of it as the photo's last state, marked deleted (the row is gone at commit)
    last = {c.key: getattr(photo, c.key) for c in sa.inspect(ScorePhoto).column_attrs}
    session.delete(photo)
    session.flush()
    change_log.bulk(session, "score_photo", [{**last, "deleted": True}])
    return stored_name


# --- the photos ledger of a month's book ---------------------------------------------------------


@dataclass(frozen=True)
class LedgerLine:
    """A score photo as the month book's photos ledger lists it (积分公示影视资料台账), built alike from
    the village's rows (:func:`ledger_lines`) and from the county's synced copy
    (:func:`pointsmart.county.month_book.county_book`), so the two books list the same lines."""

    uuid: str
    #: the round's label (:func:`.reports.round_label`)
    round: str
    household_no: str
    head_name: str
    #: the criterion's name as the round kept it, or 整户
    criterion: str
    #: 整改前 / 整改后, or empty
    stage: str
    #: the day it was attached, in the villages' calendar
    taken_on: date
    public: bool
    size: int
    sha256: str

    @staticmethod
    def columns() -> list[Column]:
        return [
            Column(_("评定"), 22, attrgetter("round")),
            Column(_("户号"), 8, attrgetter("household_no"), TEXT),
            Column(_("户主"), 8, attrgetter("head_name"), TEXT),
            Column(_("条目"), 16, attrgetter("criterion"), TEXT),
            Column(_("整改前后"), 8, attrgetter("stage")),
            Column(_("拍摄日期"), 11, attrgetter("taken_on"), DAY),
            Column(_("公开"), 5, lambda line: _("是") if line.public else _("否"), key="public"),
            Column(_("字节数"), 10, attrgetter("size"), INTEGER),
            Column(_("文件 SHA-256"), 66, lambda line: line.sha256 or _("（文件缺失）"), key="sha256"),
        ]


def make_line(
    uuid: str, round_label: str, household: tuple[str, str], criterion: str | None, stage: str,
    taken_at, public: bool, size: int, sha256: str | None,
) -> LedgerLine:  # fmt: skip
    """One line, from what the village and the county both hold of a photo."""
    return LedgerLine(
        uuid, round_label, household[0], household[1], criterion or _("整户"),
        str(PHOTO_STAGE_LABELS[PhotoStage(stage)]) if stage else "", local_day(taken_at), public, size,
        sha256 or "",
    )  # fmt: skip


def score_photo_uuid(photo_id: int) -> str:
    """A score photo's global id, derived from its row (the row has no uuid of its own): the id it
    syncs under and the county knows it by."""
    return derived_uuid("score_photo", str(photo_id))


def ledger_lines(session: Session, rounds: list[ScoringRound]) -> list[LedgerLine]:
    """The score photos of ``rounds`` (a month book's rounds: :func:`pointsmart.book.month_rounds`), a
    line each, in :func:`line_order`."""
    lines = []
    for scoring_round in rounds:
        label = period_label(scoring_round)
        order = round_order(scoring_round.period_type, scoring_round.period_key, scoring_round.scope)
        rows = session.execute(
            sa.select(ScorePhoto, Household.household_no, Household.head_name, RoundCriterion.name)
            .join(Household, Household.id == ScorePhoto.household_id)
            .outerjoin(RoundCriterion, RoundCriterion.id == ScorePhoto.round_criterion_id)
            .where(ScorePhoto.round_id == scoring_round.id)
        )
        lines += [
            (order, make_line(score_photo_uuid(p.id), label, (no, head), name, p.stage, p.uploaded_at,
                              p.public, p.size, p.sha256))
            for p, no, head, name in rows
        ]  # fmt: skip
    return [line for _order, line in sorted(lines, key=line_order)]


def round_order(period_type: str, period_key: str, scope: str) -> tuple:
    """Where a round's lines go in the ledger: by its period's start (as the book orders its rounds),
    then its group and cadence."""
    found = read_period(period_key)
    return (found.start if found is not None else date.max), scope or "", period_type


def line_order(entry: tuple) -> tuple:
    """``(round_order, line)``: by round, then household number, day attached and the photo's id."""
    order, line = entry
    return order, line.household_no, line.taken_on, line.uuid
