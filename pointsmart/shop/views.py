"""Shop pages: the counter (收银台), receipts and cancellation, goods and stock."""

import io
import re
import uuid
from decimal import Decimal
from pathlib import Path

import zxingcpp
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from PIL import Image, UnidentifiedImageError

from .. import images, periods
from ..auth.access import role_required
from ..auth.models import Role
from ..cards import services as cards
from ..cards.models import Card
from ..errors import DomainError
from ..extensions import db
from ..idempotency import once
from ..pages import flash_errors
from ..settings.expiry import expiring_soon
from ..unit import write
from . import lookup, services
from .forms import CancelForm, GoodsForm, LossForm, PhotoForm, ReceiveForm
from .models import MOVE_LABELS, Goods, MoveKind, StockMove
from .redemptions import cancel_redemption, get_redemption, may_cancel, redeem_once, redemptions_on

bp = Blueprint("shop", __name__, url_prefix="/shop")

SHOP_STAFF = (Role.CHAIR, Role.SHOPKEEPER)


@bp.app_context_processor
def move_labels():
    # the scan field's length, at the counter and on the receipt's "下一位" alike (lookup reads no more)
    return {"move_labels": MOVE_LABELS, "scan_max": lookup.MAX_QUERY}


# --- the counter ------------------------------------------------------------------------------


@bp.get("/counter")
@role_required(*SHOP_STAFF)
def counter():
    """Step 1: identify the card — a scanner types into the focused field, or a camera, or the number;
    a family without its card by the head's name, the 户号 or the phone's last four digits."""
    return _counter_page()


def _counter_page(query: str = "", found: lookup.Found | None = None, status: int = 200):
    return render_template(
        "shop/counter.html",
        low=services.low_stock(db.session, g.village.id),
        query=query,
        found=found,
    ), status


@bp.post("/counter/find")
@role_required(*SHOP_STAFF)
def find():
    """Look up what was scanned or typed. A POST: what a scanner reads is the card's address with its
    token, and a GET would keep that in the shop phone's history and in any log of addresses.

    A card opens its basket. A name, 户号 or phone tail lists the households it fits, each with the
    masked name and 户号, for the shopkeeper to confirm with the family (even a single match)."""
    query = request.form.get("q", "")
    try:
        found = lookup.identify(db.session, g.village.id, query)
    except DomainError as err:
        flash(err.message, "error")
        # a card's token spends points: it is never written back into a page
        return _counter_page("" if lookup.is_card(query) else query, status=err.status)
    if found.card is not None:
        return redirect(url_for("shop.basket", card_id=found.card.id))
    if not found.matches:
        flash(
            _(
                "没有找到“%(q)s”。可以输入户主姓名（或其中几个字）、户号，或手机号码最后 4 位。",
                q=query.strip(),
            ),
            "error",
        )
        # a search that finds nobody is an answer, not an error: 200, the text kept to correct it
        return _counter_page(query)
    return _counter_page(query, found)


@bp.post("/counter/photo")
@role_required(*SHOP_STAFF)
def photo():
    """A photo of the card (phones without a live camera API): the server reads the QR in it."""
    upload = request.files.get("photo")
    text = _decode_qr(upload.read()) if upload else None
    if not text:
        flash(_("照片里没有识别到二维码，请对准卡片二维码重拍，或直接输入卡号。"), "error")
        return redirect(url_for("shop.counter"))
    try:
        card = cards.find_card(db.session, g.village.id, text)
    except DomainError as err:
        flash(err.message, "error")
        return redirect(url_for("shop.counter"))
    return redirect(url_for("shop.basket", card_id=card.id))


def _decode_qr(data: bytes) -> str | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > 64_000_000:  # a phone photo is 12–50 Mpx
                return None
            image.thumbnail((2000, 2000))  # phone photos are large; the QR survives the shrink
            found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return found[0].text if found else None


def _card(card_id: int) -> Card:
    card = db.session.get(Card, card_id)
    if card is None or card.household.village_id != g.village.id:
        abort(404)
    return card


def _quantities() -> dict[int, int]:
    """The basket's quantities from the form; what is not a whole number becomes -1: the service refuses
    it, and a quantity over its limit (:data:`.redemptions.MAX_QTY`), with a message saying so."""
    chosen = {}
    for name, value in request.form.items():
        if name.startswith("qty_") and re.fullmatch(r"[0-9]{1,9}", name[4:]):
            value = (value or "0").strip()
            qty = int(value) if re.fullmatch(r"[0-9]{1,9}", value) else -1
            if qty:
                chosen[int(name[4:])] = qty
    return chosen


