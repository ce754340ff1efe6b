"""The village's accounts in public (三务公开): each closed month's figures, for everyone, no log-in.

Only a closed month is shown, and its numbers are the figures frozen at its close
(:attr:`.models.MonthClose.figures`), never recounted: points issued by rulebook category, points
redeemed, goods received (donated / bought) and given out, the stock at the month's start (figures
frozen before it was kept show none) and the stock left, and the two hashes (of the
figures and of the month's book) so that anyone can check a printed poster against the page, and
the figures themselves (``/accounts/<month>.json``) against the hash. Goods are named by looking up the
frozen figures' goods uuids. Each donor's gift of the month and where it went is the 爱心榜's trace
(:func:`pointsmart.shop.registers.trace_donations`) of the stock moves dated by the month's end (a
receipt by the day written on it, as the figures count it), which a closed month no longer changes.
The month's rounds are counted as its book counts them (:func:`pointsmart.book.month_rounds`): a round
carried out of a month is in the book of the month after its last carry. No household is named and no
balance shown: the figures hold none, and the donors are named as on the public 爱心榜.

The county's copy of a village's closed month (:func:`county_month`) is built by the same code
(:func:`build_accounts`) from the figures the county rebuilt and the synced goods' names, and shown by the
same template partial (``accounts/_figures.html``); only the donors are left to the village's page.

The page prints as an A4 wall poster with the hash and the page's address.
"""

import json
import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, request, url_for
from sqlalchemy.orm import Session

from .. import book
from ..auth.access import county_mode
from ..county.closes import CountyMonth
from ..county.month_book import CountyBook, county_book
from ..county.public_accounts import closed_months as county_closed_months
from ..county.public_accounts import village_by_code, villages_with_closes
from ..extensions import db
from ..months.guard import close_of, closed_at_or_after, month_label
from ..months.models import MonthClose
from ..org.services import home_village
from ..periods import Period, read_period, refuse_month_to_come, today
from ..shop import registers
from ..shop.models import Goods

bp = Blueprint("accounts", __name__, url_prefix="/accounts")

#: a month in an address: exactly ``2026-11`` (anything else names nothing: 404)
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


@dataclass
class GoodsLine:
    name: str
    #: stock at the month's start; None in figures frozen before it was kept (version 1)
    opening: int | None
    donated: int
    purchased: int
    given_out: int
    #: losses and stocktake differences together (signed: a surplus adds)
    other: int
    stock: int


@dataclass
class DonorLine:
    name: str
    #: (goods name, units) in the order given
    gifts: list[tuple[str, int]]
    given: int
    redeemed: int
    other_out: int
    on_shelf: int


@dataclass
class MonthAccounts:
    #: the village's close, or the county's record of it (:class:`pointsmart.county.closes.CountyMonth`)
    close: MonthClose | CountyMonth
    label: str
    figures: dict
    categories: list[tuple[str, int, int]]
    goods: list[GoodsLine]
    #: the rounds in the month's book (:func:`pointsmart.book.month_rounds`)
    rounds: int = 0
    #: None where the donors are not known (the county's copy: they are on the village's page)
    donors: list[DonorLine] | None = field(default_factory=list)

    @property
    def goods_totals(self) -> GoodsLine:
        openings = [g.opening for g in self.goods]
        return GoodsLine(
            "",
            None if None in openings else sum(openings),
            sum(g.donated for g in self.goods),
            sum(g.purchased for g in self.goods),
            sum(g.given_out for g in self.goods),
            sum(g.other for g in self.goods),
            sum(g.stock for g in self.goods),
        )


def month_key(text: str) -> str | None:
    """The month an address names (``2026-11``), or None: another form, out of range, or no month."""
    if not _MONTH.fullmatch(text or ""):
        return None
    found = read_period(text)
    return found.key if found is not None and found.kind == "month" and found.key == text else None


def closed_months(session: Session, village_id: int) -> list[MonthClose]:
    """The village's closed months, the latest first."""
    return list(
        session.scalars(
            sa.select(MonthClose).where(MonthClose.village_id == village_id).order_by(MonthClose.month.desc())
        )
    )


def build_accounts(
    close,
    figures: dict,
    names: dict[str, str],
    order: dict[str, int],
    rounds: int,
    donors: list[DonorLine] | None,
) -> MonthAccounts:
    """A closed month's public accounts from its figures: the one code path of the village's page and the
    county's copy. ``names`` and ``order`` name and order the goods by uuid (a goods item not named shows
    its uuid's start; one not ordered goes last, by uuid); ``donors`` None: not known here (the county)."""
    goods = [
        GoodsLine(
            names.get(uuid, uuid[:8]),
            row.get("opening"),
            row["donated"],
            row["purchased"],
            row["given_out"],
            row["stocktake"] - row["loss"],
            row["stock"],
        )
        for uuid, row in sorted(figures["goods"].items(), key=lambda kv: (order.get(kv[0], 1 << 30), kv[0]))
    ]
    categories = sorted(
        ((name, c["awarded"], c["deducted"]) for name, c in figures["by_category"].items()),
        key=lambda c: (-c[1], c[0]),
    )
    return MonthAccounts(close, month_label(figures["month"]), figures, categories, goods, rounds, donors)


