"""The shop's figures and ledgers as ``.xlsx`` workbooks, one function per download."""

from flask_babel import gettext as _
from openpyxl.styles import Font

from ..org.models import Village
from ..periods import Period, local_day, local_naive
from ..xlsx import Book, ledger_sheet, workbook_bytes
from .figures import ShopPeriod
from .models import (
    MOVE_LABELS,
    MoveKind,
    Redemption,
    RedemptionStatus,
)
from .registers import DonorTrace, PriceRow, RedemptionRegister, StocktakeSheet

MONEY = "#,##0.00"
WHEN = "yyyy-mm-dd hh:mm"
DAY = "yyyy-mm-dd"


def _formats(sheet, **columns: str) -> None:
    """Give whole columns a number format from row 3 down: ``_formats(sheet, D=MONEY)``."""
    for letter, fmt in columns.items():
        for cell in sheet[letter][2:]:
            cell.number_format = fmt


def _total_row(sheet, values: list) -> None:
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)


def _money(fen: int | None) -> float | None:
    return None if fen is None else round(fen / 100, 2)


def _household(r: Redemption) -> tuple[str, str]:
    return r.household.household_no, r.household.head_name


def _status(r: Redemption) -> str:
    if r.status == RedemptionStatus.CANCELLED:
        return _(
            "%(day)s 撤销：%(reason)s", day=local_day(r.cancelled_at).isoformat(), reason=r.cancel_reason
        )
    return ""


def _goods_sheet(sheet, period: ShopPeriod, heading: str) -> None:
    ledger_sheet(
        sheet,
        _("商品进出"),
        heading,
        [
            _("商品"),
            _("规格"),
            _("期初库存"),
            _("捐赠入库"),
            _("采购入库"),
            _("兑换出库"),
            _("撤销退回"),
            _("损耗"),
            _("盘点调整"),
            _("期末库存"),
            _("其中捐赠"),
            _("库存金额（元）"),
        ],
        [14, 10, 9, 9, 9, 9, 9, 8, 9, 9, 9, 13],
        landscape=True,
    )
    for f in period.goods:
        sheet.append(
            [
                f.goods.name,
                f.goods.spec,
                f.opening,
                f.donated,
                f.purchased,
                f.redeemed,
                f.returned,
                f.lost,
                f.adjusted,
                f.closing,
                f.donated_on_shelf,
                _money(f.value_fen),
            ]
        )
    _total_row(
        sheet,
        [
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
            _money(period.value_fen),
        ],
    )
    _formats(sheet, L=MONEY)
    sheet.append([])
    sheet.append([stock_value_note()])


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
        (_("库存金额（元）"), _money(period.value_fen)),
    ]


def _summary_sheet(sheet, period: ShopPeriod, heading: str) -> None:
    ledger_sheet(sheet, _("汇总"), heading, [_("项目"), _("数值")], [30, 14])
    for label, value in _summary_rows(period):
        sheet.append([label, value])
    sheet[f"B{sheet.max_row}"].number_format = MONEY
    sheet.append([])
    sheet.append([_("撤销按撤销当天计入；库存为期末时点的数量。")])
    sheet.append([stock_value_note()])


def _intake_sheet(sheet, period: ShopPeriod) -> None:
    ledger_sheet(
        sheet,
        _("入库明细"),
        _("捐赠和采购入库"),
        [
            _("登记时间"),
            _("捐赠或采购日期"),
            _("类型"),
            _("商品"),
            _("数量"),
            _("捐赠人"),
            _("经费来源"),
            _("单价（元）"),
            _("备注"),
        ],
        [17, 12, 10, 14, 7, 16, 12, 10, 20],
        landscape=True,
    )
    for m in period.intakes:
        sheet.append(
            [
                local_naive(m.created_at),
                m.moved_on,
                str(MOVE_LABELS[MoveKind(m.kind)]),
                m.goods.name,
                m.qty,
                m.donor,
                m.funding_source,
                _money(m.cost_fen),
                m.note,
            ]
        )
    _formats(sheet, A=WHEN, B=DAY, H=MONEY)


def _redemption_rows(sheet, redemptions: list[Redemption], names: dict[int, str]) -> None:
    for r in redemptions:
        household_no, head = _household(r)
        for line in r.lines:
            sheet.append(
                [
                    local_naive(r.created_at),
                    r.id,
                    household_no,
                    head,
                    line.goods_name,
                    line.qty,
                    line.unit_price,
                    line.qty * line.unit_price,
                    names.get(r.operator_id, ""),
                    _status(r),
                ]
            )


def _redemption_header() -> list[str]:
    return [
        _("时间"),
        _("单号"),
        _("户号"),
        _("户主"),
        _("商品"),
        _("数量"),
        _("单价（积分）"),
        _("积分"),
        _("经办人"),
        _("撤销"),
    ]


