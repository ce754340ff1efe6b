"""The paper trail counties inspect (台账): score sheets, meeting minutes, notice photos, points register.

Each ledger is a printable A4 page and an ``.xlsx`` file, generated from the live data by
:mod:`.reports`. The chair and the panel may look; only the chair writes minutes and adds or removes
photos, and every change is in the audit log.
"""

from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from .. import images
from ..auth.access import role_required
from ..auth.models import Role
from ..auth.services import user_names
from ..errors import DomainError
from ..extensions import db
from ..households.models import Household
from ..households.services import groups as village_groups
from ..periods import today
from ..settings.expiry import current_rule
from ..unit import write
from ..xlsx import send_workbook
from . import (
    bylaws,
    criteria,
    meeting_minutes,
    notice_photos,
    panels,
    photo_storage,
    points_register,
    reports,
    score_photos,
    score_sheets,
)
from .book_months import book_months
from .forms import BylawsForm, MinutesForm, PhotoForm
from .models import PHOTO_STAGE_LABELS, RoundStatus
from .rounds import get_round

bp = Blueprint("ledgers", __name__, url_prefix="/ledgers")

VIEWERS = (Role.CHAIR, Role.PANEL)


def _round(round_id: int):
    return get_round(db.session, g.village.id, round_id)


def _uploads() -> Path:
    return notice_photos.folder()


def _file_key(scoring_round) -> str:
    return f"{scoring_round.period_key}{'-' + scoring_round.scope if scoring_round.scope else ''}"


@bp.get("/")
@role_required(*VIEWERS)
def index():
    """Every round with its ledgers, and the register by year."""
    rounds = reports.ledger_rounds(db.session, g.village.id)
    years = sorted({int(r.round.period_key[:4]) for r in rounds}, reverse=True)
    return render_template(
        "ledgers/index.html", rounds=rounds, years=years, months=book_months(db.session, g.village.id)
    )


# --- 打分表 and results -----------------------------------------------------------------------


@bp.get("/rounds/<int:round_id>/scores")
@role_required(*VIEWERS)
def score_sheet(round_id: int):
    sheet = score_sheets.score_sheet(db.session, _round(round_id))
    return render_template(
        "ledgers/score_sheet.html", sheet=sheet, round=sheet.round, **_evidence(sheet.round)
    )


def _evidence(found) -> dict:
    """The round's score photos, by household, for the score sheet and the photos ledger."""
    photos = score_photos.photos_of_round(db.session, found)
    households = {
        h.id: h
        for h in db.session.scalars(
            sa.select(Household).where(Household.id.in_({p.household_id for p in photos}))
        )
    }
    return {
        "evidence": [(households[h], shown) for h, shown in score_photos.by_household(photos).items()],
        "evidence_names": user_names(db.session, [p.uploaded_by for p in photos]),
        "stage_labels": PHOTO_STAGE_LABELS,
        "can_mark_public": current_user.role == Role.CHAIR,
    }


@bp.get("/rounds/<int:round_id>/scores.xlsx")
@role_required(*VIEWERS)
def score_sheet_xlsx(round_id: int):
    found = _round(round_id)
    data = score_sheets.score_sheet_xlsx(score_sheets.score_sheet(db.session, found), g.village)
    return send_workbook(data, f"score-sheet-{_file_key(found)}.xlsx")


@bp.get("/rounds/<int:round_id>/results.xlsx")
@role_required(*VIEWERS)
def results_xlsx(round_id: int):
    found = _round(round_id)
    data = reports.round_results_xlsx(reports.round_results(db.session, found), g.village)
    return send_workbook(data, f"results-{_file_key(found)}.xlsx")


# --- 积分评定会议记录 -------------------------------------------------------------------------


def _minutes_context(found):
    minutes = meeting_minutes.minutes_of(db.session, found)
    present = meeting_minutes.present_ids(minutes)
    names = user_names(db.session, present + [minutes.updated_by if minutes else None])
    return minutes, [names.get(u, "?") for u in present], names.get(minutes.updated_by, "") if minutes else ""


@bp.get("/rounds/<int:round_id>/minutes")
@role_required(*VIEWERS)
def minutes(round_id: int):
    found = _round(round_id)
    minutes, present, recorder = _minutes_context(found)
    return render_template(
        "ledgers/minutes.html",
        round=found,
        minutes=minutes,
        present=present,
        recorder=recorder,
        can_edit=current_user.role == Role.CHAIR,
    )


