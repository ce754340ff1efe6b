"""The shop's figures and ledgers as ``.xlsx`` workbooks, one function per download; each sheet a
:class:`pointsmart.exports.Table` declared once. The tables a report page shows as well (``goods_table``,
``intake_table``, ``days_table``, ``lots_table``, ``donors_table``) are public: the page prints the
same declaration (``templates/_table.html``)."""

from operator import attrgetter

from flask_babel import gettext as _

from ..exports import DAY, INTEGER, MONEY, POINTS, WHEN, Column, Figure, Table, workbook
from ..org.models import Village
from ..periods import Period, local_day
from .figures import ShopPeriod
from .models import (
    MOVE_LABELS,
    MoveKind,
    Redemption,
    RedemptionStatus,
)
from .registers import DonorTrace, PriceRow, RedemptionRegister, StocktakeSheet


def _number(label: str, width: int, name: str) -> Column:
    return Column(label, width, attrgetter(name), INTEGER, key=name)


def _status(r: Redemption) -> str:
    if r.status == RedemptionStatus.CANCELLED:
        return _(
            "%(day)s 撤销：%(reason)s", day=local_day(r.cancelled_at).isoformat(), reason=r.cancel_reason
        )
    return ""


def goods_table(period: ShopPeriod, heading: str = "") -> Table:
    """Each goods item over the period: stock at the start, each kind of move, stock and value at the end."""
    columns = [
        Column(_("商品"), 14, lambda f: f.goods.name, key="name"),
        Column(_("规格"), 10, lambda f: f.goods.spec, key="spec"),
        _number(_("期初库存"), 9, "opening"),
        _number(_("捐赠入库"), 9, "donated"),
        _number(_("采购入库"), 9, "purchased"),
        _number(_("兑换出库"), 9, "redeemed"),
        _number(_("撤销退回"), 9, "returned"),
        _number(_("损耗"), 8, "lost"),
        Column(_("盘点调整"), 9, attrgetter("adjusted"), POINTS, key="adjusted"),  # signed
        _number(_("期末库存"), 9, "closing"),
        _number(_("其中捐赠"), 9, "donated_on_shelf"),
        Column(_("库存金额（元）"), 13, attrgetter("value_fen"), MONEY, key="value"),
    ]
    total = [
        _("合计"),
        "",
        sum(f.opening for f in period.goods),
        period.donated,
        period.purchased,
        sum(f.redeemed for f in period.goods),
        sum(f.returned for f in period.goods),
        period.lost,
        sum(f.adjusted for f in period.goods),
        period.stock,
        period.donated_on_shelf,
        period.value_fen,
    ]
    return Table(
        _("商品进出"),
        columns,
        period.goods,
        footer=total,
        landscape=True,
        empty=_("还没有商品。"),
        heading=heading,
        notes=["", stock_value_note()],
    )


def stock_value_note() -> str:
    return _("库存金额按采购入库登记的单价计算（先进先出）；捐赠物资和盘盈物资不计金额（按 0 元）。")


def _summary_rows(period: ShopPeriod) -> list[tuple[str, object]]:
    return [
        (_("兑换笔数"), len(period.redemptions)),
        (_("兑换户数"), period.households),
        (_("兑换积分"), period.points),
        (_("撤销笔数"), len(period.cancellations)),
        (_("撤销退回积分"), period.points_returned),
        (_("净兑换积分"), period.net_points),
        (_("兑换出库（件，扣除撤销退回）"), period.goods_out),
        (_("捐赠入库（件）"), period.donated),
        (_("采购入库（件）"), period.purchased),
        (_("损耗（件）"), period.lost),
        (_("期末库存（件）"), period.stock),
        (_("其中捐赠物资（件）"), period.donated_on_shelf),
        (_("库存金额（元）"), Figure(period.value_fen, MONEY)),
    ]


def _summary_table(period: ShopPeriod, heading: str) -> Table:
    columns = [Column(_("项目"), 30, lambda row: row[0]), Column(_("数值"), 14, lambda row: row[1])]
    notes = ["", _("撤销按撤销当天计入；库存为期末时点的数量。"), stock_value_note()]
    return Table(_("汇总"), columns, _summary_rows(period), landscape=False, heading=heading, notes=notes)