REDEMPTION_WIDTHS = [17, 7, 9, 10, 14, 6, 9, 8, 10, 26]


def daily_xlsx(period: ShopPeriod, village: Village) -> bytes:
    """A day's figures: the summary, every redemption line, each goods item's moves, the intakes."""
    book = Book()
    day = period.start.isoformat()
    _summary_sheet(book.active, period, _("%(village)s 积分超市日报 %(day)s", village=village.label, day=day))
    sheet = ledger_sheet(
        book.create_sheet(),
        _("兑换明细"),
        _("%(day)s 兑换明细", day=day),
        _redemption_header(),
        REDEMPTION_WIDTHS,
        landscape=True,
    )
    _redemption_rows(sheet, period.redemptions, period.names)
    _total_row(sheet, [_("合计"), "", "", "", "", "", "", period.points])
    _formats(sheet, A=WHEN)
    _goods_sheet(book.create_sheet(), period, _("%(day)s 商品进出和库存", day=day))
    _intake_sheet(book.create_sheet(), period)
    return workbook_bytes(book)


def monthly_xlsx(period: ShopPeriod, village: Village, month: Period) -> bytes:
    """A month's figures: the summary, day by day, each goods item's moves, the intakes."""
    book = Book()
    title = _("%(village)s 积分超市月报 %(month)s", village=village.label, month=month.label())
    _summary_sheet(book.active, period, title)
    sheet = ledger_sheet(
        book.create_sheet(),
        _("每日"),
        _("%(month)s 每日兑换和入库", month=month.label()),
        [
            _("日期"),
            _("兑换笔数"),
            _("兑换积分"),
            _("撤销笔数"),
            _("撤销退回积分"),
            _("净兑换积分"),
            _("兑换出库（件）"),
            _("捐赠入库（件）"),
            _("采购入库（件）"),
        ],
        [12, 9, 9, 9, 11, 10, 10, 10, 10],
        landscape=True,
    )
    for d in period.days:
        sheet.append(
            [d.day, d.redemptions, d.points, d.cancellations, d.points_returned, d.net_points, d.goods_out]
            + [d.donated, d.purchased]
        )
    _total_row(
        sheet,
        [
            _("合计"),
            len(period.redemptions),
            period.points,
            len(period.cancellations),
            period.points_returned,
            period.net_points,
            period.goods_out,
            period.donated,
            period.purchased,
        ],
    )
    _formats(sheet, A=DAY)
    _goods_sheet(book.create_sheet(), period, _("%(month)s 商品进出和库存", month=month.label()))
    _intake_sheet(book.create_sheet(), period)
    return workbook_bytes(book)


def register_xlsx(register: RedemptionRegister, village: Village) -> bytes:
    """积分兑换(领取)台账 as a workbook: one row per goods line of each redemption."""
    book = Book()
    sheet = ledger_sheet(
        book.active,
        _("积分兑换台账"),
        _(
            "%(village)s 积分兑换（领取）台账 %(month)s",
            village=village.label,
            month=register.month.label(),
        ),
        _redemption_header(),
        REDEMPTION_WIDTHS,
        landscape=True,
    )
    _redemption_rows(sheet, register.redemptions, register.names)
    _total_row(sheet, [_("本月兑换合计"), "", "", "", "", register.units, "", register.points])
    _total_row(sheet, [_("本月撤销退回"), "", "", "", "", "", "", -register.points_returned])
    _total_row(sheet, [_("净兑换积分"), "", "", "", "", "", "", register.net_points])
    _formats(sheet, A=WHEN)
    if register.earlier_cancelled:
        sheet.append([])
        sheet.append([_("本月撤销的以前月份兑换")])
        sheet[f"A{sheet.max_row}"].font = Font(bold=True)
        _redemption_rows(sheet, register.earlier_cancelled, register.names)
        for cell in sheet["A"][2:]:
            cell.number_format = WHEN
    return workbook_bytes(book)


def stocktakes_xlsx(sheets: list[StocktakeSheet], village: Village, month: Period) -> bytes:
    """物资盘点台账 as a workbook: one row per goods counted, with the count's date and counters."""
    book = Book()
    sheet = ledger_sheet(
        book.active,
        _("物资盘点台账"),
        _("%(village)s 物资盘点台账 %(month)s", village=village.label, month=month.label()),
        [
            _("盘点日期"),
            _("商品"),
            _("规格"),
            _("账面数量"),
            _("实盘数量"),
            _("盈亏"),
            _("盘点人"),
            _("登记人"),
            _("备注"),
        ],
        [12, 14, 10, 9, 9, 7, 18, 10, 20],
        landscape=True,
    )
    for s in sheets:
        for line in s.lines:
            sheet.append(
                [
                    s.stocktake.counted_on,
                    line.goods.name,
                    line.goods.spec,
                    line.recorded,
                    line.counted,
                    line.counted - line.recorded,
                    s.stocktake.counted_by,
                    s.recorder,
                    s.stocktake.note,
                ]
            )
    _formats(sheet, A=DAY)
    if not sheets:
        sheet.append([_("本月没有盘点记录。")])
    return workbook_bytes(book)


