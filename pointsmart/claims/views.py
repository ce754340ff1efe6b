"""Claim pages: the family's form and photos (public, by the card's token), and the panel's answers
(the chair and panel of the village, beside the round's grid)."""

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from limits import parse_many

from .. import images
from ..auth.access import role_required
from ..auth.models import Role
from ..cards import services as cards
from ..errors import DomainError
from ..extensions import db, limiter
from ..i18n import signed
from ..pages import flash_marked
from ..periods import today
from ..scoring import notice_photos, photo_storage
from ..scoring.models import RoundStatus
from ..scoring.reports import period_label
from ..scoring.rounds import get_round, scores_of
from ..unit import write
from . import services
from .forms import AcceptForm, ClaimForm, DeclineForm, too_large_message
from .models import CLAIM_STATUS_LABELS, ClaimStatus

bp = Blueprint("claims", __name__)

STAFF = (Role.CHAIR, Role.PANEL)
#: a card's claims, counted per card whatever address they come from (a family has one or two phones)
DEFAULT_CLAIM_LIMIT = "5 per hour;10 per day"


def _uploads() -> Path:
    return Path(current_app.instance_path) / "uploads" / "claims"


def _family_limit() -> str:
    return current_app.config["POINTSMART_CARD_PAGE_LIMIT"]


@bp.app_context_processor
def labels():
    return {"claim_status_labels": CLAIM_STATUS_LABELS}


def _private(response: Response, referrer: str = "no-referrer") -> Response:
    """A family page: the token is in its URL, so never let a shared cache keep it. The claim form
    sends its referrer to this site only: Flask-WTF's CSRF check needs one on HTTPS (a same-origin
    referrer carries the token nowhere else)."""
    response.headers["Referrer-Policy"] = referrer
    response.headers["Cache-Control"] = "no-store"
    return response


def _card_or_404(token: str):
    card = cards.card_by_token(db.session, token)
    if card is None:
        abort(404)
    return card


def _card_limits() -> list:
    return parse_many(current_app.config.get("POINTSMART_CLAIM_LIMIT", DEFAULT_CLAIM_LIMIT))


def _card_may_claim(card) -> bool:
    """Whether the card's own limit has room for one more claim (asked, not counted: a claim refused
    — no round open, the month closed, a bad photo — uses none of it)."""
    if not limiter.enabled:
        return True
    return all(limiter.limiter.test(item, "claims", str(card.id)) for item in _card_limits())


def _count_filed_claim(card) -> None:
    """Count a claim actually filed (committed) against the card's own limit."""
    if limiter.enabled:
        for item in _card_limits():
            limiter.limiter.hit(item, "claims", str(card.id))


def _uploads_of(form: ClaimForm) -> list:
    return [f for f in (form.photos.data or []) if f and f.filename]


def _read_photos(uploads: list) -> list[images.CleanPhoto]:
    """The uploaded photos, each read to at most one byte over the limit, their pixels together within
    :data:`images.MAX_TOTAL_PIXELS` (from the headers), then each checked, cleaned of EXIF and shrunk —
    before the write transaction (slow work never holds the lock), and after the claim's cheap checks
    (:func:`services.check_claim`: a claim refused anyway never decodes a photo).

    :raises PhotoRefused: a file is not a photo we keep, or the photos are too many pixels together."""
    blobs = [upload.read(images.MAX_PHOTO_BYTES + 1) for upload in uploads]
    cleaned = []
    try:
        images.require_total_pixels(blobs)
        for data in blobs:
            cleaned.append(images.clean_photo(data, fit=services.STORED_SIDE))
    except images.PhotoRefused as err:
        err.extra.setdefault("field", "photos")
        raise
    return cleaned


def _form_page(card, form: ClaimForm, status: int = 200):
    household = card.household
    criteria = services.claimable_criteria(db.session, household.village_id)
    page = render_template(
        "claims/new.html",
        card=card,
        household=household,
        masked=cards.mask_name(household.head_name),
        form=form,
        criteria=criteria,
        rounds_open=bool(services.open_rounds(db.session, household)),
        max_mb=images.MAX_PHOTO_BYTES // 1024 // 1024,
        max_photos=services.MAX_PHOTOS,
    )
    return _private(make_response(page, status), "same-origin")


