"""The book's pages: a month's seven ledgers to print, and its workbook (at ``/ledgers/book/<month>``)."""

from flask import Blueprint, abort, g, render_template
from flask_babel import gettext as _

from .. import book
from ..auth.access import role_required
from ..extensions import db
from ..months.guard import close_of
from ..periods import Period, refuse_month_to_come
from ..scoring.ledgers import VIEWERS, _uploads, sheet_head
from ..shop.workbooks import price_changes_table, stocktake_table
from ..xlsx import send_workbook

bp = Blueprint("book", __name__, url_prefix="/ledgers/book")
bp.context_processor(sheet_head)  # the village printed at the top, as on every ledger


# --- one book per month (台账汇编): the seven ledgers of a month in one document ---------------------


def _book_month(month: str) -> Period:
    """The month of a book's address (``2026-11``), up to the current month; anything else is not a
    book: 404."""
    found = book.parse_book_month(month)
    if found is None:
        abort(404)
    refuse_month_to_come(found)  # the month in progress opens; a month to come is no book yet
    return found


def _close_of(month: Period):
    """The month's closing (:class:`pointsmart.months.models.MonthClose`), or None while it is open."""
    return close_of(db.session, g.village.id, month.key)


@bp.get("/<month>")
@role_required(*VIEWERS)
def month_book(month: str):
    """All seven ledgers of a month, one after another, to print as one A4 document."""
    period = _book_month(month)
    data = book.month_book(db.session, g.village.id, period)
    return render_template(
        "ledgers/book.html",
        book=data,
        month=period,
        titles=book.ledger_titles(),
        order=book.LEDGERS,
        counts=data.counts(),
        closing=book.closing_of(db.session, _close_of(period)),
        stocktakes=[(s, stocktake_table(s)) for s in data.stocktakes],
        changes=price_changes_table(data.price_changes),
    )


@bp.get("/<month>.xlsx")
@role_required(*VIEWERS)
def month_book_xlsx(month: str):
    """The book as one workbook: of a closed month, the file kept at its close (refused if it no longer
    matches the hash taken then); of an open month, built from the records as they are now."""
    period = _book_month(month)
    close = _close_of(period)
    if close is not None and close.book_sha256:
        data = book.kept_book(book.kept_books(), g.village, period.key, close.book_sha256)
        if data is None:
            abort(409, _("月结时存档的台账文件不见了或被改动过（台账文件校验码不符），请联系县妇联核对。"))
    else:
        closing = book.closing_of(db.session, close)
        data = book.book_xlsx(
            book.month_book(db.session, g.village.id, period), g.village, _uploads(), closing
        )
    return send_workbook(data, f"ledgers-{period.key}.xlsx")
