"""Card pages, the family's card page, and the counter pages through the client."""

import base64
import io
import logging
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
import zxingcpp
from PIL import Image

from pointsmart import qr
from pointsmart.auth.models import User
from pointsmart.cards import services as cards
from pointsmart.cards.models import Card
from pointsmart.errors import DomainError
from pointsmart.extensions import db
from pointsmart.households.models import Household
from pointsmart.org.services import home_village
from pointsmart.scoring import criteria, panels, score_entry
from pointsmart.scoring import workflow as scoring_workflow
from pointsmart.shop import lookup, redemptions
from pointsmart.shop import services as shop
from pointsmart.shop.models import MoveKind, Redemption
from pointsmart.shop.redemptions import MAX_QTY

from .conftest import PASSWORD


@pytest.fixture
def carded(app, make_household, village_id):
    """Two households with cards; the first has 100 points, a phone and an address. Soap and oil in stock."""
    first = make_household(points=100, head_name="王秀兰", phone="13912345678", address="一社12号")
    second = make_household(head_name="李四")
    with app.app_context():
        made = [cards.issue_card(db.session, db.session.get(Household, h), None) for h in (first, second)]
        soap = shop.save_goods(db.session, village_id, {"name": "洗衣粉", "price": 30}, None)
        oil = shop.save_goods(db.session, village_id, {"name": "食用油", "price": 80}, None)
        shop.receive_stock(db.session, soap, MoveKind.DONATION, 10, None, donor="爱心企业")
        db.session.commit()
        return {
            "households": (first, second),
            "tokens": [c.token for c in made],
            "numbers": [c.number for c in made],
            "ids": [c.id for c in made],
            "soap": soap.id,
            "oil": oil.id,
        }


def _qr_images(page: str):
    """The base64 bodies of the inline SVG QR images on a page."""
    return re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)


def test_chair_issues_cards_for_everyone_at_once(app, login_as, make_household):
    make_household(head_name="甲")
    make_household(head_name="乙")
    chair = login_as("chair")
    page = chair.post("/cards/issue-all", follow_redirects=True).get_data(as_text=True)
    assert "已为 2 户发卡" in page
    again = chair.post("/cards/issue-all", follow_redirects=True).get_data(as_text=True)
    assert "已为 0 户发卡" in again


def test_card_sheet_qr_codes_decode_to_the_card_urls(app, login_as, carded):
    page = login_as("chair").get("/cards/sheet").get_data(as_text=True)
    svgs = _qr_images(page)
    assert len(svgs) == 2
    assert "王秀兰" in page and carded["numbers"][0][:4] in page
    # the PNG endpoint renders the same URL; decode it back
    png = login_as("shopkeeper").get(f"/cards/{carded['ids'][0]}/qr.png")
    assert png.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))
    assert [d.text for d in decoded] == [f"http://pointsmart.test/c/{carded['tokens'][0]}"]
    svg = base64.b64decode(svgs[0]).decode()
    assert svg.startswith("<?xml") and "<svg" in svg


def test_family_page_shows_balance_goods_and_masked_name_only(client, carded):
    response = client.get(f"/c/{carded['tokens'][0]}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "王*兰" in page and "王秀兰" not in page
    assert "13912345678" not in page and "一社12号" not in page
    assert 'id="balance">100<' in page and "洗衣粉" in page and "食用油" not in page  # oil has no stock
    assert "临时奖励" in page and "开户积分" not in page  # the chair's own note stays with the staff
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "/notice" in page  # the link to the public notice


def test_revoking_a_card_needs_a_reason(app, login_as, carded):
    from pointsmart.cards.models import Card, CardStatus

    chair = login_as("chair")
    card_id = carded["ids"][0]
    refusals = (("", "请填写作废原因"), ("   ", "请填写作废原因"), ("长" * 201, "作废原因：最多 200 个字"))
    for reason, said in refusals:
        page = chair.post(f"/cards/{card_id}/revoke", data={"reason": reason}, follow_redirects=True)
        assert said in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Card, card_id).status == CardStatus.ACTIVE
    assert 'aria-label="作废原因"' in chair.get("/cards").get_data(as_text=True)
    chair.post(f"/cards/{card_id}/revoke", data={"reason": " 卡片损坏 "})
    with app.app_context():
        card = db.session.get(Card, card_id)
        assert (card.status, card.revoke_reason) == (CardStatus.REVOKED, "卡片损坏")


