"""What villagers see without logging in: the public notice (公示) and the honour roll (光荣榜).

Only rounds on notice or finalised are shown, never one still being scored or reviewed. Households
appear by 户号, name and group — as on the paper notice on the village board — and never with their
phone number or address.
"""

from flask import Blueprint, abort, current_app, flash, render_template, request
from flask_babel import gettext as _

from ..auth.access import county_mode
from ..auth.services import user_names
from ..clock import utcnow
from ..extensions import db
from ..households.services import groups as village_groups
from ..images import send_photo
from ..org.services import home_village
from ..text import search_text
from . import reports, score_photos
from .models import PHOTO_STAGE_LABELS, RoundStatus

bp = Blueprint("public", __name__)


@bp.context_processor
def village_head():
    if county_mode():  # the county serves many villages: each page names its own
        return {}
    village = home_village(db.session)
    return {"village": village, "village_name": village.label}


@bp.get("/notice")
def notices():
    """The rounds on notice now, and the ones finalised lately (at a county the app serves
    :func:`pointsmart.family.views.county_notices` here instead)."""
    village = home_village(db.session)
    rounds = reports.public_rounds(db.session, village.id, utcnow())
    return render_template("public/notices.html", rounds=rounds)


@bp.get("/notice/<round_uuid>")
def notice(round_uuid: str):
    """One round's public notice: every household that scored, by category, and how to object."""
    village = home_village(db.session)
    found = reports.public_round(db.session, village.id, round_uuid)
    publisher = user_names(db.session, [found.published_by]).get(found.published_by, "")
    results = reports.round_results(db.session, found)
    # "find my household": a plain GET field, so it works without JavaScript and the link can be shared
    q, refused = search_text(request.args.get("q"), _("查找农户（户号或户主姓名）"), MAX_QUERY)
    if refused:
        flash(refused, "error")
    rows = [row for row in results.rows if _matches(row.household, q)] if q else results.rows
    page = render_template(
        "public/notice.html",
        round=found,
        results=results,
        rows=rows,
        q=q,
        on_notice=found.status == RoundStatus.NOTICE and utcnow() < found.notice_ends_at,
        publisher=publisher,
        photos=score_photos.public_photos(db.session, found),
        households={row.household.id: row.household for row in results.rows},
        stage_labels=PHOTO_STAGE_LABELS,
    )
    return page, 400 if refused else 200


@bp.get("/notice/<round_uuid>/photos/<int:photo_id>")
def notice_photo(round_uuid: str, photo_id: int):
    """A score photo the chair marked public, of a round on public notice; any other answers 404."""
    village = home_village(db.session)
    found = reports.public_round(db.session, village.id, round_uuid)
    photo = next((p for p in score_photos.public_photos(db.session, found) if p.id == photo_id), None)
    if photo is None:
        abort(404)
    return send_photo(score_photos.folder_of(current_app.instance_path), photo, private=False)


#: the longest search the notice takes (a 户号 is up to 20 characters, a name up to 40)
MAX_QUERY = 40


def _matches(household, q: str) -> bool:
    """A household matches by part of its 户号 (``017`` finds ``03-017``) or of its head's name."""
    return q.casefold() in household.household_no.casefold() or q in household.head_name


@bp.get("/honour")
def honour():
    """The honour roll: top households of a period or a year, of the village or one group (at a county
    the app serves :func:`pointsmart.family.views.county_honour` here instead)."""
    village = home_village(db.session)
    roll = reports.honour_roll(
        db.session,
        village.id,
        period=request.args.get("period", "").strip(),
        year=request.args.get("year", type=int),
        group=request.args.get("group", "").strip(),
    )
    if roll.period:
        title = _("%(period)s 光荣榜", period=roll.period)
    elif roll.year:
        title = _("%(year)s 年光荣榜", year=roll.year)
    else:
        title = _("光荣榜")
    return render_template(
        "public/honour.html",
        roll=roll,
        title=title,
        groups=village_groups(db.session, village.id),
    )
