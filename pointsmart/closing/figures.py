"""A month's figures: what a closed month freezes and the county rebuilds from its synced records.

:func:`month_figures` reads the village's own tables; :func:`county_month_figures` reads the county's
copies of what the village sent (:mod:`pointsmart.county.models`). Both build the same structure from
the same facts, so a month's :func:`digest` is the same on both sides unless a record differs:

.. code-block:: text

    {"version": 2, "village": "<12-digit code>", "month": "2026-11",
     "points": {"issued", "redeemed", "deducted", "expired", "transfers"},     # net, transfers in the month
     "by_category": {"<rulebook category>": {"awarded", "deducted"}},       # a round's postings in the month
     "goods": {"<goods uuid>": {"opening", "donated", "purchased", "stocktake", "loss", "given_out",
                                 "stock"}},
     "rounds": [{"uuid", "period", "scope", "state": "finalised" | "carried"}],   # the month book's rounds
     "households_scored": n,                     # households with a result in those finalised by as_of
     "redemptions": {"made", "cancelled"}}       # redemptions made / cancelled in the month (counts)

Every figure counts what happened in the village's month (its calendar, :mod:`pointsmart.periods`):
a transfer or a stock move by the time it was recorded, so a correction made later counts in the month
it was made — except a receipt of goods, which counts on the day written on it (``moved_on``, as the
爱心榜 traces it; a receipt dated in a closed month is refused). ``opening`` is each goods item's stock
at the month's start and ``stock`` at its end, by the same days (version 2; version 1 had no
``opening``). Only goods with a move in the month or stock at its end are listed. The rounds are
those of the month's book (:func:`pointsmart.book.month_rounds`; at the county
:func:`pointsmart.county.month_figures.book_rounds`): a round belongs to the month its period ends (a
quarter: its third month; a half-year: its sixth) unless a close carried it on, to the month after its
last carry — so the rounds counted and the households they scored are the same month's. A round is
``finalised`` when it was finalised by the time the month closed (``as_of``) and ``carried`` otherwise
(an open month's unfinished round). Version 1 took a month's rounds by their period alone, a carried
one listed as ``carried`` in the month it left and not in the month it went to; a month closed then is
checked in that form (:func:`earlier_version`). Names that can be edited later (goods, households)
are left out: the figures name goods by uuid, and categories by the name a posting carried.
"""

import hashlib
import json
from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..clock import utcnow
from ..periods import local, read_period

#: 2 since each goods item's stock at the month's start (``opening``) was added; a month closed before
#: keeps its version-1 figures (:func:`earlier_version` rebuilds them)
VERSION = 2
#: a goods item's figures (``opening`` since version 2)
GOODS_FIGURES = ("opening", "donated", "purchased", "stocktake", "loss", "given_out", "stock")
#: the transfers' kinds a round posts (they carry the rulebook category)
_ROUND_KINDS = ("award", "deduction")
_SYSTEMS = ("issuance", "shop", "deductions", "expiry")
_NAMES = {"issuance": "issued", "shop": "redeemed", "deductions": "deducted", "expiry": "expired"}


