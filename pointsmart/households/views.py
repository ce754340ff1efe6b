"""Household pages: list and search, register and edit, import and export, points and history."""

import re
import secrets
import uuid
from io import BytesIO
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.access import VILLAGE_STAFF, role_required
from ..auth.models import Role
from ..errors import DomainError
from ..extensions import db
from ..ledger import services as ledger
from ..pages import flash_errors, page_arg
from ..text import problem, visible
from ..unit import write
from . import roster
from .forms import AdjustmentForm, HouseholdForm, ImportForm, ReverseForm
from .models import Household
from .services import (
    adjust_once,
    all_households,
    create_household,
    field_labels,
    get_household,
    groups,
    reverse_transfer,
    search_households,
    set_household_active,
    update_household,
)

bp = Blueprint("households", __name__, url_prefix="/households")


@bp.app_template_filter("visible")
def visible_text(value):
    """Text put into a translated sentence (``_('… %(name)s …', name=h.head_name|visible)``) shows its
    control characters as escapes, as ``{{ value }}`` does by itself (the template's finalize does not
    reach the arguments of a translation)."""
    return visible(value) if isinstance(value, str) else value


def _own(household_id: int) -> Household:
    household = get_household(db.session, household_id)
    if household.village_id != g.village.id:
        abort(404)
    return household


@bp.get("/")
@role_required(*VILLAGE_STAFF)
def index():
    q = request.args.get("q", "").strip()
    group = request.args.get("group", "")
    inactive = request.args.get("inactive") == "1"
    found = search_households(
        db.session, g.village.id, q, group, inactive, page_arg(), current_app.config["POINTSMART_PAGE_SIZE"]
    )
    return render_template(
        "households/index.html",
        found=found,
        q=q,
        group=group,
        inactive=inactive,
        groups=groups(db.session, g.village.id),
        can_edit=current_user.role == Role.CHAIR,
    )


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.CHAIR)
def new():
    form = HouseholdForm()
    if form.validate_on_submit():
        try:
            with write():
                household = create_household(db.session, g.village.id, _form_data(form), current_user.id)
        except DomainError as err:
            flash(err.message, "error")
        else:
            flash(
                _("已登记 %(no)s %(name)s。", no=household.household_no, name=household.head_name), "success"
            )
            return redirect(url_for("households.show", household_id=household.id))
    # a refused form comes back as such (422), its fields marked
    status = 422 if request.method == "POST" else 200
    return render_template(
        "households/form.html", form=form, household=None, groups=groups(db.session, g.village.id)
    ), status


def _form_data(form: HouseholdForm) -> dict:
    return {name: getattr(form, name).data for name in Household.EDITABLE}


@bp.get("/<int:household_id>")
@role_required(*VILLAGE_STAFF)
def show(household_id: int):
    household = _own(household_id)
    history = ledger.history(
        db.session, household.account_id, page_arg(), current_app.config["POINTSMART_PAGE_SIZE"]
    )
    is_chair = current_user.role == Role.CHAIR
    return render_template(
        "households/show.html",
        household=household,
        history=history,
        can_edit=is_chair,
        shows_card=current_user.role in (Role.CHAIR, Role.SHOPKEEPER),
        adjust_form=AdjustmentForm(),
        form_key=uuid.uuid4().hex,  # a double click posts the same key: the adjustment is made once
        reverse_form=ReverseForm(),
        reversed_ids=ledger.reversed_ids(db.session, [t.id for t, _ in history.items]) if is_chair else set(),
    )


@bp.route("/<int:household_id>/edit", methods=["GET", "POST"])
@role_required(Role.CHAIR)
def edit(household_id: int):
    household = _own(household_id)
    form = HouseholdForm(obj=household)
    if form.validate_on_submit():
        try:
            with write():
                diff = update_household(db.session, household, _form_data(form), current_user.id)
        except DomainError as err:
            flash(err.message, "error")
        else:
            flash(_("已保存。") if diff["new"] else _("没有改动。"), "success")
            return redirect(url_for("households.show", household_id=household.id))
    # a refused form comes back as such (422), its fields marked
    status = 422 if request.method == "POST" else 200
    return render_template(
        "households/form.html", form=form, household=household, groups=groups(db.session, g.village.id)
    ), status


@bp.post("/<int:household_id>/active")
@role_required(Role.CHAIR)
def toggle_active(household_id: int):
    with write():
        household = _own(household_id)
        set_household_active(db.session, household, not household.active, current_user.id)
    flash(_("已恢复该户。") if household.active else _("已停用该户（历史记录保留）。"), "success")
    return redirect(url_for("households.show", household_id=household.id))


