"""The kinds of record the change log carries, and how each tracked row becomes a payload.

A payload names other records by their uuid, never by a local id, and leaves out what the county
has no need to hold (phone numbers, addresses). A new kind slots in by adding a serializer here and
its projection at the county (:mod:`pointsmart.county.wire_types`, :mod:`pointsmart.county.projection`).
"""

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth.models import User
from ..cards.models import Card
from ..cards.services import token_digest
from ..changes import KNOWN
from ..households.models import Household
from ..ids import derived_uuid
from ..ledger.models import Account, Transfer
from ..months.models import MonthClose
from ..scoring.models import Category, Criterion, NoticePhoto, RoundCriterion, ScorePhoto, ScoringRound
from ..scoring.score_photos import score_photo_uuid
from ..settings.models import OpeningDays, PointsRule
from ..settings.opening_days import from_mask
from ..shop.models import Goods, Redemption, RedemptionLine, StockMove
from .wire import when


class Lookups:
    """Caches the uuids and account codes that payloads refer to, for one commit."""

    def __init__(self, session: Session):
        self.session = session
        known = session.info.get(KNOWN) or {}
        #: seeded with what the services read already (``changes.known_account``, ``known_uuid``)
        self._accounts: dict[int, str] = dict(known.get("accounts", {}))
        self._uuids: dict[tuple[type, int], str] = dict(known.get("uuids", {}))
        self._times: dict = {}

    def account(self, account_id: int) -> str:
        code = self._accounts.get(account_id)
        if code is None:
            loaded = self.session.identity_map.get(
                sa.inspect(Account).identity_key_from_primary_key((account_id,))
            )
            if loaded is not None and "code" in loaded.__dict__:
                code = loaded.code
            else:
                code = self.session.scalar(sa.select(Account.code).where(Account.id == account_id))
            self._accounts[account_id] = code
        return code

    def accounts(self, ids) -> None:
        missing = set(ids) - self._accounts.keys()
        if missing:
            rows = self.session.execute(sa.select(Account.id, Account.code).where(Account.id.in_(missing)))
            self._accounts.update({account_id: code for account_id, code in rows})

    def when(self, value):
        """:func:`wire.when`, remembered: a bulk posting stamps thousands of rows with one time."""
        text = self._times.get(value)
        if text is None:
            text = self._times[value] = when(value)
        return text

    def prefetch(self, model, ids) -> None:
        """Look up many rows' uuids in one query (the bulk paths refer to thousands at once)."""
        missing = [i for i in set(ids) if i is not None and (model, i) not in self._uuids]
        for start in range(0, len(missing), 10_000):
            part = missing[start : start + 10_000]
            for row_id, value in self.session.execute(
                sa.select(model.id, model.uuid).where(model.id.in_(part))
            ):
                self._uuids[model, row_id] = value

    def uuid(self, model, row_id: int | None) -> str | None:
        if row_id is None:
            return None
        key = (model, row_id)
        value = self._uuids.get(key)
        if value is None:
            # the row is often in the session already (just written or read): then no query at all
            loaded = self.session.identity_map.get(sa.inspect(model).identity_key_from_primary_key((row_id,)))
            if loaded is not None and "uuid" in loaded.__dict__:
                value = loaded.uuid
            else:
                value = self.session.scalar(sa.select(model.uuid).where(model.id == row_id))
            self._uuids[key] = value
        return value


def household(h: Household, _look: Lookups) -> dict:
    return {
        "household_no": h.household_no,
        "head_name": h.head_name,
        "group": h.group,
        "members": h.members,
        "active": h.active,
        "created_at": when(h.created_at),
    }


def card_uuid(card_id: int) -> str:
    """A card's global id, derived from its row (a card row has no uuid of its own): the id a
    redemption's record names its card by, so the county can tell which card was used."""
    return derived_uuid("card", str(card_id))


def card(c: Card, look: Lookups) -> dict:
    """A card as the county needs it to open the family's page: never its token, nor its number.

    ``token_digest`` lets the county recognise the token in a scanned address
    (:func:`pointsmart.cards.services.token_digest`); the status is what a revocation changes, so a
    revoked (or reissued: revoked, and a new card) card stops at the county with the next sync. The
    revocation's reason is the staff's note and stays in the village.
    """
    return {
        "household": look.uuid(Household, c.household_id),
        "token_digest": token_digest(c.token),
        "status": str(c.status),
        "issued_at": when(c.issued_at),
        "revoked_at": when(c.revoked_at),
    }


def category(c: Category, _look: Lookups) -> dict:
    return {"name": c.name, "position": c.position, "active": c.active}


def criterion(c: Criterion, look: Lookups) -> dict:
    return {
        "category": look.uuid(Category, c.category_id),
        "name": c.name,
        "points": c.points,
        "cadence": c.cadence,
        "max_per_period": c.max_per_period,
        "active": c.active,
    }


