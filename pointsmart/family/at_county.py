"""The family's card page at the county, from what the card's village has synced.

A card's QR code holds ``<county>/c/<token>`` once its village has a county (see
:func:`pointsmart.cards.services.card_url`), so a family at home — beyond the village's LAN — reaches
its page through the county's public address. The county never holds a token: it hashes the one it is
shown (:func:`pointsmart.cards.services.token_digest`) and looks for an *active* synced card with that
hash. A card revoked or reissued at the village stops here as soon as the village has pushed again;
until then the page says how old its data is ("数据截至 …", the village's last sync).

What the page shows is what the village's own family page shows, computed from the projections:
the balance (the household's synced transfers), the ten latest movements worded for the family
(:func:`pointsmart.family.services.describe`), the goods on the shelf (active, with stock from the
synced stock moves), the points about to expire (the ledger's replay of the synced transfers under
the village's synced year-end rule), the latest public notice with this household's line, and the
honour roll of the latest year. Names of other households are masked as the card's own name is: the
county's page is on the internet, the village's notice board is not. Nothing here writes.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..cards.services import mask_name, token_digest
from ..county.models import (
    SyncedCard,
    SyncedGoods,
    SyncedHousehold,
    SyncedPointsRule,
    SyncedRound,
    SyncedRoundResult,
    SyncedStockMove,
    SyncedTransfer,
    VillageLink,
)
from ..county.opening import is_opening
from ..ledger.expiry import Move
from ..org.models import Village
from ..scoring.models import RoundStatus
from ..scoring.reports import HONOUR_SIZE, RECENT_DAYS, period_label
from ..settings.expiry import Expiring, Rule, expiring_of
from .services import FamilyLine, describe, shelf_order

#: movements shown, as on the village's page
RECENT_LINES = 10

HOUSEHOLD = "household"


@dataclass(frozen=True)
class ShelfGoods:
    uuid: str
    name: str
    spec: str
    price: int


@dataclass(frozen=True)
class NoticeLine:
    """The latest public round and this household's line on it (None: the household did not score).

    A round's results reach the county only when it is finalised (they are written then, and sent with
    it: :func:`pointsmart.scoring.finalisation.finalise_round`); the scores under notice stay in the
    village. So a round on notice has no line here, and :attr:`at_village` says so — the page sends the
    family to the village's notice instead of saying it scored nothing.
    """

    round: SyncedRound
    #: ``2026年11月 月评定``, as the village labels its rounds
    label: str
    awarded: int | None
    deducted: int | None

    @property
    def scored(self) -> int | None:
        return None if self.awarded is None else self.awarded - self.deducted

    @property
    def at_village(self) -> bool:
        """The round is on notice: its scores are on the village's notice board, not at the county."""
        return self.round.status == RoundStatus.NOTICE


@dataclass(frozen=True)
class HonourLine:
    rank: int
    masked: str
    household_no: str
    points: int
    #: the card's own household
    ours: bool


@dataclass(frozen=True)
class CountyFamilyPage:
    village: Village
    household: SyncedHousehold
    masked: str
    balance: int
    #: points that expire within a month, under the village's synced year-end rule
    expiring: list[Expiring]
    lines: list[FamilyLine]
    goods: list[ShelfGoods]
    affordable: set[str]
    notice: NoticeLine | None
    honour_year: int | None
    honour: list[HonourLine]
    #: when the village last pushed: the page's data is as of then
    synced_at: datetime | None
    #: the village server's LAN address its last push gave, or "": claims are made and followed there
    village_url: str = ""


def card_of_token(session: Session, token: str) -> SyncedCard | None:
    """The active synced card of a token, or None — unknown, revoked and ambiguous look the same.

    Two villages can only send the same hash if one of them knows the other's token; then neither
    is shown (a village's key writes only its own rows, never one that answers for another's card).
    """
    found = session.scalars(
        sa.select(SyncedCard)
        .where(SyncedCard.token_digest == token_digest(token), SyncedCard.status == "active")
        .limit(2)
    ).all()
    return found[0] if len(found) == 1 else None


def family_page(session: Session, token: str, now: datetime) -> CountyFamilyPage | None:
    """The family page of a token's card, or None when no active card of a synced village has it."""
    card = card_of_token(session, token)
    if card is None:
        return None
    v = card.village_id
    household = session.scalar(
        sa.select(SyncedHousehold).where(
            SyncedHousehold.village_id == v, SyncedHousehold.uuid == card.household_uuid
        )
    )
    if household is None:  # no village sends a card before its household; be safe all the same
        return None
    village = session.get(Village, v)
    link = session.get(VillageLink, v)
    balance = household_balance(session, v, household.uuid)
    goods = shelf(session, v)
    year, honour = honour_roll(session, v, household.uuid)
    return CountyFamilyPage(
        village=village,
        household=household,
        masked=mask_name(household.head_name),
        balance=balance,
        expiring=expiring(session, v, household.uuid, now),
        lines=recent_lines(session, v, household.uuid),
        goods=goods,
        affordable={g.uuid for g in goods if g.price <= balance},
        notice=latest_notice(session, v, household.uuid, now),
        honour_year=year,
        honour=honour,
        synced_at=link.last_sync_at if link else None,
        village_url=link.village_url if link else "",
    )


