"""One card, two places: a card reaches the county as a hash of its token, and the county serves the
family's page from synced data — the same page rules as the village's, and a revoked card stops there
after the next push. Runs on the suite's database (SQLite or PostgreSQL) for village and county."""

import hashlib
import hmac
import io
import json
import re

import pytest
import sqlalchemy as sa
import zxingcpp
from PIL import Image

from pointsmart.cards import services as cards
from pointsmart.cards.models import Card
from pointsmart.county.models import SyncedCard
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.org.services import home_village
from pointsmart.shop import lookup
from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind
from pointsmart.sync import kinds
from pointsmart.sync.models import ChangeRecord

from .sync_support import batch_bodies, post, push_all, register, workload


def test_every_kind_the_village_sends_is_one_the_county_types_and_the_api_documents():
    from pointsmart.api.schemas import SYNC_KINDS
    from pointsmart.county.wire_types import PAYLOADS

    assert set(kinds.KINDS) == set(PAYLOADS) == set(SYNC_KINDS) and "card" in kinds.KINDS


def _card_records(app) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(ChangeRecord).where(ChangeRecord.kind == "card").order_by(ChangeRecord.seq)
        ).all()
        return [{"uuid": r.uuid, **json.loads(r.payload)} for r in rows]


def _issue(app, household_id: int) -> Card:
    with app.app_context():
        card = cards.issue_card(db.session, db.session.get(Household, household_id), None)
        db.session.commit()
        db.session.refresh(card)
        db.session.expunge(card)
        return card


def test_a_card_reaches_the_change_log_as_a_keyed_hash_of_its_token_never_the_token(app, make_household):
    household_id = make_household(points=5)
    card = _issue(app, household_id)
    (record,) = _card_records(app)
    with app.app_context():
        household_uuid = db.session.get(Household, household_id).uuid
    assert record == {
        "uuid": kinds.card_uuid(card.id),
        "household": household_uuid,
        "token_digest": hmac.new(
            b"pointsmart card token v1", card.token.encode(), hashlib.sha256
        ).hexdigest(),
        "status": "active",
        "issued_at": card.issued_at.isoformat(),
        "revoked_at": None,
    }
    with app.app_context():
        log = " ".join(db.session.scalars(sa.select(ChangeRecord.payload)))
    assert card.token not in log and card.number not in log


def test_revoking_and_reissuing_send_the_old_card_revoked_and_the_new_one_active(app, make_household):
    household_id = make_household()
    old = _issue(app, household_id)
    with app.app_context():
        household = db.session.get(Household, household_id)
        new = cards.reissue_card(db.session, household, "丢失", None)
        db.session.commit()
        new_uuid = kinds.card_uuid(new.id)
    records = _card_records(app)
    assert [(r["uuid"], r["status"]) for r in records] == [
        (kinds.card_uuid(old.id), "active"),
        (kinds.card_uuid(old.id), "revoked"),
        (new_uuid, "active"),
    ]
    assert records[1]["revoked_at"] is not None and "reason" not in records[1]


def _push(app, county_app) -> None:
    if "_test_key" not in county_app.config:
        county_app.config["_test_key"] = register(county_app)
    key = county_app.config["_test_key"]
    push_all(app, county_app.test_client(), key)


def _page(county_app, token: str):
    return county_app.test_client().get(f"/c/{token}")


def test_the_county_serves_the_family_page_from_synced_data(app, county_app, make_user, make_household):
    ids = workload(app, make_user, make_household)
    with app.app_context():
        household = db.session.scalar(sa.select(Household).where(Household.uuid == ids["households"][0]))
        card = cards.active_card(db.session, household.id)
        token, balance, name = card.token, household.balance, household.head_name
        village_page = app.test_client().get(f"/c/{token}")
    _push(app, county_app)

    page = _page(county_app, token)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'id="balance">{balance}<' in text
    assert cards.mask_name(name) in text and name not in text
    assert "数据截至" in text
    assert "兑换：" in text  # the redemption, worded as the village words it
    assert "洗衣粉" in text and "毛巾" in text  # the goods on the shelf
    # the month's round, finalised: this household's line on it, and the honour roll it leads
    assert "2026年11月 月评定" in text and "本期我家得分：+7" in text
    honour = text.split('class="honour-list family-honour"', 1)[1].split("</ol>", 1)[0]
    assert "第 1 名" in honour and "我家" in honour and "7 分" in honour
    assert "测试" not in honour.replace(cards.mask_name(name), "")  # every name masked
    for header in ("Referrer-Policy", "Cache-Control"):
        assert page.headers[header] == village_page.headers[header]
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    with county_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncedCard)) == 1
        assert token not in " ".join(db.session.scalars(sa.select(SyncedCard.token_digest)))