def intake_table(period: ShopPeriod) -> Table:
    """The donations and purchases recorded in the period."""
    columns = [
        Column(_("登记时间"), 17, attrgetter("created_at"), WHEN, key="created_at"),
        Column(_("捐赠或采购日期"), 12, attrgetter("moved_on"), DAY, key="moved_on"),
        Column(_("类型"), 10, lambda m: str(MOVE_LABELS[MoveKind(m.kind)]), key="kind"),
        Column(_("商品"), 14, lambda m: m.goods.name, key="goods"),
        Column(_("数量"), 7, attrgetter("qty"), INTEGER, key="qty"),
        Column(_("捐赠人"), 16, attrgetter("donor"), key="donor"),
        Column(_("经费来源"), 12, attrgetter("funding_source"), key="funding_source"),
        Column(_("单价（元）"), 10, attrgetter("cost_fen"), MONEY, key="cost"),
        Column(_("备注"), 20, attrgetter("note"), key="note"),
    ]
    return Table(
        _("入库明细"),
        columns,
        period.intakes,
        landscape=True,
        heading=_("捐赠和采购入库"),
        empty=_("没有入库。"),
    )


def _redemption_columns(names: dict[int, str]) -> list[Column]:
    """A redemption's goods lines: the rows are ``(redemption, line)`` pairs."""
    return [
        Column(_("时间"), 17, lambda rl: rl[0].created_at, WHEN),
        Column(_("单号"), 7, lambda rl: rl[0].id),
        Column(_("户号"), 9, lambda rl: rl[0].household.household_no),
        Column(_("户主"), 10, lambda rl: rl[0].household.head_name),
        Column(_("商品"), 14, lambda rl: rl[1].goods_name),
        Column(_("数量"), 6, lambda rl: rl[1].qty),
        Column(_("单价（积分）"), 9, lambda rl: rl[1].unit_price),
        Column(_("积分"), 8, lambda rl: rl[1].qty * rl[1].unit_price),
        Column(_("经办人"), 10, lambda rl: names.get(rl[0].operator_id, "")),
        Column(_("撤销"), 26, _status_of_line),
    ]


def _status_of_line(rl) -> str:
    return _status(rl[0])


def _lines(redemptions: list[Redemption]) -> list[tuple]:
    return [(r, line) for r in redemptions for line in r.lines]


def daily_xlsx(period: ShopPeriod, village: Village) -> bytes:
    """A day's figures: the summary, every redemption line, each goods item's moves, the intakes."""
    day = period.start.isoformat()
    lines = Table(
        _("兑换明细"),
        _redemption_columns(period.names),
        _lines(period.redemptions),
        footer=[_("合计"), "", "", "", "", "", "", period.points],
        landscape=True,
        heading=_("%(day)s 兑换明细", day=day),
    )
    return workbook(
        "",
        [
            _summary_table(period, _("%(village)s 积分超市日报 %(day)s", village=village.label, day=day)),
            lines,
            goods_table(period, _("%(day)s 商品进出和库存", day=day)),
            intake_table(period),
        ],
    )


def monthly_xlsx(period: ShopPeriod, village: Village, month: Period) -> bytes:
    """A month's figures: the summary, day by day, each goods item's moves, the intakes."""
    title = _("%(village)s 积分超市月报 %(month)s", village=village.label, month=month.label())
    return workbook(
        "",
        [
            _summary_table(period, title),
            days_table(period, month),
            goods_table(period, _("%(month)s 商品进出和库存", month=month.label())),
            intake_table(period),
        ],
    )


def days_table(period: ShopPeriod, month: Period, every_day: bool = True) -> Table:
    """The month day by day: redemptions, cancellations and intakes; ``every_day=False`` leaves out
    the days with none of them (the page)."""
    columns = [
        Column(_("日期"), 12, attrgetter("day"), DAY, key="day"),
        _number(_("兑换笔数"), 9, "redemptions"),
        _number(_("兑换积分"), 9, "points"),
        _number(_("撤销笔数"), 9, "cancellations"),
        _number(_("撤销退回积分"), 11, "points_returned"),
        _number(_("净兑换积分"), 10, "net_points"),
        _number(_("兑换出库（件）"), 10, "goods_out"),
        _number(_("捐赠入库（件）"), 10, "donated"),
        _number(_("采购入库（件）"), 10, "purchased"),
    ]
    total = [
        _("合计"),
        len(period.redemptions),
        period.points,
        len(period.cancellations),
        period.points_returned,
        period.net_points,
        period.goods_out,
        period.donated,
        period.purchased,
    ]
    days = period.days
    if not every_day:
        days = [d for d in days if any((d.redemptions, d.cancellations, d.goods_out, d.donated, d.purchased))]
    return Table(
        _("每日"),
        columns,
        days,
        footer=total,
        landscape=True,
        empty=_("这个月没有兑换和入库。"),
        heading=_("%(month)s 每日兑换和入库", month=month.label()),
    )


def register_xlsx(register: RedemptionRegister, village: Village) -> bytes:
    """积分兑换(领取)台账 as a workbook: one row per goods line of each redemption."""
    return workbook("", [redemptions_table(register, village)])


