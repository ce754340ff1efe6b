"""The counter's daily work through the client (issue 11): a family without its card, the basket's
limits, goods of the same name, forms that keep what was typed, the receipt, and confirmations."""

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from pointsmart.cards import services as cards
from pointsmart.errors import DomainError
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.households.services import adjust_points, create_household
from pointsmart.org.models import Village
from pointsmart.settings.services import MAX_COUNTY_URL
from pointsmart.shop import lookup
from pointsmart.shop import services as shop
from pointsmart.shop.models import Goods, MoveKind, Redemption, StockMove

from .conftest import committing


@pytest.fixture
def families(app, make_household, village_id):
    """Three 王秀兰-like households (two with the same name), one without a card; soap (10) in stock."""
    ids = {
        "wang1": make_household(points=100, head_name="王秀兰", household_no="06-001", phone="13912345678"),
        "wang2": make_household(points=40, head_name="王秀兰", household_no="07-014", phone="13800005678"),
        "li": make_household(points=60, head_name="李桂英", household_no="06-002", phone="13700001111"),
        "zhao": make_household(points=10, head_name="赵小兰", household_no="08-003"),
    }
    with committing(app) as session:
        card_ids = {}
        for key in ("wang1", "wang2", "li"):
            card_ids[key] = cards.issue_card(session, session.get(Household, ids[key]), None).id
        soap = shop.save_goods(session, village_id, {"name": "洗衣粉", "spec": "袋", "price": 30}, None)
        shop.receive_stock(session, soap, MoveKind.DONATION, 10, None, donor="爱心企业")
        soap_id = soap.id
    return {"ids": ids, "cards": card_ids, "soap": soap_id}


def _find(client, text):
    return client.post("/shop/counter/find", data={"q": text})


def _basket_links(page: str) -> list[str]:
    return re.findall(r'href="/shop/counter/cards/(\d+)"', page)


# --- a family without its card ------------------------------------------------------------------


def test_a_name_lists_every_household_of_it_masked_with_its_number_to_confirm(login_as, families):
    shopkeeper = login_as("shopkeeper")
    response = _find(shopkeeper, "王秀兰")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "找到 2 户" in page
    listed = re.search(r'<section class="card matches".*?</section>', page, re.S).group(0)
    assert listed.count("王*兰") == 2 and "王秀兰" not in listed  # the screen shows no full name
    assert "06-001" in page and "07-014" in page and "06-002" not in page
    links = _basket_links(page)
    assert links == [str(families["cards"]["wang1"]), str(families["cards"]["wang2"])]
    # choosing one opens that household's basket
    basket = shopkeeper.get(f"/shop/counter/cards/{links[1]}").get_data(as_text=True)
    assert "07-014" in basket and 'data-balance="40"' in basket


def test_part_of_a_name_finds_everyone_it_fits(login_as, families):
    page = _find(login_as("chair"), "兰").get_data(as_text=True)
    assert "找到 3 户" in page and "赵*兰" in page
    # a household without an active card is listed, but has no basket to open
    assert "没有有效的积分卡" in page and len(_basket_links(page)) == 2


@pytest.mark.parametrize("typed", ["06-002", "06002", " 06 - 002 ", "1111"])
def test_a_household_number_or_phone_tail_finds_the_one_household(login_as, families, typed):
    page = _find(login_as("shopkeeper"), typed).get_data(as_text=True)
    assert "找到 1 户" in page and "李*英" in page
    assert _basket_links(page) == [str(families["cards"]["li"])]


def test_a_phone_tail_shared_by_two_lists_both(login_as, families):
    page = _find(login_as("shopkeeper"), "5678").get_data(as_text=True)
    assert "找到 2 户" in page and "06-001" in page and "07-014" in page


