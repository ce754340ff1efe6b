"""Shop reports and the paper trail: daily/monthly figures, 物资盘点台账, 分值对应表, 积分兑换台账, 爱心榜.

Every page prints on A4 and has an ``.xlsx`` twin built by :mod:`.workbooks` from the same data. The
chair and the shopkeeper may look; the public honour board of donors needs no log-in and shows names
and goods only.
"""

from datetime import timedelta

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from ..auth.access import role_required
from ..auth.models import Role
from ..errors import Invalid
from ..extensions import db
from ..org.services import home_village
from ..periods import BadPeriod, Period, parse_day, parse_month, today
from ..xlsx import send_workbook
from . import figures, registers, workbooks

bp = Blueprint("shop_reports", __name__, url_prefix="/shop/reports")

VIEWERS = (Role.CHAIR, Role.SHOPKEEPER)


@bp.context_processor
def sheet_head():
    """The village as printed at the top of every page, and the helpers the pages format with."""
    village = g.village if "village" in g else home_village(db.session)
    return {
        "village_name": village.label,
        "yuan": figures.yuan,
        "public_name": registers.public_name,
        "stock_value_note": workbooks.stock_value_note,
    }


@bp.errorhandler(BadPeriod)
def bad_period(err: BadPeriod):
    """A mistyped day or month: say what is wrong and show the current one's page (not a download)."""
    flash(err.message, "error")
    return redirect(url_for(request.endpoint.removesuffix("_xlsx")))


def _month() -> Period:
    return parse_month(request.args.get("month"))


@bp.get("/")
@role_required(*VIEWERS)
def index():
    """Links to every report and ledger, for this month and the last."""
    day = today()
    month = Period.of(day)
    return render_template("shop/reports/index.html", today=day, month=month, months=[month, month.previous])


# --- daily and monthly ------------------------------------------------------------------------


def _daily():
    day = parse_day(request.args.get("day"))
    return day, figures.shop_period(db.session, g.village.id, day, day + timedelta(days=1))


@bp.get("/daily")
@role_required(*VIEWERS)
def daily():
    day, period = _daily()
    return render_template(
        "shop/reports/daily.html",
        day=day,
        period=period,
        goods=workbooks.goods_table(period),
        intakes=workbooks.intake_table(period),
        previous=day - timedelta(days=1),
        following=day + timedelta(days=1),
    )


@bp.get("/daily.xlsx")
@role_required(*VIEWERS)
def daily_xlsx():
    day, period = _daily()
    return send_workbook(workbooks.daily_xlsx(period, g.village), f"shop-daily-{day.isoformat()}.xlsx")


@bp.get("/monthly")
@role_required(*VIEWERS)
def monthly():
    month = _month()
    period = figures.shop_period(db.session, g.village.id, month.start, month.end)
    return render_template(
        "shop/reports/monthly.html",
        month=month,
        period=period,
        days=workbooks.days_table(period, month, every_day=False),
        goods=workbooks.goods_table(period),
        intakes=workbooks.intake_table(period),
    )


@bp.get("/monthly.xlsx")
@role_required(*VIEWERS)
def monthly_xlsx():
    month = _month()
    period = figures.shop_period(db.session, g.village.id, month.start, month.end)
    return send_workbook(workbooks.monthly_xlsx(period, g.village, month), f"shop-monthly-{month.key}.xlsx")


# --- the three ledgers ------------------------------------------------------------------------


@bp.get("/ledgers/stocktakes")
@role_required(*VIEWERS)
def stocktakes():
    """物资盘点台账: the month's counts, each goods item counted against the recorded stock."""
    month = _month()
    sheets = [
        (s, workbooks.stocktake_table(s)) for s in registers.stocktakes(db.session, g.village.id, month)
    ]
    return render_template("shop/reports/stocktakes.html", month=month, sheets=sheets)


@bp.get("/ledgers/stocktakes.xlsx")
@role_required(*VIEWERS)
def stocktakes_xlsx():
    month = _month()
    data = workbooks.stocktakes_xlsx(registers.stocktakes(db.session, g.village.id, month), g.village, month)
    return send_workbook(data, f"stocktakes-{month.key}.xlsx")


@bp.get("/ledgers/prices")
@role_required(*VIEWERS)
def prices():
    """分值对应表: the price of each goods item in points, and every earlier price."""
    rows = registers.price_list(db.session, g.village.id)
    changes = workbooks.price_changes_table(rows, changed_only=True)
    return render_template("shop/reports/prices.html", rows=rows, changes=changes, today=today())


