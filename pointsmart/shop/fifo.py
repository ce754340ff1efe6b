"""First in, first out: where each intake of a goods item went.

Pure functions of stock moves, no database: each goods item's intakes (donations, purchases, a
stocktake surplus) are lots; outflows take from the oldest lot with goods left (:func:`allocate_fifo`).
A cancellation puts the goods back into the lots its redemption took them from. Stock value is what the
goods on the shelf cost: each lot still on the shelf at its purchase's unit cost.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from .models import (
    MoveKind,
)


@dataclass(frozen=True)
class Move:
    """One stock move as the allocation needs it (``qty`` positive in, negative out)."""

    id: int
    kind: str
    qty: int
    donor: str = ""
    cost_fen: int | None = None
    redemption_id: int | None = None


@dataclass
class Lot:
    """An intake and what has become of it."""

    move_id: int
    #: donation, purchase, or stocktake / cancellation for goods that turned up without an intake
    kind: str
    donor: str
    cost_fen: int | None
    qty: int
    redeemed: int = 0
    lost: int = 0
    #: gone in a stocktake shortage (盘亏)
    counted_out: int = 0
    #: redemption id → units of this lot that redemption holds (a cancellation gives them back)
    takes: dict[int, int] = field(default_factory=dict)

    @property
    def on_shelf(self) -> int:
        return self.qty - self.redeemed - self.lost - self.counted_out

    @property
    def other_out(self) -> int:
        return self.lost + self.counted_out


@dataclass
class Allocation:
    lots: list[Lot]
    #: units that went out with no lot left to take them from (never, while stock cannot go below zero)
    unallocated: int = 0

    @property
    def on_shelf(self) -> int:
        return sum(lot.on_shelf for lot in self.lots)


def allocate_fifo(moves: Iterable[Move]) -> Allocation:
    """Allocate one goods item's outflows to its intakes, oldest intake first.

    Donations and purchases open a lot. A redemption, a loss and a stocktake shortage take from the
    oldest lots that still have goods on the shelf. A cancellation gives its redemption's units back
    to the lots they were taken from (the newest lot first); more than that redemption took, or a
    stocktake surplus, opens a lot of its own with no donor and no cost. Moves are taken in id order.
    """
    lots: list[Lot] = []
    unallocated = 0

    def take(qty: int, kind: str, redemption_id: int | None) -> int:
        for lot in lots:
            if qty == 0:
                break
            n = min(qty, lot.on_shelf)
            if n <= 0:
                continue
            if kind == MoveKind.REDEMPTION:
                lot.redeemed += n
                if redemption_id is not None:
                    lot.takes[redemption_id] = lot.takes.get(redemption_id, 0) + n
            elif kind == MoveKind.LOSS:
                lot.lost += n
            else:
                lot.counted_out += n
            qty -= n
        return qty

    def give_back(qty: int, redemption_id: int | None) -> int:
        if redemption_id is None:
            return qty
        for lot in reversed(lots):
            n = min(qty, lot.takes.get(redemption_id, 0))
            if n <= 0:
                continue
            lot.redeemed -= n
            lot.takes[redemption_id] -= n
            if not lot.takes[redemption_id]:
                del lot.takes[redemption_id]
            qty -= n
            if qty == 0:
                break
        return qty

    for move in sorted(moves, key=lambda m: m.id):
        if move.qty < 0:
            unallocated += take(-move.qty, move.kind, move.redemption_id)
            continue
        left = move.qty
        if move.kind == MoveKind.CANCELLATION:
            left = give_back(left, move.redemption_id)
        if left > 0:
            intake = move.kind in (MoveKind.DONATION, MoveKind.PURCHASE)
            lots.append(
                Lot(
                    move.id,
                    move.kind,
                    move.donor if intake else "",
                    move.cost_fen if move.kind == MoveKind.PURCHASE else None,
                    left,
                )
            )
    return Allocation(lots, unallocated)


def stock_value(allocation: Allocation) -> tuple[int, int, int]:
    """``(value in fen, donated units on the shelf, purchased units on the shelf without a price)``.

    Purchased lots count at their unit cost; donations and surpluses at 0.
    """
    value = donated = unpriced = 0
    for lot in allocation.lots:
        if lot.kind == MoveKind.PURCHASE:
            if lot.cost_fen is None:
                unpriced += lot.on_shelf
            else:
                value += lot.on_shelf * lot.cost_fen
        elif lot.kind == MoveKind.DONATION:
            donated += lot.on_shelf
    return value, donated, unpriced