def test_nothing_found_says_so_and_nothing_typed_is_a_clear_4xx(login_as, families):
    shopkeeper = login_as("shopkeeper")
    missing = _find(shopkeeper, "陈玉梅")
    assert missing.status_code == 200  # an answer: nobody of that name
    page = missing.get_data(as_text=True)
    assert "没有找到“陈玉梅”" in page and 'value="陈玉梅"' in page  # kept to correct it
    empty = _find(shopkeeper, "   ")
    assert empty.status_code == 422 and "请扫描积分卡" in empty.get_data(as_text=True)
    bad = _find(shopkeeper, "王\x00兰")
    assert bad.status_code == 422


def test_a_scanned_card_still_opens_its_basket_and_its_token_is_never_echoed(app, login_as, families):
    shopkeeper = login_as("shopkeeper")
    with app.app_context():
        card = cards.active_card(db.session, families["ids"]["wang1"])
        token, number = card.token, card.number
    assert _find(shopkeeper, number).headers["Location"].endswith(f"/cards/{families['cards']['wang1']}")
    # a card printed with the county's address, as long as settings let that address be
    county = "https://" + "x" * (MAX_COUNTY_URL - len("https://"))
    assert (
        _find(shopkeeper, f"{county}/c/{token}")
        .headers["Location"]
        .endswith(f"/cards/{families['cards']['wang1']}")
    )
    with committing(app) as session:
        cards.reissue_card(session, session.get(Household, families["ids"]["wang1"]), "丢失", None)
    revoked = _find(shopkeeper, f"http://x.test/c/{token}")
    assert revoked.status_code == 409 and token not in revoked.get_data(as_text=True)


def test_only_the_shop_staff_of_the_village_find_families(app, login_as, families):
    assert _find(login_as("panel"), "王秀兰").status_code == 403
    with committing(app) as session:
        other = Village(code="620123105277", name="邻村")
        session.add(other)
        session.flush()
        stranger = create_household(
            session, other.id, {"household_no": "06-001", "head_name": "王秀兰", "phone": "13600005678"}, None
        )
        cards.issue_card(session, stranger, None)
    for typed in ("王秀兰", "06-001", "5678"):
        page = _find(login_as("chair"), typed).get_data(as_text=True)
        assert len(_basket_links(page)) == {"王秀兰": 2, "06-001": 1, "5678": 2}[typed], typed
    with app.app_context():
        assert len(lookup.identify(db.session, other_id(app), "王秀兰").matches) == 1


def other_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Village.id).where(Village.code == "620123105277"))


# --- the basket ---------------------------------------------------------------------------------


def test_the_basket_caps_at_stock_and_the_server_refuses_beyond_it(app, login_as, families):
    shopkeeper = login_as("shopkeeper")
    url = f"/shop/counter/cards/{families['cards']['wang1']}"
    page = shopkeeper.get(url).get_data(as_text=True)
    assert f'name="qty_{families["soap"]}" value="0" min="0" max="10"' in page
    assert "库存只有 %(n)s，已改为 %(n)s" in page  # the page's own words for a capped quantity
    key = re.search(r'name="key" value="([0-9a-f]+)"', page).group(1)
    refused = shopkeeper.post(url, data={"key": key, f"qty_{families['soap']}": "12"})
    assert refused.status_code == 409
    assert "洗衣粉 库存不足：现有 10，需要 12。" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Redemption.id))) == 0
        assert db.session.get(Goods, families["soap"]).stock == 10


def test_the_basket_marks_what_the_family_cannot_afford_in_words(app, login_as, families):
    shopkeeper = login_as("shopkeeper")
    url = f"/shop/counter/cards/{families['cards']['li']}"
    assert 'unaffordable"' not in shopkeeper.get(url).get_data(as_text=True)  # 60 points, soap is 30
    with committing(app) as session:
        adjust_points(session, session.get(Household, families["ids"]["li"]), -50, "扣分", actor_id=None)
    page = shopkeeper.get(url).get_data(as_text=True)  # 10 points left
    assert 'class="tile unaffordable"' in page and "积分不够兑换" in page


