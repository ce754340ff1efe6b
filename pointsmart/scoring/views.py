"""Scoring pages: rulebook, panel, rounds, approvals, notice, objections (score entry is in entry_views)."""

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import periods
from ..auth.access import role_required
from ..auth.models import Role, User
from ..auth.services import user_names
from ..clock import utcnow
from ..errors import DomainError
from ..extensions import db
from ..households.services import groups as village_groups
from ..months.guard import carried_to, month_label
from ..org.services import update_settings
from ..pages import flash_errors
from ..unit import write
from . import (
    criteria,
    entry_views,  # noqa: F401 — the score-entry pages register on the same blueprint
    finalisation,
    panels,
    workflow,
)
from .blueprint import STAFF, bp, flash_done, flash_refused, village_round
from .forms import (
    CategoryForm,
    CriterionForm,
    ObjectionForm,
    PanelMemberForm,
    ReasonForm,
    RoundForm,
    SettingsForm,
)
from .models import Cadence, Objection, RoundStatus
from .periods import current_key
from .rounds import done_households, find_round_household, list_rounds, round_households, scores_of

# --- rulebook ---------------------------------------------------------------------------------


@bp.get("/rulebook")
@role_required(*STAFF)
def rulebook():
    return render_template(
        "scoring/rulebook.html",
        categories=criteria.categories(db.session, g.village.id),
        category_form=CategoryForm(),
        can_edit=current_user.role == Role.CHAIR,
    )


@bp.post("/rulebook/categories")
@bp.post("/rulebook/categories/<int:category_id>")
@role_required(Role.CHAIR)
def save_category(category_id: int | None = None):
    category = criteria.get_category(db.session, g.village.id, category_id) if category_id else None
    form = CategoryForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(url_for("scoring.rulebook"))
    try:
        with write():
            criteria.save_category(db.session, g.village.id, form.data, current_user.id, category)
    except DomainError as err:
        return flash_refused(err, "scoring.rulebook")
    return flash_done(_("已保存类别。"), "scoring.rulebook")


@bp.route("/rulebook/categories/<int:category_id>/criteria/new", methods=["GET", "POST"])
@bp.route("/rulebook/criteria/<int:criterion_id>", methods=["GET", "POST"])
@role_required(Role.CHAIR)
def criterion(category_id: int | None = None, criterion_id: int | None = None):
    found = criteria.get_criterion(db.session, g.village.id, criterion_id) if criterion_id else None
    category = found.category if found else criteria.get_category(db.session, g.village.id, category_id)
    form = CriterionForm(obj=found)
    if form.validate_on_submit():
        try:
            with write():
                criteria.save_criterion(db.session, category, form.data, current_user.id, found)
        except DomainError as err:
            flash(err.message, "error")
        else:
            return flash_done(_("已保存条目。进行中和已生效的评定不受影响。"), "scoring.rulebook")
    # a refused form comes back as such (422), its fields marked
    status = 422 if request.method == "POST" else 200
    return render_template("scoring/criterion.html", form=form, category=category, criterion=found), status


# --- panel and settings -----------------------------------------------------------------------


@bp.get("/panel")
@role_required(Role.CHAIR)
def panel():
    village = g.village
    form = PanelMemberForm()
    candidates = db.session.scalars(
        db.select(User)
        .where(User.village_id == village.id, User.active.is_(True), User.role.in_([Role.CHAIR, Role.PANEL]))
        .order_by(User.username)
    ).all()
    form.user_id.choices = [(u.id, f"{u.display_name} ({u.username})") for u in candidates]
    form.groups.choices = [(x, x) for x in village_groups(db.session, village.id)]
    settings = SettingsForm(obj=village)
    return render_template(
        "scoring/panel.html",
        members=panels.panel_members(db.session, village.id),
        form=form,
        settings=settings,
    )


@bp.post("/panel")
@role_required(Role.CHAIR)
def save_member():
    form = PanelMemberForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(url_for("scoring.panel"))
    user = db.session.get(User, form.user_id.data)
    if user is None or user.village_id != g.village.id:
        abort(404)
    try:
        with write():
            panels.set_panel_member(
                db.session, user, form.label.data, form.groups.data or [], current_user.id
            )
    except DomainError as err:
        return flash_refused(err, "scoring.panel")
    return flash_done(_("已更新评比小组。"), "scoring.panel")


@bp.post("/panel/<int:member_id>/remove")
@role_required(Role.CHAIR)
def remove_member(member_id: int):
    member = next((m for m in panels.panel_members(db.session, g.village.id) if m.id == member_id), None)
    if member is None:
        abort(404)
    with write():
        panels.remove_panel_member(db.session, member, current_user.id)
    return flash_done(_("已移出评比小组。"), "scoring.panel")


