"""The JSON API: bearer tokens, roles, schemas, the error envelope, the OpenAPI document."""

import re

import pytest
import sqlalchemy as sa
from openapi_spec_validator import validate

from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.ledger.models import Transfer


def _uuid(app, household_id) -> str:
    with app.app_context():
        return db.session.get(Household, household_id).uuid


def _auth(token) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_openapi_documents_are_valid_and_together_list_every_api_route(app, client, county_app):
    village = client.get("/api/v1/openapi.json").get_json()
    county = county_app.test_client().get("/api/v1/openapi.json").get_json()
    validate(village)
    validate(county)
    documented = {f"/api/v1{path}" for path in village["paths"]} | {f"/api/v1{p}" for p in county["paths"]}
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and not rule.rule.endswith("openapi.json")
    }
    assert routes == documented


def test_without_a_token_the_api_answers_401_with_the_error_envelope(client):
    response = client.get("/api/v1/households")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    bad = client.get("/api/v1/households", headers=_auth("pm_not-a-real-token"))
    assert bad.status_code == 401


def test_households_list_is_paginated_with_balances(app, client, api_token, make_household):
    token = api_token("shopkeeper")
    for n in range(3):
        make_household(points=10 * (n + 1), head_name=f"户{n}")
    body = client.get("/api/v1/households?per_page=2", headers=_auth(token)).get_json()
    assert body["total"] == 3 and body["per_page"] == 2 and len(body["items"]) == 2
    assert [h["balance"] for h in body["items"]] == [10, 20]
    page2 = client.get("/api/v1/households?per_page=2&page=2", headers=_auth(token)).get_json()
    assert [h["head_name"] for h in page2["items"]] == ["户2"]
    assert client.get("/api/v1/households?per_page=0", headers=_auth(token)).status_code == 422


def test_household_detail_and_transfers(app, client, api_token, make_household):
    token = api_token("panel")
    hid = make_household(points=40, head_name="王秀兰")
    uuid = _uuid(app, hid)
    detail = client.get(f"/api/v1/households/{uuid}", headers=_auth(token)).get_json()
    assert (detail["head_name"], detail["balance"], detail["uuid"]) == ("王秀兰", 40, uuid)
    transfers = client.get(f"/api/v1/households/{uuid}/transfers", headers=_auth(token)).get_json()
    assert transfers["total"] == 1 and transfers["items"][0]["points"] == 40
    missing = client.get("/api/v1/households/no-such-uuid", headers=_auth(token))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "unknown_household"


def test_chair_adjusts_points_through_the_api(app, client, api_token, make_household):
    token = api_token("chair")
    uuid = _uuid(app, make_household(points=10))
    response = client.post(
        f"/api/v1/households/{uuid}/adjustments",
        headers=_auth(token),
        json={"points": 15, "reason": "志愿服务"},
    )
    assert response.status_code == 201 and response.get_json()["balance"] == 25
    deduction = client.post(
        f"/api/v1/households/{uuid}/adjustments",
        headers=_auth(token),
        json={"points": -5, "reason": "乱堆乱放"},
    )
    assert deduction.get_json()["balance"] == 20
    listed = client.get(f"/api/v1/households/{uuid}/transfers", headers=_auth(token)).get_json()
    assert [t["points"] for t in listed["items"]] == [-5, 15, 10]


def test_deduction_larger_than_balance_is_409_insufficient_points_and_writes_nothing(
    app, client, api_token, make_household
):
    token = api_token("chair")
    uuid = _uuid(app, make_household(points=10))
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count(Transfer.id)))
    response = client.post(
        f"/api/v1/households/{uuid}/adjustments", headers=_auth(token), json={"points": -11, "reason": "扣分"}
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_points" and "10" in error["message"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Transfer.id))) == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"points": 5},
        {"points": "5", "reason": "x"},
        {"points": 1.5, "reason": "x"},
        {"points": 0, "reason": "x"},
        {"points": 5, "reason": ""},
    ],
)
def test_bad_adjustment_bodies_are_422(app, client, api_token, make_household, body):
    token = api_token("chair")
    uuid = _uuid(app, make_household())
    response = client.post(f"/api/v1/households/{uuid}/adjustments", headers=_auth(token), json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] in {"validation_error", "invalid_amount"}


@pytest.mark.parametrize("role", ["panel", "shopkeeper"])
def test_only_the_chair_may_adjust(app, client, api_token, make_household, role):
    token = api_token(role)
    uuid = _uuid(app, make_household(points=10))
    response = client.post(
        f"/api/v1/households/{uuid}/adjustments", headers=_auth(token), json={"points": 5, "reason": "x"}
    )
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


