"""The county's pages: the dashboard, one village's drill-down, their exports and charts.

Every page is read-only (the bundle upload is :mod:`.bundle_views`), and shows only what the logged-in
county user may see (a township reviewer: their township; anything else answers 404, as if it did not
exist). The queries live in :mod:`.dashboard`; the charts are pygal SVGs served as their own responses
and shown through ``<img>``, so pages keep their strict Content-Security-Policy and print as vectors.
"""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import exports
from ..auth.access import COUNTY_ROLES, county_required
from ..charts import BARS_SIZE, TREND_SIZE, bars, svg, trend_chart, trend_has_data
from ..extensions import db
from ..periods import KINDS as PERIOD_KINDS
from ..periods import BadPeriod, Period, last_complete_month, parse_period, today
from ..xlsx import send_workbook
from . import (
    anomalies,
    anomaly_views,  # noqa: F401 — the anomaly pages register on the same blueprint
    book_views,  # noqa: F401 — the county copy of a month registers on the same blueprint
    bundle_views,  # noqa: F401 — the bundle upload registers on the same blueprint
    drilldown,
    tables,
)
from . import dashboard as board
from .blueprint import bp
from .closes import county_months
from .opening import RULE as OPENING_RULE

#: a chart is its own SVG document: its inline <style> is allowed, nothing else (no script, no fetches)


@bp.errorhandler(BadPeriod)
def bad_period(err: BadPeriod):
    """A mistyped period: say what is wrong and show the current period instead."""
    flash(err.message, "error")
    code = (request.view_args or {}).get("village_code")
    if code and request.endpoint == "county.village":
        return redirect(url_for("county.village", village_code=code))
    return redirect(url_for("county.dashboard"))


def _period() -> Period:
    """The period asked for (``?type=&key=``); without a key, the one of that kind holding the last
    complete month. The picker still reaches the current month."""
    return parse_period(
        request.args.get("key"), request.args.get("type") or None, on=last_complete_month().start
    )


def _sort(prefix: str = "") -> tuple[str | None, bool]:
    """``?sort=issued&dir=desc`` (or ``tsort``/``tdir`` for a page's second table)."""
    key = request.args.get(f"{prefix}sort")
    if key not in board.SORTS:
        return None, False
    direction = request.args.get(f"{prefix}dir")
    return key, (board.SORTS[key][1] if direction not in ("asc", "desc") else direction == "desc")


def _period_args(period: Period) -> dict:
    return {"type": period.kind, "key": period.key}


# --- the dashboard ----------------------------------------------------------------------------------


@bp.get("/")
@county_required(*COUNTY_ROLES)
def dashboard():
    """A period's totals, by township and village, the trend, categories, goods, and who is silent."""
    period = _period()
    rows = board.by_village(db.session, current_user, period)
    overview = board.overview_of(db.session, current_user, rows)
    trend = board.monthly_trend(db.session, current_user, period)
    categories = board.by_category(db.session, current_user, period)
    goods = board.top_goods(db.session, current_user, period)
    tsort, tdesc = _sort("t")
    vsort, vdesc = _sort()
    args = _period_args(period)
    # each table's sort links keep the other table's order
    keep_townships = {"tsort": tsort, "tdir": "desc" if tdesc else "asc"} if tsort else {}
    keep_villages = {"sort": vsort, "dir": "desc" if vdesc else "asc"} if vsort else {}
    any_opening = bool(overview.totals.opening or any(m.opening for m in trend))
    # the page's tables are the sheets' declarations, less the columns only the spreadsheet needs
    trend_table = tables.trend_table(trend).without("transfers", *(() if any_opening else ("opening",)))
    categories_table = tables.categories_table(categories).without("net")
    categories_table.empty = _("本期没有评定入账。")
    goods_table = tables.goods_table(goods)
    goods_table.empty = _("本期没有兑换。")
    findings = tables.findings_table(anomalies.findings(db.session, current_user, period, rows))
    findings = findings.without("checked_by", "checked_at", "note")
    findings.empty = _("本期没有需要关注的情况。")
    return render_template(
        "county/dashboard.html",
        findings_table=findings,
        period=period,
        overview=overview,
        townships=board.sort_rows(board.townships_of(rows), tsort, tdesc),
        villages=board.sort_rows(rows, vsort, vdesc),
        attention=[r for r in rows if r.needs_attention],
        any_opening=any_opening,
        trend_table=trend_table,
        categories_table=categories_table,
        goods_table=goods_table,
        has_data={
            "trend": trend_has_data(trend),
            "categories": any(r.awarded for r in categories),
            "goods": bool(goods),
        },
        incomplete=period.contains(today()),
        opening_rule=OPENING_RULE,
        sorting={"sort": vsort, "desc": vdesc, "tsort": tsort, "tdesc": tdesc},
        args=args,
        village_args=args | keep_townships,
        township_args=args | keep_villages,
        outstanding_rule=board.OUTSTANDING_RULE,
        kinds=PERIOD_KINDS,
    )


def _dashboard_tables(period: Period) -> dict:
    """Each exportable table of the dashboard, built only when asked for."""
    session, user = db.session, current_user
    return {
        "townships": lambda: tables.townships_table(board.by_township(session, user, period)),
        "villages": lambda: tables.villages_table(board.by_village(session, user, period)),
        "trend": lambda: tables.trend_table(board.monthly_trend(session, user, period)),
        "categories": lambda: tables.categories_table(board.by_category(session, user, period)),
        "goods": lambda: tables.goods_table(board.top_goods(session, user, period)),
    }