# --- goods --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "spec"), [("洗衣粉", "袋"), (" 洗衣粉 ", "袋"), ("洗 衣 粉", " 袋"), ("洗衣粉", "袋 ")]
)
def test_a_second_goods_item_of_the_same_name_and_unit_is_refused(ctx, village_id, families, name, spec):
    with pytest.raises(DomainError) as info:
        shop.save_goods(ctx, village_id, {"name": name, "spec": spec, "price": 10}, None)
    assert info.value.code == "duplicate_goods" and info.value.extra["field"] == "name"
    assert info.value.message.startswith("商品名称：")


def test_case_and_width_do_not_make_two_goods_different(ctx, village_id):
    shop.save_goods(ctx, village_id, {"name": "Soap 肥皂", "spec": "500g", "price": 10}, None)
    for name, spec in (("soap 肥皂", "500G"), ("ＳＯＡＰ 肥皂", "５００ｇ")):
        with pytest.raises(DomainError) as info:
            shop.save_goods(ctx, village_id, {"name": name, "spec": spec, "price": 10}, None)
        assert info.value.code == "duplicate_goods"
    # another unit is another goods item; editing an item keeps its own name
    other = shop.save_goods(ctx, village_id, {"name": "Soap 肥皂", "spec": "1kg", "price": 18}, None)
    shop.save_goods(ctx, village_id, {"name": "Soap 肥皂", "spec": "1kg", "price": 20}, None, other)
    with pytest.raises(DomainError):  # nor may an edit make it the other's twin
        shop.save_goods(ctx, village_id, {"name": "soap 肥皂", "spec": "500g", "price": 20}, None, other)


def test_the_goods_form_names_the_field_of_a_twin(app, login_as, families):
    response = login_as("chair").post("/shop/goods/new", data={"name": "洗衣粉 ", "spec": "袋", "price": "9"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "商品名称：已有同名同规格的商品“洗衣粉 袋”" in page and 'value="9"' in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Goods.id))) == 1


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, format="JPEG")
    return out.getvalue()


