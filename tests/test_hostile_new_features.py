"""Hostile input against the features changed since the last release: the village picture, the
year-end points rule, the tables drawn by ``data_table``, and the county's bundle and batch ingest.

Each test here was a defect found by trying it: a 500, a page that lets text through unescaped, or a
refusal that did not name what was wrong.
"""

import html
import io
import json
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import httpx
import pytest
import sqlalchemy as sa
from markupsafe import escape

from pointsmart.auth.models import User
from pointsmart.cards import services as cards
from pointsmart.county.models import VillageLink
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points
from pointsmart.periods import Period, today
from pointsmart.shop import redemptions
from pointsmart.shop import services as shop
from pointsmart.shop.models import Goods, MoveKind
from pointsmart.shop.stock import move_stock
from pointsmart.sync import wire
from pointsmart.text import BadText, visible

from .conftest import PASSWORD, committing
from .sync_support import CountyServer, batch_bodies, post, register
from .test_county_dashboard import county_user, login

#: what an old row may hold: a control character and NUL (refused at input since), markup, bidi marks
HOSTILE = "毛巾\x01<script>alert(1)</script>\x00\u202e"
#: PostgreSQL's text cannot hold NUL: there, the old row holds another control character
HOSTILE_PG = HOSTILE.replace("\x00", "\x02")


@pytest.fixture
def hostile_month(app, village_id, make_user, make_household):
    """This month (its ``key``): a household in a hostile group earned points and redeemed hostile
    goods (the ``stored_name`` written straight to the rows, as text stored before the text rule)."""
    operator, _name = make_user("shopkeeper")
    household_id = make_household(points=50)
    with committing(app) as session:
        goods = shop.save_goods(session, village_id, {"name": "毛巾", "spec": "条", "price": 5}, None)
        shop.receive_stock(session, goods, MoveKind.DONATION, 10, None, donor="爱心企业")
        household = session.get(Household, household_id)
        adjust_points(session, household, 20, "帮助邻居", None)
        card = cards.issue_card(session, household, None)
        redemptions.redeem(session, village_id, card, [(goods.id, 2)], session.get(User, operator))
        goods_id = goods.id
    with committing(app) as session:
        name = HOSTILE if db.engine.dialect.name == "sqlite" else HOSTILE_PG
        session.execute(sa.update(Goods).where(Goods.id == goods_id).values(name=name))
        session.execute(sa.update(Household).where(Household.id == household_id).values(group=name))
    return SimpleNamespace(key=Period.of(today()).key, stored_name=name)


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


@pytest.mark.parametrize("chart", ["goods", "groups", "stock"])
def test_a_chart_of_names_holding_control_characters_is_still_an_svg(login_as, hostile_month, chart):
    """Stored control characters are drawn as their escapes: an SVG holding one is no XML, and a
    browser shows nothing for it."""
    response = login_as("chair").get(f"/picture/charts/{chart}.svg?month={hostile_month.key}")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    drawn = ET.fromstring(response.data)  # noqa: S314 (our own server; raises on a control character)
    words = "".join(drawn.itertext())
    assert "毛巾\\x01<scr" in words  # the bar's name cut short, its markup kept as text
    assert b"<scr" not in response.data


def test_a_stored_name_inside_a_translated_sentence_shows_its_control_characters_as_escapes(
    login_as, hostile_month
):
    """``_('%(name)s 实际数量', name=…)`` is markup, which the pages' ``finalize`` passes untouched: the
    name's NUL, control and bidi characters went into the page raw."""
    page = login_as("chair").get("/shop/stocktake").get_data(as_text=True)
    shown = escape(visible(hostile_month.stored_name))  # 毛巾\x01&lt;script&gt;…\x00\u202e
    assert "\\x01" in shown and f'aria-label="{shown} 实际数量"' in page
    assert not {"\x00", "\x01", "\x02", "\u202e"} & set(page)


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59", "0001-01-01T00:00:00"])
def test_a_batch_with_a_time_outside_the_apps_years_is_refused_not_a_500(
    app, county_app, make_household, when
):
    """A time in the year 9999 overflowed when turned into the villages' month (a 500)."""
    make_household(points=5)
    key = register(county_app)
    body = json.loads(batch_bodies(app, 1, size=100)[0])
    transfer = next(r for r in body["records"] if r["kind"] == "transfer")
    transfer["payload"]["created_at"] = when
    refused = post(county_app.test_client(), key, _resign(body))
    assert refused.status_code == 422, refused.get_data(as_text=True)
    error = refused.get_json()["error"]
    assert error["code"] == "invalid_record" and "created_at" in error["message"] and when in error["message"]
    with county_app.app_context():
        assert db.session.scalar(sa.select(VillageLink.acked_seq)) == 0


