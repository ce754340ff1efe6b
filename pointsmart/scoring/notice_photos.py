"""积分公示影视资料: photos of the posted notice — stored (checked, without metadata), deleted,
listed and exported with thumbnails. Writes flush and audit; the caller commits.
"""

import io
from collections.abc import Callable
from datetime import date
from pathlib import Path, PurePath

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from openpyxl.drawing.image import Image as SheetImage
from PIL import Image
from sqlalchemy.orm import Session

from .. import changes as change_log
from ..audit.services import record
from ..clock import utcnow
from ..errors import Invalid, NotFound
from ..images import CleanPhoto, clean_photo, photo_path, store_photo
from ..months.guard import refuse_round
from ..org.models import Village
from ..periods import check_day, local_day, local_naive
from ..text import visible
from ..xlsx import Book, ledger_sheet, workbook_bytes
from .errors import ScoringError
from .models import (
    NoticePhoto,
    ScoringRound,
)
from .photo_storage import require_room
from .reports import PUBLIC_STATUSES, period_label

MAX_PHOTOS = 20

#: more sheets of a round's photos workbook (:func:`photos_xlsx`), each ``(book, round, village)``:
#: registered by the packages above scoring — claims adds its accepted photos (:mod:`pointsmart.claims`)
#: — so this module never imports them
MORE_SHEETS: list[Callable[[Book, ScoringRound, Village], None]] = []


def folder() -> Path:
    """Where the notice photos lie: ``uploads/notices`` in the instance folder."""
    return Path(current_app.instance_path) / "uploads" / "notices"


def photos_of(session: Session, scoring_round: ScoringRound) -> list[NoticePhoto]:
    return list(
        session.scalars(
            sa.select(NoticePhoto)
            .where(NoticePhoto.round_id == scoring_round.id)
            .order_by(NoticePhoto.posted_from, NoticePhoto.id)
        )
    )


def get_photo(session: Session, village_id: int, photo_id: int) -> tuple[NoticePhoto, ScoringRound]:
    """A notice photo and its round, if the round is this village's (:func:`round_photo`)."""
    return round_photo(session, NoticePhoto, village_id, photo_id)


def round_photo(session: Session, model, village_id: int, photo_id: int):
    """A photo of a round (``model``: a notice or a score photo) and its round, if the round is this
    village's.

    :raises NotFound: no such photo here.
    """
    photo = session.get(model, photo_id)
    scoring_round = session.get(ScoringRound, photo.round_id) if photo else None
    if scoring_round is None or scoring_round.village_id != village_id:
        raise NotFound(_("找不到这张照片。"), code="unknown_photo")
    return photo, scoring_round


