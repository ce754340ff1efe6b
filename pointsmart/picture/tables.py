"""The village picture's tables, each declared once (:mod:`pointsmart.exports`) for the page and its
``.xlsx``."""

from operator import attrgetter

from flask_babel import gettext as _

from ..exports import DAY, DECIMAL, INTEGER, PERCENT, Column, Table
from .figures import (
    PACE_MONTHS,
    QUIET_MONTHS,
    CategoryRow,
    GoodsRow,
    GroupRow,
    MonthRow,
    Picture,
    QuietHousehold,
    StockRow,
    total_of,
)


def group_name(name: str) -> str:
    return name or _("（未分组）")


def trend_table(rows: list[MonthRow]) -> Table:
    opening = any(r.opening for r in rows)
    columns = [
        Column(_("月份"), 10, attrgetter("month")),
        Column(_("发放积分"), 12, attrgetter("issued"), INTEGER),
        Column(_("兑换积分"), 12, attrgetter("redeemed"), INTEGER),
        Column(_("扣减积分"), 12, attrgetter("deducted"), INTEGER),
        *([Column(_("期初结转"), 12, attrgetter("opening"), INTEGER)] if opening else []),
    ]
    return Table(
        _("每月发放与兑换"),
        columns,
        rows,
        notes=[_("截至所选月份的 12 个月。撤销的记录从原来的数里减去。")],
    )


def groups_table(rows: list[GroupRow]) -> Table:
    columns = [
        Column(_("村民小组"), 14, lambda r: group_name(r.group)),
        Column(_("在册农户"), 10, attrgetter("households"), INTEGER),
        Column(_("得分农户"), 10, attrgetter("earned"), INTEGER),
        Column(_("参与率"), 10, attrgetter("participation"), PERCENT),
    ]
    total = total_of(rows)
    footer = [_("全村"), total.households, total.earned, total.participation]
    return Table(
        _("各村民小组参与率"),
        columns,
        rows,
        footer=footer if rows else None,
        empty=_("还没有登记农户。"),
        notes=[
            _(
                "参与率 = 本月得分的农户 ÷ 在册农户。得分农户：本月入账至少一笔加分的农户"
                "（期初结转不算；后来撤销的也算，与县里的统计一致）。"
            )
        ],
    )


def categories_table(rows: list[CategoryRow]) -> Table:
    columns = [
        Column(_("积分细则类别"), 24, attrgetter("category")),
        Column(_("加分"), 10, attrgetter("awarded"), INTEGER),
        Column(_("扣分"), 10, attrgetter("deducted"), INTEGER),
        Column(_("净得分"), 10, attrgetter("net"), INTEGER),
    ]
    return Table(
        _("各类别积分"),
        columns,
        rows,
        empty=_("本月没有生效的评定。"),
        notes=[_("本月生效的评定里各类别的得分；扣分按评分计，余额不够扣的部分也算在内。")],
    )


def goods_table(rows: list[GoodsRow]) -> Table:
    columns = [
        Column(_("商品"), 24, attrgetter("name")),
        Column(_("规格"), 16, attrgetter("spec")),
        Column(_("兑换数量"), 12, attrgetter("qty"), INTEGER),
    ]
    return Table(_("兑换最多的商品"), columns, rows, empty=_("本月没有兑换。"))


def _runs_out(row: StockRow):
    """The day it runs out, or why there is none."""
    if not row.runs_out or row.runs_out_on is None:  # at this pace, not before the year 2100
        return _("不会用完")
    if row.stock <= 0:
        return _("已经没货")
    return row.runs_out_on


def stock_table(rows: list[StockRow]) -> Table:
    columns = [
        Column(_("商品"), 20, attrgetter("name")),
        Column(_("规格"), 14, attrgetter("spec")),
        Column(_("月底库存"), 10, attrgetter("stock"), INTEGER),
        Column(_("近 %(n)s 个月兑换", n=PACE_MONTHS), 12, attrgetter("redeemed"), INTEGER),
        Column(_("每月平均"), 10, attrgetter("per_month"), DECIMAL),
        Column(_("还能用几个月"), 12, attrgetter("months_left"), DECIMAL),
        Column(_("预计用完日期"), 14, _runs_out, DAY),
    ]
    return Table(
        _("库存还能用多久"),
        columns,
        rows,
        empty=_("还没有在售的商品。"),
        notes=[
            _(
                "还能用几个月 = 月底库存 ÷ 近 %(n)s 个月平均每月兑换的数量；"
                "近 %(n)s 个月没人兑换的商品不会用完。",
                n=PACE_MONTHS,
            )
        ],
    )


def quiet_table(rows: list[QuietHousehold], households: int) -> Table:
    columns = [
        Column(_("户号"), 10, attrgetter("household_no")),
        Column(_("户主"), 12, attrgetter("head_name")),
        Column(_("村民小组"), 12, lambda r: group_name(r.group)),
        Column(_("上次得分"), 12, lambda r: r.last_earned or _("从未得分"), DAY),
    ]
    return Table(
        _("连续 %(n)s 个月没有得分的农户", n=QUIET_MONTHS),
        columns,
        rows,
        empty=(
            _("每一户在这 %(n)s 个月里都得过分。", n=QUIET_MONTHS)
            if households
            else _("这时还没有登记的农户。")
        ),
    )


def tables(p: Picture) -> dict[str, Table]:
    """Every table of the picture, by the name its chart and its download use."""
    return {
        "trend": trend_table(p.trend),
        "groups": groups_table(p.groups),
        "categories": categories_table(p.categories),
        "goods": goods_table(p.goods),
        "stock": stock_table(p.stock),
        "quiet": quiet_table(p.quiet, p.total.households),
    }