@bp.route("/counter/cards/<int:card_id>", methods=["GET", "POST"])
@role_required(*SHOP_STAFF)
def basket(card_id: int):
    """Step 2: the household and its balance, goods as tiles, the total, confirm."""
    chosen: dict[int, int] = {}
    status = 200
    if request.method == "POST":
        chosen = _quantities()
        key, village_id = request.form.get("key", ""), g.village.id
        try:
            with write():  # the card is loaded inside, once, under the lock
                done = redeem_once(
                    db.session, village_id, key, sorted(chosen.items()), current_user, card_id=card_id
                )
        except DomainError as err:
            flash(err.message, "error")
            status = err.status
        else:
            return redirect(url_for("shop.receipt", redemption_id=done.id))
    card = _card(card_id)
    if not card.active:
        flash(_("这张积分卡已作废，请使用新卡。"), "error")
        return redirect(url_for("shop.counter"))
    goods = services.list_goods(db.session, g.village.id, active_only=True)
    # a fresh key each time the basket is shown: a double click or a refresh resends the same one
    return render_template(
        "shop/basket.html",
        card=card,
        household=card.household,
        goods=goods,
        chosen=chosen,
        key=uuid.uuid4().hex,
        masked=cards.mask_name(card.household.head_name),
    ), status


@bp.get("/redemptions/<int:redemption_id>")
@role_required(*SHOP_STAFF)
def receipt(redemption_id: int):
    found = get_redemption(db.session, g.village.id, redemption_id)
    today = periods.today()
    return render_template(
        "shop/receipt.html",
        redemption=found,
        village=g.village,
        paper=request.args.get("paper", "58"),
        can_cancel=may_cancel(current_user, found, today),
        form=CancelForm(),
        expiring=expiring_soon(db.session, found.household.account_id),
    )


@bp.post("/redemptions/<int:redemption_id>/cancel")
@role_required(*SHOP_STAFF)
def cancel(redemption_id: int):
    found = get_redemption(db.session, g.village.id, redemption_id)
    form = CancelForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(url_for("shop.receipt", redemption_id=found.id))
    try:
        with write():
            cancel_redemption(db.session, found, form.reason.data, current_user)
    except DomainError as err:
        flash(err.message, "error")
    else:
        flash(_("已撤销兑换，积分和商品已退回。"), "success")
    return redirect(url_for("shop.receipt", redemption_id=found.id))


@bp.get("/redemptions")
@role_required(*SHOP_STAFF)
def redemptions():
    """Today's redemptions (or another day's), newest first."""
    day = request.args.get("day") or periods.today().isoformat()
    try:
        rows = redemptions_on(db.session, g.village.id, day)
    except DomainError as err:
        flash(err.message, "error")
        return redirect(url_for("shop.redemptions"))
    return render_template("shop/redemptions.html", redemptions=rows, day=day)


# --- goods and stock --------------------------------------------------------------------------


@bp.get("/goods")
@role_required(*SHOP_STAFF)
def goods():
    return render_template(
        "shop/goods.html",
        goods=services.list_goods(db.session, g.village.id),
        low={x.id for x in services.low_stock(db.session, g.village.id)},
        can_edit=current_user.role == Role.CHAIR,
    )


@bp.route("/goods/new", methods=["GET", "POST"])
@bp.route("/goods/<int:goods_id>/edit", methods=["GET", "POST"])
@role_required(Role.CHAIR)
def edit_goods(goods_id: int | None = None):
    found = services.get_goods(db.session, g.village.id, goods_id) if goods_id else None
    form = GoodsForm(obj=found)
    status = 200
    if request.method == "POST" and not form.validate():
        status = 422
    elif request.method == "POST":
        try:
            # decoded and cleaned of EXIF before the write transaction: slow work never holds the lock
            photo = (
                images.clean_photo(form.photo.data.read(images.MAX_PHOTO_BYTES + 1))
                if form.photo.data
                else None
            )
            with write():
                saved = services.save_goods(db.session, g.village.id, form.data, current_user.id, found)
                if photo:
                    services.set_goods_photo(
                        db.session,
                        saved,
                        photo,
                        _photo_folder(),
                        current_user.id,
                    )
        except DomainError as err:
            flash(err.message, "error")
            status = err.status
        else:
            flash(_("已保存 %(name)s。", name=saved.name), "success")
            return redirect(url_for("shop.stock", goods_id=saved.id))
    return render_template("shop/goods_form.html", form=form, goods=found), status


def _photo_folder() -> Path:
    return Path(current_app.instance_path) / "uploads" / "goods"


