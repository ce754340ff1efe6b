"""Issue, revoke and find cards; render their QR codes. Functions flush, never commit."""

import functools
import hashlib
import hmac
import re
import secrets

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session, joinedload

from ..audit.services import record
from ..clock import utcnow
from ..errors import Conflict, DomainError, Invalid
from ..households.models import Household
from ..text import checked
from .models import Card, CardStatus


class CardError(DomainError):
    code = "card_error"
    status = 409


class UnknownCard(CardError):
    code = "unknown_card"
    status = 404


class CardRevoked(CardError):
    code = "card_revoked"
    status = 409


def luhn_digit(digits: str) -> str:
    """The Luhn check digit of a string of digits (catches any single typo and most swaps)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def valid_number(number: str) -> bool:
    return bool(re.fullmatch(r"\d{9}", number)) and luhn_digit(number[:-1]) == number[-1]


def _new_number(session: Session) -> str:
    while True:
        body = f"{secrets.randbelow(90_000_000) + 10_000_000}"
        number = body + luhn_digit(body)
        if session.scalar(sa.select(Card.id).where(Card.number == number)) is None:
            return number


def card_url(base_url: str, card: Card) -> str:
    """The address a card's QR code holds: ``<base>/c/<token>``.

    The village prints its county's public address as the base once it has one, and its own address
    before that; both servers answer the same path (the county from synced data, see
    :func:`token_digest`), and the counter reads the token from either (:data:`TOKEN_IN_URL`).
    """
    return f"{base_url.rstrip('/')}/c/{card.token}"


#: the key of :func:`token_digest`: fixed and public, on purpose (see there). A new key is a new
#: version of the card record: every card would have to be sent to the county again.
TOKEN_DIGEST_KEY = b"pointsmart card token v1"


def token_digest(token: str) -> str:
    """What the county keeps of a card's token, to recognise it: HMAC-SHA256 under a fixed key, in hex.

    The county must recognise a token it is shown (``/c/<token>`` at its public address) and must
    never hold one. Whatever key it hashed with, it would have to hold as well, to hash the token in
    a request: so a secret "card key" shared between village and county would sit in the county's
    database beside the hashes and keep nothing from anyone who had that database; and it would be
    one more secret to hand over, rotate and lose (a new key would stop every card at the county until
    each was sent again). What makes a hash impossible to turn back is the token itself: 256 random
    bits from :mod:`secrets` (:func:`issue_card`), which no one can search, key or no key. The fixed
    key only sets this hash apart from any other use of SHA-256 on the same text.

    The migration that sent the cards issued before it (0013) computes the same value with ``hmac``.
    """
    return hmac.new(TOKEN_DIGEST_KEY, token.encode(), hashlib.sha256).hexdigest()


def active_card(session: Session, household_id: int) -> Card | None:
    return session.scalar(
        sa.select(Card).where(Card.household_id == household_id, Card.status == CardStatus.ACTIVE)
    )


def issue_card(session: Session, household: Household, actor_id: int | None) -> Card:
    """Give a household its card.

    :raises Conflict: the household has an active card already (revoke it to reissue).
    """
    if not household.active:
        raise Conflict(_("该户已停用，不能发卡。"), code="household_inactive")
    if active_card(session, household.id) is not None:
        raise Conflict(_("%(no)s 已经有一张有效的积分卡。", no=household.household_no), code="card_exists")
    card = Card(
        household_id=household.id,
        token=secrets.token_urlsafe(32),
        number=_new_number(session),
        status=CardStatus.ACTIVE,
        issued_by=actor_id,
        issued_at=utcnow(),
    )
    session.add(card)
    session.flush()
    record(session, "cards.card.issued", actor_id, card, household=household.household_no, number=card.number)
    return card


def issue_all(session: Session, village_id: int, actor_id: int | None) -> list[Card]:
    """Issue a card to every active household that has none."""
    without = session.scalars(
        sa.select(Household)
        .where(
            Household.village_id == village_id,
            Household.active.is_(True),
            ~sa.exists().where(Card.household_id == Household.id, Card.status == CardStatus.ACTIVE),
        )
        .order_by(Household.household_no)
    ).all()
    return [issue_card(session, household, actor_id) for household in without]


#: the longest reason a revocation keeps (the column's size)
MAX_REASON = 200


def revoke_card(session: Session, card: Card, reason: str, actor_id: int | None) -> None:
    """Revoke a card (lost, damaged); a new one can then be issued with a new token.

    A family whose card stops working will ask why, and so will an auditor: the reason is required.

    :raises CardRevoked: the card was revoked already.
    :raises Invalid: no reason given, or one over 200 characters (code ``reason_required``).
    """
    if card.status != CardStatus.ACTIVE:
        raise CardRevoked(_("这张卡已经作废了。"))
    reason = checked(reason, "reason", _("作废原因"), max_length=MAX_REASON, multiline=True)
    if not reason:
        raise Invalid(
            _("请填写作废原因（不超过 %(n)s 字），如 丢失、损坏。", n=MAX_REASON),
            code="reason_required",
            field="reason",
        )
    card.status, card.revoked_by, card.revoked_at = CardStatus.REVOKED, actor_id, utcnow()
    card.revoke_reason = reason
    record(session, "cards.card.revoked", actor_id, card, number=card.number, reason=card.revoke_reason)


def reissue_card(session: Session, household: Household, reason: str, actor_id: int | None) -> Card:
    """Revoke the household's active card (if any) and issue a new one."""
    old = active_card(session, household.id)
    if old is not None:
        revoke_card(session, old, reason or _("补办新卡"), actor_id)
        session.flush()
    return issue_card(session, household, actor_id)