@bp.post("/settings")
@role_required(Role.CHAIR)
def settings():
    form = SettingsForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(url_for("scoring.panel"))
    try:
        with write():
            update_settings(
                db.session, g.village, form.approvals_required.data, form.notice_days.data, current_user.id
            )
    except DomainError as err:
        return flash_refused(err, "scoring.panel")
    return flash_done(_("已保存设置，对之后新建的评定生效。"), "scoring.panel")


# --- rounds -----------------------------------------------------------------------------------


@bp.get("/rounds")
@role_required(*STAFF)
def rounds():
    return _rounds_page(RoundForm())


def _rounds_page(form: RoundForm, status: int = 200):
    form.scope.choices = [("", _("全村"))] + [(x, x) for x in village_groups(db.session, g.village.id)]
    today = periods.today()
    suggestions = {str(c): current_key(c, today) for c in Cadence}
    form.period_key.data = form.period_key.data or suggestions[Cadence.MONTHLY]
    found = list_rounds(db.session, g.village.id)
    page = render_template(
        "scoring/rounds.html",
        rounds=found,
        carried={
            round_id: _("、").join(month_label(m) for m in months)
            for round_id, months in carried_to(db.session, [r.id for r in found]).items()
        },
        form=form,
        suggestions=suggestions,
        can_create=current_user.role == Role.CHAIR,
    )
    return page, status


@bp.post("/rounds")
@role_required(Role.CHAIR)
def create_round():
    form = RoundForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(url_for("scoring.rounds"))
    if form.scope.data and form.scope.data not in village_groups(db.session, g.village.id):
        # a group that is not the village's would open a round of no households: refuse it here
        form.scope.errors = [
            _("“%(scope)s”不是本村的村民小组，请选择一个小组，或选全村。", scope=form.scope.data[:20])
        ]
        return _rounds_page(form, 422)
    try:
        with write():
            created = workflow.create_round(
                db.session,
                g.village,
                form.period_type.data,
                form.period_key.data,
                form.scope.data,
                current_user.id,
            )
    except DomainError as err:
        return flash_refused(err, "scoring.rounds")
    return flash_done(
        _("已新建 %(key)s 的评定。", key=created.period_key), "scoring.overview", round_id=created.id
    )


@bp.get("/rounds/<int:round_id>")
@role_required(*STAFF)
def overview(round_id: int):
    return _overview_page(village_round(round_id), ObjectionForm())


def _overview_page(found, objection_form: ObjectionForm, http_status: int = 200):
    tallies = finalisation.tally(db.session, found)
    objections = db.session.scalars(
        db.select(Objection).where(Objection.round_id == found.id).order_by(Objection.id)
    ).all()
    member = panels.membership(db.session, current_user.id)
    is_chair = current_user.role == Role.CHAIR
    now = utcnow()
    counted = workflow.counted_approvals(found)
    scored = [t for t in tallies if t.times]
    approval = {
        "counted": counted,
        "count": len(counted),
        "missing": workflow.approvals_missing(found),
        # an approval the submitter gave themselves before that stopped counting: shown, not counted
        "uncounted": [a for a in found.approvals if a not in counted],
        "is_submitter": found.submitted_by == current_user.id,
    }
    # the status as it really is: "approved" only once enough approvals count
    status = found.status
    if status == RoundStatus.APPROVED and approval["missing"]:
        status = RoundStatus.SUBMITTED
    finalise_confirm = _(
        "%(n)s 户将记入积分（加 %(plus)s 分，扣 %(minus)s 分），记入后不能撤回。确定吗？",
        n=len(scored),
        plus=sum(t.awarded for t in scored),
        minus=sum(t.deducted for t in scored),
    )
    done = done_households(db.session, found)
    unscored = sum(1 for h in round_households(db.session, found) if h.id not in done)
    submit_confirm = ""
    if found.status == RoundStatus.DRAFT and unscored:
        submit_confirm = _("还有 %(n)s 户没打分，确定提交吗？", n=unscored)
    flags = {
        "can_score": found.status == RoundStatus.DRAFT and member is not None,
        "can_submit": found.status == RoundStatus.DRAFT and (member is not None or is_chair),
        "can_approve": workflow.approval_refusal(db.session, found, current_user) is None,
        "can_reopen": is_chair and found.status in (RoundStatus.SUBMITTED, RoundStatus.APPROVED),
        "can_publish": is_chair and found.status == RoundStatus.APPROVED and not approval["missing"],
        "can_object": is_chair and found.status == RoundStatus.NOTICE,
        "can_finalise": is_chair and finalisation.finalise_refusal(db.session, found) is None,
        "notice_running": found.status == RoundStatus.NOTICE and now < found.notice_ends_at,
    }
    return render_template(
        "scoring/round.html",
        round=found,
        tallies=tallies,
        objections=objections,
        objection_form=objection_form,
        reason_form=ReasonForm(),
        flags=flags,
        approval=approval,
        status=status,
        finalise_confirm=finalise_confirm,
        submit_confirm=submit_confirm,
        names=user_names(db.session, [found.created_by, found.submitted_by, found.finalised_by]),
        carried=_("、").join(month_label(m) for m in carried_to(db.session, [found.id]).get(found.id, [])),
    ), http_status


