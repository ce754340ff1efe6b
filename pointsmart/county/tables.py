"""The county's tables, each declared once (:mod:`pointsmart.exports`) for its page and its ``.xlsx``."""

from operator import attrgetter

from flask_babel import gettext as _

from ..exports import DAY, INTEGER, PERCENT, WHEN, Column, Table
from .dashboard import CategoryRow, Figures, GoodsRow, MonthRow, TownshipRow, VillageRow
from .drilldown import DonationRow, HouseholdRow, RoundRow


def freshness_text(row: VillageRow) -> str:
    """The village's sync state in words (the badges' text, for the spreadsheet)."""
    words = []
    if row.never_synced:
        words.append(_("从未同步"))
    elif row.silent:
        words.append(_("%(days)s天未同步", days=row.silent_days))
    if row.mismatch:
        words.append(_("总数不符：%(what)s", what=_("、").join(row.mismatch_labels)))
    return _("；").join(words) or _("同步正常")


def _figure_columns(with_villages: bool = True) -> list[Column]:
    """The figures of a period, for a township, a village or the whole county."""
    villages = [
        Column(_("村数"), 8, attrgetter("villages"), INTEGER),
        Column(_("有数据的村"), 10, attrgetter("reporting"), INTEGER),
    ]
    return [
        *(villages if with_villages else []),
        Column(_("在册农户"), 10, attrgetter("households"), INTEGER),
        Column(_("得分农户"), 10, attrgetter("earned_households"), INTEGER),
        Column(_("参与率"), 9, attrgetter("participation"), PERCENT),
        Column(_("发放积分"), 11, attrgetter("issued"), INTEGER),
        Column(_("期初结转"), 11, attrgetter("opening"), INTEGER),
        Column(_("兑换积分"), 11, attrgetter("redeemed"), INTEGER),
        Column(_("扣减积分"), 11, attrgetter("deducted"), INTEGER),
        Column(_("过期积分"), 11, attrgetter("expired"), INTEGER),
        Column(_("期末未兑换积分"), 14, attrgetter("outstanding"), INTEGER),
    ]


def townships_table(rows: list[TownshipRow]) -> Table:
    columns = [
        Column(_("乡镇代码"), 14, attrgetter("code")),
        Column(_("乡镇"), 14, attrgetter("name")),
        *_figure_columns(),
        Column(_("未同步村"), 10, attrgetter("silent"), INTEGER),
        Column(_("总数不符村"), 11, attrgetter("mismatched"), INTEGER),
    ]
    total = Figures()
    for t in rows:
        total.add(t)
    footer = ["", _("合计"), *(c.value(total) for c in columns[2:])]
    return Table(_("按乡镇"), columns, rows, footer=footer)


def villages_table(rows: list[VillageRow]) -> Table:
    columns = [
        Column(_("区划代码"), 14, attrgetter("code")),
        Column(_("村（社区）"), 12, attrgetter("name")),
        Column(_("乡镇"), 12, attrgetter("township_name")),
        *_figure_columns(with_villages=False),
        Column(_("最近同步"), 17, attrgetter("last_sync_at"), WHEN),
        Column(_("已确认序号"), 11, attrgetter("acked_seq"), INTEGER),
        Column(_("积分到期规则"), 22, attrgetter("points_rule")),
        Column(_("同步状态"), 24, freshness_text),
    ]
    return Table(_("按村"), columns, rows)


def trend_table(rows: list[MonthRow]) -> Table:
    columns = [
        Column(_("月份"), 10, attrgetter("month")),
        Column(_("发放积分"), 12, attrgetter("issued"), INTEGER),
        Column(_("兑换积分"), 12, attrgetter("redeemed"), INTEGER),
        Column(_("扣减积分"), 12, attrgetter("deducted"), INTEGER),
        Column(_("过期积分"), 12, attrgetter("expired"), INTEGER),
        Column(_("期初结转"), 12, attrgetter("opening"), INTEGER, key="opening"),
        Column(_("转账笔数"), 12, attrgetter("transfers"), INTEGER, key="transfers"),
    ]
    return Table(_("月度趋势"), columns, rows)


def categories_table(rows: list[CategoryRow]) -> Table:
    columns = [
        Column(_("积分细则类别"), 24, attrgetter("category")),
        Column(_("加分"), 12, attrgetter("awarded"), INTEGER),
        Column(_("扣分"), 12, attrgetter("deducted"), INTEGER),
        Column(_("净得分"), 12, attrgetter("net"), INTEGER, key="net"),
        Column(_("涉及村数"), 10, attrgetter("villages"), INTEGER),
    ]
    return Table(_("积分类别"), columns, rows)