def add_photo(
    session: Session,
    scoring_round: ScoringRound,
    data: "bytes | CleanPhoto",
    original_name: str,
    posted_from: date | None,
    posted_until: date | None,
    folder: Path,
    actor_id: int | None,
    limit: int | None = None,
) -> NoticePhoto:
    """Keep a photo of the posted notice under a random name in ``folder``, and record it.

    The file is written before the row is flushed; if the caller's transaction does not commit, it
    calls :func:`discard_photo_file` with the returned photo's ``stored_name``. ``data`` is the
    upload's bytes, or the :class:`~pointsmart.images.CleanPhoto` a view made of them before its write
    transaction; the file is stored without EXIF (no GPS position on a photo the public sees).

    ``limit`` is the village's photo storage in bytes (:mod:`.photo_storage`); None: not checked.

    :raises ScoringError: the round has not been put on notice yet, has all the photos it may have, or
        the village's photo storage is full (``storage_full``).
    :raises Invalid: the dates are the wrong way round, or outside the notice period (naming the field).
    :raises PhotoRefused: see :func:`~pointsmart.images.check_image`.
    """
    refuse_round(session, scoring_round)  # a closed month's notice photos are part of its book
    if scoring_round.status not in PUBLIC_STATUSES:
        raise ScoringError(_("这次评定还没有公示，不能上传公示照片。"), code="not_published")
    count = session.scalar(
        sa.select(sa.func.count(NoticePhoto.id)).where(NoticePhoto.round_id == scoring_round.id)
    )
    if count >= MAX_PHOTOS:
        raise ScoringError(_("每次评定最多上传 %(n)s 张公示照片。", n=MAX_PHOTOS), code="too_many_photos")
    check_day(posted_from, "posted_from", _("张贴日期"))
    check_day(posted_until, "posted_until", _("撤下日期"), ahead=True)  # a notice may run a few days yet
    if posted_from and posted_until and posted_until < posted_from:
        raise Invalid(_("撤下日期不能早于张贴日期。"), code="bad_dates")
    _refuse_outside_notice(scoring_round, posted_from, posted_until)
    photo = data if isinstance(data, CleanPhoto) else clean_photo(data)  # stored without EXIF
    data, info = photo.data, photo.info
    if limit is not None:
        require_room(session, scoring_round.village_id, limit, len(data))
    stored_name = store_photo(folder, data, info.extension)
    photo = NoticePhoto(
        round_id=scoring_round.id,
        stored_name=stored_name,
        # a file's name, not text anyone typed: kept for reference, printable, as long as the column
        original_name=visible(PurePath((original_name or "").replace("\\", "/")).name)[:200],
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
    change_log.touch(session, scoring_round)  # the county counts a round's notice photos
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


def notice_days(scoring_round: ScoringRound) -> tuple[date | None, date | None]:
    """The notice period in the villages' days: the day it was put up and the day it ended (either
    None when not known: a round published by a version before the times were kept)."""
    start = local_day(scoring_round.published_at) if scoring_round.published_at else None
    end = local_day(scoring_round.notice_ends_at) if scoring_round.notice_ends_at else None
    return start, end


def _refuse_outside_notice(scoring_round: ScoringRound, posted_from: date | None, posted_until: date | None):
    """A photo documents the notice while it was up: its days lie within the notice period.

    :raises Invalid: a day before the notice went up or after it ended, naming the field.
    """
    start, end = notice_days(scoring_round)
    for day, field, label in (
        (posted_from, "posted_from", _("张贴日期")),
        (posted_until, "posted_until", _("撤下日期")),
    ):
        if day is None or ((start is None or day >= start) and (end is None or day <= end)):
            continue
        raise Invalid(
            _("%(field)s应在公示期内（%(start)s 至 %(end)s）。", field=label,
              start=start.isoformat() if start else "…", end=end.isoformat() if end else "…"),
            code="outside_notice",
            field=field,
        )  # fmt: skip


def delete_photo(session: Session, photo: NoticePhoto, actor_id: int | None) -> str:
    """Remove a photo's record (audited). Returns its file name: remove the file once committed."""
    scoring_round = session.get(ScoringRound, photo.round_id)
    refuse_round(session, scoring_round)  # a closed month's notice photos are part of its book
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
    change_log.touch(session, scoring_round)  # the county counts a round's notice photos
    return stored_name


def discard_photo_file(folder: Path, stored_name: str) -> None:
    photo_path(folder, stored_name).unlink(missing_ok=True)


def photos_xlsx(
    scoring_round: ScoringRound,
    photos: list[NoticePhoto],
    folder: Path,
    names: dict[int, str],
    village: Village,
    evidence: list | None = None,
    evidence_folder: Path | None = None,
    stage_labels: dict | None = None,
) -> bytes:
    """The photo evidence as a workbook: one row per photo with its dates, and the photo itself; with
    ``evidence`` (``[(household, [ScorePhoto, …]), …]``), a second sheet of the photos taken while
    scoring, one row each with its household, item and before/after; then the sheets of
    :data:`MORE_SHEETS` (the accepted claims' photos).

    Not a plain table: each row holds a picture placed over its last cell, the row as tall as the
    picture, so it is written cell by cell rather than as an :class:`~pointsmart.exports.Table`."""
    book = Book()
    sheet = ledger_sheet(
        book.active,
        _("公示照片"),
        _(
            "%(village)s %(period)s 积分公示影视资料",
            village=village.label,
            period=period_label(scoring_round),
        ),
        photo_header(),
        PHOTO_WIDTHS,
        landscape=False,
    )
    add_photo_rows(sheet, photos, folder, names)
    if evidence:
        _evidence_sheet(book, scoring_round, evidence, evidence_folder, names, village, stage_labels or {})
    for more in MORE_SHEETS:
        more(book, scoring_round, village)
    return workbook_bytes(book)


#: the widths of the photo sheet's columns (the last holds the picture)
PHOTO_WIDTHS = [6, 12, 12, 10, 17, 60]


def photo_header() -> list[str]:
    return [_("序号"), _("张贴日期"), _("撤下日期"), _("上传人"), _("上传时间"), _("照片")]


def add_photo_rows(sheet, photos: list[NoticePhoto], folder: Path, names: dict[int, str]) -> None:
    """A row per photo under what ``sheet`` holds: its number, dates and uploader, and the picture
    placed over the last cell, the row as tall as the picture."""
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
        place_picture(sheet, f"F{row}", photo_path(folder, photo.stored_name))


def _evidence_sheet(book, scoring_round, evidence, folder: Path, names, village, stage_labels) -> None:
    sheet = ledger_sheet(
        book.create_sheet(),
        _("打分佐证照片"),
        _(
            "%(village)s %(period)s 打分佐证照片",
            village=village.label,
            period=period_label(scoring_round),
        ),
        [_("序号"), _("户号"), _("户主"), _("条目"), _("整改前后"), _("上传人"), _("上传时间"), _("照片")],
        [6, 10, 10, 16, 9, 10, 17, 60],
        landscape=False,
    )
    number = 0
    for household, photos in evidence:
        for photo in photos:
            number += 1
            sheet.append(
                [
                    number,
                    household.household_no,
                    household.head_name,
                    photo.criterion.name if photo.criterion else _("整户"),
                    str(stage_labels.get(photo.stage, "")) if photo.stage else "",
                    names.get(photo.uploaded_by, ""),
                    local_naive(photo.uploaded_at),
                ]
            )
            row = sheet.max_row
            sheet[f"G{row}"].number_format = "yyyy-mm-dd hh:mm"
            place_picture(sheet, f"H{row}", photo_path(folder, photo.stored_name))


def place_picture(sheet, cell: str, path: Path) -> None:
    """A thumbnail of the photo at ``path`` placed over ``cell``, its row as tall as the picture; a
    missing or unreadable file says so in the cell."""
    thumbnail = _thumbnail(path)
    if thumbnail is None:
        sheet[cell] = _("（照片文件缺失）")
        return
    picture = SheetImage(thumbnail)
    sheet.add_image(picture, cell)
    sheet.row_dimensions[sheet[cell].row].height = picture.height * 0.75  # pixels → points


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