def test_a_county_token_has_no_village_api(app, client, make_user):
    from pointsmart.auth.models import User
    from pointsmart.auth.services import create_api_token

    user_id, _ = make_user("county_reviewer", village=False)
    with app.app_context():
        token = create_api_token(db.session, db.session.get(User, user_id))
        db.session.commit()
    assert client.get("/api/v1/households", headers=_auth(token)).status_code == 403


def test_api_needs_no_csrf_token_but_cookies_do_not_authenticate_it(app, make_app, login_as, make_household):
    uuid = _uuid(app, make_household(points=10))
    strict = make_app(WTF_CSRF_ENABLED=True)
    browser = login_as("chair", client=app.test_client())
    cookie_client = strict.test_client()
    cookie_client.set_cookie("session", browser.get_cookie("session").value)
    response = cookie_client.post(f"/api/v1/households/{uuid}/adjustments", json={"points": 5, "reason": "x"})
    assert response.status_code == 401


def _finalised_round(app, make_user, make_household):
    """A monthly round of two households, run to the end through the services."""
    from datetime import timedelta

    from pointsmart import clock
    from pointsmart.auth.models import User
    from pointsmart.org.services import home_village
    from pointsmart.scoring import criteria as scoring_criteria
    from pointsmart.scoring import finalisation as scoring_finalisation
    from pointsmart.scoring import panels as scoring_panels
    from pointsmart.scoring import score_entry
    from pointsmart.scoring import workflow as scoring_workflow

    a, b = make_household(points=1, head_name="王建国"), make_household(head_name="李秀兰")
    ids = [make_user("panel")[0], make_user("panel")[0]]
    submitter = make_user("chair")[0]  # the member who hands a round in may not approve it
    with app.app_context():
        session = db.session
        members = [session.get(User, i) for i in ids]
        for member in members:
            scoring_panels.set_panel_member(session, member, "执委", [], None)
        category = scoring_criteria.save_category(session, members[0].village_id, {"name": "环境卫生"}, None)
        scoring_criteria.save_criterion(
            session, category, {"name": "门前三包", "points": 3, "cadence": "monthly"}, None
        )
        scoring_criteria.save_criterion(
            session, category, {"name": "乱堆乱放", "points": -5, "cadence": "monthly"}, None
        )
        found = scoring_workflow.create_round(session, home_village(session), "monthly", "2026-11", "", None)
        tidy, mess = found.criteria
        score_entry.set_score(session, found, a, tidy.id, 1, members[0])
        score_entry.set_score(session, found, a, mess.id, 1, members[0])
        score_entry.set_score(session, found, b, tidy.id, 1, members[0])
        scoring_workflow.submit_round(session, found, session.get(User, submitter))
        for member in members:
            scoring_workflow.approve_round(session, found, member)
        scoring_workflow.publish_round(session, found, None)
        clock.advance(timedelta(days=6))
        scoring_finalisation.finalise_round(session, found, None)
        session.commit()
        return found.id, {a: session.get(Household, a).uuid, b: session.get(Household, b).uuid}


def test_rounds_list_and_detail_with_per_household_results(app, client, api_token, make_user, make_household):
    round_id, uuids = _finalised_round(app, make_user, make_household)
    token = api_token("panel")
    listed = client.get("/api/v1/rounds", headers=_auth(token)).get_json()
    assert listed["total"] == 1
    summary = listed["items"][0]
    assert (summary["id"], summary["period_key"], summary["status"], summary["approvals"]) == (
        round_id,
        "2026-11",
        "finalised",
        2,
    )
    assert client.get("/api/v1/rounds?status=draft", headers=_auth(token)).get_json()["total"] == 0
    detail = client.get(f"/api/v1/rounds/{round_id}", headers=_auth(token)).get_json()
    results = {r["household"]: r for r in detail["results"]}
    wang = results[next(u for u in uuids.values() if results[u]["head_name"] == "王建国")]
    # 王建国 had 1 point: +3 then −5 → only 4 of the 5 could be deducted
    assert (wang["awarded"], wang["deducted"], wang["shortfall"], wang["net"]) == (3, 5, 1, -1)
    assert wang["by_category"] == {"环境卫生": -2}
    assert client.get("/api/v1/rounds/999", headers=_auth(token)).status_code == 404


@pytest.fixture
def stocked(app, make_household, village_id):
    """A household with 100 points and a card; soap (30 points, 5 in stock)."""
    from pointsmart.cards import services as cards
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind

    hid = make_household(points=100, head_name="王秀兰")
    with app.app_context():
        card = cards.issue_card(db.session, db.session.get(Household, hid), None)
        soap = shop.save_goods(db.session, village_id, {"name": "洗衣粉", "price": 30}, None)
        shop.receive_stock(db.session, soap, MoveKind.DONATION, 5, None, donor="爱心企业")
        db.session.commit()
        return {
            "household": hid,
            "uuid": db.session.get(Household, hid).uuid,
            "token": card.token,
            "number": card.number,
            "soap": soap.id,
        }