def redemptions_table(register: RedemptionRegister, village: Village) -> Table:
    """积分兑换(领取)台账 as a table: one row per goods line of each redemption, the month's totals."""
    blank = ["", "", "", "", "", ""]  # the points go under 积分
    return Table(
        _("积分兑换台账"),
        _redemption_columns(register.names),
        _lines(register.redemptions),
        footer=[_("本月兑换合计"), "", "", "", "", register.units, "", register.points],
        totals=[
            [_("本月撤销退回"), *blank, -register.points_returned],
            [_("净兑换积分"), *blank, register.net_points],
        ],
        sections=[(_("本月撤销的以前月份兑换"), _lines(register.earlier_cancelled))]
        if register.earlier_cancelled
        else [],
        landscape=True,
        heading=_(
            "%(village)s 积分兑换（领取）台账 %(month)s",
            village=village.label,
            month=register.month.label(),
        ),
    )


def _stocktake_columns() -> list[Column]:
    """A count's goods lines: the rows are ``(sheet, line)`` pairs."""
    return [
        Column(_("盘点日期"), 12, lambda sl: sl[0].stocktake.counted_on, DAY, key="counted_on"),
        Column(_("商品"), 14, lambda sl: sl[1].goods.name, key="goods"),
        Column(_("规格"), 10, lambda sl: sl[1].goods.spec, key="spec"),
        Column(_("账面数量"), 9, lambda sl: sl[1].recorded, INTEGER, key="recorded"),
        Column(_("实盘数量"), 9, lambda sl: sl[1].counted, INTEGER, key="counted"),
        Column(_("盈亏"), 7, lambda sl: sl[1].counted - sl[1].recorded, POINTS, key="difference"),  # signed
        Column(_("盘点人"), 18, lambda sl: sl[0].stocktake.counted_by, key="counted_by"),
        Column(_("登记人"), 10, lambda sl: sl[0].recorder, key="recorder"),
        Column(_("备注"), 20, lambda sl: sl[0].stocktake.note, key="note"),
    ]


def stocktake_table(sheet: StocktakeSheet) -> Table:
    """One count, for the page: its goods lines, and at the foot a line of what differed (under 商品,
    the page's first column: the day and the counters are shown above the table)."""
    summary = _(
        "共盘点 %(n)s 种商品，%(d)s 种有差异：盘盈 %(plus)s 件，盘亏 %(minus)s 件。"
        "差异已按实盘数量调整库存。",
        n=len(sheet.lines),
        d=sheet.differing,
        plus=sheet.surplus,
        minus=sheet.shortage,
    )
    lines = [(sheet, line) for line in sheet.lines]
    return Table(_("物资盘点台账"), _stocktake_columns(), lines, footer=["", summary])


def stocktakes_xlsx(sheets: list[StocktakeSheet], village: Village, month: Period) -> bytes:
    """物资盘点台账 as a workbook: one row per goods counted, with the count's date and counters."""
    return workbook("", [stocktakes_month_table(sheets, village, month)])


def stocktakes_month_table(sheets: list[StocktakeSheet], village: Village, month: Period) -> Table:
    """A month's counts as one table: one row per goods counted, with the count's date and counters."""
    return Table(
        _("物资盘点台账"),
        _stocktake_columns(),
        [(s, line) for s in sheets for line in s.lines],
        landscape=True,
        heading=_("%(village)s 物资盘点台账 %(month)s", village=village.label, month=month.label()),
        notes=[] if sheets else [_("本月没有盘点记录。")],
    )


def prices_xlsx(rows: list[PriceRow], village: Village) -> bytes:
    """分值对应表 as a workbook: the prices in force, and every change on a second sheet."""
    return workbook("", [prices_table(rows, village), price_changes_table(rows)])


def prices_table(rows: list[PriceRow], village: Village, heading: str = "") -> Table:
    """The prices in force (each row's last step; a goods item without history, its own price)."""
    numbered = list(enumerate(rows, 1))
    return Table(
        _("分值对应表"),
        [
            Column(_("序号"), 6, lambda ir: ir[0]),
            Column(_("商品"), 16, lambda ir: ir[1].goods.name),
            Column(_("规格"), 12, lambda ir: ir[1].goods.spec),
            Column(_("兑换分值（积分）"), 12, lambda ir: ir[1].price),
            Column(_("执行日期"), 17, lambda ir: ir[1].since, WHEN),
            Column(_("状态"), 8, lambda ir: _("上架") if ir[1].goods.active else _("已下架"), key="status"),
        ],
        numbered,
        heading=heading or _("%(village)s 分值对应表", village=village.label),
    )