def month_accounts(session: Session, village_id: int, close: MonthClose) -> MonthAccounts:
    """A closed month's public accounts: its frozen figures, goods named, and the month's donors traced."""
    figures = json.loads(close.figures)
    names = dict(
        session.execute(
            sa.select(Goods.uuid, Goods.name).where(
                Goods.village_id == village_id, Goods.uuid.in_(list(figures["goods"]))
            )
        ).all()
    )
    order = {
        uuid: i
        for i, uuid in enumerate(
            session.scalars(
                sa.select(Goods.uuid).where(Goods.village_id == village_id).order_by(Goods.position, Goods.id)
            )
        )
    }
    period = read_period(close.month)
    donors = [
        DonorLine(
            registers.public_name(trace.name),
            [(goods.name, n) for goods, n in trace.goods_given],
            trace.given,
            trace.redeemed,
            trace.other_out,
            trace.on_shelf,
        )
        for trace in registers.trace_donations(session, village_id, since=period.start, before=period.end)
    ]
    rounds = len(book.month_rounds(session, village_id, period))
    return build_accounts(close, figures, names, order, rounds, donors)


def county_accounts(found: CountyBook) -> MonthAccounts:
    """The county's copy of a closed month's public accounts, from the figures it rebuilt and the synced
    goods' names, by :func:`build_accounts` as the village's page. The county counts the rounds of the
    month's book as the village does (its rebuilt figures list them). It shows no donors: the 爱心榜's
    trace takes the village's own stock moves in the order it recorded them and the goods' prices over
    time, which the county does not hold, so the donors stay on the village's page."""
    names = {g.uuid: g.name for g in found.goods}
    order = {g.uuid: i for i, g in enumerate(found.goods)}  # by name, as the county's book lists them
    return build_accounts(found.close, found.figures, names, order, len(found.figures["rounds"]), None)


def page_address(endpoint: str, **values) -> str:
    """The address a poster prints: the village's public address if set, else the one asked on."""
    base = current_app.config.get("POINTSMART_BASE_URL") or request.host_url
    return base.rstrip("/") + url_for(endpoint, **values)


@bp.context_processor
def village_head():
    if county_mode():  # the county serves many villages: each page names its own
        return {}
    village = home_village(db.session)
    return {"village": village, "village_name": village.label}


@bp.get("/")
def index():
    """Every closed month of the village, the latest first; open months are not shown (at the county:
    every village that closed a month, each linking to its own)."""
    if county_mode():
        return _county_index()
    village = home_village(db.session)
    months = [(c, month_label(c.month)) for c in closed_months(db.session, village.id)]
    this_month = Period.of(today())
    return render_template("accounts/index.html", months=months, this_month=month_label(this_month.key))


def _close(month: str) -> tuple[str, MonthClose | None]:
    key = month_key(month)
    if key is None:
        abort(404)
    refuse_month_to_come(key)
    return key, close_of(db.session, home_village(db.session).id, key)


@bp.get("/<month>")
def month(month: str):
    """One month's accounts (a closed month only; an open one says it is published once closed)."""
    if county_mode():  # the county holds many villages' months: the address names the village too
        key = month_key(month)
        if key is None:
            abort(404)
        refuse_month_to_come(key)
        return _county_index(key)
    key, close = _close(month)
    if close is None:
        village = home_village(db.session)
        # a month before a closed one is as closed as it (months close in order), but has no book of
        # its own: the village kept none then, or its records are in the first closed month's
        later = closed_at_or_after(db.session, key, village.id)
        return render_template(
            "accounts/open.html",
            label=month_label(key),
            month=key,
            first=(later, month_label(later)) if later else None,
        )
    village = home_village(db.session)
    return render_template(
        "accounts/month.html",
        accounts=month_accounts(db.session, village.id, close),
        address=page_address("accounts.month", month=key),
        figures_address=page_address("accounts.figures", month=key),
    )


@bp.get("/<month>.json")
def figures(month: str):
    """A closed month's frozen figures, byte for byte as hashed: their sha256 is the page's 账目校验码.
    (The county has only their hash: 404 there.)"""
    if county_mode():
        abort(404)
    _key, close = _close(month)
    if close is None:
        abort(404)
    response = current_app.response_class(close.figures.encode(), mimetype="application/json")
    response.headers["Content-Disposition"] = f'inline; filename="accounts-{close.month}.json"'
    return response


# --- at the county: each village's closed months, as the county rebuilds them -------------------------


def _county_index(month: str | None = None):
    """The villages that closed a month; with ``month`` (an address without a village), which of them
    closed that one."""
    found = villages_with_closes(db.session)
    if month is not None:
        found = [v for v in found if month in v.months]
    return render_template(
        "accounts/county_index.html",
        villages=found,
        month=month,
        label=month_label(month) if month else "",
        labels=month_label,
    )


def _county_village(village_code: str):
    if not county_mode():
        abort(404)
    village = village_by_code(db.session, village_code)
    if village is None:
        abort(404)
    return village


@bp.get("/<village_code>/")
def county_village(village_code: str):
    """At the county: one village's closed months, the latest first (a village instance: 404)."""
    village = _county_village(village_code)
    months = [(m, month_label(m)) for m in county_closed_months(db.session, village.id)]
    return render_template(
        "accounts/county_village.html",
        village=village,
        village_name=village.label,
        months=months,
        this_month=month_label(Period.of(today()).key),
    )


@bp.get("/<village_code>/<month>")
def county_month(village_code: str, month: str):
    """At the county: one village's closed month as the county rebuilds it from the synced records,
    with the village's hash and whether the two agree; a month the village has not closed says so."""
    village = _county_village(village_code)
    key = month_key(month)
    if key is None:
        abort(404)
    refuse_month_to_come(key)
    book = county_book(db.session, village.id, key)
    if not book.close.closed:
        return render_template(
            "accounts/open.html",
            label=month_label(key),
            month=key,
            village_name=village.label,
        )
    return render_template(
        "accounts/county_month.html",
        village=village,
        village_name=village.label,
        book=book,
        accounts=county_accounts(book),
        label=month_label(key),
        address=page_address("accounts.county_month", village_code=village.code, month=key),
    )