def _redeem(client, token, key, card, lines):
    return client.post(
        "/api/v1/redemptions",
        headers=_auth(token) | {"Idempotency-Key": key},
        json={"card": card, "lines": lines},
    )


def test_card_lookup_and_goods(client, api_token, stocked):
    token = api_token("shopkeeper")
    found = client.get(f"/api/v1/cards/{stocked['token']}", headers=_auth(token)).get_json()
    assert found == {
        "household": stocked["uuid"],
        "household_no": found["household_no"],
        "head_name": "王*兰",
        "balance": 100,
        "status": "active",
    }
    assert client.get("/api/v1/cards/nope-nope-nope-nope-nope", headers=_auth(token)).status_code == 404
    goods = client.get("/api/v1/goods", headers=_auth(token)).get_json()["items"]
    assert [(g["name"], g["price"], g["stock"]) for g in goods] == [("洗衣粉", 30, 5)]


def test_household_detail_shows_the_card_to_chair_and_shopkeeper_only(client, api_token, stocked):
    for role, sees in (("chair", True), ("shopkeeper", True), ("panel", False)):
        body = client.get(f"/api/v1/households/{stocked['uuid']}", headers=_auth(api_token(role))).get_json()
        assert (body.get("card") or {}).get("number") == (stocked["number"] if sees else None), role


def test_redemption_through_the_api_is_idempotent(app, client, api_token, stocked):
    token = api_token("shopkeeper")
    lines = [{"goods_id": stocked["soap"], "qty": 2}]
    first = _redeem(client, token, "abc-1", stocked["number"], lines)
    assert first.status_code == 201
    assert first.get_json()["points"] == 60 and first.get_json()["balance_after"] == 40
    for _ in range(9):
        again = _redeem(client, token, "abc-1", stocked["number"], lines)
        assert (again.status_code, again.get_json()) == (201, first.get_json())
    reused = _redeem(client, token, "abc-1", stocked["number"], [{"goods_id": stocked["soap"], "qty": 1}])
    assert reused.status_code == 422 and reused.get_json()["error"]["code"] == "idempotency_key_reused"
    body = client.get(f"/api/v1/households/{stocked['uuid']}", headers=_auth(token)).get_json()
    assert body["balance"] == 40