def test_unknown_and_revoked_cards_get_the_same_plain_answer(app, client, carded):
    with app.app_context():
        cards.reissue_card(db.session, db.session.get(Household, carded["households"][0]), "丢失", None)
        db.session.commit()
    revoked = client.get(f"/c/{carded['tokens'][0]}")
    unknown = client.get("/c/" + "x" * 43)
    assert revoked.status_code == unknown.status_code == 404
    # the same page, but for the address itself (which the language switch links back to)
    assert revoked.get_data(as_text=True).replace(carded["tokens"][0], "T") == unknown.get_data(
        as_text=True
    ).replace("x" * 43, "T")


def test_family_page_is_rate_limited(make_app, carded):
    app = make_app(POINTSMART_CARD_PAGE_LIMIT="5 per minute")
    client = app.test_client()
    codes = [client.get("/c/" + "y" * 43).status_code for _ in range(7)]
    assert codes[:5] == [404] * 5 and codes[5:] == [429, 429]


def test_card_token_never_reaches_the_logs(app, client, carded, caplog):
    caplog.set_level(logging.DEBUG)
    client.get(f"/c/{carded['tokens'][0]}")
    client.get(f"/c/{carded['tokens'][0]}x")
    assert carded["tokens"][0] not in caplog.text


def test_family_page_can_only_look(client, carded):
    assert client.post(f"/c/{carded['tokens'][0]}").status_code == 405


def test_counter_finds_a_card_by_number_or_scanned_url_and_redeems_once(app, login_as, carded):
    shopkeeper = login_as("shopkeeper")
    by_number = shopkeeper.post("/shop/counter/find", data={"q": carded["numbers"][0]})
    assert by_number.headers["Location"].endswith(f"/shop/counter/cards/{carded['ids'][0]}")
    url = f"http://pointsmart.test/c/{carded['tokens'][0]}"
    scanned = shopkeeper.post("/shop/counter/find", data={"q": url})
    assert scanned.headers["Location"] == by_number.headers["Location"]
    assert carded["tokens"][0] not in scanned.headers["Location"]
    # never in an address: the counter's form posts, and a lookup by GET is not served
    counter = shopkeeper.get("/shop/counter").get_data(as_text=True)
    assert 'method="post" action="/shop/counter/find"' in counter
    assert shopkeeper.get(f"/shop/counter/find?q={carded['tokens'][0]}").status_code == 405
    page = shopkeeper.get(by_number.headers["Location"]).get_data(as_text=True)
    key = re.search(r'name="key" value="([0-9a-f]+)"', page).group(1)
    form = {"key": key, f"qty_{carded['soap']}": "2"}
    first = shopkeeper.post(by_number.headers["Location"], data=form)
    second = shopkeeper.post(by_number.headers["Location"], data=form)  # a double click
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Redemption.id))) == 1
        assert db.session.get(Household, carded["households"][0]).balance == 40
    receipt = shopkeeper.get(first.headers["Location"]).get_data(as_text=True)
    assert "洗衣粉" in receipt and 'id="balance-after">40<' in receipt
    # the "下一位" scan field takes what the counter's does (lookup.MAX_QUERY), never less
    scan_fields = re.findall(r'<input type="text" name="q"[^>]*>', receipt + counter)
    assert len(scan_fields) == 2
    assert all(f'maxlength="{lookup.MAX_QUERY}"' in field for field in scan_fields)


