"""The county's pages: the dashboard, one village's drill-down, their exports and charts, bundle upload.

Every page is read-only but the bundle upload, and shows only what the logged-in county user may see
(a township reviewer: their township; anything else answers 404, as if it did not exist). The
queries live in :mod:`.dashboard`; the charts are pygal SVGs served as their own responses and shown
through ``<img>``, so pages keep their strict Content-Security-Policy and print as vectors.
"""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired

from .. import exports, text
from ..audit.services import record
from ..auth.access import COUNTY_ROLES, county_required
from ..auth.models import Role
from ..charts import BARS_SIZE, TREND_SIZE, bars, svg, trend_chart, trend_has_data
from ..errors import DomainError
from ..extensions import db
from ..forms import FlaskForm
from ..handlers import error_body
from ..pages import flash_errors
from ..periods import KINDS as PERIOD_KINDS
from ..periods import BadPeriod, Period, parse_period, today
from ..unit import write
from ..xlsx import send_workbook
from . import dashboard as board
from . import drilldown, parts, services, tables
from .bundles import import_bundle
from .opening import RULE as OPENING_RULE

bp = Blueprint("county", __name__, url_prefix="/county")


@bp.errorhandler(BadPeriod)
def bad_period(err: BadPeriod):
    """A mistyped period: say what is wrong and show the current period instead."""
    flash(err.message, "error")
    code = (request.view_args or {}).get("village_code")
    if code and request.endpoint == "county.village":
        return redirect(url_for("county.village", village_code=code))
    return redirect(url_for("county.dashboard"))


def last_complete_month() -> Period:
    """The month before this one: the latest whole month, which the county pages open on (on the 1st,
    this month has no figures yet; on any day it is still incomplete)."""
    return Period.of(today()).previous


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
    return render_template(
        "county/dashboard.html",
        period=period,
        overview=overview,
        townships=board.sort_rows(board.townships_of(rows), tsort, tdesc),
        villages=board.sort_rows(rows, vsort, vdesc),
        attention=[r for r in rows if r.needs_attention],
        trend=trend,
        categories=categories,
        goods=goods,
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
    donations = tables.donations_table(shop.donations)
    donations.empty = _("本期没有捐赠入库。")
    sort, desc = _sort()
    return render_template(
        "county/village.html",
        period=period,
        row=row,
        rounds=drilldown.village_rounds(session, user, period, village_code),
        honour=drilldown.rank(households),
        households=board.sort_rows(households, sort, desc),
        group_rank=board.group_ranks(households),
        shop=shop,
        donations=donations,
        sorting={"sort": sort, "desc": desc},
        args=_period_args(period),
        outstanding_rule=board.OUTSTANDING_RULE,
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


# --- bundles from villages without a network --------------------------------------------------------


class BundleForm(FlaskForm):
    file = FileField(_l("同步文件（村里导出的 .pmb 文件）"), validators=[FileRequired(_l("请选择同步文件"))])


def _import_and_tell(stream, filename: str | None) -> None:
    """Import one bundle, record it (or its refusal) in the audit log, and flash the result."""
    try:
        with write():
            report = import_bundle(db.session, stream)
            village, _link = services.village_for(db.session, current_user, report.village_code)
            record(
                db.session,
                "county.bundle.imported",
                current_user.id,
                village,
                filename=filename,
                from_seq=report.from_seq,
                to_seq=report.to_seq,
                applied=report.applied,
                acked_seq=report.acked_seq,
            )
    except DomainError as err:
        with write():  # the refusal is recorded too: auditors ask about those
            record(
                db.session,
                "county.bundle.refused",
                current_user.id,
                None,
                code=err.code,
                filename=filename,
                message=err.message,
            )
        flash(err.message, "error")
        return
    if report.applied:
        flash(
            _(
                "已导入 %(name)s（%(code)s）的同步文件：第 %(a)s–%(b)s 条，新增 %(n)s 条；"
                "县里已确认到第 %(acked)s 条。",
                name=report.village_name,
                code=report.village_code,
                a=report.from_seq,
                b=report.to_seq,
                n=report.applied,
                acked=report.acked_seq,
            ),
            "success",
        )
    else:
        flash(
            _(
                "%(name)s（%(code)s）的这个同步文件县里已经有了，什么也没有改（已确认到第 %(acked)s 条）。",
                name=report.village_name,
                code=report.village_code,
                acked=report.acked_seq,
            ),
            "info",
        )


def _part_refused(err: parts.PartRefused):
    return jsonify(error_body(err.code, err.message)), err.status


@bp.post("/bundles/parts")
@county_required(Role.COUNTY_ADMIN)
def bundle_part():
    """One part of a large bundle (``?upload=<32 hex>&index=<i>&count=<n>``, the part as the body).

    Stored as it is read, outside the write lock: nothing in the database changes until the last part.
    """
    args = request.args
    try:
        received = parts.save_part(
            current_user.id, args.get("upload"), args.get("index"), args.get("count"), request.stream
        )
    except parts.PartRefused as err:
        return _part_refused(err)
    return jsonify({"received": received})


@bp.post("/bundles/parts/done")
@county_required(Role.COUNTY_ADMIN)
def bundle_parts_done():
    """All parts are in (JSON ``{upload, count, filename}``): join and import them as one upload.

    The answer names the page to show; the result is flashed there, as after the one-POST form.
    """
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _part_refused(parts.PartRefused(_("请求内容不对。")))
    try:
        with parts.assembled(current_user.id, body.get("upload"), body.get("count")) as stream:
            filename = text.checked(body.get("filename"), "filename", max_length=255)
            _import_and_tell(stream, filename or None)
    except parts.PartRefused as err:
        return _part_refused(err)
    return jsonify({"redirect": url_for("county.upload_bundle")})


@bp.route("/bundles", methods=["GET", "POST"])
@county_required(Role.COUNTY_ADMIN)
def upload_bundle():
    """A county admin uploads a village's signed bundle; it is applied whole or not at all.

    A file up to 8 MB comes in this form's one POST (the way without JavaScript); a larger one is sent
    in parts by ``static/js/bundle-upload.js`` (see :func:`bundle_part` and :mod:`.parts`).
    """
    form = BundleForm()
    if form.validate_on_submit():
        upload = form.file.data
        _import_and_tell(upload.stream, upload.filename)
        return redirect(url_for("county.upload_bundle"))
    if form.is_submitted():
        flash_errors(form)
    return render_template(
        "county/bundle.html",
        form=form,
        batches=board.recent_batches(db.session, current_user),
        part_bytes=current_app.config["POINTSMART_BUNDLE_PART_BYTES"],
        max_bytes=current_app.config["POINTSMART_BUNDLE_MAX_BYTES"],
        body_bytes=current_app.config["MAX_CONTENT_LENGTH"],
    )
