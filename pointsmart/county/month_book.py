"""The county's copy of a village's month (县里重建的月度台账): the figures the county rebuilds from the
records the village synced (:func:`pointsmart.county.month_figures.county_month_figures`), laid out for a
reviewer beside the hash the village froze when it closed the month.

The figures name goods by uuid; here they get their names from the synced goods (as they read now: a
name edited later shows the new name, the hash does not change). The tables are declared once
(:mod:`pointsmart.exports`) for the page and for its workbook.

A month is known when the village closed it, or when it lies between the village's first month in the
synced records (a transfer, a stock move, a round's month) and this month — the months the county village
page's 月结 table lists, and this month, not over yet.
"""

from dataclasses import dataclass
from datetime import datetime, time
from operator import attrgetter, itemgetter

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..book import add_cover
from ..closing.figures import digest, rebuilt_digest
from ..exports import INTEGER, TEXT, Column, Table
from ..months.guard import month_of_round
from ..org.models import Village
from ..periods import Period, local_text, read_period, today
from ..scoring.reports import round_label
from ..scoring.score_photos import LedgerLine, line_order, make_line, round_order
from ..xlsx import Book, fixed_bytes, workbook_bytes
from .closes import CountyMonth, county_close
from .models import (
    SyncedGoods,
    SyncedHousehold,
    SyncedMonthClose,
    SyncedRound,
    SyncedScorePhoto,
    SyncedStockMove,
    SyncedTransfer,
)
from .month_figures import book_rounds, county_month_figures


def known_month(session: Session, village_id: int, month: str) -> bool:
    """Whether the county has this month of this village (see the module's description)."""
    closed = session.scalar(
        sa.select(sa.func.count())
        .select_from(SyncedMonthClose)
        .where(SyncedMonthClose.village_id == village_id, SyncedMonthClose.month == month)
    )
    if closed:
        return True
    firsts = [
        session.scalar(sa.select(sa.func.min(column)).where(model.village_id == village_id))
        for model, column in (
            (SyncedTransfer, SyncedTransfer.month),
            (SyncedStockMove, SyncedStockMove.month),
            (SyncedMonthClose, SyncedMonthClose.month),
        )
    ]
    keys = session.scalars(
        sa.select(SyncedRound.period_key).where(SyncedRound.village_id == village_id).distinct()
    )
    firsts += [month_of_round(key) for key in keys]
    firsts = [m for m in firsts if m]
    return bool(firsts) and min(firsts) <= month <= Period.of(today()).key


@dataclass
class GoodsLine:
    uuid: str
    name: str
    spec: str
    opening: int
    donated: int
    purchased: int
    stocktake: int
    loss: int
    given_out: int
    stock: int


@dataclass
class RoundLine:
    uuid: str
    period: str
    scope: str
    state: str

    @property
    def period_label(self) -> str:
        found = read_period(self.period)
        return found.label() if found is not None else self.period

    @property
    def state_label(self) -> str:
        return _("已生效") if self.state == "finalised" else _("结转下月")


