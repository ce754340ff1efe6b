"""What the family's page says about its points: descriptions meant for the family.

A transfer's ``reason`` is written by whoever made it. A round's award (``2026-10 环境卫生·庭院整洁``)
and a redemption (``兑换：洗衣粉×1``) are worded by the system and say what happened; but a chair's
adjustment or a shopkeeper's correction carries their own note (``拿错了``, ``照顾一下``), which is for
the staff and the audit, never for the family. Those show as what they are: 临时奖励, 兑换更正 …
"""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..ledger.models import Transfer, TransferKind


def shelf_order(goods) -> tuple:
    """The one order of a family's 货架, on the village's card page and the county's alike: by points,
    then name (compared here, not by the database's collation, which differs between SQLite and
    PostgreSQL), then the goods' uuid, which both hold. The shop's own 排序 is not synced to the county,
    so the shelf does not follow it; with no 排序 set the shop's pages list goods in this order too."""
    return (goods.price, goods.name, goods.uuid)


@dataclass
class FamilyLine:
    when: datetime
    text: str
    #: signed: positive when points came in
    points: int


def _corrected(kind: str | None) -> str:
    if kind == TransferKind.REDEMPTION:
        return _("兑换更正")
    if kind in (TransferKind.AWARD, TransferKind.DEDUCTION):
        return _("评定更正")
    if kind == TransferKind.ADJUSTMENT:
        return _("积分调整更正")
    return _("积分更正")


def describe(kind: str, reason: str, points: int, reversed_kind: str | None, opening: bool) -> str:
    """What the family reads for one movement of its points, from what both the village's ledger and the
    county's synced copy hold: the kind, the system's wording, the sign, the kind a reversal undoes,
    and whether it carried over a paper card's balance."""
    if kind in (TransferKind.AWARD, TransferKind.DEDUCTION, TransferKind.REDEMPTION) and reason:
        return reason  # worded by the system: the round's item, the goods taken
    if kind == TransferKind.AWARD:
        return _("评定得分")
    if kind == TransferKind.DEDUCTION:
        return _("评定扣分")
    if kind == TransferKind.REDEMPTION:
        return _("兑换商品")
    if kind == TransferKind.ADJUSTMENT:
        if opening:  # a paper card's balance carried over
            return _("原积分卡余额结转")
        return _("临时奖励") if points > 0 else _("扣分")
    if kind == TransferKind.REVERSAL:
        return _corrected(reversed_kind)
    if kind == TransferKind.EXPIRY:
        return _("积分过期")
    return _("积分变动")


def _described(transfer: Transfer, points: int, reversed_kind: str | None) -> str:
    opening = bool(transfer.ref and transfer.ref.endswith(":opening"))
    return describe(transfer.kind, transfer.reason, points, reversed_kind, opening)


def family_lines(session: Session, history: list[tuple[Transfer, int]]) -> list[FamilyLine]:
    """The family's view of ``(transfer, signed points)`` items (:func:`ledger.services.history`): when,
    what — never a staff member's own note — and how many points."""
    originals = [t.reverses_id for t, _points in history if t.kind == TransferKind.REVERSAL and t.reverses_id]
    kinds: dict[int, str] = {}
    if originals:
        for transfer_id, kind in session.execute(
            sa.select(Transfer.id, Transfer.kind).where(Transfer.id.in_(originals))
        ):
            kinds[transfer_id] = kind
    return [
        FamilyLine(t.created_at, _described(t, points, kinds.get(t.reverses_id)), points)
        for t, points in history
    ]
