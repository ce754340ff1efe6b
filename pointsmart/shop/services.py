"""Goods and their stock moves: the catalogue (names, prices and their history, photos) and what
comes onto and off the shelf other than a redemption (donations, purchases, losses, stocktakes).
Functions flush, never commit.

Redemptions and their cancellation are in :mod:`.redemptions`; the stock rules both share (the
conditional update of stock, the lock order goods → points, the shop's errors) in :mod:`.stock`.
"""

import secrets
import unicodedata
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..audit.services import changes as audit_changes
from ..audit.services import record
from ..clock import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..images import CleanPhoto, clean_photo
from ..months.guard import refuse_day
from ..periods import check_day, day_window
from ..text import checked
from .models import Goods, MoveKind, PriceChange, StockMove, Stocktake, StocktakeLine
from .stock import move_stock

#: the longest text each field takes (the columns hold these); the forms and the API read them here
NAME_LENGTH, SPEC_LENGTH, DONOR_LENGTH, FUNDING_LENGTH, COUNTER_LENGTH = 60, 40, 60, 60, 100
#: the longest note of a stock move or a count
MAX_NOTE = 200
#: a goods item's price in points
MAX_PRICE = 100_000


# --- goods ------------------------------------------------------------------------------------

GOODS_FIELDS = ("name", "spec", "price", "low_stock", "active", "position")


def list_goods(
    session: Session, village_id: int, active_only: bool = False, in_stock: bool = False
) -> list[Goods]:
    query = sa.select(Goods).where(Goods.village_id == village_id)
    if active_only:
        query = query.where(Goods.active.is_(True))
    if in_stock:
        query = query.where(Goods.stock > 0)
    # the shop's own 排序, then as a family's shelf lists them (points, then name)
    return list(session.scalars(query.order_by(Goods.position, Goods.price, Goods.name, Goods.id)))


def get_goods(session: Session, village_id: int, goods_id: int) -> Goods:
    goods = session.get(Goods, goods_id)
    if goods is None or goods.village_id != village_id:
        raise NotFound(_("找不到这件商品。"), code="unknown_goods")
    return goods


def _clean_goods(data: dict) -> dict:
    name = checked(data.get("name"), "name", _("商品名称"), max_length=NAME_LENGTH)
    spec = checked(data.get("spec"), "spec", _("规格单位"), max_length=SPEC_LENGTH)
    if not name:
        raise Invalid(_("商品名称不能为空。"), code="name_required")
    try:
        price = int(data.get("price"))
        low_stock = int(data.get("low_stock") or 0)
        position = int(data.get("position") or 0)
    except (TypeError, ValueError):
        raise Invalid(_("所需积分和库存提醒必须是整数。"), code="invalid_amount") from None
    if not 1 <= price <= MAX_PRICE:
        raise Invalid(_("所需积分应为 1 到 %(n)s 之间的整数。", n=MAX_PRICE), code="invalid_amount")
    if low_stock < 0:
        raise Invalid(_("库存提醒不能是负数。"), code="invalid_amount")
    return {
        "name": name,
        "spec": spec,
        "price": price,
        "low_stock": low_stock,
        "active": bool(data.get("active", True)),
        "position": position,
    }


def _same(text: str) -> str:
    """A name or unit as a person reads it: full-width and half-width alike, no case, no spaces."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


def _refuse_twin(session: Session, village_id: int, clean: dict, goods: Goods | None) -> None:
    """Refuse a second goods item with the same name and unit in the village (on the shelf or not):
    two of them would split one item's stock and price history across two rows."""
    name, spec = _same(clean["name"]), _same(clean["spec"])
    query = sa.select(Goods).where(Goods.village_id == village_id)
    if goods is not None:
        query = query.where(Goods.id != goods.id)
    for other in session.scalars(query):
        if _same(other.name) == name and _same(other.spec) == spec:
            where = _("（已下架，可以修改它重新上架）") if not other.active else ""
            label = f"{other.name} {other.spec}".strip()
            raise Invalid(
                _(
                    "商品名称：已有同名同规格的商品“%(goods)s”%(where)s，请修改那件商品，或换一个名称或规格单位。",
                    goods=label,
                    where=where,
                ),
                code="duplicate_goods",
                field="name",
            )


