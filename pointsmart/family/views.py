"""The page a family's QR card opens: at the village from its own data, at the county from synced data.

Both answer the same path, ``/c/<token>``, under the same rules — one rate limit per address, unknown
and revoked cards alike, the token never sent on as a referrer, no shared cache keeping the page —
written once here (:func:`_family_response`), whichever server answers.
"""

from flask import Blueprint, Response, current_app, render_template

from ..auth.access import county_mode
from ..cards import services as cards
from ..clock import utcnow
from ..extensions import db, limiter
from ..ledger import services as ledger
from ..org.services import home_village
from ..scoring.models import STATUS_LABELS
from ..scoring.reports import public_rounds
from ..settings.expiry import expiring_soon
from ..shop.services import list_goods
from . import at_county
from .at_county import family_page
from .services import family_lines, shelf_order

bp = Blueprint("family", __name__)


def _family_limit() -> str:
    return current_app.config["POINTSMART_CARD_PAGE_LIMIT"]


def _family_response(body: str | None) -> Response:
    """The page, or the one answer for every card that is not (or no longer) valid; and the headers
    every family page carries: the token is in the URL, so it is never sent on as a referrer, and a
    shared cache (a phone's, a proxy's) never keeps the page."""
    response = (
        Response(render_template("family/unknown.html"), status=404) if body is None else Response(body)
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def unknown_card() -> Response:
    """The answer to every address under ``/c/`` that is no card we serve — an unknown or revoked
    token, and as well a token no card could have (a NUL, a bidi control, 10,000 characters), more
    path after it (``/c/a/b``), an unknown card's claim pages: the same page and headers whatever was
    asked, so a malformed address tells nothing an unknown one does not (``handlers`` sends every 404
    under ``/c/`` here)."""
    return _family_response(None)


@bp.get("/c/<token>")
@limiter.limit(_family_limit)
def card(token: str):
    """The family's own card page: look, never spend. Unknown and revoked cards get the same answer."""
    return _family_response(_county_page(token) if county_mode() else _village_page(token))


def _village_page(token: str) -> str | None:
    card = cards.card_by_token(db.session, token)
    if card is None:
        return None
    household = card.household
    history = ledger.history(db.session, household.account_id, 1, 10).items
    balance = household.balance
    goods = sorted(
        list_goods(db.session, household.village_id, active_only=True, in_stock=True), key=shelf_order
    )
    return render_template(
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


def _county_page(token: str) -> str | None:
    page = family_page(db.session, token, utcnow())
    if page is None:
        return None
    return render_template(
        "family/county_card.html",
        page=page,
        token=token,
        status_labels=STATUS_LABELS,
    )


# --- the public pages a county serves in the village's place (wired by the app factory) ---------------


def county_notices():
    """``/notice`` at a county: every village's rounds on notice, and where to read their scores — the
    village's own board (the county gets a round's scores only once it is finalised)."""
    return render_template("public/county_notices.html", notices=at_county.rounds_on_notice(db.session))


def county_honour():
    """``/honour`` at a county: each village's roll of its latest year, from what it synced, names
    masked as on the card page."""
    return render_template("public/county_honour.html", rolls=at_county.village_honour_rolls(db.session))
