"""Who is at the counter: a scanned or typed card, or — when the family came without its card — the
household found by its head's name, its 户号 or the last four digits of its phone.

A card identifies a household by itself. A name, a 户号 or a phone tail does not: the counter lists
every match with the head's masked name (王*兰) and 户号, and the shopkeeper confirms with the family
before the basket opens. The basket still works on the household's active card, so a redemption is
the same one service call (:func:`pointsmart.shop.redemptions.redeem_once`) however the family was found.
"""

import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..cards import services as cards
from ..cards.models import Card, CardStatus
from ..errors import Invalid
from ..households.models import Household
from ..text import checked

#: more matches than this: the counter asks for more of the name instead of a long list
MAX_MATCHES = 20

_CARD_URL = re.compile(r"/c/[A-Za-z0-9_\-]{20,}")
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{20,}")
_SEPARATORS = re.compile(r"[\s\-－—_]")


@dataclass(frozen=True)
class Match:
    """A household that fits what was typed, as the counter shows it for confirmation."""

    household_id: int
    household_no: str
    masked_name: str
    group: str
    #: the household's active card, or None (then there is no basket until a card is issued)
    card_id: int | None
    #: what matched: ``name``, ``household_no`` or ``phone``
    by: str


@dataclass(frozen=True)
class Found:
    """What :func:`identify` found: a card (scanned or typed), or households to confirm."""

    card: Card | None = None
    matches: tuple[Match, ...] = ()
    #: more households matched than :data:`MAX_MATCHES`
    more: bool = False


#: the longest text the counter's field takes: a scanned card address — the county's (at most
#: ``settings.services.MAX_COUNTY_URL`` characters) + ``/c/`` + the token — with room to spare
MAX_QUERY = 400


def is_card(text: str) -> bool:
    """Whether what was typed is a card (an address, a token or a 9-digit number), not a name."""
    text = (text or "").strip()
    digits = _SEPARATORS.sub("", text)
    return bool(_CARD_URL.search(text) or _TOKEN.fullmatch(text) or re.fullmatch(r"\d{9}", digits))


def identify(session: Session, village_id: int, text) -> Found:
    """Find who is at the counter from what a scanner or a person typed into the counter's field.

    A card address, token or 9-digit card number finds the card (as :func:`cards.find_card`). Anything
    else is looked up among the village's active households: part of the head's name, the 户号 (with
    or without its dash), or four digits as the end of the phone number (or a 户号).

    :raises Invalid: nothing typed, or a character the text rule refuses (naming the field).
    :raises UnknownCard, CardRevoked: a card that is not this village's, or was revoked.
    """
    text = checked(text, "q", _("卡号、户主姓名、户号或手机尾号"), max_length=MAX_QUERY)
    if not text:
        raise Invalid(
            _("请扫描积分卡，或输入卡号、户主姓名、户号或手机尾号 4 位。"), code="q_required", field="q"
        )
    if is_card(text):
        return Found(card=cards.find_card(session, village_id, text))
    return _households(session, village_id, text)


def _households(session: Session, village_id: int, text: str) -> Found:
    squeezed = _SEPARATORS.sub("", text).casefold()
    number = sa.func.lower(sa.func.replace(sa.func.replace(Household.household_no, "-", ""), " ", ""))
    ways = [
        Household.head_name.contains(text, autoescape=True),
        number == squeezed,
    ]
    if re.fullmatch(r"\d{4}", squeezed):
        ways.append(Household.phone.endswith(squeezed, autoescape=True))
    rows = session.scalars(
        sa.select(Household)
        .where(Household.village_id == village_id, Household.active.is_(True), sa.or_(*ways))
        .order_by(Household.household_no, Household.id)
        .limit(MAX_MATCHES + 1)
    ).all()
    shown = rows[:MAX_MATCHES]
    card_of = dict(
        session.execute(
            sa.select(Card.household_id, Card.id).where(
                Card.household_id.in_([h.id for h in shown]), Card.status == CardStatus.ACTIVE
            )
        ).all()
    )
    matches = tuple(
        Match(
            household_id=h.id,
            household_no=h.household_no,
            masked_name=cards.mask_name(h.head_name),
            group=h.group,
            card_id=card_of.get(h.id),
            by=_why(h, text, squeezed),
        )
        for h in shown
    )
    return Found(matches=matches, more=len(rows) > MAX_MATCHES)


def _why(household: Household, text: str, squeezed: str) -> str:
    if _SEPARATORS.sub("", household.household_no).casefold() == squeezed:
        return "household_no"
    if text in household.head_name:
        return "name"
    return "phone"