@pytest.mark.parametrize(
    ("card", "qty", "status", "code"),
    [
        ("000000000", 1, 404, "unknown_card"),
        (None, 4, 409, "insufficient_points"),
        (None, 6, 409, "insufficient_stock"),
    ],
)
def test_redemption_refusals(app, client, api_token, stocked, card, qty, status, code):
    token = api_token("chair")
    if code == "insufficient_stock":
        from pointsmart.households.services import adjust_points

        with app.app_context():
            adjust_points(db.session, db.session.get(Household, stocked["household"]), 500, "奖励", None)
            db.session.commit()
    response = _redeem(
        client, token, f"k-{code}", card or stocked["number"], [{"goods_id": stocked["soap"], "qty": qty}]
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (status, code)


def test_revoked_card_is_refused_with_card_revoked(app, client, api_token, stocked):
    from pointsmart.cards import services as cards

    with app.app_context():
        cards.reissue_card(db.session, db.session.get(Household, stocked["household"]), "丢失", None)
        db.session.commit()
    response = _redeem(
        client, api_token("shopkeeper"), "k-r", stocked["token"], [{"goods_id": stocked["soap"], "qty": 1}]
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "card_revoked")


def test_only_shop_staff_redeem_and_a_key_is_required(client, api_token, stocked):
    lines = [{"goods_id": stocked["soap"], "qty": 1}]
    assert _redeem(client, api_token("panel"), "k", stocked["number"], lines).status_code == 403
    missing = client.post(
        "/api/v1/redemptions",
        headers=_auth(api_token("shopkeeper")),
        json={"card": stocked["number"], "lines": lines},
    )
    assert missing.status_code == 422 and missing.get_json()["error"]["code"] == "idempotency_key_required"


def test_cancel_through_the_api_gives_points_and_goods_back(client, api_token, stocked):
    token = api_token("shopkeeper")
    done = _redeem(
        client, token, "c-1", stocked["number"], [{"goods_id": stocked["soap"], "qty": 1}]
    ).get_json()
    cancelled = client.post(
        f"/api/v1/redemptions/{done['id']}/cancel", headers=_auth(token), json={"reason": "拿错了"}
    )
    assert cancelled.status_code == 200 and cancelled.get_json() == {
        "id": done["id"],
        "status": "cancelled",
        "balance_after": 100,
    }
    twice = client.post(
        f"/api/v1/redemptions/{done['id']}/cancel", headers=_auth(token), json={"reason": "x"}
    )
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "already_cancelled"
    goods = client.get("/api/v1/goods", headers=_auth(token)).get_json()["items"]
    assert goods[0]["stock"] == 5


def test_adjustment_with_an_idempotency_key_is_made_once(app, client, api_token, make_household):
    token = api_token("chair")
    uuid = _uuid(app, make_household())
    headers = _auth(token) | {"Idempotency-Key": "adj-1"}
    answers = [
        client.post(
            f"/api/v1/households/{uuid}/adjustments",
            headers=headers,
            json={"points": 15, "reason": "志愿服务"},
        )
        for _ in range(3)
    ]
    assert {(a.status_code, a.get_json()["balance"]) for a in answers} == {(201, 15)}
    other = client.post(
        f"/api/v1/households/{uuid}/adjustments", headers=headers, json={"points": 16, "reason": "x"}
    )
    assert other.status_code == 422 and other.get_json()["error"]["code"] == "idempotency_key_reused"


def test_ledger_summary_gives_the_village_totals(app, client, api_token, stocked):
    token = api_token("chair")
    _redeem(
        client, api_token("shopkeeper"), "s-1", stocked["number"], [{"goods_id": stocked["soap"], "qty": 2}]
    )
    uuid = stocked["uuid"]
    client.post(
        f"/api/v1/households/{uuid}/adjustments", headers=_auth(token), json={"points": -5, "reason": "扣分"}
    )
    body = client.get("/api/v1/ledger/summary", headers=_auth(token)).get_json()
    assert body == {
        "village_code": "620123105299",
        "households": 1,
        "household_balance_sum": 35,
        "transfers": 3,
        "points_issued": 100,
        "points_redeemed": 60,
        "points_deducted": 5,
    }
    assert (
        body["points_issued"] - body["points_redeemed"] - body["points_deducted"]
        == body["household_balance_sum"]
    )
    assert client.get("/api/v1/ledger/summary", headers=_auth(api_token("shopkeeper"))).status_code == 403


def test_api_times_are_rfc3339_with_an_offset(app, client, api_token, make_household):
    hid = make_household(points=7)
    body = client.get(
        f"/api/v1/households/{_uuid(app, hid)}/transfers", headers=_auth(api_token())
    ).get_json()
    created = body["items"][0]["created_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", created), created


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("/rounds?status=archived", "status"),
        ("/goods?all=yes", "all"),
        ("/households?inactive=2", "inactive"),
    ],
)
def test_enum_parameters_outside_their_values_are_422(client, api_token, query, name):
    response = client.get(f"/api/v1{query}", headers=_auth(api_token()))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "bad_parameter" and list(error["fields"]) == [name]


def test_points_zero_is_refused_and_documented(app, client, api_token, make_household):
    hid = make_household()
    response = client.post(
        f"/api/v1/households/{_uuid(app, hid)}/adjustments",
        headers=_auth(api_token()),
        json={"points": 0, "reason": "x"},
    )
    assert response.status_code == 422 and "points" in response.get_json()["error"]["fields"]
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["schemas"]["Adjustment"]["properties"]["points"]["not"] == {"enum": [0]}


def test_limits_are_documented_where_they_are_enforced(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/households"]["get"]["parameters"]}
    assert params["per_page"]["maximum"] == 500 and params["page"]["maximum"] == 100_000
    key = spec["paths"]["/redemptions"]["post"]["parameters"][0]["schema"]
    assert key["maxLength"] == 100 and key["minLength"] == 1
    detail = spec["components"]["schemas"]["ErrorDetail"]["properties"]
    assert {"code", "message", "fields", "balance", "needed", "expected_from_seq"} <= set(detail)


def test_a_405_says_which_methods_are_allowed(client, api_token):
    response = client.delete("/api/v1/goods", headers=_auth(api_token()))
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET"}
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_the_error_schema_lists_every_extra_an_error_carries(client):
    """Every keyword a domain error is raised with (besides code/status/keep) is in ErrorDetail."""
    import ast
    from pathlib import Path

    import pointsmart

    root = Path(pointsmart.__file__).parent
    carried = {"balance", "needed", "expected_from_seq"}  # built by helpers, not at the raise
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                called = node.exc.func
                if isinstance(called, ast.Attribute) and getattr(called.value, "id", "") == "click":
                    continue  # the command line's usage errors, never an API answer
                if not (called.id if isinstance(called, ast.Name) else called.attr)[:1].isupper():
                    continue  # a helper that records the refusal and returns the error it was given
                carried |= {
                    kw.arg for kw in node.exc.keywords if kw.arg not in ("code", "status", "keep", None)
                }
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = set(spec["components"]["schemas"]["ErrorDetail"]["properties"])
    assert carried <= documented, carried - documented