def test_counter_refuses_clearly_and_writes_nothing(app, login_as, carded):
    shopkeeper = login_as("shopkeeper")
    url = f"/shop/counter/cards/{carded['ids'][1]}"  # 李四 has no points
    response = shopkeeper.post(url, data={"key": "k1", f"qty_{carded['soap']}": "1"})
    assert response.status_code == 409
    assert "积分不足" in response.get_data(as_text=True)
    wrong = shopkeeper.post("/shop/counter/find", data={"q": "123456789"}, follow_redirects=True)
    wrong = wrong.get_data(as_text=True)
    assert "卡号 123456789 不对" in wrong
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Redemption.id))) == 0


def test_counter_reads_a_photo_of_a_card(app, login_as, carded):
    png = qr.qr_png(f"http://pointsmart.test/c/{carded['tokens'][0]}", box_size=8)
    photo = Image.new("RGB", (900, 700), "white")  # the card somewhere in a bigger, greyish photo
    photo.paste(Image.open(io.BytesIO(png)).convert("RGB"), (200, 120))
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=80)
    response = login_as("shopkeeper").post(
        "/shop/counter/photo",
        data={"photo": (io.BytesIO(out.getvalue()), "a.jpg")},
        content_type="multipart/form-data",
    )
    assert response.headers["Location"].endswith(f"/shop/counter/cards/{carded['ids'][0]}")
    nothing = login_as("shopkeeper").post(
        "/shop/counter/photo",
        data={"photo": (io.BytesIO(b"not an image"), "a.jpg")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "没有识别到二维码" in nothing.get_data(as_text=True)


def test_cards_cli_issues_for_all(app, make_household):
    make_household()
    make_household()
    result = app.test_cli_runner().invoke(args=["cards", "issue", "--all"])
    assert result.exit_code == 0 and "issued 2 cards" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Card.id))) == 2


def test_goods_photo_is_checked_stored_and_served(app, login_as, carded):
    chair = login_as("chair")
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(out, "JPEG")
    form = {
        "name": "洗衣粉",
        "price": "30",
        "low_stock": "0",
        "position": "0",
        "active": "y",
        "photo": (io.BytesIO(out.getvalue()), "soap.jpg"),
    }
    saved = chair.post(f"/shop/goods/{carded['soap']}/edit", data=form, content_type="multipart/form-data")
    assert saved.status_code == 302
    photo = app.test_client().get(f"/shop/goods/{carded['soap']}/photo")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(photo.data)).size == (64, 48)  # the same picture, re-saved without EXIF
    stored = photo.data
    form["photo"] = (io.BytesIO(b"<script>alert(1)</script>"), "evil.jpg")
    refused = chair.post(f"/shop/goods/{carded['soap']}/edit", data=form, content_type="multipart/form-data")
    assert "不是 JPG、PNG 或 WebP" in refused.get_data(as_text=True)
    assert app.test_client().get(f"/shop/goods/{carded['soap']}/photo").data == stored
    assert app.test_client().get(f"/shop/goods/{carded['oil']}/photo").status_code == 404