def test_a_revoked_card_answers_at_the_county_as_an_unknown_one_after_the_next_push(
    app, county_app, make_household
):
    household_id = make_household(points=7)
    card = _issue(app, household_id)
    _push(app, county_app)
    assert _page(county_app, card.token).status_code == 200
    with app.app_context():
        cards.revoke_card(db.session, db.session.get(Card, card.id), "丢失", None)
        db.session.commit()
    assert _page(county_app, card.token).status_code == 200  # the county has not heard yet
    _push(app, county_app)
    revoked, unknown = _page(county_app, card.token), _page(county_app, "x" * 43)
    assert revoked.status_code == unknown.status_code == 404
    # the same page (which names its own address in the language links)
    assert revoked.get_data(as_text=True).replace(card.token, "T") == unknown.get_data(as_text=True).replace(
        "x" * 43, "T"
    )
    assert revoked.headers["Cache-Control"] == unknown.headers["Cache-Control"] == "no-store"
    assert revoked.headers["Referrer-Policy"] == "no-referrer"


def test_the_county_page_is_rate_limited_like_the_village_page(app, county_app, make_household):
    from pointsmart.extensions import limiter

    county_app.config["POINTSMART_CARD_PAGE_LIMIT"] = "3 per minute"
    limiter.reset()
    client = county_app.test_client()
    answers = [client.get(f"/c/{'y' * 43}").status_code for _ in range(4)]
    limiter.reset()
    assert answers == [404, 404, 404, 429]


def test_a_card_record_with_a_token_instead_of_a_hash_is_refused(app, county_app, make_household):
    _issue(app, make_household())
    body = json.loads(batch_bodies(app)[-1])
    (record,) = [r for r in body["records"] if r["kind"] == "card"]
    record["payload"]["token_digest"] = "T" * 43
    key = register(county_app)
    answer = post(county_app.test_client(), key, json.dumps(body).encode())
    assert answer.status_code == 422, answer.get_json()
    with county_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SyncedCard)) == 0


@pytest.mark.parametrize(
    "base", ["http://192.168.1.20:8000", "https://county.example.cn", "https://x.cn/pm/"]
)
def test_the_counter_reads_a_card_from_the_village_and_the_county_address(app, make_household, base):
    card = _issue(app, make_household())
    with app.app_context():
        village = home_village(db.session)
        found = cards.find_card(db.session, village.id, cards.card_url(base, card))
        assert found.id == card.id
        # what the counter's field does with a scan (or the API's card look-up)
        assert lookup.identify(db.session, village.id, cards.card_url(base, card)).card.id == card.id


def test_a_card_printed_once_the_village_has_a_county_carries_the_county_address(
    app, login_as, make_household
):
    card = _issue(app, make_household())
    client = login_as("chair")
    before = client.get(f"/cards/{card.id}/qr.png")
    app.config["POINTSMART_COUNTY_URL"] = "https://county.example.cn"
    after = client.get(f"/cards/{card.id}/qr.png")
    page = client.get("/cards").get_data(as_text=True)
    decoded = [zxingcpp.read_barcodes(Image.open(io.BytesIO(r.data)))[0].text for r in (before, after)]
    assert decoded == [
        f"{app.config['POINTSMART_BASE_URL'] or 'http://localhost'}/c/{card.token}",
        f"https://county.example.cn/c/{card.token}",
    ]
    assert "重新打印全部有效卡" in page and "https://county.example.cn" in page