def test_the_shopkeeper_uploads_a_goods_photo_but_does_not_edit_names_or_prices(app, login_as, families):
    shopkeeper = login_as("shopkeeper")
    url = f"/shop/goods/{families['soap']}"
    assert "上传照片" in shopkeeper.get(url).get_data(as_text=True)
    response = shopkeeper.post(
        url,
        data={"action": "photo", "photo-photo": (io.BytesIO(_jpeg()), "soap.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Goods, families["soap"]).photo.endswith(".jpg")
    assert shopkeeper.get(f"/shop/goods/{families['soap']}/photo").status_code == 200
    assert shopkeeper.get(f"/shop/goods/{families['soap']}/edit").status_code == 403
    none = shopkeeper.post(url, data={"action": "photo"}, content_type="multipart/form-data")
    assert none.status_code == 422 and "请选择一张照片" in none.get_data(as_text=True)
    assert login_as("panel").post(url, data={"action": "photo"}).status_code == 403


# --- stock forms keep what was typed ------------------------------------------------------------


def test_a_refused_receive_form_comes_back_with_every_entry(app, login_as, families):
    chair = login_as("chair")
    url = f"/shop/goods/{families['soap']}"
    typed = {
        "action": "receive",
        "key": "k1",
        "in-kind": "donation",
        "in-qty": "",  # missing: a field error
        "in-moved_on": "2026-11-20",
        "in-donor": "爱心超市",
        "in-funding_source": "",
        "in-cost_yuan": "3.50",
        "in-note": "十一月捐赠",
    }
    response = chair.post(url, data=typed)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for value in ("2026-11-20", "爱心超市", "3.50", "十一月捐赠"):
        assert f'value="{value}"' in page, value
    assert re.search(r'<option selected value="donation">|<option value="donation" selected', page)
    # refused by the service (a donation needs its donor): the rest is kept too
    service = chair.post(url, data=typed | {"in-qty": "4", "in-donor": "", "key": "k2"})
    assert service.status_code == 422 and "请填写捐赠人" in service.get_data(as_text=True)
    assert 'value="4"' in service.get_data(as_text=True) and 'value="十一月捐赠"' in service.get_data(
        as_text=True
    )
    with app.app_context():
        assert db.session.get(Goods, families["soap"]).stock == 10
        assert db.session.scalar(sa.select(sa.func.count(StockMove.id))) == 1


# --- receipt and confirmations ------------------------------------------------------------------


def _redeem(shopkeeper, card_id, soap_id, qty=2) -> str:
    url = f"/shop/counter/cards/{card_id}"
    key = re.search(r'name="key" value="([0-9a-f]+)"', shopkeeper.get(url).get_data(as_text=True)).group(1)
    return shopkeeper.post(url, data={"key": key, f"qty_{soap_id}": str(qty)}).headers["Location"]


def test_the_receipt_names_the_shop_has_a_signature_line_and_the_next_scan_field(
    app, login_as, families, village_id
):
    shopkeeper = login_as("shopkeeper")
    receipt = _redeem(shopkeeper, families["cards"]["wang1"], families["soap"])
    with app.app_context():
        village_name = db.session.get(Village, village_id).name
    for paper in ("58", "a4"):
        page = shopkeeper.get(f"{receipt}?paper={paper}").get_data(as_text=True)
        shop_line = re.search(r'<p class="receipt-shop">(.*?)</p>', page, re.S).group(1)
        assert village_name in shop_line and "巾帼家美积分超市" in shop_line
        assert "领取人签字" in page and 'class="sign-line"' in page
        scan = re.search(r'<form[^>]*action="/shop/counter/find"[^>]*>.*?</form>', page, re.S).group(0)
        assert "autofocus" in scan and 'name="q"' in scan


def test_cancelling_a_redemption_asks_naming_the_points_and_the_household(login_as, families):
    shopkeeper = login_as("shopkeeper")
    page = shopkeeper.get(_redeem(shopkeeper, families["cards"]["wang1"], families["soap"])).get_data(
        as_text=True
    )
    form = re.search(r'<form[^>]*action="/shop/redemptions/\d+/cancel"[^>]*>', page, re.S).group(0)
    assert (
        'data-confirm="撤销后 60 分退回 06-001 户，商品退回库存，这笔兑换作废，不能恢复。确定撤销吗？"'
        in form
    )


def test_loss_and_stocktake_ask_before_they_change_stock(login_as, families):
    shopkeeper = login_as("shopkeeper")
    stock = shopkeeper.get(f"/shop/goods/{families['soap']}").get_data(as_text=True)
    assert 'data-confirm="损耗会从 洗衣粉 的库存中减去' in stock
    take = shopkeeper.get("/shop/stocktake").get_data(as_text=True)
    assert re.search(r'<form method="post" data-confirm="[^"]*不能撤回', take)


# --- the live camera's WebAssembly decoder -----------------------------------------------------


def test_only_the_counter_pages_may_compile_webassembly_and_they_name_the_decoder_in_static(
    login_as, families
):
    """'wasm-unsafe-eval' lets the counter's QR decoder compile (WebAssembly only: no eval(), no
    inline script), on the counter's own pages — not on the basket, and not anywhere else."""
    shopkeeper = login_as("shopkeeper")
    counter = shopkeeper.get("/shop/counter")
    not_found = _find(shopkeeper, "查无此人")
    refused = _find(shopkeeper, "1" * 9)  # a card number that fails its check digit: refused, 4xx
    assert refused.status_code >= 400
    for response in (counter, not_found, refused):
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self' 'wasm-unsafe-eval';" in policy
        assert "'unsafe-eval'" not in policy.replace("'wasm-unsafe-eval'", "")
        assert "'unsafe-inline'" not in policy
    page = counter.get_data(as_text=True)
    assert 'data-decoder="/static/vendor/zxing-wasm/zxing-reader.js"' in page
    assert 'data-wasm="/static/vendor/zxing-wasm/zxing_reader.wasm"' in page
    basket = shopkeeper.get(f"/shop/counter/cards/{families['cards']['wang1']}")
    for response in (basket, shopkeeper.get("/"), shopkeeper.get("/login")):
        assert "wasm" not in response.headers["Content-Security-Policy"]