def test_the_parts_of_one_upload_sent_at_once_are_all_kept_never_a_500(county_app):
    """The first two parts of an upload at the same moment: the second found the folder half made
    (FileExistsError, or no count file yet) and was a 500, or threw away the upload."""
    admin = county_user(county_app, "county_admin")
    server = CountyServer(county_app)
    try:
        client = httpx.Client(base_url=server.url)
        signed_in = client.post("/login", data={"username": admin.username, "password": PASSWORD})
        assert signed_in.status_code == 302
        for _attempt in range(20):
            upload, start, answers = uuid.uuid4().hex, threading.Barrier(2), []

            def send(index, upload=upload, start=start, answers=answers):
                start.wait()
                url = f"/county/bundles/parts?upload={upload}&index={index}&count=2"
                answers.append(client.post(url, content=b"x" * 10))

            senders = [threading.Thread(target=send, args=(index,)) for index in (0, 1)]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join()
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            assert sorted(a.json()["received"] for a in answers)[-1] == 20
    finally:
        server.stop()


def test_a_stock_that_outlasts_the_calendar_is_said_never_to_run_out_not_a_500(
    app, login_as, make_household, make_user, village_id
):
    """400,000 sheets received and one redeemed in three months last some 100,000 years: the day it
    runs out overflowed a date, and the village picture, its workbook and its chart were 500s."""
    operator, _name = make_user("shopkeeper")
    household_id = make_household(points=50)
    with committing(app) as session:
        paper = shop.save_goods(session, village_id, {"name": "纸", "spec": "张", "price": 1}, None)
        for _receipt in range(4):
            shop.receive_stock(session, paper, MoveKind.DONATION, 100_000, None, donor="纸厂")
        card = cards.issue_card(session, session.get(Household, household_id), None)
        redemptions.redeem(session, village_id, card, [(paper.id, 1)], session.get(User, operator))
    chair, month = login_as("chair"), Period.of(today()).key
    page = chair.get(f"/picture/?month={month}")
    assert page.status_code == 200
    stock = page.get_data(as_text=True).split('id="stock-table"', 1)[-1].split("</table>", 1)[0]
    assert "399999" in stock.replace(",", "") and "不会用完" in stock
    assert chair.get(f"/picture/export/stock.xlsx?month={month}").status_code == 200
    assert chair.get(f"/picture/charts/stock.svg?month={month}").status_code == 200


def test_a_records_unknown_kind_is_not_echoed_back_whole(app, county_app, make_household):
    """The refusal named the kind as sent: 100,000 characters of it went back in the answer (and, for
    a bundle, into the audit log)."""
    make_household(points=5)
    key = register(county_app)
    body = json.loads(batch_bodies(app, 1, size=100)[0])
    body["records"][-1]["kind"] = "k" * 100_000
    refused = post(county_app.test_client(), key, _resign(body))
    assert refused.status_code == 422, refused.get_data(as_text=True)[:300]
    error = refused.get_json()["error"]
    assert error["code"] == "invalid_record" and "kind" in error["message"]
    assert len(refused.data) < 1000


@pytest.mark.parametrize(
    "data",
    [{}, {"file": "not a file"}, {"file": (io.BytesIO(b""), "")}],
    ids=["nothing", "text", "no-file-chosen"],
)
def test_a_bundle_form_without_a_file_is_refused_with_a_4xx_naming_the_field(county_app, data):
    """The form without a file was answered 200, as if it had been taken."""
    admin = login(county_app, county_user(county_app, "county_admin"))
    refused = admin.post("/county/bundles", data=data, content_type="multipart/form-data")
    assert refused.status_code == 422
    assert "同步文件（村里导出的 .pmb 文件）：请选择同步文件" in refused.get_data(as_text=True)


def test_a_donor_stored_with_a_control_character_still_opens_its_own_page(app, village_id, login_as):
    """A donation row from before the text rule, its donor "爱心\\x07企业": the honour board and the
    intakes link to the donor's page by the name's escapes (an address holding the character itself is
    answered 404), and the page and its workbook open. A new donor with one is refused, naming the field."""
    donor = "爱心\x07企业"
    with committing(app) as session:
        goods = shop.save_goods(session, village_id, {"name": "毛巾", "spec": "条", "price": 5}, None)
        move_stock(session, goods, MoveKind.DONATION, 10, None, donor=donor)  # as the version before the rule
        goods_id = goods.id
    staff = login_as("chair")
    board = staff.get("/shop/reports/donors").get_data(as_text=True)
    links = re.findall(r'href="(/shop/reports/donor\?name=[^"]+)"', board)
    assert links == ["/shop/reports/donor?name=%E7%88%B1%E5%BF%83%5Cx07%E4%BC%81%E4%B8%9A"], links
    page = staff.get(links[0])
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "爱心\\x07企业" in text and "\x07" not in text and "毛巾" in text
    workbook = re.search(r'href="(/shop/reports/donor\.xlsx\?name=[^"]+)"', text).group(1)
    assert staff.get(html.unescape(workbook)).status_code == 200
    assert (
        staff.get("/shop/reports/donor?name=爱心企业").status_code == 404
    )  # the escapes name it, not a guess
    with committing(app) as session, pytest.raises(BadText) as refused:
        shop.receive_stock(session, session.get(Goods, goods_id), MoveKind.DONATION, 1, None, donor=donor)
    assert refused.value.extra["field"] == "donor" and "捐赠人或单位" in refused.value.message