@bp.route("/rounds/<int:round_id>/minutes/edit", methods=["GET", "POST"])
@role_required(Role.CHAIR)
def edit_minutes(round_id: int):
    found = _round(round_id)
    existing = meeting_minutes.minutes_of(db.session, found)
    form = MinutesForm(obj=existing)
    members = panels.panel_members(db.session, g.village.id)
    choices = {
        m.user_id: reports.with_label(m.user.display_name or m.user.username, m.label) for m in members
    }
    past = [u for u in meeting_minutes.present_ids(existing) if u not in choices]
    choices |= user_names(db.session, past)
    form.panel_present.choices = [(str(uid), name) for uid, name in choices.items()]
    if request.method == "GET":
        if existing is None:
            defaults = meeting_minutes.minutes_defaults(db.session, found, today())
            form.held_on.data = defaults["held_on"]
            form.decisions.data = defaults["decisions"]
            form.panel_present.data = [str(u) for u in defaults["panel_present"]]
        else:
            form.panel_present.data = [str(u) for u in meeting_minutes.present_ids(existing)]
    if form.validate_on_submit():
        try:
            with write():
                meeting_minutes.save_minutes(db.session, found, form.data, current_user.id)
        except DomainError as err:
            flash(err.message, "error")
        else:
            flash(_("已保存会议记录。"), "success")
            return redirect(url_for("ledgers.minutes", round_id=found.id))
    return render_template("ledgers/minutes_form.html", round=found, form=form, minutes=existing)


@bp.get("/rounds/<int:round_id>/minutes.xlsx")
@role_required(*VIEWERS)
def minutes_xlsx(round_id: int):
    found = _round(round_id)
    minutes, present, recorder = _minutes_context(found)
    if minutes is None:
        flash(_("这次评定还没有会议记录。"), "warning")
        return redirect(url_for("ledgers.minutes", round_id=found.id))
    data = meeting_minutes.minutes_xlsx(found, minutes, present, recorder, g.village)
    return send_workbook(data, f"minutes-{_file_key(found)}.xlsx")


# --- 积分公示影视资料 -------------------------------------------------------------------------


@bp.get("/rounds/<int:round_id>/photos")
@role_required(*VIEWERS)
def photos(round_id: int):
    return _photos_page(_round(round_id), PhotoForm())


def _photos_page(found, form: PhotoForm, status: int = 200):
    photos = notice_photos.photos_of(db.session, found)
    is_chair = current_user.role == Role.CHAIR
    return render_template(
        "ledgers/photos.html",
        round=found,
        photos=photos,
        names=user_names(db.session, [p.uploaded_by for p in photos]),
        form=form,
        can_upload=is_chair
        and found.status in reports.PUBLIC_STATUSES
        and len(photos) < notice_photos.MAX_PHOTOS,
        can_delete=is_chair,
        waiting_notice=is_chair and found.status not in reports.PUBLIC_STATUSES,
        max_mb=images.MAX_PHOTO_BYTES // 1024 // 1024,
        max_side=images.MAX_PHOTO_SIDE,
        **_evidence(found),
    ), status


@bp.post("/rounds/<int:round_id>/photos")
@role_required(Role.CHAIR)
def upload_photo(round_id: int):
    found = _round(round_id)
    back = redirect(url_for("ledgers.photos", round_id=found.id))
    form = PhotoForm()
    if not form.validate_on_submit():  # each message under its field ("日期不能晚于今天…")
        return _photos_page(found, form, 422)
    upload = form.photo.data
    folder = _uploads()
    stored: list[str] = []
    try:
        # decoded and cleaned of EXIF before the write transaction: slow work never holds the lock
        cleaned = images.clean_photo(upload.read(images.MAX_PHOTO_BYTES + 1))  # one byte more refuses
        with write():
            photo = notice_photos.add_photo(
                db.session,
                found,
                cleaned,
                upload.filename,
                form.posted_from.data,
                form.posted_until.data,
                folder,
                current_user.id,
                photo_storage.limit_bytes(current_app.config),
            )
            stored.append(photo.stored_name)
    except DomainError as err:
        # said at its field, the form shown again: a day outside the notice, else the photo itself
        field = err.extra.get("field")
        field = field if field in ("posted_from", "posted_until") else "photo"
        form[field].errors = [*form[field].errors, err.message]
        return _photos_page(found, form, 422)
    except Exception:
        for name in stored:
            notice_photos.discard_photo_file(folder, name)  # no row, no file
        raise
    flash(_("已上传公示照片。"), "success")
    return back


