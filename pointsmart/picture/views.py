"""The chair's village picture: a month in charts, each with its table and its ``.xlsx``, on A4.

The chair only, of this village. ``?month=2026-11`` picks the month; without it, the last complete
month (as the county's pages open), or this month for a village whose ledger began in it. The figures
are :mod:`.figures`; the tables :mod:`.tables`; the charts are drawn by :mod:`pointsmart.charts` and
served as their own SVG responses.
"""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import exports
from ..auth.access import role_required
from ..auth.models import Role
from ..charts import BARS_SIZE, TREND_SIZE, bars, svg, trend_chart, trend_has_data
from ..extensions import db
from ..periods import BadPeriod, Period, last_complete_month, month_window, parse_month, today
from ..xlsx import send_workbook
from . import figures
from .tables import group_name, tables

bp = Blueprint("picture", __name__, url_prefix="/picture")


@bp.errorhandler(BadPeriod)
def bad_period(err: BadPeriod):
    """A mistyped month: say what is wrong and show the default month's page."""
    flash(err.message, "error")
    return redirect(url_for("picture.index"))


def default_month() -> Period:
    """The last complete month — or this one, for a village whose ledger began this month (a new
    village), which has nothing to show for last month yet."""
    first = figures.first_day(db.session, g.village.id)
    this_month = Period.of(today())
    return this_month if first is not None and first >= this_month.start else last_complete_month()


def _month() -> Period:
    month = parse_month(request.args.get("month"), on=default_month().start)
    if month.start > today():
        ahead = _("月份：%(month)s 还没到，请选本月或以前的月份。", month=month.label())
        raise BadPeriod(ahead, code="bad_month")
    return month


def _heading(month: Period) -> str:
    return f"{g.village.label} · {_('村情概览')} · {month.label()}"


#: the charts' titles, as the page names them too
CHART_TITLES = {
    "trend": lambda: _("每月发放与兑换积分"),
    "groups": lambda: _("各村民小组参与率（百分数）"),
    "categories": lambda: _("各类别加分"),
    "goods": lambda: _("兑换最多的商品"),
    "stock": lambda: _("库存还能用几个月"),
}


@bp.get("/")
@role_required(Role.CHAIR)
def index():
    """The month's picture: points by month, participation, categories, goods, stock, quiet households."""
    month = _month()
    picture = figures.picture(db.session, g.village.id, month)
    return render_template(
        "picture/index.html",
        month=month,
        picture=picture,
        tables=tables(picture),
        drawn={
            "trend": trend_has_data(picture.trend),
            "groups": any(r.earned for r in picture.groups),
            "categories": any(r.awarded for r in picture.categories),
            "goods": bool(picture.goods),
            "stock": any(r.runs_out for r in picture.stock),
        },
        chart_titles={name: title() for name, title in CHART_TITLES.items()},
        incomplete=month.contains(today()),
        this_month=Period.of(today()),
        village_name=g.village.label,
        pace_months=figures.PACE_MONTHS,
        quiet_months=figures.QUIET_MONTHS,
        quiet_from=month_window(month, figures.QUIET_MONTHS)[0],
    )


@bp.get("/export/<table>.xlsx")
@role_required(Role.CHAIR)
def export(table: str):
    """One table of the picture (or ``all`` of them, a sheet each) as a workbook."""
    month = _month()
    found = tables(figures.picture(db.session, g.village.id, month))
    if table == "all":
        chosen = list(found.values())
    elif table in found:
        chosen = [found[table]]
    else:
        abort(404)
    data = exports.workbook(_heading(month), chosen)
    return send_workbook(data, f"village-picture-{month.key}-{table}.xlsx")


@bp.get("/charts/<name>.svg")
@role_required(Role.CHAIR)
def chart(name: str):
    """The picture's charts, by the name of the table each one draws."""
    if name not in CHART_TITLES:
        abort(404)
    month, session, village_id = _month(), db.session, g.village.id
    title, size = CHART_TITLES[name](), BARS_SIZE
    if name == "trend":
        size = TREND_SIZE
        drawn = trend_chart(figures.monthly_points(session, village_id, month), title)
    elif name == "groups":
        rows = figures.participation(session, village_id, month)
        items = [(group_name(r.group), round(r.participation * 100)) for r in rows if r.households]
        drawn = bars(title, items, _("参与率"))
    elif name == "categories":
        rows = figures.points_by_category(session, village_id, month)
        drawn = bars(title, [(r.category, r.awarded) for r in rows[:12]], _("加分"))
    elif name == "goods":
        rows = figures.top_goods(session, village_id, month)
        drawn = bars(title, [(r.label, r.qty) for r in rows], _("兑换数量"))
    else:
        rows = [r for r in figures.stock_outlook(session, village_id, month) if r.runs_out][:10]
        drawn = bars(title, [(r.label, round(r.months_left, 1)) for r in rows], _("还能用几个月"))
    return svg(drawn, title, size)