def save_goods(
    session: Session, village_id: int, data: dict, actor_id: int | None, goods: Goods | None = None
) -> Goods:
    """Create or edit goods. A price change is kept in the price history; past redemptions keep theirs.

    :raises Invalid: a field is wrong, or the village has goods of the same name and unit
        (``duplicate_goods``: case, width and spaces do not make two names different).
    """
    clean = _clean_goods(data)
    _refuse_twin(session, village_id, clean, goods)
    now = utcnow()
    if goods is None:
        goods = Goods(village_id=village_id, stock=0, **clean)
        session.add(goods)
        session.flush()
        session.add(PriceChange(goods_id=goods.id, price=goods.price, changed_at=now, changed_by=actor_id))
        record(session, "shop.goods.created", actor_id, goods, new=clean)
        return goods
    diff = audit_changes({k: getattr(goods, k) for k in GOODS_FIELDS}, clean)
    if diff["new"]:
        for key, value in diff["new"].items():
            setattr(goods, key, value)
        if "price" in diff["new"]:
            session.add(
                PriceChange(goods_id=goods.id, price=goods.price, changed_at=now, changed_by=actor_id)
            )
        record(session, "shop.goods.updated", actor_id, goods, **diff)
    return goods


def set_goods_photo(session: Session, goods: Goods, data, folder, actor_id: int | None) -> str:
    """Store a checked photo of the goods under a random name in ``folder``; the old photo goes.

    ``data`` is the upload's bytes, or the :class:`~pointsmart.images.CleanPhoto` a view made of them
    before its write transaction. Stored without EXIF: no GPS position or camera on a photo anyone
    can fetch.

    :raises PhotoRefused: not a JPEG/PNG/WebP image, too large, or too many pixels.
    """

    photo = data if isinstance(data, CleanPhoto) else clean_photo(data)
    data, info = photo.data, photo.info
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{info.extension}"
    (folder / name).write_bytes(data)
    old = goods.photo
    goods.photo = name
    if old:
        (folder / old).unlink(missing_ok=True)
    record(
        session,
        "shop.goods.photo",
        actor_id,
        goods,
        old={"photo": old},
        new={"photo": name},
        width=info.width,
        height=info.height,
    )
    return name


# --- stock ------------------------------------------------------------------------------------


def receive_stock(
    session: Session,
    goods: Goods,
    kind: MoveKind,
    qty: int,
    actor_id: int | None,
    *,
    donor: str = "",
    moved_on: date | None = None,
    funding_source: str = "",
    cost_fen: int | None = None,
    note: str = "",
) -> StockMove:
    """Goods in: a donation (with the donor) or a purchase (with the funding source and cost)."""
    if kind not in (MoveKind.DONATION, MoveKind.PURCHASE):
        raise Invalid(_("入库类型不对。"), code="bad_kind")
    if not isinstance(qty, int) or qty <= 0:
        raise Invalid(_("数量必须是正整数。"), code="invalid_qty")
    donor = checked(donor, "donor", _("捐赠人或单位"), max_length=DONOR_LENGTH)
    funding_source = checked(funding_source, "funding_source", _("经费来源"), max_length=FUNDING_LENGTH)
    note = checked(note, "note", _("备注"), max_length=MAX_NOTE, multiline=True)
    if kind == MoveKind.DONATION and not donor:
        raise Invalid(_("捐赠入库请填写捐赠人或捐赠单位。"), code="donor_required")
    if cost_fen is not None and cost_fen < 0:
        raise Invalid(_("金额不能是负数。"), code="invalid_amount")
    check_day(moved_on, "moved_on", _("日期"))  # a receipt dated next month would change today's stock
    refuse_day(session, moved_on, goods.village_id)  # a receipt dated in a closed month (月结)
    move = move_stock(
        session,
        goods,
        kind,
        qty,
        actor_id,
        donor=donor,
        moved_on=moved_on,
        funding_source=funding_source,
        cost_fen=cost_fen,
        note=note,
    )
    record(
        session,
        f"shop.stock.{kind}",
        actor_id,
        goods,
        qty=qty,
        donor=move.donor,
        funding_source=move.funding_source,
        cost_fen=cost_fen,
        stock_after=goods.stock,
    )
    return move


def record_loss(session: Session, goods: Goods, qty: int, note: str, actor_id: int | None) -> StockMove:
    """Goods out that were not redeemed: spoiled, broken, lost. A reason is required."""
    if not isinstance(qty, int) or qty <= 0:
        raise Invalid(_("数量必须是正整数。"), code="invalid_qty")
    note = checked(note, "note", _("损耗原因"), max_length=MAX_NOTE, multiline=True)
    if not note:
        raise Invalid(_("请填写损耗原因。"), code="reason_required")
    move = move_stock(session, goods, MoveKind.LOSS, -qty, actor_id, note=note)
    record(session, "shop.stock.loss", actor_id, goods, qty=qty, note=move.note, stock_after=goods.stock)
    return move


def _moved_after(session: Session, goods_id: int, day: date) -> int:
    """How much a goods item's stock has changed since ``day`` ended: its moves dated after it (a
    receipt or a count by the day written on it, any other move by the villages' day it was recorded,
    as the month figures count them)."""
    _, end = day_window(day)
    return session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(StockMove.qty), 0)).where(
            StockMove.goods_id == goods_id,
            sa.or_(
                StockMove.moved_on > day,
                sa.and_(StockMove.moved_on.is_(None), StockMove.created_at >= end),
            ),
        )
    )