@bp.get("/goods/<int:goods_id>/photo")
def goods_photo(goods_id: int):
    """A goods photo. Public: the family page and the counter show them; a photo of soap is no secret."""
    found = db.session.get(Goods, goods_id)
    if found is None or not found.photo:
        abort(404)
    response = send_from_directory(_photo_folder(), found.photo, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/goods/<int:goods_id>", methods=["GET", "POST"])
@role_required(*SHOP_STAFF)
def stock(goods_id: int):
    """A goods item: its stock moves, and forms to receive goods, record a loss or change its photo.

    A form refused (a field, or a rule of the service) comes back with everything typed still in it."""
    found = services.get_goods(db.session, g.village.id, goods_id)
    receive, loss, photo = ReceiveForm(prefix="in"), LossForm(prefix="loss"), PhotoForm(prefix="photo")
    status = 200
    if request.method == "POST":
        action = request.form.get("action")
        if action == "photo":
            return _set_photo(found, photo)
        form = loss if action == "loss" else receive
        if not form.validate_on_submit():
            flash_errors(form)
            status = 422
        else:
            try:
                stock_now = _move_stock(found, action, form)
            except DomainError as err:
                flash(err.message, "error")
                status = err.status
            else:
                flash(_("已记录，现有库存 %(n)s。", n=stock_now), "success")
                return redirect(url_for("shop.stock", goods_id=found.id))
        if action == "loss":  # the other form starts empty again
            receive = ReceiveForm(prefix="in", formdata=None)
        else:
            loss = LossForm(prefix="loss", formdata=None)
    return _stock_page(found, receive, loss, photo, status)


def _stock_page(found: Goods, receive, loss, photo, status: int = 200):
    moves = db.session.scalars(
        db.select(StockMove).where(StockMove.goods_id == found.id).order_by(StockMove.id.desc()).limit(100)
    ).all()
    return render_template(
        "shop/stock.html",
        goods=found,
        moves=moves,
        receive=receive,
        loss=loss,
        photo=photo,
        # a fresh key each time the page is shown: a refused key stays refused (idempotency.once)
        form_key=uuid.uuid4().hex,
    ), status


def _move_stock(found: Goods, action: str | None, form) -> int:
    """Receive goods or record a loss, once per form key; the stock after it."""

    def perform():
        if action == "loss":
            services.record_loss(db.session, found, form.qty.data, form.note.data, current_user.id)
        else:
            cost = form.cost_yuan.data
            services.receive_stock(
                db.session,
                found,
                MoveKind(form.kind.data),
                form.qty.data,
                current_user.id,
                donor=form.donor.data or "",
                moved_on=form.moved_on.data,
                funding_source=form.funding_source.data or "",
                cost_fen=int(cost * Decimal(100)) if cost is not None else None,
                note=form.note.data or "",
            )
        return found.stock

    body = {
        "goods": found.id,
        "action": action,
        **{k: str(v) for k, v in form.data.items() if k != "csrf_token"},
    }
    scope, key = f"stock:{current_user.id}", request.form.get("key", "")
    # a form posted twice (a double click) moves the stock once, and is told the same
    with write():
        return once(
            db.session, scope, key, body, perform,
            remember=lambda n: {"stock": n}, recall=lambda answer: answer["stock"],
        )  # fmt: skip


def _set_photo(found: Goods, form: "PhotoForm"):
    """A new photo of the goods, from the chair or the shopkeeper (the one with the goods in hand)."""
    if not form.validate_on_submit() or not form.photo.data:
        if not form.photo.data and not form.errors:
            flash(_("商品照片：请选择一张照片。"), "error")
        flash_errors(form)
        return _stock_page(
            found, ReceiveForm(prefix="in", formdata=None), LossForm(prefix="loss", formdata=None), form, 422
        )
    try:
        clean = images.clean_photo(form.photo.data.read(images.MAX_PHOTO_BYTES + 1))  # before the lock
        with write():
            services.set_goods_photo(db.session, found, clean, _photo_folder(), current_user.id)
    except DomainError as err:
        flash(err.message, "error")
        return _stock_page(
            found,
            ReceiveForm(prefix="in", formdata=None),
            LossForm(prefix="loss", formdata=None),
            form,
            err.status,
        )
    flash(_("已换上 %(name)s 的新照片。", name=found.name), "success")
    return redirect(url_for("shop.stock", goods_id=found.id))


@bp.route("/stocktake", methods=["GET", "POST"])
@role_required(*SHOP_STAFF)
def stocktake():
    """Count the shelves; differences become stock moves, the sheet goes into the 物资盘点台账."""
    goods_list = services.list_goods(db.session, g.village.id)
    if request.method == "POST":
        counts = {}
        for item in goods_list:
            value = request.form.get(f"count_{item.id}", "").strip()
            if value:
                if not re.fullmatch(r"[0-9]{1,6}", value):
                    flash(_("%(name)s 的盘点数量必须是整数。", name=item.name), "error")
                    return redirect(url_for("shop.stocktake"))
                counts[item.id] = int(value)
        try:
            counted_on = periods.read_day(request.form.get("counted_on"))
        except ValueError:
            flash(_("盘点日期：不是有效的日期，请按 2026-12-01 的样子填写。"), "error")
            return redirect(url_for("shop.stocktake"))
        if counted_on is None:  # never silently today: a count typed in days later adjusts its own day
            flash(_("盘点日期：必填，请填写清点货架的那一天。"), "error")
            return redirect(url_for("shop.stocktake"))
        try:
            with write():
                take = services.record_stocktake(
                    db.session,
                    g.village.id,
                    counted_on,
                    request.form.get("counted_by", ""),
                    counts,
                    current_user.id,
                    request.form.get("note", ""),
                )
                lines, changed = len(take.lines), sum(1 for x in take.lines if x.counted != x.recorded)
        except DomainError as err:
            flash(err.message, "error")
            return redirect(url_for("shop.stocktake"))
        flash(_("盘点已记录：%(n)s 种商品，%(c)s 种有差异。", n=lines, c=changed), "success")
        return redirect(url_for("shop.goods"))
    return render_template("shop/stocktake.html", goods=goods_list, today=periods.today())
