"""The page a family's QR card opens."""

from flask import Blueprint, Response, current_app, render_template

from ..cards import services as cards
from ..extensions import db, limiter
from ..ledger import services as ledger
from ..org.services import home_village
from ..shop.services import list_goods

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
        response = Response(
            render_template(
                "family/card.html",
                card=card,
                household=household,
                masked=cards.mask_name(household.head_name),
                history=history,
                goods=list_goods(db.session, household.village_id, active_only=True, in_stock=True),
                village=home_village(db.session),
            )
        )
    # the token is in the URL: never send it on as a referrer, never let a shared cache keep the page
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