TOKEN_IN_URL = re.compile(r"/c/([A-Za-z0-9_\-]{20,})")


@functools.cache
def _card_query(by: str):
    """A card with its household, by ``token``, ``number`` or ``id``: built once (the counter looks cards
    up all day), on first use (building it configures the mappers, which needs every model imported)."""
    return (
        sa.select(Card).options(joinedload(Card.household)).where(getattr(Card, by) == sa.bindparam("value"))
    )


def find_card(session: Session, village_id: int, text: str) -> Card:
    """Find a card by what a scanner or a person typed: a card URL, a token, or the card number.

    The card comes with its household, in one query.

    :raises UnknownCard: nothing matches (or a mistyped number: its check digit is wrong).
    :raises CardRevoked: the card was revoked.
    """
    text = (text or "").strip()
    match = TOKEN_IN_URL.search(text)
    digits = re.sub(r"[\s\-]", "", text)
    if match:
        card = session.scalar(_card_query("token"), {"value": match.group(1)})
    elif digits.isdigit():
        if not valid_number(digits):
            raise UnknownCard(_("卡号 %(n)s 不对，请核对后重输。", n=text))
        card = session.scalar(_card_query("number"), {"value": digits})
    else:
        card = session.scalar(_card_query("token"), {"value": text}) if text else None
    return _usable(card, village_id)


def card_by_id(session: Session, village_id: int, card_id: int) -> Card:
    """The village's active card of an id (the counter's basket page), with its household, in one query.

    :raises UnknownCard: no such card in this village.
    :raises CardRevoked: the card was revoked.
    """
    return _usable(session.scalar(_card_query("id"), {"value": card_id}), village_id)


def _usable(card: Card | None, village_id: int) -> Card:
    if card is None or card.household.village_id != village_id:
        raise UnknownCard(_("没有找到这张积分卡。"))
    if card.status != CardStatus.ACTIVE:
        raise CardRevoked(_("这张积分卡已作废（%(no)s），请使用新卡。", no=card.household.household_no))
    return card


def card_by_token(session: Session, token: str) -> Card | None:
    """The active card of a token, or None (unknown and revoked look the same to the public)."""
    card = session.scalar(sa.select(Card).where(Card.token == token))
    return card if card is not None and card.active else None


def mask_name(name: str) -> str:
    """王秀兰 → 王*兰, 李四 → 李*, 欧阳春梅 → 欧**梅: enough to recognise one's own card, no more."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