@pytest.mark.parametrize(
    "day, words, code",
    [
        ("0001-01-01", "日期应在 2000-01-01 到", "invalid_date"),
        ("1999-12-31", "日期应在 2000-01-01 到", "invalid_date"),
        ("9999-12-31", "日期不能晚于今天（", "date_in_future"),
        ("tomorrow", "日期不能晚于今天（", "date_in_future"),
    ],
)
def test_a_stock_date_outside_a_sane_window_gets_a_field_error(app, login_as, carded, day, words, code):
    """A receipt dated before 2000 or after today (it would change today's stock but be filed under a
    month to come) is refused naming the field, on the page and by the service."""
    from pointsmart.periods import today

    with app.app_context():
        now = today()
    if day == "tomorrow":
        day = (now + timedelta(days=1)).isoformat()
    shopkeeper = login_as("shopkeeper")
    form = {"action": "receive", "key": f"k{day}", "in-kind": "donation", "in-qty": "6",
            "in-donor": "爱心人士", "in-moved_on": day}  # fmt: skip
    page = shopkeeper.post(f"/shop/goods/{carded['soap']}", data=form, follow_redirects=True)
    assert f"日期：{words}" in page.get_data(as_text=True) and page.status_code == 422
    with app.app_context():
        from pointsmart.shop.models import Goods

        assert db.session.get(Goods, carded["soap"]).stock == 10
        with pytest.raises(DomainError) as refused:
            shop.receive_stock(
                db.session, db.session.get(Goods, carded["soap"]), MoveKind.DONATION, 1, None,
                donor="甲", moved_on=date.fromisoformat(day),
            )  # fmt: skip
        assert refused.value.code == code and refused.value.extra["field"] == "moved_on"
        assert refused.value.message.startswith(f"日期：{words}")
    form.update({"key": "fine", "in-moved_on": now.isoformat()})
    shopkeeper.post(f"/shop/goods/{carded['soap']}", data=form)
    with app.app_context():
        assert db.session.get(Goods, carded["soap"]).stock == 16


def test_stock_received_twice_from_one_form_counts_once(app, login_as, carded):
    shopkeeper = login_as("shopkeeper")
    page = shopkeeper.get(f"/shop/goods/{carded['soap']}").get_data(as_text=True)
    key = re.search(r'name="key" value="([0-9a-f]+)"', page).group(1)
    form = {"action": "receive", "key": key, "in-kind": "donation", "in-qty": "6", "in-donor": "爱心人士"}
    for _ in range(2):
        assert shopkeeper.post(f"/shop/goods/{carded['soap']}", data=form).status_code == 302
    loss = {"action": "loss", "key": "other", "loss-qty": "100", "loss-note": "受潮"}
    refused = shopkeeper.post(f"/shop/goods/{carded['soap']}", data=loss, follow_redirects=True)
    assert "库存不足" in refused.get_data(as_text=True)
    with app.app_context():
        from pointsmart.shop.models import Goods

        assert db.session.get(Goods, carded["soap"]).stock == 16


def test_a_redemption_is_cancelled_at_the_counter_not_reversed_on_the_household_page(app, login_as, carded):
    from pointsmart.auth.models import User
    from pointsmart.ledger.models import Transfer

    chair = login_as("chair")
    with app.app_context():
        card = db.session.get(Card, carded["ids"][0])
        done = redemptions.redeem(
            db.session,
            card.household.village_id,
            card,
            [(carded["soap"], 1)],
            db.session.get(User, chair.user_id),
        )
        db.session.commit()
        transfer_id = done.transfer_id
        hid = card.household_id
    page = chair.post(
        f"/households/{hid}/transfers/{transfer_id}/reverse", data={"reason": "错了"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "兑换记录请在收银台的兑换凭条上撤销" in page
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count(Transfer.id)).where(Transfer.reverses_id == transfer_id)
            )
            == 0
        )


def test_a_deactivated_household_cannot_redeem(app, login_as, carded):
    chair = login_as("chair")
    chair.post(f"/households/{carded['households'][0]}/active")
    shopkeeper = login_as("shopkeeper")
    response = shopkeeper.post(
        f"/shop/counter/cards/{carded['ids'][0]}", data={"key": "k9", f"qty_{carded['soap']}": "1"}
    )
    assert response.status_code == 409 and "该户已停用" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "url", ["/households/?page=100000000000000000000", "/audit/?page=99999999999999999999"]
)
def test_absurd_page_numbers_do_not_break_pages(login_as, url):
    assert login_as("chair").get(url).status_code == 200


@pytest.mark.parametrize("qty", ["10000000000000000000000", "²", "-1", "1.5"])
def test_absurd_basket_quantities_are_refused_cleanly(app, login_as, carded, qty):
    shopkeeper = login_as("shopkeeper")
    response = shopkeeper.post(
        f"/shop/counter/cards/{carded['ids'][0]}", data={"key": f"k-{qty}", f"qty_{carded['soap']}": qty}
    )
    assert response.status_code in (409, 422) and "数量" in response.get_data(as_text=True)


