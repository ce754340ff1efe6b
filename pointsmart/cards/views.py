"""Card pages: issue, revoke and reissue; printable sheets; QR images. The family's page is in
:mod:`pointsmart.family`."""

import base64
import re

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.access import role_required
from ..auth.models import Role
from ..errors import DomainError
from ..extensions import db
from ..households.models import Household
from ..households.services import get_household, groups
from ..org.services import home_village
from ..qr import qr_png, qr_svg
from ..settings.services import county_link
from ..unit import write
from . import services
from .models import Card, CardStatus

bp = Blueprint("cards", __name__)

SHOP_STAFF = (Role.CHAIR, Role.SHOPKEEPER)


def _card(card_id: int) -> Card:
    card = db.session.get(Card, card_id)
    if card is None or card.household.village_id != g.village.id:
        abort(404)
    return card


def _household(household_id: int) -> Household:
    household = get_household(db.session, household_id)
    if household.village_id != g.village.id:
        abort(404)
    return household


@bp.app_template_global()
def active_card_of(household_id: int) -> Card | None:
    """The household's card, for pages of the packages below cards (the household page) that show it
    without importing cards."""
    return services.active_card(db.session, household_id)


def base_url() -> str:
    """The address printed in QR codes.

    The county's public address once the village has one (its sync settings): the card then opens
    the family's page at home, through the county, and the counter reads it all the same
    (:data:`services.TOKEN_IN_URL`). Before that ``POINTSMART_BASE_URL`` when the village set it, else
    the one this page was asked on (a server started on another port or another machine's name prints
    its own address, never a default that leads nowhere). A card printed before the county was set up
    keeps working at the village; printed again, it carries the county's address with the same token.
    """
    return county_url() or current_app.config.get("POINTSMART_BASE_URL") or request.host_url


def county_url() -> str:
    """The county's address from the village's sync settings, or ""."""
    return county_link(db.session, current_app.config).url


def _url(card: Card) -> str:
    return services.card_url(base_url(), card)


#: at most this many cards in one print request (a village has up to ~1,000 households)
MAX_PRINT = 2000


_ID_OR_RANGE = re.compile(r"([0-9]{1,9})(?:-([0-9]{1,9}))?")


def _card_ids(values: list[str]) -> list[int]:
    """Card ids from a query (``card=1&card=2``, ``issued=1,2`` or a batch ``issued=121-424``): digits
    only, at most MAX_PRINT in all (a range counts every id in it, however wide it is written)."""
    ids: list[int] = []
    for part in (x for v in values for x in v.split(",")):
        found = _ID_OR_RANGE.fullmatch(part)
        if found is None:
            continue
        first = int(found[1])
        last = int(found[2]) if found[2] else first
        ids.extend(range(first, min(last, first + MAX_PRINT - len(ids) - 1) + 1))
        if len(ids) >= MAX_PRINT:
            break
    return ids[:MAX_PRINT]


def _batch(cards) -> str | None:
    """A batch of cards just issued, for a query: ``first-last`` (issue-all writes them in one
    transaction, so their ids follow each other; the page keeps only those still active here)."""
    ids = [c.id for c in cards]
    return f"{min(ids)}-{max(ids)}" if ids else None


def _svg_data_uri(card: Card) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(_url(card))).decode()


@bp.get("/cards")
@role_required(Role.CHAIR)
def index():
    group = request.args.get("group", "")
    query = sa.select(Household).where(Household.village_id == g.village.id, Household.active.is_(True))
    if group:
        query = query.where(Household.group == group)
    households = db.session.scalars(query.order_by(Household.household_no)).all()
    active = {
        c.household_id: c
        for c in db.session.scalars(
            sa.select(Card).where(
                Card.status == CardStatus.ACTIVE, Card.household_id.in_([h.id for h in households])
            )
        )
    }
    active_ids = {c.id for c in active.values()}
    issued = [i for i in _card_ids(request.args.getlist("issued")) if i in active_ids]
    issued_ids = set(issued)
    return render_template(
        "cards/index.html",
        households=households,
        cards=active,
        group=group,
        groups=groups(db.session, g.village.id),
        issued=issued,
        issued_batch=_batch([c for c in active.values() if c.id in issued_ids]),
        county_url=county_url(),
    )


@bp.post("/cards/issue-all")
@role_required(Role.CHAIR)
def issue_all():
    with write():
        issued = services.issue_all(db.session, g.village.id, current_user.id)
    flash(_("已为 %(n)s 户发卡。", n=len(issued)), "success")
    # the page then offers to print exactly these: the cards just issued
    return redirect(url_for("cards.index", issued=_batch(issued)))


@bp.post("/cards/households/<int:household_id>/issue")
@role_required(Role.CHAIR)
def issue(household_id: int):
    household = _household(household_id)
    reason = request.form.get("reason", "")
    try:
        with write():
            card = (
                services.reissue_card(db.session, household, reason, current_user.id)
                if reason
                else services.issue_card(db.session, household, current_user.id)
            )
    except DomainError as err:
        flash(err.message, "error")
        return redirect(url_for("cards.index"))
    flash(_("已为 %(no)s 发卡，卡号 %(n)s。", no=household.household_no, n=card.number_display), "success")
    return redirect(url_for("cards.show", card_id=card.id))


@bp.post("/cards/<int:card_id>/revoke")
@role_required(Role.CHAIR)
def revoke(card_id: int):
    card = _card(card_id)
    try:
        with write():
            services.revoke_card(db.session, card, request.form.get("reason", ""), current_user.id)
    except DomainError as err:
        flash(err.message, "error")
    else:
        flash(_("卡 %(n)s 已作废。", n=card.number_display), "success")
    return redirect(url_for("cards.index"))


@bp.get("/cards/sheet")
@role_required(Role.CHAIR)
def sheet():
    """A4 sheets of cards to print and cut: 8 a page, with cut marks."""
    group = request.args.get("group", "")
    ids = _card_ids(request.args.getlist("card"))
    if "card" in request.args and not ids:  # "print selected" with nothing ticked: not every card
        flash(_("请先勾选要打印的卡。"), "error")
        return redirect(url_for("cards.index", group=group or None))
    query = (
        sa.select(Card)
        .join(Household)
        .where(Household.village_id == g.village.id, Card.status == CardStatus.ACTIVE)
    )
    if ids:
        query = query.where(Card.id.in_(ids))
    if group:
        query = query.where(Household.group == group)
    cards = db.session.scalars(query.order_by(Household.household_no)).all()
    return render_template(
        "cards/sheet.html", cards=[(c, _svg_data_uri(c)) for c in cards], village=home_village(db.session)
    )


@bp.get("/cards/<int:card_id>")
@role_required(*SHOP_STAFF)
def show(card_id: int):
    card = _card(card_id)
    # a revoked card's page never looks like a card: no QR code, 已作废 across it
    qr = _svg_data_uri(card) if card.active else None
    return render_template(
        "cards/sheet.html",
        cards=[(card, qr)],
        village=home_village(db.session),
        single=True,
        replacement=None if card.active else services.active_card(db.session, card.household_id),
    )


@bp.get("/cards/<int:card_id>/qr.<any(png, svg):fmt>")
@role_required(*SHOP_STAFF)
def qr(card_id: int, fmt: str):
    card = _card(card_id)
    if not card.active:
        abort(404)  # a revoked card's QR would still open the family page's "invalid card": never print it
    if fmt == "png":
        body, mimetype = qr_png(_url(card)), "image/png"
    else:
        body, mimetype = qr_svg(_url(card)), "image/svg+xml"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'inline; filename="card-{card.number}.{fmt}"'
    return response
