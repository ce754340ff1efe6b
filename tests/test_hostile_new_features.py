"""Hostile input against the features changed since the last release: the village picture, the
year-end points rule, the tables drawn by ``data_table``, and the county's bundle and batch ingest.

Each test here was a defect found by trying it: a 500, a page that lets text through unescaped, or a
refusal that did not name what was wrong.
"""

import json

import pytest
import sqlalchemy as sa

from pointsmart.county.models import VillageLink
from pointsmart.extensions import db
from pointsmart.sync import wire

from .sync_support import batch_bodies, post, register


def _resign(body: dict, start_digest: str = "") -> bytes:
    """Recompute a batch's digest chain after editing it (what a hostile or buggy sender can do)."""
    digest = start_digest
    for record in body["records"]:
        digest = wire.chain(digest, wire.canonical(record))
    body["totals"]["digest"] = digest
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    "field, value",
    [("balance_sum", 2**63), ("balance_sum", -(2**63) - 1), ("transfer_count", 2**64 - 1)],
)
def test_a_batch_reporting_totals_past_64_bits_is_refused_not_a_500(
    app, county_app, make_household, field, value
):
    make_household(points=5)
    key = register(county_app)
    body = json.loads(batch_bodies(app, 1, size=100)[0])
    body["totals"][field] = value
    refused = post(county_app.test_client(), key, _resign(body))
    assert refused.status_code == 422, refused.get_data(as_text=True)
    error = refused.get_json()["error"]
    assert error["code"] == "invalid_batch" and field in error["message"]
    with county_app.app_context():
        assert db.session.scalar(sa.select(VillageLink.acked_seq)) == 0


@pytest.mark.parametrize("value", [2**31, 2**64 - 1])
def test_a_household_with_a_member_count_no_column_holds_is_refused_not_a_500(
    app, county_app, make_household, value
):
    make_household(points=5)
    key = register(county_app)
    body = json.loads(batch_bodies(app, 1, size=100)[0])
    household = next(r for r in body["records"] if r["kind"] == "household")
    household["payload"]["members"] = value
    refused = post(county_app.test_client(), key, _resign(body))
    assert refused.status_code == 422, refused.get_data(as_text=True)
    error = refused.get_json()["error"]
    assert error["code"] == "invalid_record" and "members" in error["message"]
    with county_app.app_context():
        assert db.session.scalar(sa.select(VillageLink.acked_seq)) == 0