def _choices(form: ClaimForm, village_id: int) -> None:
    criteria = services.claimable_criteria(db.session, village_id)
    form.criterion_id.choices = [("", _("请选择"))] + [
        (
            c.id,
            _(
                "%(category)s · %(name)s（%(points)s 分）",
                category=c.category.name,
                name=c.name,
                points=signed(c.points),
            ),
        )
        for c in criteria
    ]


# --- the family ----------------------------------------------------------------------------------------


@bp.route("/c/<token>/claims/new", methods=["GET", "POST"])
@limiter.limit(_family_limit)
def new(token: str):
    """The family's claim form (申领积分), opened from its card page."""
    card = _card_or_404(token)
    form = ClaimForm()
    _choices(form, card.household.village_id)
    if not form.is_submitted():
        form.happened_on.data = today()
        return _form_page(card, form)
    if not form.validate_on_submit():
        flash_marked(form)
        return _form_page(card, form, 422)
    if not _card_may_claim(card):
        flash(_("这张卡提交申领太频繁了，请过一段时间再提交。"), "error")
        return _form_page(card, form, 429)
    folder, written = _uploads(), []
    data = services.ClaimInput(form.criterion_id.data, form.happened_on.data, form.note.data or "")
    try:
        uploads = _uploads_of(form)
        services.check_claim(db.session, card, data, len(uploads))  # the cheap refusals first
        photos = _read_photos(uploads)
        with write():
            services.submit_claim(
                db.session,
                card,
                data,
                photos,
                folder,
                written,
                limit=photo_storage.limit_bytes(current_app.config),
            )
    except DomainError as err:
        services.discard_photo_files(folder, written)
        field = err.extra.get("field")
        if field in form:  # said once, where it stands; the banner names the field
            form[field].errors = [err.message]
            flash_marked(form)
        else:
            flash(err.message, "error")
        return _form_page(card, form, err.status)
    except BaseException:
        services.discard_photo_files(folder, written)  # no row, no file
        raise
    _count_filed_claim(card)
    flash(_("申领已提交，评比小组审核后会在这里显示结果。"), "success")
    return redirect(url_for("family.card", token=token, _anchor="claims"))


def too_large() -> Response:
    """A claim whose request is over ``MAX_CONTENT_LENGTH`` (refused from its ``Content-Length`` before
    a byte is read — ``handlers`` sends the 413 of this route here): the claim form again, its photos
    field marked, saying the limit and what to do, instead of the generic 413 page. What was typed
    went with the unread body; the form starts again."""
    card = cards.card_by_token(db.session, (request.view_args or {}).get("token", ""))
    if card is None:
        from ..family.views import unknown_card

        return unknown_card()
    form = ClaimForm(formdata=None)  # the body is not read: it is over the limit
    _choices(form, card.household.village_id)
    form.happened_on.data = today()
    message = too_large_message(current_app.config["MAX_CONTENT_LENGTH"])
    form.photos.errors = [message]
    flash(message, "error")
    return _form_page(card, form, 413)


@bp.app_template_global()
def family_claims(card) -> dict:
    """The card's own household's claims, and whether it may claim at all (its card page's include)."""
    household = card.household
    return {
        "claims": services.household_claims(db.session, household.id),
        "can_claim": bool(services.claimable_criteria(db.session, household.village_id)),
        "rounds_open": bool(services.open_rounds(db.session, household)),
    }


@bp.get("/c/<token>/claims/photos/<int:photo_id>")
@limiter.limit(_family_limit)
def family_photo(token: str, photo_id: int):
    """A photo of the card's own household's claim, to that card only."""
    card = _card_or_404(token)
    photo = services.family_photo(db.session, card, photo_id)
    return _private(_send(photo))


def _send(photo) -> Response:
    return images.send_photo(_uploads(), photo)


# --- the panel -----------------------------------------------------------------------------------------


def panel_context(scoring_round) -> dict:
    """What the claims panel shows for a round (the grid's include and the claims page)."""
    claims = services.round_claims(db.session, scoring_round)
    cells = scores_of(db.session, scoring_round)
    return {
        "claims": claims,
        "suggested": {c.id: services.suggested_times(db.session, c, cells) for c in claims},
        "held": {c.id: services.cell_times(c, cells) for c in claims},
        "answerable": {
            c.id
            for c in claims
            if c.status == ClaimStatus.PENDING
            and scoring_round.status == RoundStatus.DRAFT
            and services.can_answer(db.session, current_user, c)
        },
        "declinable": {
            c.id
            for c in claims
            if c.status == ClaimStatus.PENDING and services.can_answer(db.session, current_user, c)
        },
        "round_open": scoring_round.status == RoundStatus.DRAFT,
        "accept_form": AcceptForm(),
        "decline_form": DeclineForm(),
    }