def canonical(figures: dict) -> bytes:
    """The figures' canonical bytes: the form that is hashed and stored."""
    return json.dumps(figures, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def digest(figures: dict) -> str:
    """sha256 (hex) of :func:`canonical`."""
    return hashlib.sha256(canonical(figures)).hexdigest()


class Figures(dict):
    """A month's figures (the dict that is hashed), with what version 1 counted of its rounds beside
    them (:attr:`version1`, never hashed with them): :func:`earlier_version` needs it."""

    #: ``{"rounds", "households_scored"}`` by version 1's rule (a round's own period); None: unknown
    version1: dict | None = None


def earlier_version(figures: dict) -> dict:
    """The same figures as version 1 built them (no ``opening``; the rounds by their own period): how
    a month closed before version 2 is checked against a rebuild."""
    goods = {u: {k: v for k, v in row.items() if k != "opening"} for u, row in figures["goods"].items()}
    return {**figures, "version": 1, "goods": goods, **(getattr(figures, "version1", None) or {})}


def rebuilt_digest(figures: dict, frozen: str | None) -> str:
    """The digest of rebuilt ``figures`` to set beside a close's ``frozen`` one: of the figures as built,
    or of their :func:`earlier_version` when that is what the month was closed with (a month closed
    before version 2 is checked in its own version, not reported as differing)."""
    found = digest(figures)
    if frozen and found != frozen and digest(earlier_version(figures)) == frozen:
        return frozen
    return found


def round_period_keys(month: str) -> tuple[str, ...]:
    """The period keys whose rounds belong to ``month``: the month, and the quarter / half-year it ends."""
    year, number = month[:4], int(month[5:])
    keys = [month]
    if number % 3 == 0:
        keys.append(f"{year}-Q{number // 3}")
    if number % 6 == 0:
        keys.append(f"{year}-H{number // 6}")
    return tuple(keys)


def month_moves(rows, month: str):
    """``(goods_uuid, kind, qty, in_month)`` of the stock moves up to the end of ``month``, each in the
    month of its day: the day on the paper for a receipt (``moved_on``, which a closed month refuses),
    else the villages' day it was recorded. ``rows`` are ``(goods_uuid, kind, qty, created_at,
    moved_on)`` — the village's own and the county's synced ones alike."""
    period = read_period(month)
    for goods_uuid, kind, qty, created_at, moved_on in rows:
        day = moved_on or local(created_at).date()
        if day < period.end:
            yield goods_uuid, kind, qty, day >= period.start


def month_utc_window(month: str) -> tuple[datetime, datetime]:
    """The stored (UTC) times from the start of ``month`` (``2026-11``) to the start of the next.

    :raises ValueError: not a month.
    """
    period = read_period(month)
    if period is None or period.kind != "month":
        raise ValueError(month)
    return period.utc_window()


class Builder:
    """The shared arithmetic of :func:`month_figures` and the county's rebuild
    (:func:`pointsmart.county.month_figures.county_month_figures`): both feed it the same facts."""

    def __init__(self, village_code: str, month: str):
        self.village_code, self.month = village_code, month
        self.points = dict.fromkeys(("issued", "redeemed", "deducted", "expired", "transfers"), 0)
        self.by_category: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self.goods: dict[str, dict[str, int]] = {}
        self.rounds: list[dict] = []
        self.households_scored = 0
        #: the rounds by their own period and the households they scored: version 1's rule
        self.period_rounds: list[dict] = []
        self.period_households_scored = 0
        self.redemptions = {"made": 0, "cancelled": 0}

    def transfer(self, kind: str, amount: int, from_kind: str, to_kind: str, category: str | None) -> None:
        self.points["transfers"] += 1
        for system in _SYSTEMS:
            sign = -1 if system == "issuance" else 1  # issuance gives points out; the others take them in
            if to_kind == system:
                self.points[_NAMES[system]] += sign * amount
            elif from_kind == system:
                self.points[_NAMES[system]] -= sign * amount
        if category and kind in _ROUND_KINDS:
            self.by_category[category][0 if kind == "award" else 1] += amount

    def stock(self, goods_uuid: str, kind: str, qty: int, in_month: bool) -> None:
        row = self.goods.setdefault(goods_uuid, dict.fromkeys(GOODS_FIGURES, 0))
        row["stock"] += qty
        if not in_month:
            row["opening"] += qty
            return
        if kind == "donation":
            row["donated"] += qty
        elif kind == "purchase":
            row["purchased"] += qty
        elif kind == "stocktake":
            row["stocktake"] += qty
        elif kind == "loss":
            row["loss"] -= qty
        elif kind in ("redemption", "cancellation"):
            row["given_out"] -= qty

    def result(self, moved: set[str]) -> Figures:
        goods = {u: row for u, row in self.goods.items() if u in moved or row["stock"] != 0}
        found = Figures({
            "version": VERSION,
            "village": self.village_code,
            "month": self.month,
            "points": self.points,
            "by_category": {c: {"awarded": a, "deducted": d} for c, (a, d) in self.by_category.items()},
            "goods": goods,
            "rounds": _sorted_rounds(self.rounds),
            "households_scored": self.households_scored,
            "redemptions": self.redemptions,
        })  # fmt: skip
        found.version1 = {
            "rounds": _sorted_rounds(self.period_rounds),
            "households_scored": self.period_households_scored,
        }
        return found


def _sorted_rounds(rounds: list[dict]) -> list[dict]:
    return sorted(rounds, key=lambda r: (r["period"], r["scope"], r["uuid"]))


def round_entry(uuid: str, period: str, scope: str, finalised_at: datetime | None, as_of: datetime) -> dict:
    """A round's entry in the figures: ``finalised`` if it was finalised by ``as_of``, else ``carried``."""
    state = "finalised" if finalised_at is not None and finalised_at <= as_of else "carried"
    return {"uuid": uuid, "period": period, "scope": scope or "", "state": state}


def round_entries(rounds, as_of: datetime) -> tuple[list[dict], list]:
    """The figures' entries of ``rounds`` (``(key, uuid, period, scope, finalised_at)``) and the keys of
    those finalised by ``as_of``."""
    entries, finalised = [], []
    for key, uuid, period, scope, finalised_at in rounds:
        entry = round_entry(uuid, period, scope, finalised_at, as_of)
        entries.append(entry)
        if entry["state"] == "finalised":
            finalised.append(key)
    return entries, finalised


def month_figures(session: Session, village_id: int, month: str, as_of: datetime | None = None) -> dict:
    """The village's figures of ``month`` from its own tables (see the module's description).

    ``as_of`` decides whether a round of the month counts as finalised: the month's closing time when
    it is closed (so a closed month's figures read the same for ever), else now.
    """
    from ..book import month_rounds
    from ..households.models import Household
    from ..ledger.models import Account, Transfer
    from ..months.guard import close_of
    from ..org.models import Village
    from ..scoring.models import RoundResult, ScoringRound
    from ..shop.models import Goods, Redemption, StockMove
    from ..sync.models import ChangeRecord

    if as_of is None:
        close = close_of(session, village_id, month)
        as_of = close.closed_at if close is not None else utcnow()
    start, end = month_utc_window(month)
    code = session.scalar(sa.select(Village.code).where(Village.id == village_id))
    figures = Builder(code, month)

    source, target = sa.orm.aliased(Account), sa.orm.aliased(Account)
    transfers = session.execute(
        sa.select(Transfer.uuid, Transfer.kind, Transfer.amount, source.kind, target.kind)
        .join(source, source.id == Transfer.from_account_id)
        .join(target, target.id == Transfer.to_account_id)
        .where(Transfer.created_at >= start, Transfer.created_at < end)
    ).all()
    # a round's posting carries its rulebook category only in the change log (the ledger keeps none)
    posted = [uuid for uuid, kind, *_rest in transfers if kind in _ROUND_KINDS]
    categories: dict[str, str | None] = {}
    for part in range(0, len(posted), 5_000):
        chunk = posted[part : part + 5_000]
        for uuid, payload in session.execute(
            sa.select(ChangeRecord.uuid, ChangeRecord.payload).where(
                ChangeRecord.kind == "transfer", ChangeRecord.uuid.in_(chunk)
            )
        ):
            categories[uuid] = json.loads(payload).get("category")
    for uuid, kind, amount, from_kind, to_kind in transfers:
        figures.transfer(kind, amount, from_kind, to_kind, categories.get(uuid))

    moved: set[str] = set()
    for goods_uuid, kind, qty, in_month in month_moves(
        session.execute(
            sa.select(Goods.uuid, StockMove.kind, StockMove.qty, StockMove.created_at, StockMove.moved_on)
            .join(Goods, Goods.id == StockMove.goods_id)
            .where(Goods.village_id == village_id)
        ),
        month,
    ):
        if in_month:
            moved.add(goods_uuid)
        figures.stock(goods_uuid, kind, qty, in_month)

    def scored(round_ids: list[int]) -> int:
        if not round_ids:
            return 0
        return session.scalar(
            sa.select(sa.func.count(sa.distinct(Household.uuid)))
            .join(RoundResult, RoundResult.household_id == Household.id)
            .where(RoundResult.round_id.in_(round_ids))
        )

    book_rounds = [
        (r.id, r.uuid, r.period_key, r.scope, r.finalised_at)
        for r in month_rounds(session, village_id, read_period(month))
    ]
    period_rounds = session.execute(
        sa.select(ScoringRound.id, ScoringRound.uuid, ScoringRound.period_key, ScoringRound.scope,
                  ScoringRound.finalised_at)
        .where(ScoringRound.village_id == village_id, ScoringRound.period_key.in_(round_period_keys(month)))
    ).all()  # fmt: skip
    figures.rounds, finalised = round_entries(book_rounds, as_of)
    figures.households_scored = scored(finalised)
    figures.period_rounds, finalised = round_entries(period_rounds, as_of)
    figures.period_households_scored = scored(finalised)
    made = (Redemption.created_at >= start) & (Redemption.created_at < end)
    cancelled = (Redemption.cancelled_at >= start) & (Redemption.cancelled_at < end)
    counts = session.execute(
        sa.select(
            sa.func.count().filter(made), sa.func.count().filter(cancelled)
        ).where(Redemption.village_id == village_id)
    ).one()  # fmt: skip
    figures.redemptions = {"made": counts[0], "cancelled": counts[1]}
    return figures.result(moved)