@bp.get("/photos/<int:photo_id>")
@role_required(*VIEWERS)
def photo(photo_id: int):
    """Serve a stored photo to the village's staff, as the image type it was checked to be."""
    found, _round_ = notice_photos.get_photo(db.session, g.village.id, photo_id)
    return images.send_photo(_uploads(), found)


@bp.post("/photos/<int:photo_id>/delete")
@role_required(Role.CHAIR)
def delete_photo(photo_id: int):
    with write():
        found, scoring_round = notice_photos.get_photo(db.session, g.village.id, photo_id)
        stored_name = notice_photos.delete_photo(db.session, found, current_user.id)
    notice_photos.discard_photo_file(_uploads(), stored_name)
    flash(_("已删除这张照片。"), "success")
    return redirect(url_for("ledgers.photos", round_id=scoring_round.id))


@bp.get("/rounds/<int:round_id>/photos.xlsx")
@role_required(*VIEWERS)
def photos_xlsx(round_id: int):
    found = _round(round_id)
    photos = notice_photos.photos_of(db.session, found)
    evidence = _evidence(found)
    names = user_names(db.session, [p.uploaded_by for p in photos]) | evidence["evidence_names"]
    data = notice_photos.photos_xlsx(
        found,
        photos,
        _uploads(),
        names,
        g.village,
        evidence["evidence"],
        score_photos.folder_of(current_app.instance_path),
        PHOTO_STAGE_LABELS,
    )
    return send_workbook(data, f"notice-photos-{_file_key(found)}.xlsx")


# --- 打分佐证照片 (evidence on scores) ------------------------------------------------------------


@bp.get("/score-photos/<int:photo_id>")
@role_required(*VIEWERS)
def score_photo(photo_id: int):
    """Serve a score photo to the village's chair and panel, as the image type it was checked to be."""
    found, _round_ = score_photos.get_photo(db.session, g.village.id, photo_id)
    return images.send_photo(score_photos.folder_of(current_app.instance_path), found)


@bp.post("/score-photos/<int:photo_id>/public")
@role_required(Role.CHAIR)
def mark_score_photo(photo_id: int):
    """The chair shows a score photo on the round's public notice, or takes it off."""
    public = request.form.get("public") == "1"
    with write():
        found, scoring_round = score_photos.get_photo(db.session, g.village.id, photo_id)
        changed = score_photos.set_public(db.session, found, public, current_user.id)
    if changed:
        flash(_("这张照片会显示在公示上。") if public else _("这张照片已从公示上撤下。"), "success")
    return redirect(_back_to_evidence(scoring_round))


@bp.post("/score-photos/<int:photo_id>/delete")
@role_required(Role.CHAIR)
def delete_score_photo(photo_id: int):
    with write():
        found, scoring_round = score_photos.get_photo(db.session, g.village.id, photo_id)
        stored_name = score_photos.delete_photo(db.session, found, current_user.id)
    notice_photos.discard_photo_file(score_photos.folder_of(current_app.instance_path), stored_name)
    flash(_("已删除这张照片。"), "success")
    return redirect(_back_to_evidence(scoring_round))


def _back_to_evidence(scoring_round) -> str:
    """Back where the chair pressed the button: the score sheet or the photos ledger (never elsewhere)."""
    if request.form.get("back") == "photos":
        return url_for("ledgers.photos", round_id=scoring_round.id) + "#evidence"
    return url_for("ledgers.score_sheet", round_id=scoring_round.id) + "#evidence"


# --- 积分登记台账 -----------------------------------------------------------------------------


def _register():
    year = request.args.get("year", type=int) or today().year
    group = request.args.get("group", "")
    return points_register.register(db.session, g.village.id, year, group)


@bp.get("/register")
@role_required(*VIEWERS)
def register():
    ledger = _register()
    years = sorted(set(ledger.years) | {ledger.year}, reverse=True)
    return render_template(
        "ledgers/register.html",
        ledger=ledger,
        years=years,
        groups=village_groups(db.session, g.village.id),
    )


@bp.get("/register.xlsx")
@role_required(*VIEWERS)
def register_xlsx():
    ledger = _register()
    data = points_register.register_xlsx(ledger, g.village)
    return send_workbook(
        data, f"points-register-{ledger.year}{'-' + ledger.group if ledger.group else ''}.xlsx"
    )