@bp.post("/<int:household_id>/adjust")
@role_required(Role.CHAIR)
def adjust(household_id: int):
    household = _own(household_id)
    form = AdjustmentForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(url_for("households.show", household_id=household.id))
    try:
        with write():
            answer = adjust_once(
                db.session,
                household,
                form.points.data,
                form.reason.data,
                current_user.id,
                request.form.get("key", ""),
            )
    except DomainError as err:  # a second post of a refused form gets the same refusal
        flash(err.message, "error")
    else:  # a second post of the same form lands here too, with the first answer
        flash(_("已记录 %(p)s 分，当前余额 %(b)s 分。", p=answer["points"], b=answer["balance"]), "success")
    return redirect(url_for("households.show", household_id=household.id))


@bp.post("/<int:household_id>/transfers/<int:transfer_id>/reverse")
@role_required(Role.CHAIR)
def reverse(household_id: int, transfer_id: int):
    household = _own(household_id)
    form = ReverseForm()
    if not form.validate_on_submit():
        flash(_("撤销必须填写原因。"), "error")
        return redirect(url_for("households.show", household_id=household.id))
    try:
        with write():
            reverse_transfer(db.session, household, transfer_id, form.reason.data, current_user.id)
    except DomainError as err:
        flash(err.message, "error")
    else:
        flash(_("已撤销，当前余额 %(b)s 分。", b=household.balance), "success")
    return redirect(url_for("households.show", household_id=household.id))


def _upload_dir() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@bp.route("/import", methods=["GET", "POST"])
@role_required(Role.CHAIR)
def import_roster():
    """Upload a roster and preview it; nothing is written until the chair confirms."""
    form = ImportForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return render_template("households/import.html", form=form, plan=None)
    upload = form.file.data
    data = upload.read()
    suffix = Path(upload.filename).suffix.lower()
    try:
        plan = roster.plan_import(db.session, g.village.id, upload.filename, data)
    except DomainError as err:
        flash(err.message, "error")
        return render_template("households/import.html", form=form, plan=None), 400
    token = secrets.token_hex(16)
    (_upload_dir() / f"{token}{suffix}").write_bytes(data)
    return _preview(form, plan, token, suffix, upload.filename)


def _preview(form, plan, token: str, suffix: str, filename: str):
    return render_template(
        "households/import.html",
        form=form,
        plan=plan,
        token=token,
        suffix=suffix,
        filename=filename,
        labels=field_labels(),
    )


@bp.get("/import/template.xlsx")
@role_required(Role.CHAIR)
def import_template():
    """An empty roster with the headers the import reads, to fill in and upload."""
    return send_file(
        BytesIO(roster.template_xlsx()),
        as_attachment=True,
        download_name="roster-template.xlsx",
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@bp.post("/import/confirm")
@role_required(Role.CHAIR)
def import_confirm():
    token = request.form.get("token", "")
    suffix = request.form.get("suffix", "")
    if not re.fullmatch(r"[0-9a-f]{32}", token) or suffix not in (".xlsx", ".xlsm", ".csv"):
        abort(400)  # not a preview this page made (secrets.token_hex(16) above)
    path = _upload_dir() / f"{token}{suffix}"
    if not path.exists():
        flash(_("导入预览已过期，请重新上传文件。"), "error")
        return redirect(url_for("households.import_roster"))
    accepted = request.form.get("accept_head_changes") == "1"
    try:
        with write():
            plan = roster.plan_import(db.session, g.village.id, path.name, path.read_bytes())
            roster.apply_import(db.session, g.village.id, plan, current_user.id, accept_head_changes=accepted)
    except DomainError as err:
        flash(err.message, "error")
        if err.code == "head_change_unaccepted":  # show the same preview again, the warning on top
            # the chosen file's name, echoed by the preview for its heading only: a tampered one
            # (too long, control characters) gives way to the stored file's name
            filename = request.form.get("filename", "")
            if not filename or problem(filename, max_length=200):
                filename = path.name
            return _preview(ImportForm(), plan, token, suffix, filename), 400
        return redirect(url_for("households.import_roster"))
    path.unlink(missing_ok=True)
    flash(
        _(
            "导入完成：新增 %(a)s 户，修改 %(c)s 户，未变 %(u)s 户。",
            a=len(plan.added),
            c=len(plan.changed),
            u=plan.unchanged,
        ),
        "success",
    )
    return redirect(url_for("households.index"))


@bp.get("/export.xlsx")
@role_required(Role.CHAIR)  # phones and addresses of the whole village: the chair only
def export():
    data = roster.export_xlsx(all_households(db.session, g.village.id))
    return send_file(
        BytesIO(data),
        as_attachment=True,
        download_name=f"households-{g.village.code}.xlsx",
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