def scoring_round(r: ScoringRound, look: Lookups) -> dict:
    photos = look.session.scalar(sa.select(sa.func.count(NoticePhoto.id)).where(NoticePhoto.round_id == r.id))
    return {
        "period_type": r.period_type,
        "period_key": r.period_key,
        "scope": r.scope,
        "status": r.status,
        "created_at": when(r.created_at),
        "notice_ends_at": when(r.notice_ends_at),
        "finalised_at": when(r.finalised_at),
        # for the county's notice check: when the notice went up, the village's notice days as the
        # round took them from its settings, and how many photos of the posted notice it has (an
        # upload or a deletion sends the round again: :mod:`pointsmart.scoring.notice_photos`)
        "published_at": when(r.published_at),
        "notice_days": r.notice_days,
        "notice_photos": photos,
    }


def transfer(t: Transfer, look: Lookups) -> dict:
    return transfer_row(
        {
            "uuid": t.uuid,
            "from_account_id": t.from_account_id,
            "to_account_id": t.to_account_id,
            "amount": t.amount,
            "kind": t.kind,
            "reason": t.reason,
            "created_at": t.created_at,
            "reverses": look.uuid(Transfer, t.reverses_id),
        },
        look,
    )


def transfer_row(row: dict, look: Lookups) -> dict:
    """A transfer's payload from the row the ledger's bulk path inserted (or :func:`transfer` built)."""
    return {
        "from": look.account(row["from_account_id"]),
        "to": look.account(row["to_account_id"]),
        "amount": row["amount"],
        "kind": str(row["kind"]),
        "reason": row.get("reason") or "",
        "reverses": row.get("reverses"),
        #: the rulebook category of a round's award or deduction, for the county's points by category
        "category": row.get("category"),
        "created_at": look.when(row["created_at"]),
    }


def round_result(row: dict, look: Lookups) -> dict:
    return {
        "round": look.uuid(ScoringRound, row["round_id"]),
        "household": look.uuid(Household, row["household_id"]),
        "awarded": row["awarded"],
        "deducted": row["deducted"],
        "shortfall": row["shortfall"],
    }


def goods(g: Goods, _look: Lookups) -> dict:
    return {"name": g.name, "spec": g.spec, "price": g.price, "active": g.active}


def stock_move(m: StockMove, look: Lookups) -> dict:
    return {
        "goods": look.uuid(Goods, m.goods_id),
        "kind": m.kind,
        "qty": m.qty,
        "donor": m.donor,
        "moved_on": when(m.moved_on),
        "redemption": look.uuid(Redemption, m.redemption_id),
        "created_at": when(m.created_at),
    }


def redemption(r: Redemption, look: Lookups) -> dict:
    if "lines" in r.__dict__:  # loaded, or set by the redemption that just made them: no query
        lines = [(x.goods_id, x.goods_name, x.qty, x.unit_price) for x in r.lines]
    else:
        lines = look.session.execute(
            sa.select(
                RedemptionLine.goods_id, RedemptionLine.goods_name, RedemptionLine.qty,
                RedemptionLine.unit_price,
            )
            .where(RedemptionLine.redemption_id == r.id)
            .order_by(RedemptionLine.id)
        )  # fmt: skip
    return {
        "household": look.uuid(Household, r.household_id),
        # who served at the counter and which card, as ids derived from the village's own row ids: the
        # county tells two counters (and two cards) apart without a name, a card number or its token
        "operator": None if r.operator_id is None else derived_uuid("operator", str(r.operator_id)),
        "card": None if r.card_id is None else card_uuid(r.card_id),
        "points": r.points,
        "status": r.status,
        "created_at": when(r.created_at),
        "cancelled_at": when(r.cancelled_at),
        "lines": [
            {"goods": look.uuid(Goods, goods_id), "goods_name": name, "qty": qty, "unit_price": price}
            for goods_id, name, qty, price in lines
        ],
    }


def points_rule(p: PointsRule, _look: Lookups) -> dict:
    """One choice of the year-end rule (rows are appended, never edited: the county keeps the history)."""
    return {"rule": p.rule, "months": p.months, "since": when(p.since), "created_at": when(p.created_at)}


def opening_days(o: OpeningDays, _look: Lookups) -> dict:
    """One choice of the shop's opening days as ISO weekdays (empty: not set); appended, never edited."""
    return {"days": list(from_mask(o.days)), "created_at": when(o.created_at)}