# --- wall documents (上墙制度): A4 posters from what is in force ------------------------------


@bp.get("/wall/rules")
@role_required(*VIEWERS)
def wall_rules():
    """评分细则 as a poster: the active categories and criteria of the rulebook in force."""
    in_force = [
        (category, [k for k in category.criteria if k.active])
        for category in criteria.categories(db.session, g.village.id)
        if category.active
    ]
    return render_template(
        "ledgers/wall_rules.html",
        categories=[(category, items) for category, items in in_force if items],
        expiry=current_rule(db.session).describe(),
        printed_on=today(),
    )


@bp.get("/wall/panel")
@role_required(*VIEWERS)
def wall_panel():
    """评分领导小组 as a poster: the panel's members, what each does, the groups each scores."""
    return render_template(
        "ledgers/wall_panel.html",
        members=[m for m in panels.panel_members(db.session, g.village.id) if m.user.active],
        printed_on=today(),
    )


@bp.get("/wall/bylaws")
@role_required(*VIEWERS)
def wall_bylaws():
    """管理办法 as a poster: the version in force, a paragraph per line."""
    current = bylaws.in_force(db.session, g.village.id)
    title, paragraphs = bylaws.titled(bylaws.paragraphs(current.text) if current else [])
    return render_template(
        "ledgers/wall_bylaws.html",
        current=current,
        title=title,
        paragraphs=paragraphs,
        saved_by=user_names(db.session, [current.saved_by]).get(current.saved_by, "") if current else "",
        printed_on=today(),
        can_edit=current_user.role == Role.CHAIR,  # with none yet, the chair is linked to the editor
    )


# --- 管理办法: the chair's text, versioned ----------------------------------------------------------


@bp.get("/bylaws")
@role_required(*VIEWERS)
def bylaws_page():
    """The version in force (or an earlier one, ``?v=N``) and the list of every version."""
    every = bylaws.versions(db.session, g.village.id)
    wanted = request.args.get("v", "")
    if wanted:
        if not wanted.isdecimal() or len(wanted) > 6:
            abort(404)
        shown = bylaws.get_version(db.session, g.village.id, int(wanted))
    else:
        shown = every[0] if every else None
    return render_template(
        "ledgers/bylaws.html",
        shown=shown,
        in_force=every[0] if every else None,
        versions=every,
        paragraphs=bylaws.paragraphs(shown.text) if shown else [],
        names=user_names(db.session, [v.saved_by for v in every]),
        can_edit=current_user.role == Role.CHAIR,
    )


@bp.route("/bylaws/edit", methods=["GET", "POST"])
@role_required(Role.CHAIR)
def edit_bylaws():
    """Write a new version; with none yet, start from the draft (:func:`.bylaws.starter_text`)."""
    current = bylaws.in_force(db.session, g.village.id)
    form = BylawsForm()
    if request.method == "GET":
        form.text.data = current.text if current else bylaws.starter_text(g.village.name)
    if form.validate_on_submit():
        try:
            with write():
                saved = bylaws.save(db.session, g.village.id, form.text.data, current_user.id)
        except DomainError as err:
            form.text.errors = [err.message]
        else:
            if saved is None:
                flash(_("管理办法没有改动，没有保存新版本。"), "info")
            else:
                flash(_("已保存管理办法第 %(n)s 版，现在起施行。", n=saved.version), "success")
            return redirect(url_for("ledgers.bylaws_page"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "ledgers/bylaws_form.html",
        form=form,
        current=current,
        starter=current is None,
        max_length=bylaws.MAX_LENGTH,
    ), status


@bp.context_processor
def sheet_head():
    """The village as printed at the top of every ledger: 县 镇 村."""
    return {"village_name": g.village.label if "village" in g else ""}


@bp.app_context_processor
def ledger_flags():
    """What the round page's ledger links need: whether a round's notice is public."""
    return {"public_statuses": (RoundStatus.NOTICE, RoundStatus.FINALISED)}


@bp.app_context_processor
def photo_storage_card():
    """The village's photo storage for the settings page's card (a callable: counted only where shown;
    the settings package sits below scoring and cannot ask for it itself)."""

    def held():
        return photo_storage.storage(db.session, g.village.id, photo_storage.limit_bytes(current_app.config))

    return {"photo_storage_held": held}
