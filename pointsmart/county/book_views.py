"""The county's copy of a village's month (县里重建的月度台账), linked from the 月结 table of the
county village page: the figures the county rebuilds from the synced records beside the hash the
village froze at its close, printable on A4, and as a workbook. Read-only, county roles only; a
village outside the reviewer's scope, an unknown month or a malformed one answers 404."""

from flask import abort, render_template
from flask_login import current_user

from ..auth.access import COUNTY_ROLES, county_required
from ..book import parse_book_month
from ..extensions import db
from ..xlsx import send_workbook
from . import services
from .blueprint import bp
from .month_book import county_book, county_book_xlsx, known_month


def _book(village_code: str, month: str):
    period = parse_book_month(month)
    if period is None:
        abort(404)
    village, _link = services.village_for(db.session, current_user, village_code)  # 404 outside the scope
    if not known_month(db.session, village.id, period.key):
        abort(404)
    return village, period, county_book(db.session, village.id, period.key)


@bp.get("/villages/<village_code>/book/<month>")
@county_required(*COUNTY_ROLES)
def village_book(village_code: str, month: str):
    """One village's month as the county rebuilds it, with the two hashes and whether they agree."""
    village, period, found = _book(village_code, month)
    return render_template("county/book.html", village=village, period=period, book=found)


@bp.get("/villages/<village_code>/book/<month>.xlsx")
@county_required(*COUNTY_ROLES)
def village_book_xlsx(village_code: str, month: str):
    """The same page as a workbook: the cover, the check, the figures, the categories, the goods, the
    rounds."""
    village, period, found = _book(village_code, month)
    data = county_book_xlsx(found, village, period)
    return send_workbook(data, f"county-book-{village.code}-{period.key}.xlsx")
