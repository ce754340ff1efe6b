"""The page a family's QR card opens."""

from flask import Blueprint, Response, current_app, render_template

from ..cards import services as cards
from ..clock import utcnow
from ..extensions import db, limiter
from ..ledger import services as ledger
from ..org.services import home_village
from ..scoring.reports import public_rounds
from ..settings.expiry import expiring_soon
from ..shop.services import list_goods
from .services import family_lines

bp = Blueprint("family", __name__)


def _family_limit() -> str:
    return current_app.config["POINTSMART_CARD_PAGE_LIMIT"]


@bp.get("/c/<token>")
@limiter.limit(_family_limit)
def card(token: str):
    """The family's own card page: look, never spend. Unknown and revoked cards get the same answer."""
    card = cards.card_by_token(db.session, token)
    if card is None:
        response = Response(render_template("family/unknown.html"), status=404)
    else:
        household = card.household
        history = ledger.history(db.session, household.account_id, 1, 10).items
        balance = household.balance
        goods = list_goods(db.session, household.village_id, active_only=True, in_stock=True)
        response = Response(
            render_template(
                "family/card.html",
                card=card,
                household=household,
                masked=cards.mask_name(household.head_name),
                balance=balance,
                expiring=expiring_soon(db.session, household.account_id),
                lines=family_lines(db.session, history),
                goods=goods,
                affordable={g.id for g in goods if g.price <= balance},
                village=home_village(db.session),
                # the latest notice, opened on this household's own row (the notice masks nothing more)
                notice=next(iter(public_rounds(db.session, household.village_id, utcnow())), None),
            )
        )
    # the token is in the URL: never send it on as a referrer, never let a shared cache keep the page
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