def _send_tables(tables: dict, table: str, heading: str, stem: str):
    if table == "all":
        chosen = list(tables.values())
    elif table in tables:
        chosen = [tables[table]]
    else:
        abort(404)
    return send_workbook(exports.workbook(heading, [build() for build in chosen]), f"{stem}-{table}.xlsx")


@bp.get("/export/<table>.xlsx")
@county_required(*COUNTY_ROLES)
def export(table: str):
    """One table of the dashboard (or ``all`` of them) as a workbook."""
    period = _period()
    heading = f"{board.scope_label(db.session, current_user)} · {period.label()}"
    return _send_tables(_dashboard_tables(period), table, heading, f"county-{period.key}")


# --- one village ------------------------------------------------------------------------------------


@bp.get("/villages/<village_code>")
@county_required(*COUNTY_ROLES)
def village(village_code: str):
    """One village, read-only: its figures, rounds, honour roll, households and shop."""
    period = _period()
    session, user = db.session, current_user
    households = drilldown.village_households(session, user, period, village_code)
    row = drilldown.village_figures_by_round(
        drilldown.village_figures(session, user, period, village_code), households
    )
    shop = drilldown.village_shop(session, user, period, village_code)
    any_opening = bool(
        row.opening or any(h.opening for h in households) or any(m.opening for m in shop.months)
    )
    # the page's tables are the sheets' declarations, less the columns the page shows another way
    rounds = tables.rounds_table(drilldown.village_rounds(session, user, period, village_code))
    rounds = rounds.without("scope")  # shown under the round's period
    rounds.empty = _("本期没有评定。")
    shop_months = tables.shop_months_table(shop.months)
    if not any_opening:
        shop_months = shop_months.without("opening")
    shop_goods = tables.goods_table(shop.goods, _("兑换的商品")).without("villages")  # one village
    shop_goods.empty = _("本期没有兑换。")
    donations = tables.donations_table(shop.donations)
    donations.empty = _("本期没有捐赠入库。")
    sort, desc = _sort()
    return render_template(
        "county/village.html",
        period=period,
        row=row,
        any_opening=any_opening,
        rounds=rounds,
        honour=drilldown.rank(households),
        rules=board.points_rules(session, user, row.id).get(row.id, []),
        households=board.sort_rows(households, sort, desc),
        group_rank=board.group_ranks(households),
        shop=shop,
        shop_months=shop_months,
        shop_goods=shop_goods,
        donations=donations,
        sorting={"sort": sort, "desc": desc},
        args=_period_args(period),
        outstanding_rule=board.OUTSTANDING_RULE,
        month_closes=county_months(session, row.id),
        opening_rule=OPENING_RULE,
        kinds=PERIOD_KINDS,
        has_data={"trend": trend_has_data(shop.months), "goods": bool(shop.goods)},
        incomplete=period.contains(today()),
    )


def _village_tables(period: Period, code: str) -> dict:
    session, user = db.session, current_user

    def shop():
        return drilldown.village_shop(session, user, period, code)

    return {
        "rounds": lambda: tables.rounds_table(drilldown.village_rounds(session, user, period, code)),
        "honour": lambda: tables.honour_table(drilldown.honour_roll(session, user, period, code)),
        "households": lambda: tables.households_table(
            drilldown.village_households(session, user, period, code)
        ),
        "shop-months": lambda: tables.shop_months_table(shop().months),
        "goods": lambda: tables.goods_table(shop().goods, _("兑换的商品")),
        "donations": lambda: tables.donations_table(shop().donations),
    }


@bp.get("/villages/<village_code>/export/<table>.xlsx")
@county_required(*COUNTY_ROLES)
def village_export(village_code: str, table: str):
    period = _period()
    row = drilldown.village_figures(db.session, current_user, period, village_code)  # 404 outside the scope
    heading = f"{row.township_name} {row.name} · {period.label()}"
    return _send_tables(
        _village_tables(period, village_code), table, heading, f"village-{row.code}-{period.key}"
    )


# --- charts -----------------------------------------------------------------------------------------


@bp.get("/charts/<name>.svg")
@county_required(*COUNTY_ROLES)
def chart(name: str):
    """The dashboard's charts: ``trend`` (issued vs redeemed by month), ``categories``, ``goods``."""
    period = _period()
    session, user = db.session, current_user
    if name == "trend":
        title, size = _("每月发放与兑换积分"), TREND_SIZE
        drawn = trend_chart(board.monthly_trend(session, user, period), title)
    elif name == "categories":
        rows = board.by_category(session, user, period)
        title, size = _("各类别加分"), BARS_SIZE
        drawn = bars(title, [(r.category, r.awarded) for r in rows[:12]], _("加分"))
    elif name == "goods":
        rows = board.top_goods(session, user, period, limit=10)
        title, size = _("兑换最多的商品"), BARS_SIZE
        drawn = bars(title, [(f"{r.name} {r.spec}".strip(), r.qty) for r in rows], _("兑换数量"))
    else:
        abort(404)
    return svg(drawn, title, size)


@bp.get("/villages/<village_code>/charts/<name>.svg")
@county_required(*COUNTY_ROLES)
def village_chart(village_code: str, name: str):
    """One village's charts: ``trend`` (its points by month) and ``goods`` (what its shop gave out)."""
    period = _period()
    shop = drilldown.village_shop(db.session, current_user, period, village_code)  # 404 outside the scope
    if name == "trend":
        title, size = _("每月发放与兑换积分"), TREND_SIZE
        drawn = trend_chart(shop.months, title)
    elif name == "goods":
        items = [(f"{r.name} {r.spec}".strip(), r.qty) for r in shop.goods[:10]]
        title, size = _("兑换的商品"), BARS_SIZE
        drawn = bars(title, items, _("兑换数量"))
    else:
        abort(404)
    return svg(drawn, title, size)