def _decoded_qr(app, make_user, card_id: int, host: str) -> list[str]:
    """The address in a card's QR code, for a chair using the server at ``host`` (a PC on the LAN)."""
    client, base = app.test_client(), f"http://{host}"
    _user_id, name = make_user("chair")
    assert (
        client.post("/login", data={"username": name, "password": PASSWORD}, base_url=base).status_code == 302
    )
    png = client.get(f"/cards/{card_id}/qr.png", base_url=base)
    assert png.status_code == 200
    return [d.text for d in zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))]


def test_qr_address_is_the_configured_base_url_when_set(app, carded, make_user):
    decoded = _decoded_qr(app, make_user, carded["ids"][0], "127.0.0.1:5123")
    assert decoded == [f"http://pointsmart.test/c/{carded['tokens'][0]}"]  # the app's POINTSMART_BASE_URL


def test_qr_address_follows_the_request_when_no_base_url_is_set(app, carded, make_user):
    app.config["POINTSMART_BASE_URL"] = ""
    token = carded["tokens"][0]
    for host in ("192.168.1.20:5123", "village-pc:8080"):
        assert _decoded_qr(app, make_user, carded["ids"][0], host) == [f"http://{host}/c/{token}"]


def test_print_the_cards_just_issued(app, login_as, make_household):
    older = make_household(head_name="老户")
    chair = login_as("chair")
    chair.post("/cards/issue-all")  # the first batch: 老户
    make_household(head_name="新甲")
    make_household(head_name="新乙")
    response = chair.post("/cards/issue-all")
    assert response.status_code == 302 and "issued=" in response.headers["Location"]
    page = chair.get(response.headers["Location"]).get_data(as_text=True)
    link = re.search(r'href="(/cards/sheet\?[^"]+)"[^>]*>打印刚发的 2 张卡<', page)
    assert link, page
    sheet = chair.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "新甲" in sheet and "新乙" in sheet and "老户" not in sheet and len(_qr_images(sheet)) == 2
    with app.app_context():
        assert cards.active_card(db.session, older) is not None


def test_a_village_first_batch_of_cards_prints_from_a_short_address(login_as, make_household):
    """300 cards issued at once: the page is told "121-420", not 300 ids (too long for a query value)."""
    for n in range(300):
        make_household(head_name=f"户主{n}", household_no=f"01-{n:03d}")
    chair = login_as("chair")
    response = chair.post("/cards/issue-all")
    location = response.headers["Location"]
    assert response.status_code == 302 and re.search(r"issued=\d+-\d+$", location), location
    page = chair.get(location)
    assert page.status_code == 200
    link = re.search(r'href="(/cards/sheet\?[^"]+)"[^>]*>打印刚发的 300 张卡<', page.get_data(as_text=True))
    assert link and len(link.group(1)) < 100, link


def test_print_selected_cards_only(app, login_as, carded):
    chair = login_as("chair")
    page = chair.get("/cards").get_data(as_text=True)
    assert (
        'id="print-selected"' in page
        and f'name="card" value="{carded["ids"][1]}" form="print-selected"' in page
    )
    sheet = chair.get(f"/cards/sheet?card={carded['ids'][1]}").get_data(as_text=True)
    assert "李四" in sheet and "王秀兰" not in sheet and len(_qr_images(sheet)) == 1
    nothing = chair.get("/cards/sheet?card=", follow_redirects=True).get_data(as_text=True)
    assert "请先勾选要打印的卡" in nothing and not _qr_images(nothing)


