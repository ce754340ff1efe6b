"""Numbers and JSON from outside are bounded where they enter: ids, form integers, decimals, depth."""

import gzip
import io

import pytest
from werkzeug.routing.converters import NumberConverter

from pointsmart.extensions import db
from pointsmart.ids import MAX_ID, IdConverter
from pointsmart.json_limits import MAX_DEPTH
from pointsmart.shop import services as shop
from pointsmart.shop.models import Goods, StockMove

from . import conftest
from .sync_support import batch_bodies, post, register

HUGE = "99999999999999999999999"
DEEP = "[" * 100_000 + "]" * 100_000


def _auth(token) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_every_number_in_the_url_map_is_a_bounded_id(app):
    numbers = [
        (rule.rule, converter)
        for rule in app.url_map.iter_rules()
        for converter in rule._converters.values()
        if isinstance(converter, NumberConverter)
    ]
    assert len(numbers) > 40  # every route with an id
    for rule, converter in numbers:
        assert isinstance(converter, IdConverter), rule
        assert (converter.min, converter.max) == (1, MAX_ID), rule


@pytest.mark.parametrize("raw", [HUGE, str(MAX_ID + 1), "0", "9" * 6000])
def test_an_id_out_of_range_in_a_url_is_404(app, login_as, raw):
    chair = login_as("chair")
    for url in (
        f"/shop/goods/{raw}/photo",
        f"/shop/goods/{raw}",
        f"/households/{raw}",
        f"/rounds/{raw}",
        f"/cards/{raw}",
    ):
        assert chair.get(url).status_code == 404, url
    assert app.test_client().get(f"/shop/goods/{raw}/photo").status_code == 404


def test_an_id_out_of_range_in_the_api_is_404_in_the_url_and_422_in_a_body(client, api_token):
    token = api_token("chair")
    assert client.get(f"/api/v1/rounds/{HUGE}", headers=_auth(token)).status_code == 404
    cancel = client.post(f"/api/v1/redemptions/{HUGE}/cancel", headers=_auth(token), json={"reason": "x"})
    assert cancel.status_code == 404
    for goods_id in (int(HUGE), MAX_ID + 1, 0, -1, "1", 1.5):
        response = client.post(
            "/api/v1/redemptions",
            headers=_auth(token) | {"Idempotency-Key": "k1"},
            json={"card": "123456789", "lines": [{"goods_id": goods_id, "qty": 1}]},
        )
        assert response.status_code == 422, goods_id
        error = response.get_json()["error"]
        assert error["code"] == "validation_error" and "lines" in error["fields"], goods_id


@pytest.mark.parametrize(("field", "value"), [("position", HUGE), ("low_stock", HUGE), ("low_stock", "-1")])
def test_goods_form_integers_out_of_range_are_field_errors(app, login_as, field, value):
    chair = login_as("chair")
    data = {"name": "洗衣粉", "spec": "袋", "price": "30", "low_stock": "0", "position": "0"} | {field: value}
    response = chair.post("/shop/goods/new", data=data)
    assert response.status_code == 422  # the form again, with the error
    assert "数值大小必须介于" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Goods)) == 0


@pytest.mark.parametrize("cost", ["sNaN", "NaN", "Infinity", "-Infinity", "1e999999"])
def test_a_unit_cost_that_is_not_a_finite_number_is_refused(app, login_as, village_id, cost):
    with conftest.committing(app) as session:
        soap = shop.save_goods(session, village_id, {"name": "洗衣粉", "price": 30}, None)
        soap_id = soap.id
    chair = login_as("chair")
    response = chair.post(
        f"/shop/goods/{soap_id}",
        data={"action": "in", "in-kind": "purchase", "in-qty": "2", "in-cost_yuan": cost, "key": "k"},
    )
    assert response.status_code == 422  # the form again, with the error and what was typed
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(StockMove)) == 0
    page = response.get_data(as_text=True)
    assert "单价" in page and 'name="in-qty" required type="number" value="2"' in page


@pytest.mark.parametrize(
    "url",
    ["/api/v1/redemptions", "/api/v1/redemptions/1/cancel"],
)
def test_json_nested_100000_deep_is_a_4xx_in_the_api(client, api_token, url):
    token = api_token("chair")
    response = client.post(
        url, data=DEEP, headers=_auth(token) | {"Content-Type": "application/json", "Idempotency-Key": "d"}
    )
    assert response.status_code in (400, 404, 422), response.status_code
    if response.status_code != 404:
        assert response.get_json()["error"]["code"] == "invalid_json"


