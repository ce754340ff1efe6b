"""The JSON API: bearer tokens, roles, schemas, the error envelope, the OpenAPI document."""

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


def test_openapi_document_is_valid_and_lists_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    documented = {f"/api/v1{path}" for path in spec["paths"]}
    routes = {
        rule.rule.replace("<", "{").replace(">", "}")
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