def price_changes_table(rows: list[PriceRow], changed_only: bool = False) -> Table:
    """Every price each goods item has had, oldest first; the rows are ``(price row, step)`` pairs.
    ``changed_only`` leaves out the goods whose price never changed (the page)."""
    return Table(
        _("调整记录"),
        [
            Column(_("商品"), 16, lambda rs: rs[0].goods.name, key="goods"),
            Column(_("规格"), 12, lambda rs: rs[0].goods.spec, key="spec"),
            Column(_("分值（积分）"), 10, lambda rs: rs[1].price, INTEGER, key="price"),
            Column(_("执行起"), 17, lambda rs: rs[1].since, WHEN, key="since"),
            Column(_("执行止"), 17, lambda rs: rs[1].until, WHEN, key="until"),
            Column(_("调整人"), 10, lambda rs: rs[1].by, key="by"),
        ],
        [(row, step) for row in rows if row.changed or not changed_only for step in row.steps],
        heading=_("分值调整记录"),
    )


def _lot_columns() -> list[Column]:
    """A donation's lot and where it went: the rows are ``(trace, lot)`` pairs."""
    return [
        Column(_("捐赠日期"), 12, lambda tl: tl[1].given_on, DAY, key="given_on"),
        Column(_("商品"), 14, lambda tl: tl[1].goods.name, key="goods"),
        Column(_("规格"), 10, lambda tl: tl[1].goods.spec, key="spec"),
        Column(_("捐赠数量"), 9, lambda tl: tl[1].qty, INTEGER, key="qty"),
        Column(_("已兑换"), 8, lambda tl: tl[1].redeemed, INTEGER, key="redeemed"),
        Column(_("损耗和盘亏"), 9, lambda tl: tl[1].other_out, INTEGER, key="other_out"),
        Column(_("在架"), 7, lambda tl: tl[1].on_shelf, INTEGER, key="on_shelf"),
        Column(_("兑换积分"), 9, lambda tl: tl[1].redeemed_points, INTEGER, key="redeemed_points"),
        Column(_("折合积分"), 9, lambda tl: tl[1].worth, INTEGER, key="worth"),
        Column(_("备注"), 20, lambda tl: tl[1].move.note, key="note"),
    ]


def _lots(traces: list[DonorTrace]) -> list[tuple]:
    return [(t, lot) for t in traces for lot in t.lots]


def donors_xlsx(traces: list[DonorTrace], village: Village) -> bytes:
    """爱心榜 and every donation traced, as a workbook."""
    detail = Table(
        _("捐赠去向"),
        [Column(_("捐赠人"), 18, lambda tl: tl[0].name), *_lot_columns()],
        _lots(traces),
        landscape=True,
        heading=_("每笔捐赠的去向（先进先出）"),
    )
    return workbook("", [donors_table(traces, village), detail])


def donors_table(traces: list[DonorTrace], village: Village) -> Table:
    """爱心榜 for the staff: each donor, what was given and where it went."""
    return Table(
        _("爱心榜"),
        [
            Column(_("捐赠人"), 18, attrgetter("name"), key="name"),
            Column(
                _("捐赠物资"),
                30,
                lambda t: _("、").join(f"{g.name}×{n}" for g, n in t.goods_given),
                key="goods",
            ),
            _number(_("捐赠件数"), 9, "given"),
            _number(_("已兑换"), 8, "redeemed"),
            _number(_("损耗和盘亏"), 9, "other_out"),
            _number(_("在架"), 7, "on_shelf"),
            _number(_("兑换积分"), 9, "redeemed_points"),
            _number(_("折合积分"), 9, "worth"),
            Column(_("首次捐赠"), 12, attrgetter("first_on"), DAY, key="first_on"),
            Column(_("最近捐赠"), 12, attrgetter("last_on"), DAY, key="last_on"),
        ],
        traces,
        landscape=True,
        empty=_("还没有捐赠。"),
        heading=_("%(village)s 爱心榜", village=village.label),
    )


def donor_xlsx(trace: DonorTrace, village: Village) -> bytes:
    """One donor's donations and where they went, as a workbook."""
    return workbook("", [lots_table(trace, village)])


def lots_table(trace: DonorTrace, village: Village) -> Table:
    """One donor's donations, each with where it went; the rows are ``(trace, lot)`` pairs."""
    total = [
        _("合计"),
        "",
        "",
        trace.given,
        trace.redeemed,
        trace.other_out,
        trace.on_shelf,
        trace.redeemed_points,
        trace.worth,
    ]
    return Table(
        _("捐赠去向"),
        _lot_columns(),
        _lots([trace]),
        footer=total,
        landscape=True,
        heading=_("%(village)s 捐赠去向：%(name)s", village=village.label, name=trace.name),
    )
