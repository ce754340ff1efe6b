"""The chair's 月结 page: every month with its state; for the month to close next, what still blocks it
(each blocker linking to where to fix it, a round offered to be carried to the next month), and the
button that closes it. There is no route that reopens a month."""

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import book
from ..auth.access import role_required
from ..auth.models import Role
from ..auth.services import user_names
from ..errors import DomainError
from ..extensions import db
from ..months.guard import month_label
from ..periods import parse_month
from ..scoring import notice_photos
from ..scoring.models import STATUS_LABELS
from ..unit import write
from . import services

bp = Blueprint("closing", __name__, url_prefix="/closing")


def _page(status: int = 200, confirm_error: str = "", month: str = ""):
    states = services.month_states(db.session, g.village.id)
    names = user_names(db.session, {s.close.closed_by for s in states if s.close and s.close.closed_by})
    return (
        render_template(
            "closing/index.html",
            states=states,
            names=names,
            status_labels=STATUS_LABELS,
            confirm_error=confirm_error,
            refused_month=month,
        ),
        status,
    )


@bp.get("/")
@role_required(Role.CHAIR)
def index():
    return _page()


def _month(text: str) -> str:
    return parse_month(text).key  # BadPeriod (422) names the month


@bp.post("/<month>/close")
@role_required(Role.CHAIR)
def close(month: str):
    """Close a month. The chair ticks that the figures were checked: a closed month never changes."""
    try:
        month = _month(month)
    except DomainError as err:
        flash(err.message, "error")
        return _page(err.status)
    if request.form.get("confirm") != "1":
        message = _("请先勾选“我已核对，月结后这个月的记录不能再改动”。")
        flash(_("请修改标出的项目：%(names)s。", names=_("确认")), "error")
        return _page(422, message, month)

    def keep_book(key: str, closed_at, sha256: str) -> str:
        by = user_names(db.session, [current_user.id]).get(current_user.id, "")
        closing = book.Closing(closed_at, by, sha256)
        return book.keep_book_xlsx(
            db.session, g.village, key, closing, notice_photos.folder(), book.kept_books()
        )

    try:
        with write():
            closed = services.close_month(db.session, g.village, month, current_user.id, keep_book=keep_book)
    except DomainError as err:
        flash(err.message, "error")
        return _page(err.status)
    flash(
        _("%(month)s已月结。账目校验码：%(sha)s", month=month_label(closed.month), sha=closed.sha256),
        "success",
    )
    return redirect(url_for(".index", _anchor=f"m-{closed.month}"))


@bp.post("/<month>/carry/<int:round_id>")
@role_required(Role.CHAIR)
def carry(month: str, round_id: int):
    """Carry an unfinished round of the month to the next month."""
    try:
        month = _month(month)
        with write():
            services.carry_round(db.session, g.village.id, round_id, month, current_user.id)
    except DomainError as err:
        flash(err.message, "error")
        return _page(err.status)
    flash(_("这次评定已结转到下月：它以后发放的积分记在发放的那个月。"), "success")
    return redirect(url_for(".index", _anchor=f"m-{month}"))