@dataclass
class CountyBook:
    close: CountyMonth
    #: the month is not over yet: its figures will still change
    figures: dict
    incomplete: bool
    goods: list[GoodsLine]
    rounds: list[RoundLine]
    #: the score photos of the month's rounds, as the village's photos ledger lists them
    photos: list[LedgerLine]

    def summary_table(self) -> Table:
        points, made = self.figures["points"], self.figures["redemptions"]
        rows = [
            (_("发放积分"), points["issued"], _("分")),
            (_("兑换积分"), points["redeemed"], _("分")),
            (_("扣减积分"), points["deducted"], _("分")),
            (_("过期积分"), points["expired"], _("分")),
            (_("积分转账"), points["transfers"], _("笔")),
            (_("兑换"), made["made"], _("笔")),
            (_("撤销的兑换"), made["cancelled"], _("笔")),
            (_("评定"), len(self.rounds), _("次")),
            (_("得分农户"), self.figures["households_scored"], _("户")),
        ]
        columns = [
            Column(_("项目"), 16, itemgetter(0)),
            Column(_("数量"), 10, itemgetter(1), INTEGER, key="value"),
            Column(_("单位"), 6, itemgetter(2)),
        ]
        return Table(_("本月数字"), columns, rows)

    def categories_table(self) -> Table:
        rows = sorted(self.figures["by_category"].items())
        columns = [
            Column(_("评分类别"), 24, itemgetter(0)),
            Column(_("得分"), 10, lambda r: r[1]["awarded"], INTEGER),
            Column(_("扣分"), 10, lambda r: r[1]["deducted"], INTEGER),
            Column(_("净得分"), 10, lambda r: r[1]["awarded"] - r[1]["deducted"], INTEGER, key="net"),
        ]
        totals = [sum(r[1]["awarded"] for r in rows), sum(r[1]["deducted"] for r in rows)]
        footer = [_("合计"), *totals, totals[0] - totals[1]] if rows else None
        return Table(_("按类别的评定积分"), columns, rows, footer=footer, empty=_("本月没有评定入账。"))

    def goods_table(self) -> Table:
        columns = [
            Column(_("商品"), 20, attrgetter("name")),
            Column(_("规格"), 12, attrgetter("spec")),
            Column(_("期初库存"), 9, attrgetter("opening"), INTEGER),
            Column(_("捐赠入库"), 9, attrgetter("donated"), INTEGER),
            Column(_("购买入库"), 9, attrgetter("purchased"), INTEGER),
            Column(_("盘点调整"), 9, attrgetter("stocktake"), INTEGER),
            Column(_("损耗"), 8, attrgetter("loss"), INTEGER),
            Column(_("兑换发出"), 9, attrgetter("given_out"), INTEGER),
            Column(_("月末库存"), 9, attrgetter("stock"), INTEGER, key="stock"),
        ]
        return Table(_("物资进出"), columns, self.goods, empty=_("本月没有物资进出，也没有库存。"))

    def rounds_table(self) -> Table:
        columns = [
            Column(_("评定期间"), 16, attrgetter("period_label")),
            Column(_("范围"), 14, attrgetter("scope"), TEXT),
            Column(_("月结时的状态"), 12, attrgetter("state_label"), key="state"),
        ]
        return Table(_("本月的评定"), columns, self.rounds, empty=_("本月没有评定。"))

    def photos_table(self) -> Table:
        """积分公示影视资料台账: the score photos' metadata (the county never holds the images)."""
        return Table(
            _("积分公示影视资料台账（打分佐证照片）"),
            LedgerLine.columns(),
            self.photos,
            empty=_("本月的评定没有打分佐证照片。"),
            notes=[_("照片本身留在村里；县里只收到每张照片的信息和文件的 SHA-256，可与村里交来的照片核对。")],
        )

    def check_table(self) -> Table:
        """The closing and the two hashes, a line each (the workbook's first sheet)."""
        close = self.close
        if close.agrees is None:
            verdict = _("未月结，没有村里的账目校验码可核对")
        else:
            verdict = _("一致") if close.agrees else _("不一致")
        rows = [
            (_("月结"), _("已月结") if close.closed else _("未月结")),
            (_("月结时间"), close.closed_at),
            (_("月结人"), close.closer),
            (_("村里的账目校验码"), close.village_sha256 or ""),
            (_("县里重算的账目校验码"), close.county_sha256 or ""),
            (_("核对"), verdict),
        ]
        columns = [Column(_("项目"), 16, itemgetter(0)), Column(_("内容"), 70, itemgetter(1), key="value")]
        return Table(_("核对"), columns, rows)

    def cover_facts(self, village: Village, month: Period) -> list[tuple[str, str]]:
        """The workbook's cover lines: the village, the month, the close, and both hashes of the figures
        — the village's and the one the county rebuilt (县里重算)."""
        close = self.close
        facts = [(_("村"), village.label), (_("月份"), month.label())]
        if not close.closed:
            facts.append((_("月结"), _("未月结")))
        else:
            facts += [
                (_("月结"), _("已月结")),
                (_("月结人编号"), (close.closed_by or "")[:8]),
                (_("月结时间"), local_text(close.closed_at)),
                (_("账目校验码"), close.village_sha256 or ""),
            ]
        facts.append((_("账目校验码（县里重算）"), close.county_sha256 or digest(self.figures)))
        if close.closed:
            facts.append((_("核对"), _("一致") if close.agrees else _("不一致")))
        return facts

    def tables(self) -> list[Table]:
        return [
            self.check_table(),
            self.summary_table(),
            self.categories_table(),
            self.goods_table(),
            self.rounds_table(),
            self.photos_table(),
        ]