def goods_table(rows: list[GoodsRow], title: str | None = None) -> Table:
    columns = [
        Column(_("商品"), 24, attrgetter("name")),
        Column(_("规格"), 16, attrgetter("spec")),
        Column(_("兑换数量"), 12, attrgetter("qty"), INTEGER),
        Column(_("涉及村数"), 10, attrgetter("villages"), INTEGER, key="villages"),
    ]
    return Table(title or _("兑换最多的商品"), columns, rows)


def rounds_table(rows: list[RoundRow]) -> Table:
    columns = [
        Column(_("期间"), 10, attrgetter("period_key"), key="period"),
        Column(_("类型"), 10, attrgetter("cadence_label")),
        Column(_("范围"), 12, attrgetter("scope"), key="scope"),
        Column(_("状态"), 10, attrgetter("status_label"), key="status"),
        Column(_("参评户数"), 10, attrgetter("households"), INTEGER),
        Column(_("加分"), 10, attrgetter("awarded"), INTEGER),
        Column(_("扣分"), 10, attrgetter("deducted"), INTEGER),
        Column(_("余额不足未扣"), 10, attrgetter("shortfall"), INTEGER, key="shortfall"),
        Column(_("实际入账"), 10, attrgetter("net"), INTEGER, key="net"),
        Column(_("生效时间"), 17, attrgetter("finalised_at"), WHEN),
    ]
    return Table(_("评定"), columns, rows)


def households_table(rows: list[HouseholdRow]) -> Table:
    columns = [
        Column(_("户号"), 10, attrgetter("household_no")),
        Column(_("户主"), 12, attrgetter("head_name")),
        Column(_("村民小组"), 12, attrgetter("group")),
        Column(_("期末余额"), 11, attrgetter("balance"), INTEGER),
        Column(_("本期得分"), 11, attrgetter("earned"), INTEGER),
        Column(_("期初结转"), 11, attrgetter("opening"), INTEGER),
        Column(_("本期兑换"), 11, attrgetter("redeemed"), INTEGER),
        Column(_("本期扣减"), 11, attrgetter("deducted"), INTEGER),
        Column(_("状态"), 8, lambda r: _("在册") if r.active else _("已停用")),
    ]
    return Table(_("农户积分"), columns, rows)


def honour_table(rows: list[HouseholdRow]) -> Table:
    columns = [
        Column(_("名次"), 8, attrgetter("rank"), INTEGER),
        Column(_("户号"), 10, attrgetter("household_no")),
        Column(_("户主"), 12, attrgetter("head_name")),
        Column(_("村民小组"), 12, attrgetter("group")),
        Column(_("本期得分"), 11, attrgetter("earned"), INTEGER),
    ]
    return Table(_("光荣榜"), columns, rows)


def shop_months_table(rows: list[MonthRow]) -> Table:
    columns = [
        Column(_("月份"), 10, attrgetter("month")),
        Column(_("发放积分"), 12, attrgetter("issued"), INTEGER),
        Column(_("期初结转"), 12, attrgetter("opening"), INTEGER, key="opening"),
        Column(_("兑换积分"), 12, attrgetter("redeemed"), INTEGER),
    ]
    return Table(_("每月兑换"), columns, rows)


def donations_table(rows: list[DonationRow]) -> Table:
    columns = [
        Column(_("日期"), 12, attrgetter("day"), DAY),
        Column(_("捐赠人"), 20, attrgetter("donor")),
        Column(_("商品"), 20, attrgetter("goods")),
        Column(_("规格"), 14, attrgetter("spec")),
        Column(_("数量"), 8, attrgetter("qty"), INTEGER),
    ]
    return Table(_("捐赠入库"), columns, rows)


def findings_table(rows: list) -> Table:
    """需要关注: each anomaly finding, why, and whether a reviewer has checked it (:mod:`.anomalies`)."""
    columns = [
        Column(_("检查项"), 16, attrgetter("rule_label")),
        Column(_("乡镇"), 12, attrgetter("township_name")),
        Column(_("村（社区）"), 12, attrgetter("village_name"), key="village"),
        Column(_("情况"), 60, attrgetter("reason"), key="reason", wrap=True),
        Column(_("核查"), 8, attrgetter("state"), key="state"),
        Column(_("核查人"), 10, attrgetter("checked_by"), key="checked_by"),
        Column(_("核查时间"), 17, attrgetter("checked_at"), WHEN, key="checked_at"),
        Column(_("核查说明"), 30, attrgetter("note"), key="note", wrap=True),
    ]
    return Table(_("需要关注"), columns, rows, landscape=True)
