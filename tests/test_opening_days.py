"""The shop's opening days (营业日, issue 14): the chair's setting, its trip to the county, and the
county's check ``closed_day`` — a redemption on a weekday the shop is not open, found through the real
sync (``POST /api/v1/sync/batches``) and judged by the villages' local date.

November 2026: the 2nd is a Monday. 甲村's chair opens the shop on 周一、周三、周五 from the 2nd. A card
is used on Sunday the 1st (before the setting: not judged), on Wednesday the 4th at 07:00 (a Tuesday
in UTC: open by the local date) and on Saturday the 7th at 01:00 (a Friday in UTC: closed by the local
date). 乙村 has not set its days and redeems on Saturday the 7th too: not checked.
"""

import json

import pytest
import sqlalchemy as sa

from pointsmart.audit.models import AuditEntry
from pointsmart.audit.sentences import Names, sentence
from pointsmart.county import anomalies
from pointsmart.county.models import SyncedOpeningDays
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.org.services import home_village
from pointsmart.periods import parse_period
from pointsmart.settings.models import OpeningDays

from .conftest import VILLAGE_CODE, committing
from .sync_support import batch_bodies, post, push_all, register
from .test_county_dashboard import (  # noqa: F401 (fixtures used here)
    B_CODE,
    B_TOWNSHIP,
    county_user,
    factories,
    login,
    queries,
    second_village_database,
    set_clock,
    village_b,
)
from .test_sync import _resign

NOVEMBER = parse_period("2026-11")


def shop_with_card(app, make_user, make_household):
    """A household with 50 points and a card, soap on the shelf, a shopkeeper: ``redeem()`` buys one."""
    from pointsmart.auth.models import User
    from pointsmart.cards import services as cards
    from pointsmart.shop import redemptions
    from pointsmart.shop import services as shop
    from pointsmart.shop.models import MoveKind

    household_id = make_household(points=50)
    operator_id = make_user("shopkeeper")[0]
    with committing(app) as session:
        village = home_village(session)
        soap = shop.save_goods(session, village.id, {"name": "香皂", "price": 2}, None)
        shop.receive_stock(session, soap, MoveKind.PURCHASE, 20, None)
        card = cards.issue_card(session, session.get(Household, household_id), None)
        ids = village.id, soap.id, card.id

    def redeem() -> str:
        from pointsmart.cards.models import Card

        with committing(app) as session:
            village_id, soap_id, card_id = ids
            done = redemptions.redeem(
                session,
                village_id,
                session.get(Card, card_id),
                [(soap_id, 1)],
                session.get(User, operator_id),
            )
            return done.uuid

    return household_id, redeem


def set_days(client, days) -> object:
    return client.post("/settings/opening-days", data={"days": days})


@pytest.fixture
def planted(
    app,
    village_b,  # noqa: F811 (the fixture imported above)
    county_app,
    make_user,
    make_household,
    login_as,
):
    set_clock(2026, 10, 30)
    household_a, redeem_a = shop_with_card(app, make_user, make_household)
    b_user, b_household = factories(village_b)
    _household_b, redeem_b = shop_with_card(village_b, b_user, b_household)
    chair = login_as("chair")
    set_clock(2026, 11, 1)
    before = redeem_a()  # Sunday, before the days are set
    set_clock(2026, 11, 2)
    assert set_days(chair, ["1", "3", "5"]).status_code == 302
    set_clock(2026, 11, 4, hour=7)
    wednesday = redeem_a()
    set_clock(2026, 11, 7, hour=1)
    saturday = redeem_a()
    saturday_b = redeem_b()
    keys = {
        VILLAGE_CODE: register(county_app),
        B_CODE: register(county_app, B_CODE, "乙村", B_TOWNSHIP),
    }
    client = county_app.test_client()
    push_all(app, client, keys[VILLAGE_CODE])
    push_all(village_b, client, keys[B_CODE])
    with app.app_context():
        head = db.session.get(Household, household_a)
        name = f"{head.household_no} {head.head_name}"
    return dict(before=before, wednesday=wednesday, saturday=saturday, saturday_b=saturday_b, name=name)


def closed(county_app, user=None):
    user = user or county_user(county_app, "county_admin")
    found = queries(county_app, user, anomalies.findings, NOVEMBER)
    return [f for f in found if f.rule == "closed_day"]