def county_book_xlsx(found: CountyBook, village: Village, month: Period) -> bytes:
    """The county's rebuilt month as a workbook: a cover (封面) with the close and both hashes and the list
    of sheets, then a sheet per table. The same records give the same bytes."""
    heading = _("%(village)s %(month)s 县里重建的月度台账", village=village.label, month=month.label())
    out = Book()
    out.remove(out.active)
    out.properties.title = heading
    out.properties.creator = out.properties.lastModifiedBy = "PointsMart"
    tables = found.tables()
    for table in tables:
        table.add_to(out, heading)
    contents = [(t.title, _("%(n)s 行", n=len(t.rows))) for t in tables]
    add_cover(out, heading, found.cover_facts(village, month), contents)
    saved = datetime.combine(month.end, time())  # the month's end, never the time of saving
    return fixed_bytes(workbook_bytes(out), saved)


def county_book(session: Session, village_id: int, month: str) -> CountyBook:
    """The month as the county rebuilds it, beside the village's close (if it closed the month)."""
    close = county_close(session, village_id, month, figures=False)
    figures = county_month_figures(session, village_id, month, close.closed_at)
    if close.closed:
        close.county_sha256 = rebuilt_digest(figures, close.village_sha256)
    named = {
        uuid: (name, spec)
        for uuid, name, spec in session.execute(
            sa.select(SyncedGoods.uuid, SyncedGoods.name, SyncedGoods.spec).where(
                SyncedGoods.village_id == village_id, SyncedGoods.uuid.in_(list(figures["goods"]))
            )
        )
    }
    goods = []
    for uuid, row in figures["goods"].items():
        name, spec = named.get(uuid, (_("未同步的商品 %(id)s", id=uuid[:8]), ""))
        goods.append(GoodsLine(uuid, name, spec, **row))
    goods.sort(key=lambda g: (g.name, g.spec, g.uuid))
    rounds = [RoundLine(r["uuid"], r["period"], r["scope"], r["state"]) for r in figures["rounds"]]
    photos = county_photo_lines(session, village_id, month)
    return CountyBook(close, figures, month >= Period.of(today()).key, goods, rounds, photos)


def book_round_uuids(session: Session, village_id: int, month: str) -> list[str]:
    """The uuids of :func:`pointsmart.county.month_figures.book_rounds`: the rounds of ``month``'s book."""
    return [uuid for uuid, *_rest in book_rounds(session, village_id, month)]


def county_photo_lines(session: Session, village_id: int, month: str) -> list[LedgerLine]:
    """The synced score photos of the month book's rounds (not those the village deleted): the lines
    the village's photos ledger lists (:func:`pointsmart.scoring.score_photos.ledger_lines`)."""
    round_uuids = book_round_uuids(session, village_id, month)
    if not round_uuids:
        return []
    rounds = {}
    for uuid, period_type, period_key, scope in session.execute(
        sa.select(SyncedRound.uuid, SyncedRound.period_type, SyncedRound.period_key, SyncedRound.scope).where(
            SyncedRound.village_id == village_id, SyncedRound.uuid.in_(round_uuids)
        )
    ):
        try:
            label = round_label(period_type, period_key, scope)
        except ValueError:  # a cadence this version does not know (a newer village): the key says enough
            label = period_key
        rounds[uuid] = (label, round_order(period_type, period_key, scope))
    p, h = SyncedScorePhoto, SyncedHousehold
    rows = session.execute(
        sa.select(p, h.household_no, h.head_name)
        .outerjoin(h, sa.and_(h.village_id == p.village_id, h.uuid == p.household_uuid))
        .where(p.village_id == village_id, p.round_uuid.in_(round_uuids), p.deleted.is_(False))
    )
    lines = []
    for photo, no, head in rows:
        household = (no, head) if no is not None else (photo.household_uuid[:8], "")
        label, order = rounds[photo.round_uuid]
        lines.append(
            (order, make_line(photo.uuid, label, household, photo.criterion_name, photo.stage, photo.taken_at,
                              photo.public, photo.size, photo.sha256))
        )  # fmt: skip
    return [line for _order, line in sorted(lines, key=line_order)]