def _step(round_id: int, action, message: str):
    found = village_round(round_id)
    try:
        with write():
            action(found)
    except DomainError as err:
        return flash_refused(err, "scoring.overview", round_id=found.id)
    return flash_done(message, "scoring.overview", round_id=found.id)


@bp.post("/rounds/<int:round_id>/submit")
@role_required(*STAFF)
def submit(round_id: int):
    return _step(round_id, lambda r: workflow.submit_round(db.session, r, current_user), _("已提交审核。"))


@bp.post("/rounds/<int:round_id>/approve")
@role_required(*STAFF)
def approve(round_id: int):
    found = village_round(round_id)
    try:
        with write():
            count = workflow.approve_round(db.session, found, current_user)
    except DomainError as err:
        return flash_refused(err, "scoring.overview", round_id=found.id)
    required = found.approvals_required
    if count >= required:
        message = _("审核完成（%(n)s / %(m)s），可以开始公示。", n=count, m=required)
    else:
        message = _(
            "已记录您的审核（%(n)s / %(m)s），还需 %(left)s 人审核。",
            n=count,
            m=required,
            left=required - count,
        )
    return flash_done(message, "scoring.overview", round_id=found.id)


@bp.post("/rounds/<int:round_id>/reopen")
@role_required(Role.CHAIR)
def reopen(round_id: int):
    # the service refuses a missing, too long or unprintable reason, naming the field
    reason = ReasonForm().reason.data or ""
    return _step(
        round_id,
        lambda r: workflow.reopen_round(db.session, r, current_user.id, reason),
        _("已退回重新评分。"),
    )


@bp.post("/rounds/<int:round_id>/publish")
@role_required(Role.CHAIR)
def publish(round_id: int):
    return _step(
        round_id, lambda r: workflow.publish_round(db.session, r, current_user.id), _("已开始公示。")
    )


@bp.post("/rounds/<int:round_id>/finalise")
@role_required(Role.CHAIR)
def finalise(round_id: int):
    found = village_round(round_id)
    try:
        with write():
            posted = finalisation.finalise_round(db.session, found, current_user.id)
    except DomainError as err:
        return flash_refused(err, "scoring.overview", round_id=found.id)
    message = _("评定已生效，积分已记入各户。") if posted else _("这次评定早已生效，没有重复记分。")
    return flash_done(message, "scoring.overview", round_id=found.id)


@bp.post("/rounds/<int:round_id>/objections")
@role_required(Role.CHAIR)
def record_objection(round_id: int):
    found = village_round(round_id)
    form = ObjectionForm()
    if not form.validate_on_submit():  # the page again, what was typed kept, each error by its field
        return _overview_page(found, form, 422)
    try:
        household = find_round_household(db.session, found, form.household.data)
    except DomainError as err:
        form.household.errors = [err.message]
        return _overview_page(found, form, err.status if 400 <= err.status < 500 else 422)
    try:
        with write():
            workflow.record_objection(
                db.session,
                found,
                household.id,
                form.objector.data,
                form.content.data,
                current_user.id,
            )
    except DomainError as err:
        field = getattr(form, str(err.extra.get("field", "")), None)
        if field is not None and field.name in ("objector", "content"):
            field.errors = [err.message.split("：", 1)[-1]]  # the macro names the field itself
        else:
            flash(err.message, "error")
        return _overview_page(found, form, err.status)
    return flash_done(_("已记录异议。"), "scoring.overview", round_id=found.id)


@bp.route("/objections/<int:objection_id>", methods=["GET", "POST"])
@role_required(Role.CHAIR)
def objection(objection_id: int):
    found = db.session.get(Objection, objection_id)
    if found is None:
        abort(404)
    scoring_round = village_round(found.round_id)
    if request.method == "POST":
        upheld = request.form.get("decision") == "upheld"
        try:
            new_times = (
                {c.id: int(request.form.get(f"c{c.id}", "0") or 0) for c in scoring_round.criteria}
                if upheld
                else {}
            )
            with write():
                workflow.resolve_objection(
                    db.session, found, upheld, request.form.get("resolution", ""), new_times, current_user.id
                )
        except ValueError:
            flash(_("次数必须是整数。"), "error")
        except DomainError as err:
            flash(err.message, "error")
        else:
            return flash_done(_("异议已处理。"), "scoring.overview", round_id=scoring_round.id)
    cells = scores_of(db.session, scoring_round)
    return render_template(
        "scoring/objection.html",
        objection=found,
        round=scoring_round,
        times={c.id: cells.get((found.household_id, c.id), 0) for c in scoring_round.criteria},
    )