def household_balance(session: Session, village_id: int, household_uuid: str) -> int:
    """The household's balance: what its synced transfers brought in less what they took out."""
    t = SyncedTransfer
    total = session.scalar(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((t.to_kind == HOUSEHOLD, t.amount), else_=-t.amount)), 0)
        ).where(t.village_id == village_id, t.household_uuid == household_uuid)
    )
    return int(total)  # PostgreSQL sums BIGINT into NUMERIC: back to whole points


#: the account ids a household's synced transfers are replayed with (:func:`expiring`)
_HOUSEHOLD_ACCOUNT, _OTHER_ACCOUNT = 1, 0


def expiring(session: Session, village_id: int, household_uuid: str, now: datetime) -> list[Expiring]:
    """The household's points that expire within a month, as the village's page says it: the village's
    synced rule history and the household's synced transfers, replayed by the ledger's own replay."""
    p = SyncedPointsRule
    rules = [
        Rule(*row)
        for row in session.execute(
            sa.select(p.rule, p.months, p.since).where(p.village_id == village_id).order_by(p.since, p.id)
        )
    ]
    if all(r.rule == "keep" for r in rules):
        return []
    t = SyncedTransfer
    rows = session.execute(
        sa.select(t.id, t.uuid, t.to_kind, t.amount, t.kind, t.reverses_uuid, t.created_at)
        .where(t.village_id == village_id, t.household_uuid == household_uuid)
        .order_by(t.id)
    ).all()
    ids = {row.uuid: row.id for row in rows}
    moves = [
        Move(
            row.id,
            _OTHER_ACCOUNT if row.to_kind == HOUSEHOLD else _HOUSEHOLD_ACCOUNT,
            _HOUSEHOLD_ACCOUNT if row.to_kind == HOUSEHOLD else _OTHER_ACCOUNT,
            row.amount,
            row.kind,
            ids.get(row.reverses_uuid),
            row.created_at,
        )
        for row in rows
    ]
    return expiring_of(rules, _HOUSEHOLD_ACCOUNT, moves, now)


def recent_lines(session: Session, village_id: int, household_uuid: str) -> list[FamilyLine]:
    """The household's latest movements, worded for the family as the village words them."""
    t = SyncedTransfer
    rows = session.scalars(
        sa.select(t)
        .where(t.village_id == village_id, t.household_uuid == household_uuid)
        .order_by(t.created_at.desc(), t.id.desc())
        .limit(RECENT_LINES)
    ).all()
    undone = {r.reverses_uuid for r in rows if r.kind == "reversal" and r.reverses_uuid}
    kinds = dict(
        session.execute(sa.select(t.uuid, t.kind).where(t.village_id == village_id, t.uuid.in_(undone))).all()
        if undone
        else []
    )
    lines = []
    for r in rows:
        points = r.amount if r.to_kind == HOUSEHOLD else -r.amount
        opening = is_opening(r.kind, r.from_kind, r.to_kind, r.reason)
        text = describe(r.kind, r.reason, points, kinds.get(r.reverses_uuid), opening)
        lines.append(FamilyLine(r.created_at, text, points))
    return lines


def shelf(session: Session, village_id: int) -> list[ShelfGoods]:
    """The village's goods on sale and in stock (stock: the sum of the synced stock moves)."""
    g, m = SyncedGoods, SyncedStockMove
    stock = (
        sa.select(m.goods_uuid, sa.func.sum(m.qty).label("qty"))
        .where(m.village_id == village_id)
        .group_by(m.goods_uuid)
        .subquery()
    )
    rows = session.execute(
        sa.select(g.uuid, g.name, g.spec, g.price)
        .join(stock, stock.c.goods_uuid == g.uuid)
        .where(g.village_id == village_id, g.active.is_(True), stock.c.qty > 0)
    ).all()
    return sorted((ShelfGoods(*row) for row in rows), key=shelf_order)