def test_a_revoked_cards_page_never_looks_valid(app, login_as, carded):
    chair = login_as("chair")
    old = carded["ids"][0]
    chair.post(f"/cards/{old}/revoke", data={"reason": "丢失"})
    page = chair.get(f"/cards/{old}").get_data(as_text=True)
    assert "此卡已作废，不能使用" in page and 'class="pc-watermark"' in page and "已作废" in page
    assert _qr_images(page) == [] and "qr.png" not in page and "print-button" not in page
    assert chair.get(f"/cards/{old}/qr.png").status_code == 404
    assert chair.get(f"/cards/{old}/qr.svg").status_code == 404
    # the sheet of all cards leaves it out
    assert carded["numbers"][0][:4] not in chair.get("/cards/sheet").get_data(as_text=True)
    # once reissued, the old card's page points to the new one
    chair.post(f"/cards/households/{carded['households'][0]}/issue")
    with app.app_context():
        new = cards.active_card(db.session, carded["households"][0])
        shown = new.number_display
    assert f"查看该户现在的卡 {shown}" in chair.get(f"/cards/{old}").get_data(as_text=True)


def test_household_page_shows_the_card_line_without_a_card(app, login_as, carded, make_household):
    chair = login_as("chair")
    without = make_household(head_name="没卡户")
    page = chair.get(f"/households/{without}").get_data(as_text=True)
    line = page.split('id="card-line"')[1].split("</dd>")[0]
    assert "无有效卡" in line and f'action="/cards/households/{without}/issue"' in line
    chair.post(f"/cards/{carded['ids'][1]}/revoke", data={"reason": "损坏"})
    revoked = chair.get(f"/households/{carded['households'][1]}").get_data(as_text=True)
    assert "无有效卡" in revoked.split('id="card-line"')[1].split("</dd>")[0]
    with_card = chair.get(f"/households/{carded['households'][0]}").get_data(as_text=True)
    assert carded["numbers"][0][:4] in with_card.split('id="card-line"')[1]
    shopkeeper_view = login_as("shopkeeper").get(f"/households/{without}").get_data(as_text=True)
    assert "无有效卡" in shopkeeper_view and f"/cards/households/{without}/issue" not in shopkeeper_view


def test_revoking_asks_first_naming_the_consequence(login_as, carded):
    page = login_as("chair").get("/cards").get_data(as_text=True)
    assert re.search(
        r'data-confirm="09-001 王秀兰 的卡 \d{4} \d{4} \d 将作废，不能再兑换，不能撤回。确定吗？"', page
    )
    assert re.search(
        r'data-confirm="09-001 王秀兰 的旧卡 [\d ]+ 将作废，不能撤回，并补发一张新卡。确定吗？"', page
    )


def test_family_page_never_shows_a_staff_note_and_marks_what_the_family_can_afford(
    app, client, make_user, carded
):
    from pointsmart.auth.models import User

    shopkeeper_id, _name = make_user("shopkeeper")
    with app.app_context():
        session = db.session
        card = session.get(Card, carded["ids"][0])
        shopkeeper = session.get(User, shopkeeper_id)
        wrong = redemptions.redeem(
            session, card.household.village_id, card, [(carded["soap"], 2)], shopkeeper
        )
        session.commit()
        redemptions.cancel_redemption(session, wrong, "拿错了", shopkeeper)
        session.commit()
        cheap = shop.save_goods(session, card.household.village_id, {"name": "毛巾", "price": 100}, None)
        dear = shop.save_goods(session, card.household.village_id, {"name": "电饭锅", "price": 101}, None)
        for goods in (cheap, dear):
            shop.receive_stock(session, goods, MoveKind.DONATION, 3, None, donor="爱心企业")
        session.commit()
    page = client.get(f"/c/{carded['tokens'][0]}").get_data(as_text=True)
    assert "拿错了" not in page and "开户积分" not in page
    lines = re.findall(r'<span class="what">([^<]+)</span>\s*<span class="num [a-z]+">([^<]+)</span>', page)
    assert (
        ("兑换更正", "+60") in lines and ("兑换：洗衣粉×2", "-60") in lines and ("临时奖励", "+100") in lines
    )
    goods = {
        name: "可兑换" in item
        for item in page.split('<ul class="goods-list">')[1].split("</ul>")[0].split("<li")[1:]
        for name in ("洗衣粉", "毛巾", "电饭锅")
        if name in item
    }
    assert goods == {
        "洗衣粉": True,
        "毛巾": True,
        "电饭锅": False,
    }  # balance 100: soap 30, towel 100, cooker 101