def test_json_just_past_the_depth_bound_is_refused_and_just_within_is_read(client, api_token, make_household):
    from pointsmart.households.models import Household

    token = api_token("chair")
    hid = make_household()
    with client.application.app_context():
        uuid = db.session.get(Household, hid).uuid
    url = f"/api/v1/households/{uuid}/adjustments"

    def nested(levels):  # the body object is level 1, the list around the reason the rest
        return '{"points": 5, "reason": ' + "[" * (levels - 1) + '"x"' + "]" * (levels - 1) + "}"

    within = client.post(
        url, data=nested(MAX_DEPTH), headers=_auth(token) | {"Content-Type": "application/json"}
    )
    assert within.get_json()["error"]["code"] == "validation_error"  # read, then refused as not text
    past = client.post(
        url, data=nested(MAX_DEPTH + 1), headers=_auth(token) | {"Content-Type": "application/json"}
    )
    assert (past.status_code, past.get_json()["error"]["code"]) == (422, "invalid_json")


def _draft_round(app) -> int:
    from pointsmart.org.services import home_village
    from pointsmart.scoring import criteria as scoring_criteria
    from pointsmart.scoring import workflow as scoring_workflow

    with conftest.committing(app) as session:
        village = home_village(session)
        category = scoring_criteria.save_category(session, village.id, {"name": "环境卫生"}, None)
        scoring_criteria.save_criterion(
            session, category, {"name": "门前三包", "points": 3, "cadence": "monthly"}, None
        )
        return scoring_workflow.create_round(session, village, "monthly", "2026-11", "", None).id


@pytest.mark.parametrize(
    "body",
    [
        DEEP,
        "[1, 2, 3]",
        '"x"',
        '{"household_id": 1000000000000000000000000000000, "criterion_id": 1, "times": 1}',
        '{"household_id": 1, "criterion_id": 9223372036854775808, "times": 1}',
        '{"household_id": 1, "criterion_id": 1, "times": 1000000000000000000000000000000}',
        '{"household_id": true, "criterion_id": 1, "times": 1}',
    ],
)
def test_score_grid_bodies_deep_out_of_range_or_not_an_object_are_4xx(app, login_as, body):
    round_id = _draft_round(app)
    chair = login_as("chair")
    response = chair.post(
        f"/scoring/rounds/{round_id}/scores", data=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.status_code  # 422, or 404 for no such household


def test_a_sync_push_with_a_record_payload_nested_deep_is_invalid_batch(app, county_app, make_household):
    make_household(points=5)
    key = register(county_app)
    body = batch_bodies(app)[0]
    deep_payload = body.replace(
        b'"payload":{', b'"payload":{"x":' + b"[" * 100_000 + b"]" * 100_000 + b",", 1
    )
    mid_payload = body.replace(b'"payload":{', b'"payload":{"x":' + b"[" * 200 + b"]" * 200 + b",", 1)
    county = county_app.test_client()
    for sent in (deep_payload, mid_payload, DEEP.encode(), b'{"village_code":' + DEEP.encode() + b"}"):
        response = post(county, key, sent)
        assert response.status_code == 422, response.status_code
        assert response.get_json()["error"]["code"] == "invalid_batch"
    assert post(county, key, body).status_code == 200  # the genuine batch still goes in


def test_a_bundle_whose_header_is_nested_deep_is_refused(county_app):
    from pointsmart.county.bundles import import_bundle
    from pointsmart.sync.bundle import MAGIC, BundleError

    for header in (DEEP.encode(), b'{"village_code":' + DEEP.encode() + b"}"):
        raw = io.BytesIO()
        with gzip.GzipFile(fileobj=raw, mode="wb") as gz:
            gz.write(MAGIC + header + b"\n" + b'{"signature":' + DEEP.encode() + b"}\n")
        with county_app.app_context(), pytest.raises(BundleError) as caught:
            import_bundle(db.session, raw)
        assert caught.value.code == "bundle_invalid"


def test_the_push_client_reads_a_county_answer_nested_deep_as_no_answer():
    import httpx

    from pointsmart.sync.client import _json, _message

    for content in (
        DEEP.encode(),
        b'{"error": {"message": ' + DEEP.encode() + b"}}",
        b"\xff",
        b'{"error": "x"}',
    ):
        response = httpx.Response(502, content=content)
        assert _json(response) == {} or "error" in _json(response)
        assert _message(response) == "HTTP 502"
    fine = httpx.Response(409, json={"error": {"code": "sequence_gap", "message": "从第 3 条起重发"}})
    assert _message(fine) == "从第 3 条起重发"


@pytest.mark.parametrize("year", ["99999999999", "0", "-5", "10000", "x"])
def test_a_year_out_of_range_in_a_query_falls_back_to_a_sane_year(app, login_as, year):
    chair = login_as("chair")
    assert chair.get(f"/ledgers/register?year={year}").status_code == 200
    assert chair.get(f"/ledgers/register.xlsx?year={year}").status_code == 200
    assert app.test_client().get(f"/honour?year={year}").status_code == 200