def latest_notice(session: Session, village_id: int, household_uuid: str, now: datetime) -> NoticeLine | None:
    """The latest round on notice, or finalised in the last :data:`RECENT_DAYS` days, with this
    household's result (as the village's page opens the latest notice on the household's row)."""
    r = SyncedRound
    found = session.scalar(
        sa.select(r)
        .where(
            r.village_id == village_id,
            sa.or_(
                r.status == RoundStatus.NOTICE,
                sa.and_(
                    r.status == RoundStatus.FINALISED, r.finalised_at >= now - timedelta(days=RECENT_DAYS)
                ),
            ),
        )
        .order_by(r.published_at.desc().nulls_last(), r.id.desc())
        .limit(1)
    )
    if found is None:
        return None
    result = session.scalar(
        sa.select(SyncedRoundResult).where(
            SyncedRoundResult.village_id == village_id,
            SyncedRoundResult.round_uuid == found.uuid,
            SyncedRoundResult.household_uuid == household_uuid,
        )
    )
    label = _label(found)
    if result is None:
        return NoticeLine(found, label, None, None)
    return NoticeLine(found, label, result.awarded, result.deducted)


def honour_roll(
    session: Session, village_id: int, household_uuid: str
) -> tuple[int | None, list[HonourLine]]:
    """The latest year's honour roll: households by points from the year's finalised rounds (what each
    round posted: scored, plus the deductions a balance could not cover), equal points sharing a rank,
    the first :data:`HONOUR_SIZE` ranks, names masked."""
    r, res, h = SyncedRound, SyncedRoundResult, SyncedHousehold
    keys = session.scalars(
        sa.select(r.period_key).where(r.village_id == village_id, r.status == RoundStatus.FINALISED)
    ).all()
    years = sorted({int(k[:4]) for k in keys if k[:4].isdigit()}, reverse=True)
    if not years:
        return None, []
    year = years[0]
    rows = session.execute(
        sa.select(res.household_uuid, res.awarded - res.deducted + res.shortfall)
        .join(r, sa.and_(r.village_id == res.village_id, r.uuid == res.round_uuid))
        .where(
            res.village_id == village_id,
            r.status == RoundStatus.FINALISED,
            r.period_key.startswith(str(year), autoescape=True),
        )
    ).all()
    totals: dict[str, int] = defaultdict(int)
    for uuid, points in rows:
        totals[uuid] += int(points)
    scored = [u for u, points in totals.items() if points > 0]
    if not scored:
        return year, []
    households = session.scalars(sa.select(h).where(h.village_id == village_id, h.uuid.in_(scored))).all()
    ranked = sorted(households, key=lambda x: (-totals[x.uuid], x.household_no))
    lines: list[HonourLine] = []
    for position, x in enumerate(ranked, start=1):
        points = totals[x.uuid]
        rank = lines[-1].rank if lines and lines[-1].points == points else position
        if rank > HONOUR_SIZE:
            break
        lines.append(
            HonourLine(rank, mask_name(x.head_name), x.household_no, points, x.uuid == household_uuid)
        )
    return year, lines


@dataclass(frozen=True)
class VillageHonour:
    """A village's honour roll as the county rebuilds it (:func:`honour_roll`): its latest year."""

    village: Village
    year: int | None
    lines: list[HonourLine]


def village_honour_rolls(session: Session) -> list[VillageHonour]:
    """Every village's honour roll of its latest year, from what it synced, by village code: the
    county's ``/honour`` (the county's own village tables are empty). Names masked as on the card page."""
    finalised = sa.select(SyncedRound.village_id).where(SyncedRound.status == RoundStatus.FINALISED)
    villages = session.scalars(sa.select(Village).where(Village.id.in_(finalised)).order_by(Village.code))
    found = []
    for village in villages:
        year, lines = honour_roll(session, village.id, "")
        found.append(VillageHonour(village, year, lines))
    return found


@dataclass(frozen=True)
class VillageNotice:
    """A village's round on public notice, as the county knows it: the round, never its scores."""

    village: Village
    round: SyncedRound
    label: str
    #: the village's LAN address (its notice board online), or "" when its pushes never said
    village_url: str


def rounds_on_notice(session: Session) -> list[VillageNotice]:
    """Every village's rounds on notice, by village: the county's ``/notice``. The scores under notice
    stay in the village until the round is finalised (:class:`NoticeLine`), so each line only says
    where to read them."""
    r = SyncedRound
    rows = session.execute(
        sa.select(Village, r, VillageLink.village_url)
        .join(r, r.village_id == Village.id)
        .outerjoin(VillageLink, VillageLink.village_id == Village.id)
        .where(r.status == RoundStatus.NOTICE)
        .order_by(Village.code, r.published_at.desc().nulls_last(), r.id.desc())
    ).all()
    return [VillageNotice(village, found, _label(found), url or "") for village, found, url in rows]


def _label(found: SyncedRound) -> str:
    try:
        return period_label(found)
    except ValueError:  # a cadence this version does not know (a newer village): the key says enough
        return found.period_key