def test_a_quantity_over_the_services_limit_is_refused_saying_the_limit(app, login_as, carded):
    shopkeeper = login_as("shopkeeper")
    url = f"/shop/counter/cards/{carded['ids'][0]}"
    response = shopkeeper.post(url, data={"key": "k-over", f"qty_{carded['soap']}": str(MAX_QTY + 1)})
    assert response.status_code == 422
    assert f"每件商品的数量最多 {MAX_QTY}。" in response.get_data(as_text=True)


def test_the_family_page_opens_the_latest_notice_on_the_familys_own_row(app, client, carded, make_user):
    members = [make_user("panel")[0] for _ in range(2)]
    submitter = make_user("chair")[0]
    with app.app_context():
        session = db.session
        category = criteria.save_category(session, home_village(session).id, {"name": "美丽庭院"}, None)
        tidy = {"name": "庭院整洁", "points": 5, "cadence": "monthly"}
        criteria.save_criterion(session, category, tidy, None)
        panel = [session.get(User, member) for member in members]
        for member in panel:
            panels.set_panel_member(session, member, "执委", [], actor_id=None)
        found = scoring_workflow.create_round(session, home_village(session), "monthly", "2026-10", "", None)
        first = carded["households"][0]
        score_entry.set_score(session, found, first, found.criteria[0].id, 1, panel[0])
        scoring_workflow.submit_round(session, found, session.get(User, submitter))
        for member in panel:
            scoring_workflow.approve_round(session, found, member)
        scoring_workflow.publish_round(session, found, None)
        session.commit()
        household_no = session.get(Household, first).household_no
        link = f"/notice/{found.uuid}?q={household_no}"
    page = client.get(f"/c/{carded['tokens'][0]}").get_data(as_text=True)
    assert f'href="{link}"' in page and "查看积分公示（我家）" in page
    notice = client.get(link).get_data(as_text=True)
    assert household_no in notice and "李四" not in notice  # only the family's own row


MALFORMED_CARD_ADDRESSES = [
    "/c/xxx%00",
    "/c/abc%E2%80%AEdef",
    "/c/" + "x" * 10_000,
    "/c/a/b",
    "/c/..%2f..%2fetc",
    "/c/..%2f..%2fetc%2fpasswd/claims/new",
    "/c/" + "x" * 43 + "/claims/new",
    "/c/" + "x" * 43 + "/claims/photos/1",
    "/c/",
]


def _without_address(response) -> str:
    """The page, but for its own address (the language switch links back to it)."""
    return re.sub(r"next=[^\"&]*", "next=T", response.get_data(as_text=True))


def _headers(response) -> list:
    return sorted((k, v) for k, v in response.headers.items() if k != "Content-Length")


def assert_answers_as_an_unknown_card(client):
    unknown = client.get("/c/" + "x" * 43)
    assert unknown.status_code == 404
    assert (
        unknown.headers["Referrer-Policy"] == "no-referrer" and unknown.headers["Cache-Control"] == "no-store"
    )
    for address in MALFORMED_CARD_ADDRESSES:
        answer = client.get(address)
        assert answer.status_code == 404, address
        assert _without_address(answer) == _without_address(unknown), address
        # every header alike (the length differs by the address's own length, in the language link)
        assert _headers(answer) == _headers(unknown), address


def test_a_malformed_card_address_answers_exactly_as_an_unknown_card(client, carded):
    assert_answers_as_an_unknown_card(client)