def _later_counts(session: Session, village_id: int, counted_on: date, counts) -> dict[int, date]:
    """The day of the latest count after ``counted_on`` of each of the goods counted, if any."""
    ids = [goods_id for goods_id in counts if isinstance(goods_id, int)]
    return dict(
        session.execute(
            sa.select(StocktakeLine.goods_id, sa.func.max(Stocktake.counted_on))
            .join(Stocktake, StocktakeLine.stocktake_id == Stocktake.id)
            .where(
                Stocktake.village_id == village_id,
                Stocktake.counted_on > counted_on,
                StocktakeLine.goods_id.in_(ids),
            )
            .group_by(StocktakeLine.goods_id)
        ).all()
    )


def _refuse_before_later_count(goods: Goods, later: date, counted_on: date, recorded: int, counted: int):
    """A count dated before a later count of the same goods may only confirm the book of its day (a
    month's stocktake typed in after the next month's, say): a difference would change the stock the
    later count was set against, under its adjustment. Refused, naming the later count's day (not the
    "库存不足" a negative adjustment would otherwise meet).

    :raises Conflict: ``later_stocktake``, on the field ``counted_on``."""
    raise Conflict(
        _(
            "盘点日期：%(later)s 已经盘点过%(goods)s，早于那天的盘点（您填的是 %(day)s）只能和当天的账面"
            "一致（账面 %(recorded)s，您数的是 %(counted)s）。差异请记在 %(later)s 或以后的盘点里。",
            later=later.isoformat(),
            goods=goods.name,
            day=counted_on.isoformat(),
            recorded=recorded,
            counted=counted,
        ),
        code="later_stocktake",
        field="counted_on",
    )


def record_stocktake(
    session: Session,
    village_id: int,
    counted_on: date,
    counted_by: str,
    counts: dict[int, int],
    actor_id: int | None,
    note: str = "",
) -> Stocktake:
    """Record a count of the shelves; each difference from the recorded stock becomes a stock move.

    A count is set against the stock recorded at the end of its day (``counted_on``), and its
    adjustment is dated on that day: a count made on 30 November and typed in on 2 December adjusts
    November, which then ends at the count, whatever December has moved since.
    """
    counted_by = checked(counted_by, "counted_by", _("盘点人"), max_length=COUNTER_LENGTH)
    note = checked(note, "note", _("备注"), max_length=MAX_NOTE, multiline=True)
    if not counted_by:
        raise Invalid(_("请填写盘点人。"), code="counter_required")
    if not counts:
        raise Invalid(_("没有填写任何盘点数量。"), code="nothing_counted")
    check_day(counted_on, "counted_on", _("盘点日期"))  # a count in year 1 or 9999 sits in no month's ledger
    refuse_day(session, counted_on, village_id)  # a count dated in a closed month (月结)
    later = _later_counts(session, village_id, counted_on, counts)
    take = Stocktake(
        village_id=village_id,
        counted_on=counted_on,
        counted_by=counted_by,
        note=note,
        actor_id=actor_id,
        created_at=utcnow(),
    )
    session.add(take)
    session.flush()
    for goods_id in sorted(counts):
        counted = counts[goods_id]
        if not isinstance(counted, int) or counted < 0:
            raise Invalid(_("盘点数量必须是不小于 0 的整数。"), code="invalid_qty")
        get_goods(session, village_id, goods_id)  # 404 for goods of another village
        # lock the row and read its stock now: a loss or a redemption committed since the page was
        # loaded must not be counted twice
        goods = session.scalar(
            sa.select(Goods)
            .where(Goods.id == goods_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        # the book's stock on the day of the count: a count typed in days later is set against the stock
        # it was counted against, not against what was redeemed or received since
        recorded = goods.stock - _moved_after(session, goods.id, counted_on)
        if goods.id in later and counted != recorded:
            _refuse_before_later_count(goods, later[goods.id], counted_on, recorded, counted)
        session.add(
            StocktakeLine(stocktake_id=take.id, goods_id=goods.id, recorded=recorded, counted=counted)
        )
        if counted != recorded:
            move_stock(
                session,
                goods,
                MoveKind.STOCKTAKE,
                counted - recorded,
                actor_id,
                stocktake_id=take.id,
                moved_on=counted_on,  # the count's day: a count typed in later adjusts its own month
                note=_("盘点调整"),
            )
    session.flush()
    record(
        session,
        "shop.stocktake",
        actor_id,
        take,
        counted_by=take.counted_by,
        lines={str(g): c for g, c in counts.items()},
    )
    return take


def low_stock(session: Session, village_id: int) -> list[Goods]:
    return [g for g in list_goods(session, village_id, active_only=True) if g.stock <= g.low_stock]
