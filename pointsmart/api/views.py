"""API endpoints. Each one: authenticate and authorise, parse with a schema, call a service, dump."""

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, g, jsonify, request
from flask_babel import gettext as _
from marshmallow import ValidationError

from ..auth.access import COUNTY_ROLES, VILLAGE_STAFF, api_auth, bearer_token, county_api_auth, county_mode
from ..auth.models import Role
from ..cards import services as cards
from ..county import services as county
from ..county.batch_checks import parse
from ..county.ingest import ingest
from ..errors import Invalid
from ..extensions import db
from ..households.services import adjust_once, adjust_points, household_by_uuid, search_households
from ..i18n import join_names
from ..ledger import services as ledger
from ..ledger.models import Transfer
from ..paging import MAX_PAGE
from ..scoring import finalisation as scoring_finalisation
from ..scoring import rounds as scoring_rounds
from ..scoring import workflow as scoring_workflow
from ..shop import redemptions
from ..shop import services as shop
from ..unit import write
from .openapi import FLAG, MAX_PER_PAGE, ROUND_STATUSES, build_spec
from .schemas import (
    AdjustmentResultSchema,
    AdjustmentSchema,
    CancelRequestSchema,
    CancelResultSchema,
    CardLookupSchema,
    CardSchema,
    CountyVillageListSchema,
    GoodsSchema,
    HouseholdPageSchema,
    HouseholdSchema,
    LedgerSummarySchema,
    RedemptionRequestSchema,
    RoundDetailSchema,
    RoundPageSchema,
    TransferPageSchema,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _paging() -> tuple[int, int]:
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", current_app.config["POINTSMART_PAGE_SIZE"]))
    except ValueError:
        raise Invalid(_("page 和 per_page 必须是整数。"), code="bad_paging") from None
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise Invalid(
            _(
                "page 在 1 到 %(pages)s 之间，per_page 在 1 到 %(rows)s 之间。",
                pages=MAX_PAGE,
                rows=MAX_PER_PAGE,
            ),
            code="bad_paging",
        )
    return page, per_page


def _choice(name: str, allowed, default=None):
    """A query parameter that takes one of a few values (as documented): anything else is a 422."""
    value = request.args.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise Invalid(
            _("参数 %(name)s 只能是：%(values)s", name=name, values=join_names(list(allowed))),
            code="bad_parameter",
            fields={name: [_("不是可选的值。")]},
        )
    return value


def _load(schema, data):
    if data is None and request.get_data():
        # not JSON at all, or nested past the bound (request.get_json answered None for it)
        raise Invalid(_("请求内容不是有效的 JSON。"), code="invalid_json")
    try:
        return schema.load(data if data is not None else {})
    except ValidationError as err:
        raise Invalid(
            _("请求内容有误：%(fields)s", fields=join_names(sorted(err.messages))),
            code="validation_error",
            fields=err.messages,
        ) from None


@bp.get("/openapi.json")
def openapi():
    """The document of this instance's tier: a village's lists no county endpoint, and the reverse."""
    tier = "county" if county_mode() else "village"
    return jsonify(build_spec(current_app.config["POINTSMART_BASE_URL"] or request.host_url, tier))


@bp.get("/households")
@api_auth(*VILLAGE_STAFF)
def households():
    page, per_page = _paging()
    found = search_households(
        db.session,
        g.village.id,
        request.args.get("q", ""),
        request.args.get("group", ""),
        _choice("inactive", FLAG["enum"], "0") == "1",
        page,
        per_page,
    )
    return HouseholdPageSchema().dump(
        {"items": found.items, "page": page, "per_page": per_page, "total": found.total}
    )


@bp.get("/households/<household_uuid>")
@api_auth(*VILLAGE_STAFF)
def household(household_uuid: str):
    found = household_by_uuid(db.session, g.village.id, household_uuid)
    body = HouseholdSchema().dump(found)
    if g.api_user.role in (
        Role.CHAIR,
        Role.SHOPKEEPER,
    ):  # the card's token spends nothing, but stays with staff
        card = cards.active_card(db.session, found.id)
        body["card"] = CardSchema().dump(card) if card else None
    return body


@bp.get("/households/<household_uuid>/transfers")
@api_auth(*VILLAGE_STAFF)
def transfers(household_uuid: str):
    found = household_by_uuid(db.session, g.village.id, household_uuid)
    page, per_page = _paging()
    history = ledger.history(db.session, found.account_id, page, per_page)
    rows, total = history.items, history.total
    originals = {t.reverses_id for t, _points in rows if t.reverses_id}
    uuids = (
        dict(
            db.session.execute(sa.select(Transfer.id, Transfer.uuid).where(Transfer.id.in_(originals))).all()
        )
        if originals
        else {}
    )
    items = [
        {
            "uuid": t.uuid,
            "kind": t.kind,
            "points": points,
            "reason": t.reason,
            "created_at": t.created_at,
            "reverses": uuids.get(t.reverses_id),
        }
        for t, points in rows
    ]
    return TransferPageSchema().dump({"items": items, "page": page, "per_page": per_page, "total": total})


@bp.post("/households/<household_uuid>/adjustments")
@api_auth(Role.CHAIR)
def adjustment(household_uuid: str):
    found = household_by_uuid(db.session, g.village.id, household_uuid)
    body = _load(AdjustmentSchema(), request.get_json(silent=True))
    key = request.headers.get("Idempotency-Key")
    with write():
        if key is None:  # no key: a plain call (a retry of it would adjust twice; send a key to be safe)
            transfer = adjust_points(db.session, found, body["points"], body["reason"], g.api_user.id)
            result = {"transfer": transfer.uuid, "points": body["points"], "balance": found.balance}
            return AdjustmentResultSchema().dump(result), 201
        answer = adjust_once(db.session, found, body["points"], body["reason"], g.api_user.id, key)
    return AdjustmentResultSchema().dump(answer), 201


def _round_fields(found) -> dict:
    return {
        "id": found.id,
        "uuid": found.uuid,
        "period_type": found.period_type,
        "period_key": found.period_key,
        "scope": found.scope,
        "status": found.status,
        "approvals": len(scoring_workflow.counted_approvals(found)),  # the submitter's own never counts
        "approvals_required": found.approvals_required,
        "published_at": found.published_at,
        "notice_ends_at": found.notice_ends_at,
        "finalised_at": found.finalised_at,
    }


@bp.get("/rounds")
@api_auth(*VILLAGE_STAFF)
def rounds():
    page, per_page = _paging()
    found = scoring_rounds.list_rounds(db.session, g.village.id, _choice("status", ROUND_STATUSES))
    items = [_round_fields(r) for r in found[(page - 1) * per_page : page * per_page]]
    return RoundPageSchema().dump({"items": items, "page": page, "per_page": per_page, "total": len(found)})


@bp.get("/rounds/<int:round_id>")
@api_auth(*VILLAGE_STAFF)
def round_detail(round_id: int):
    found = scoring_rounds.get_round(db.session, g.village.id, round_id)
    results = [
        {
            "household": t.household.uuid,
            "household_no": t.household.household_no,
            "head_name": t.household.head_name,
            "group": t.household.group,
            "awarded": t.awarded,
            "deducted": t.deducted,
            "shortfall": t.shortfall,
            "net": t.net,
            "by_category": dict(t.by_category),
        }
        for t in scoring_finalisation.tally(db.session, found)
        if t.times
    ]
    return RoundDetailSchema().dump(_round_fields(found) | {"results": results})


SHOP_STAFF = (Role.CHAIR, Role.SHOPKEEPER)


@bp.get("/cards/<token>")
@api_auth(*VILLAGE_STAFF)
def card(token: str):
    found = cards.find_card(db.session, g.village.id, token)
    household = found.household
    return CardLookupSchema().dump(
        {
            "household": household.uuid,
            "household_no": household.household_no,
            "head_name": cards.mask_name(household.head_name),
            "balance": household.balance,
            "status": found.status,
        }
    )


@bp.get("/goods")
@api_auth(*VILLAGE_STAFF)
def goods():
    return {
        "items": GoodsSchema(many=True).dump(
            shop.list_goods(db.session, g.village.id, active_only=_choice("all", FLAG["enum"], "0") != "1")
        )
    }


@bp.post("/redemptions")
@api_auth(*SHOP_STAFF)
def redeem():
    body = _load(RedemptionRequestSchema(), request.get_json(silent=True))
    lines = [(line["goods_id"], line["qty"]) for line in body["lines"]]
    village_id, key = g.village.id, request.headers.get("Idempotency-Key", "")
    with write():  # a refusal (DomainError) becomes the JSON error envelope in handlers.py
        done = redemptions.redeem_once(db.session, village_id, key, lines, g.api_user, card_text=body["card"])
    return {"id": done.id, "uuid": done.uuid, "points": done.points, "balance_after": done.balance_after}, 201


@bp.post("/redemptions/<int:redemption_id>/cancel")
@api_auth(*SHOP_STAFF)
def cancel_redemption(redemption_id: int):
    body = _load(CancelRequestSchema(), request.get_json(silent=True))
    with write():
        found = redemptions.get_redemption(db.session, g.village.id, redemption_id)
        redemptions.cancel_redemption(db.session, found, body["reason"], g.api_user)
    return CancelResultSchema().dump(
        {"id": found.id, "status": found.status, "balance_after": found.household.balance}
    )


@bp.get("/ledger/summary")
@api_auth(Role.CHAIR)
def ledger_summary():
    """The village's own totals: the figures a sync batch will carry to the county."""
    totals = ledger.summary(db.session)
    return LedgerSummarySchema().dump({"village_code": g.village.code, **totals.__dict__})


@bp.post("/sync/batches")
def sync_batch():
    """A village pushes a batch of its change log; the village's sync key is the bearer token."""
    if not county_mode():
        abort(404)
    village = county.village_for_key(db.session, bearer_token())
    batch = parse(request.get_data())  # parse and check the body before taking the write lock
    with write():
        acked, digest = ingest(db.session, village, batch, via="http")
    # the digest lets the village check that what the county holds up to acked_seq is what it sent
    return jsonify({"acked_seq": acked, "digest": digest})


@bp.get("/county/villages")
@county_api_auth(*COUNTY_ROLES)
def county_villages():
    """Every village this county user may see: sync state and the totals the county computes."""
    rows = [
        {
            "code": village.code,
            "name": village.name,
            "township_code": village.township_code,
            "township": village.township_name,
            "last_sync_at": link.last_sync_at,
            "acked_seq": link.acked_seq,
            "household_balance_sum": link.balance_sum,
            "transfers": link.transfer_count,
            "points_issued": link.points_issued,
            "points_redeemed": link.points_redeemed,
            "points_deducted": link.points_deducted,
            "reported_balance_sum": link.reported_balance_sum,
            "reported_transfer_count": link.reported_transfer_count,
            "mismatch": [name for name in link.mismatch.split(",") if name],
        }
        for village, link in county.registered_villages(db.session, g.api_user)
    ]
    return CountyVillageListSchema().dump({"villages": rows})