def prices_xlsx(rows: list[PriceRow], village: Village) -> bytes:
    """分值对应表 as a workbook: the prices in force, and every change on a second sheet."""
    book = Book()
    sheet = ledger_sheet(
        book.active,
        _("分值对应表"),
        _("%(village)s 分值对应表", village=village.label),
        [_("序号"), _("商品"), _("规格"), _("兑换分值（积分）"), _("执行日期"), _("状态")],
        [6, 16, 12, 12, 17, 8],
    )
    for i, row in enumerate(rows, 1):
        sheet.append(
            [
                i,
                row.goods.name,
                row.goods.spec,
                row.goods.price,
                local_naive(row.since),
                _("上架") if row.goods.active else _("已下架"),
            ]
        )
    _formats(sheet, E=WHEN)
    changes = ledger_sheet(
        book.create_sheet(),
        _("调整记录"),
        _("分值调整记录"),
        [_("商品"), _("规格"), _("分值（积分）"), _("执行起"), _("执行止"), _("调整人")],
        [16, 12, 10, 17, 17, 10],
    )
    for row in rows:
        for step in row.steps:
            changes.append(
                [
                    row.goods.name,
                    row.goods.spec,
                    step.price,
                    local_naive(step.since),
                    local_naive(step.until),
                    step.by,
                ]
            )
    _formats(changes, D=WHEN, E=WHEN)
    return workbook_bytes(book)


def _donation_rows(sheet, trace: DonorTrace, with_donor: bool) -> None:
    for lot in trace.lots:
        sheet.append(
            ([trace.name] if with_donor else [])
            + [
                lot.given_on,
                lot.goods.name,
                lot.goods.spec,
                lot.qty,
                lot.redeemed,
                lot.other_out,
                lot.on_shelf,
                lot.redeemed_points,
                lot.worth,
                lot.move.note,
            ]
        )


def _donation_header() -> list[str]:
    return [
        _("捐赠日期"),
        _("商品"),
        _("规格"),
        _("捐赠数量"),
        _("已兑换"),
        _("损耗和盘亏"),
        _("在架"),
        _("兑换积分"),
        _("折合积分"),
        _("备注"),
    ]


def donors_xlsx(traces: list[DonorTrace], village: Village) -> bytes:
    """爱心榜 and every donation traced, as a workbook."""
    book = Book()
    board = ledger_sheet(
        book.active,
        _("爱心榜"),
        _("%(village)s 爱心榜", village=village.label),
        [
            _("捐赠人"),
            _("捐赠物资"),
            _("捐赠件数"),
            _("已兑换"),
            _("损耗和盘亏"),
            _("在架"),
            _("兑换积分"),
            _("折合积分"),
            _("首次捐赠"),
            _("最近捐赠"),
        ],
        [18, 30, 9, 8, 9, 7, 9, 9, 12, 12],
        landscape=True,
    )
    for t in traces:
        board.append(
            [
                t.name,
                _("、").join(f"{g.name}×{n}" for g, n in t.goods_given),
                t.given,
                t.redeemed,
                t.other_out,
                t.on_shelf,
                t.redeemed_points,
                t.worth,
                t.first_on,
                t.last_on,
            ]
        )
    _formats(board, I=DAY, J=DAY)
    detail = ledger_sheet(
        book.create_sheet(),
        _("捐赠去向"),
        _("每笔捐赠的去向（先进先出）"),
        [_("捐赠人"), *_donation_header()],
        [18, 12, 14, 10, 9, 8, 9, 7, 9, 9, 20],
        landscape=True,
    )
    for t in traces:
        _donation_rows(detail, t, with_donor=True)
    _formats(detail, B=DAY)
    return workbook_bytes(book)


def donor_xlsx(trace: DonorTrace, village: Village) -> bytes:
    """One donor's donations and where they went, as a workbook."""
    book = Book()
    sheet = ledger_sheet(
        book.active,
        _("捐赠去向"),
        _("%(village)s 捐赠去向：%(name)s", village=village.label, name=trace.name),
        _donation_header(),
        [12, 14, 10, 9, 8, 9, 7, 9, 9, 20],
        landscape=True,
    )
    _donation_rows(sheet, trace, with_donor=False)
    _total_row(
        sheet,
        [
            _("合计"),
            "",
            "",
            trace.given,
            trace.redeemed,
            trace.other_out,
            trace.on_shelf,
            trace.redeemed_points,
            trace.worth,
        ],
    )
    _formats(sheet, A=DAY)
    return workbook_bytes(book)