def month_close(c: MonthClose, look: Lookups) -> dict:
    """A closed month (月结): the sha256 of its figures, when, and who — an id derived from the user's
    row, and the name the village shows for them (the closer signs the month's books, which the county
    inspects, as the chair who published a notice is named on it; never a log-in name or a phone).
    The county rebuilds the figures from what it holds and compares (:mod:`pointsmart.closing.figures`)."""
    name = (
        None
        if c.closed_by is None
        else look.session.scalar(sa.select(User.display_name).where(User.id == c.closed_by))
    )
    return {
        "month": c.month,
        "sha256": c.sha256,
        "closed_at": when(c.closed_at),
        "closed_by": None if c.closed_by is None else derived_uuid("operator", str(c.closed_by)),
        "closed_by_name": name or None,
    }


def score_photo(p: ScorePhoto, look: Lookups) -> dict:
    """A score photo's metadata (打分佐证照片, since 0018): never the image, never its file's name.

    The county lists it in its photos ledger; the sha256 and the byte size of the stored file let a
    reviewer check a copy the village hands over. Deleting a photo sends it once more, ``deleted``.
    """
    return score_photo_row(
        {"id": p.id, "round_id": p.round_id, "household_id": p.household_id,
         "round_criterion_id": p.round_criterion_id, "stage": p.stage, "uploaded_at": p.uploaded_at,
         "public": p.public, "sha256": p.sha256, "size": p.size, "deleted": False},
        look,
    )  # fmt: skip


def score_photo_row(row: dict, look: Lookups) -> dict:
    """The payload of a score photo from its row's values (the live row, or a deleted one's)."""
    criterion_id = name = None
    if row["round_criterion_id"] is not None:
        criterion_id, name = look.session.execute(
            sa.select(RoundCriterion.criterion_id, RoundCriterion.name).where(
                RoundCriterion.id == row["round_criterion_id"]
            )
        ).one()
    return {
        "round": look.uuid(ScoringRound, row["round_id"]),
        "household": look.uuid(Household, row["household_id"]),
        "criterion": look.uuid(Criterion, criterion_id),
        "criterion_name": name,
        "stage": str(row["stage"]),
        "taken_at": look.when(row["uploaded_at"]),
        "public": row["public"],
        "sha256": row["sha256"],
        "size": row["size"],
        "deleted": row["deleted"],
    }


Serializer = Callable[[object, Lookups], dict]

#: tracked model → (kind, serializer); the outbox records every new or changed row of these
MODELS: dict[type, tuple[str, Serializer]] = {
    Household: ("household", household),
    Card: ("card", card),
    Category: ("category", category),
    Criterion: ("criterion", criterion),
    ScoringRound: ("round", scoring_round),
    Transfer: ("transfer", transfer),
    Goods: ("goods", goods),
    StockMove: ("stock_move", stock_move),
    Redemption: ("redemption", redemption),
    PointsRule: ("points_rule", points_rule),
    OpeningDays: ("opening_days", opening_days),
    MonthClose: ("month_close", month_close),
    ScorePhoto: ("score_photo", score_photo),
}


def uuid_of(obj) -> str:
    """The global id of a tracked row: its ``uuid``, or for a card or a score photo the id derived from
    its row."""
    if isinstance(obj, Card):
        return card_uuid(obj.id)
    if isinstance(obj, ScorePhoto):
        return score_photo_uuid(obj.id)
    return obj.uuid


@dataclass(frozen=True)
class BulkKind:
    """How rows inserted in bulk (``changes.bulk``) become records."""

    serialize: Callable[[dict, Lookups], dict]
    uuid_of: Callable[[dict, Lookups], str]
    #: looks up, in a few queries, what the rows refer to
    prefetch: Callable[[list[dict], Lookups], None]


def _prefetch_transfers(rows: list[dict], look: Lookups) -> None:
    look.accounts({r["from_account_id"] for r in rows} | {r["to_account_id"] for r in rows})


def _prefetch_results(rows: list[dict], look: Lookups) -> None:
    look.prefetch(ScoringRound, {r["round_id"] for r in rows})
    look.prefetch(Household, {r["household_id"] for r in rows})


BULK: dict[str, BulkKind] = {
    "transfer": BulkKind(transfer_row, lambda row, _look: row["uuid"], _prefetch_transfers),
    "round_result": BulkKind(
        round_result,
        lambda row, look: derived_uuid(
            look.uuid(ScoringRound, row["round_id"]), look.uuid(Household, row["household_id"])
        ),
        _prefetch_results,
    ),
    #: a deleted score photo (:func:`pointsmart.scoring.score_photos.delete_photo`): its last state
    "score_photo": BulkKind(score_photo_row, lambda row, _look: score_photo_uuid(row["id"]), lambda *_: None),
}

#: every kind, in the order the county applies them within a batch (things before what refers to them)
KINDS = ("household", "card", "category", "criterion", "goods", "round", "round_result", "transfer",
         "stock_move", "redemption", "points_rule", "opening_days", "month_close", "score_photo")  # fmt: skip