@bp.get("/ledgers/prices.xlsx")
@role_required(*VIEWERS)
def prices_xlsx():
    data = workbooks.prices_xlsx(registers.price_list(db.session, g.village.id), g.village)
    return send_workbook(data, f"prices-{today().isoformat()}.xlsx")


@bp.get("/ledgers/redemptions")
@role_required(*VIEWERS)
def redemptions():
    """积分兑换(领取)台账: every redemption of the month, at the prices paid."""
    register = registers.redemption_register(db.session, g.village.id, _month())
    return render_template("shop/reports/redemptions.html", register=register, month=register.month)


@bp.get("/ledgers/redemptions.xlsx")
@role_required(*VIEWERS)
def redemptions_xlsx():
    register = registers.redemption_register(db.session, g.village.id, _month())
    data = workbooks.register_xlsx(register, g.village)
    return send_workbook(data, f"redemptions-{register.month.key}.xlsx")


# --- donors -----------------------------------------------------------------------------------


def _donor_month() -> Period | None:
    """The month of ``?month=`` (none given: every donation ever).

    :raises Invalid: not a month (422, naming the field; not the other reports' redirect, which would
        show every donation under a month that was asked for).
    """
    text = request.args.get("month", "")
    if not text.strip():
        return None
    try:
        return parse_month(text)
    except BadPeriod as err:
        raise Invalid(err.message, code=err.code, field="month") from None


def _donor_traces(month: Period | None) -> list[registers.DonorTrace]:
    """The donors of the month: the donations dated in it (a receipt by the day written on it, as the
    month's figures count it), each traced to where it has gone by now; every donation without one."""
    if month is None:
        return registers.trace_donations(db.session, g.village.id)
    return registers.trace_donations(db.session, g.village.id, since=month.start, until=month.end)


@bp.get("/donors")
@role_required(*VIEWERS)
def donors():
    """爱心榜 for the staff: every donor (or the month's, ``?month=``), what was given and where it went."""
    month = _donor_month()
    board = workbooks.donors_table(_donor_traces(month), g.village)
    return render_template("shop/reports/donors.html", board=board, month=month)


@bp.get("/donors.xlsx")
@role_required(*VIEWERS)
def donors_xlsx():
    month = _donor_month()
    data = workbooks.donors_xlsx(_donor_traces(month), g.village)
    return send_workbook(data, f"donors-{month.key if month else today().isoformat()}.xlsx")


@bp.app_template_filter("donor_key")
def donor_key_filter(name: str) -> str:
    """``{{ url_for('shop_reports.donor', name=trace.name|donor_key) }}``: a donor's one address."""
    return registers.donor_key(name)


def _named_donor() -> registers.DonorTrace:
    """The donor of ``?name=`` (:func:`.registers.donor_key`): its name in the query, never in the path,
    so a name such as ``爱心.xlsx``, ``/lead`` or ``..`` is an address like any other."""
    return registers.trace_donor_by_key(db.session, g.village.id, request.args.get("name", ""))


@bp.get("/donor")
@role_required(*VIEWERS)
def donor():
    """One donor's donations, each traced first-in-first-out: redeemed, lost, still on the shelf."""
    trace = _named_donor()
    lots = workbooks.lots_table(trace, g.village)
    return render_template("shop/reports/donor.html", trace=trace, lots=lots)


@bp.get("/donor.xlsx")
@role_required(*VIEWERS)
def donor_xlsx():
    trace = _named_donor()
    return send_workbook(workbooks.donor_xlsx(trace, g.village), f"donor-{trace.name}.xlsx")


# the addresses before the name moved into the query: a saved link still finds its donor, as it did


@bp.get("/donors/<path:donor>")
@role_required(*VIEWERS)
def old_donor(donor: str):
    trace = registers.trace_donor(db.session, g.village.id, donor)
    return redirect(url_for(".donor", name=registers.donor_key(trace.name)), 301)


@bp.get("/donors/<path:donor>.xlsx")
@role_required(*VIEWERS)
def old_donor_xlsx(donor: str):
    trace = registers.trace_donor(db.session, g.village.id, donor)
    return redirect(url_for(".donor_xlsx", name=registers.donor_key(trace.name)), 301)


@bp.get("/public/donors")
def public_donors():
    """The honour board of donors for everyone: names and goods, nothing else."""
    village = home_village(db.session)
    return render_template(
        "shop/reports/public_donors.html", traces=registers.trace_donations(db.session, village.id)
    )