def test_a_redemption_on_a_closed_day_is_found_and_open_days_and_unset_villages_are_not(planted, county_app):
    found = closed(county_app)
    assert [(f.village_code, f.subject) for f in found] == [(VILLAGE_CODE, planted["saturday"])]
    reason = found[0].reason
    assert planted["name"] in reason and "积分卡" in reason
    assert "2026-11-07（周六）" in reason and "营业日：周一、周三、周五" in reason, reason
    assert found[0].anchor.startswith("household-") and found[0].rule_label == "非营业日兑换"
    # not found: the open Wednesday (a Tuesday in UTC), the Sunday before the setting, 乙村's Saturday
    subjects = {f.subject for f in found}
    assert not subjects & {planted["wednesday"], planted["before"], planted["saturday_b"]}
    with county_app.app_context():
        rows = db.session.execute(sa.select(SyncedOpeningDays.days)).scalars().all()
        assert rows == [0b10101]  # 周一、周三、周五, from 甲村 only


def test_the_finding_is_listed_with_its_evidence_and_the_thresholds_page_still_works(planted, county_app):
    client = login(county_app, county_user(county_app, "county_admin"))
    page = client.get("/county/anomalies?type=month&key=2026-11").get_data(as_text=True)
    assert "非营业日兑换" in page and "2026-11-07（周六）" in page
    assert f"/county/villages/{VILLAGE_CODE}" in page and "#household-" in page
    thresholds = client.get("/county/anomalies/thresholds")
    assert thresholds.status_code == 200
    assert "非营业日兑换" not in thresholds.get_data(as_text=True)  # no threshold to set


def test_the_chair_sets_the_days_and_each_change_is_audited(app, login_as):
    chair = login_as("chair")
    assert "不设置则不检查" in chair.get("/settings/").get_data(as_text=True)
    response = set_days(chair, ["5", "1", "3"])
    assert response.status_code == 302
    page = chair.get("/settings/").get_data(as_text=True)
    assert "现在的营业日：周一、周三、周五。" in page
    section = page[page.index('id="opening-days"') : page.index('id="backups"')]
    assert section.count("checked") == 3
    assert set_days(chair, ["1", "3", "5"]).status_code == 302  # the same days: no change, no row
    assert set_days(chair, []).status_code == 302  # none ticked: not set
    with app.app_context():
        assert [r.days for r in db.session.scalars(sa.select(OpeningDays).order_by(OpeningDays.id))] == [
            0b10101,
            0,
        ]
        entries = db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.action == "settings.opening_days.changed")
            .order_by(AuditEntry.id)
        ).all()
        assert [(e.data["old"], e.data["new"]) for e in entries] == [([], [1, 3, 5]), ([1, 3, 5], [])]
        words = [sentence(e, Names(db.session)) for e in entries]
        assert "由“不设置（不检查）”改为“周一、周三、周五”" in words[0], words
        assert "由“周一、周三、周五”改为“不设置（不检查）”" in words[1], words


@pytest.mark.parametrize(
    "days",
    [
        ["8"],
        ["0"],
        ["1", "1"],
        ["x" * 5000],
        ["1", "2", "3", "4", "5", "6", "7", "1"],
        ["-1"],
        ["１"],
        ["1.0"],
    ],
)
def test_bad_days_are_refused_naming_the_field_and_nothing_changes(app, login_as, days):
    chair = login_as("chair")
    response = set_days(chair, days)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    # one banner naming the field, its one message under the ticks
    assert '<div class="flash flash-error" role="alert">请修改标出的项目：营业日。</div>' in text
    section = text[text.index('id="opening-days"') : text.index('id="backups"')]
    assert section.count('<small class="error">只能勾选周一到周日，每天一次。</small>') == 1
    assert "x" * 100 not in text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OpeningDays)) == 0


def test_only_the_chair_sets_the_days(app, login_as):
    for role in ("shopkeeper", "panel"):
        assert set_days(login_as(role), ["1"]).status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OpeningDays)) == 0


def test_a_bad_opening_days_record_is_refused_in_words(app, county_app, login_as):
    assert set_days(login_as("chair"), ["1", "2"]).status_code == 302
    key = register(county_app)
    client = county_app.test_client()
    (good,) = batch_bodies(app, 1, size=10_000)
    for change in (
        {"days": [8]},
        {"days": [0]},
        {"days": [1, 1]},
        {"days": list(range(1, 8)) + [1]},
        {"days": "1234"},
        {"days": ["x" * 100_000]},
        {"created_at": "2026-12-01T00:00:00+08:00"},
    ):
        body = json.loads(good)
        record = next(r for r in body["records"] if r["kind"] == "opening_days")
        record["payload"].update(change)
        refused = post(client, key, _resign(body))
        assert refused.status_code == 422, (change, refused.get_json())
        error = refused.get_json()["error"]
        assert f"第 {record['seq']} 条记录（opening_days）" in error["message"], error["message"][:400]
        assert len(error["message"]) < 300
    with county_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncedOpeningDays)) == 0
    assert post(client, key, good).status_code == 200
    with county_app.app_context():
        assert db.session.scalar(sa.select(SyncedOpeningDays.days)) == 0b11