def test_the_county_page_sends_families_to_the_village_for_claims(app, county_app, make_household):
    import httpx

    from pointsmart.county.models import VillageLink
    from pointsmart.sync.client import push, village_address

    card = _issue(app, make_household(points=3))
    _push(app, county_app)  # a push that does not know the village's address
    text = _page(county_app, card.token).get_data(as_text=True)
    claims = text.split('id="claims"', 1)[1].split("</section>", 1)[0]
    assert "申领积分" in claims and "请带上这张卡到村积分超市" in claims and "<a " not in claims

    # the village's own push tells the county its LAN address, which the page then links to
    app.config["POINTSMART_BASE_URL"] = "http://192.168.1.20:8000/"
    _issue(app, make_household(points=1))  # something new to send
    transport = httpx.WSGITransport(app=county_app)
    with httpx.Client(transport=transport, base_url="http://county") as client, app.app_context():
        push(db.session, "http://county", county_app.config["_test_key"], client=client,
             village_url=village_address(app.config))  # fmt: skip
    with county_app.app_context():
        assert db.session.scalars(sa.select(VillageLink.village_url)).one() == "http://192.168.1.20:8000"
    text = _page(county_app, card.token).get_data(as_text=True)
    claims = text.split('id="claims"', 1)[1].split("</section>", 1)[0]
    assert f'href="http://192.168.1.20:8000/c/{card.token}#claims"' in claims
    assert "申领积分 / 查看申领结果（需连上村里的 Wi‑Fi）" in claims


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "http://a.lan/c?x=1", "http://a b", "http://" + "a" * 200, "ftp://x.lan"]
)
def test_a_village_address_that_is_not_one_is_refused_naming_the_field(app, county_app, make_household, url):
    _issue(app, make_household())
    body = json.loads(batch_bodies(app)[-1])
    body["village_url"] = url
    answer = post(county_app.test_client(), register(county_app), json.dumps(body).encode())
    assert answer.status_code in (400, 422) and "village_url" in answer.get_data(as_text=True)


def test_the_village_address_sent_is_the_set_one_or_the_served_lan_one_never_loopback():
    from pointsmart.sync.client import village_address

    assert village_address({"POINTSMART_BASE_URL": "http://village.lan:8000/"}) == "http://village.lan:8000"
    assert village_address({}) is None  # not serving in this process (a command-line push)
    served = {"POINTSMART_HTTP_HOST": "192.168.1.20", "POINTSMART_HTTP_PORT": 8000}
    assert village_address(served) == "http://192.168.1.20:8000"
    assert village_address({**served, "POINTSMART_HTTP_HOST": "127.0.0.1"}) is None


def test_a_malformed_card_address_answers_at_the_county_as_an_unknown_card(county_app):
    from .test_cards_pages import assert_answers_as_an_unknown_card

    assert_answers_as_an_unknown_card(county_app.test_client())


def test_the_county_page_gets_the_page_object_alone_not_each_of_its_fields_again(
    app, county_app, make_user, make_household
):
    """The view passes the family's page (and the token, for the village link) to the template, which
    reads every field from it: the same page, nothing passed twice."""
    from dataclasses import fields

    from flask import template_rendered

    ids = workload(app, make_user, make_household)
    with app.app_context():
        household = db.session.scalar(sa.select(Household).where(Household.uuid == ids["households"][0]))
        token, balance, number = (
            cards.active_card(db.session, household.id).token,
            household.balance,
            household.household_no,
        )
    _push(app, county_app)
    seen = []

    def heard(_sender, template, context, **_extra):
        if template.name == "family/county_card.html":
            seen.append(context)

    with template_rendered.connected_to(heard, county_app):
        text = _page(county_app, token).get_data(as_text=True)
    [context] = seen
    page = context["page"]
    assert not {f.name for f in fields(page)} & set(context), set(context)
    assert f'id="balance">{balance}<' in text and number in text
    assert "2026年11月 月评定" in text and "洗衣粉" in text and "数据截至" in text


def _shelf(html: str) -> list[str]:
    """The goods names of a family page's 货架, in the order shown."""
    listed = html.split('<ul class="goods-list">', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'<span class="what">([^<]+?)(?: <small|</span>)', listed)


def test_the_village_and_county_family_pages_list_the_same_goods_in_the_same_order(
    app, county_app, make_household
):
    """货架 in one order at the village and at the county: by points, then name — whatever the shop's
    排序 or the order the goods were added (before, the village followed 排序 and the county the price)."""
    household = make_household(points=500)
    goods = [("毛巾", 10, 0), ("大米", 60, 1), ("牙膏", 8, 2), ("作业本", 10, 3), ("肥皂", 10, -1)]
    with app.app_context():
        village_id = home_village(db.session).id
        for name, price, position in goods:
            item = shop.save_goods(
                db.session, village_id, {"name": name, "price": price, "position": position}, None
            )
            shop.receive_stock(db.session, item, MoveKind.DONATION, 5, None, donor="爱心企业")
        card = cards.issue_card(db.session, db.session.get(Household, household), None)
        token = card.token
        db.session.commit()
    village_shelf = _shelf(app.test_client().get(f"/c/{token}").get_data(as_text=True))
    _push(app, county_app)
    county_shelf = _shelf(_page(county_app, token).get_data(as_text=True))
    by_points_then_name = [n for n, _p, _ in sorted(goods, key=lambda g: (g[1], g[0]))]
    assert village_shelf == county_shelf == by_points_then_name
