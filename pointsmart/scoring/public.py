"""What villagers see without logging in: the public notice (公示) and the honour roll (光荣榜).

Only rounds on notice or finalised are shown, never one still being scored or reviewed. Households
appear by 户号, name and group — as on the paper notice on the village board — and never with their
phone number or address.
"""

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from ..auth.services import user_names
from ..clock import utcnow
from ..extensions import db
from ..households.services import groups as village_groups
from ..org.services import home_village
from . import reports
from .models import RoundStatus

bp = Blueprint("public", __name__)


@bp.context_processor
def village_head():
    village = home_village(db.session)
    return {"village": village, "village_name": village.label}


@bp.get("/notice")
def notices():
    """The rounds on notice now, and the ones finalised lately."""
    village = home_village(db.session)
    rounds = reports.public_rounds(db.session, village.id, utcnow())
    return render_template("public/notices.html", rounds=rounds)


@bp.get("/notice/<round_uuid>")
def notice(round_uuid: str):
    """One round's public notice: every household that scored, by category, and how to object."""
    village = home_village(db.session)
    found = reports.public_round(db.session, village.id, round_uuid)
    publisher = user_names(db.session, [found.published_by]).get(found.published_by, "")
    return render_template(
        "public/notice.html",
        round=found,
        results=reports.round_results(db.session, found),
        on_notice=found.status == RoundStatus.NOTICE and utcnow() < found.notice_ends_at,
        publisher=publisher,
    )


@bp.get("/honour")
def honour():
    """The honour roll: top households of a period or a year, of the village or one group."""
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