@bp.app_template_global()
def claims_panel(scoring_round) -> dict:
    """The round's claims for the grid page's include (``templates/claims/_panel.html``)."""
    return panel_context(scoring_round)


@bp.app_template_global()
def claims_waiting(scoring_round) -> int:
    """How many of a round's claims wait for an answer (the round page's link)."""
    return services.pending_count(db.session, scoring_round)


@bp.app_template_global()
def claim_evidence(scoring_round, household_id: int | None = None) -> list:
    """The round's accepted claims with photos, for the score photos' pages (``claims/_evidence.html``)."""
    return services.accepted_evidence(db.session, scoring_round, household_id)


def _photos_sheet(book, scoring_round, village) -> None:
    """The round's photos workbook (``ledgers.photos_xlsx``) has a sheet of its accepted claims' photos,
    if it has any (:data:`pointsmart.scoring.notice_photos.MORE_SHEETS`)."""
    lines = services.ledger_lines(db.session, [scoring_round])
    if lines:
        title = _("%(village)s %(period)s 家庭申领照片（已采纳）", village=village.label,
                  period=period_label(scoring_round))  # fmt: skip
        services.add_photos_sheet(book, title, lines, _uploads())


notice_photos.MORE_SHEETS.append(_photos_sheet)


@bp.get("/scoring/rounds/<int:round_id>/claims")
@role_required(*STAFF)
def round_claims(round_id: int):
    """Every claim of a round, waiting and answered, with their photos."""
    found = get_round(db.session, g.village.id, round_id)
    return render_template("claims/round.html", round=found, **panel_context(found))


def _back(claim):
    target = "claims.round_claims" if (_form_value("back") == "claims") else "scoring.grid"
    return redirect(url_for(target, round_id=claim.round_id, _anchor="claims"))


def _form_value(name: str) -> str:
    return request.form.get(name, "")[:20]


@bp.post("/scoring/claims/<int:claim_id>/accept")
@role_required(*STAFF)
def accept(claim_id: int):
    claim = services.get_claim(db.session, g.village.id, claim_id)
    form = AcceptForm()
    if not form.validate_on_submit():
        # each problem names its field ("本格现在的次数" missing: the form was not the one shown), and
        # the round's claims page answers 422 with them, the claim still waiting
        for name, errors in form.errors.items():
            label = form[name].label.text if name in form else name
            for message in errors:
                flash(_("%(field)s：%(problem)s", field=label, problem=message), "error")
        found = get_round(db.session, g.village.id, claim.round_id)
        return render_template("claims/round.html", round=found, **panel_context(found)), 422
    try:
        with write():
            claim = services.accept_claim(db.session, claim, form.times.data, current_user, form.seen.data)
            done = _("已采纳 %(no)s 的申领：%(name)s 加 %(added)s 次，本格现在共 %(n)s 次。",
                     no=claim.household.household_no, name=claim.round_criterion.name, added=claim.added,
                     n=claim.times)  # fmt: skip
    except DomainError as err:
        flash(err.message, "error")
        return _back(claim)
    flash(done, "success")
    return _back(claim)


@bp.post("/scoring/claims/<int:claim_id>/decline")
@role_required(*STAFF)
def decline(claim_id: int):
    claim = services.get_claim(db.session, g.village.id, claim_id)
    form = DeclineForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(_("不采纳的原因：%(problem)s", problem=message), "error")
        return _back(claim)
    try:
        with write():
            claim = services.decline_claim(db.session, claim, form.reason.data, current_user)
            done = _("已答复 %(no)s 的申领：不采纳。", no=claim.household.household_no)
    except DomainError as err:
        flash(err.message, "error")
        return _back(claim)
    flash(done, "success")
    return _back(claim)


@bp.get("/scoring/claims/photos/<int:photo_id>")
@role_required(*STAFF)
def photo(photo_id: int):
    """A claim's photo, to the village's chair and panel."""
    return _send(services.staff_photo(db.session, g.village.id, photo_id))
