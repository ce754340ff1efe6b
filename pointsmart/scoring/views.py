"""Scoring pages: rulebook, panel, rounds, score entry (grid and phone), approvals, notice, objections."""

import re

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import periods
from ..auth.access import role_required
from ..auth.models import Role, User
from ..auth.services import user_names
from ..clock import utcnow
from ..errors import DomainError, Invalid
from ..extensions import db
from ..households.services import groups as village_groups
from ..i18n import join_names
from ..ids import is_id
from ..org.services import update_settings
from ..pages import flash_errors
from ..text import search_text
from ..unit import write
from . import criteria, finalisation, panels, services
from .forms import (
    CategoryForm,
    CriterionForm,
    ObjectionForm,
    PanelMemberForm,
    ReasonForm,
    RoundForm,
    SettingsForm,
)
from .models import CADENCE_LABELS, STATUS_LABELS, Cadence, Objection, RoundStatus
from .periods import current_key
from .public import MAX_QUERY

bp = Blueprint("scoring", __name__, url_prefix="/scoring")

STAFF = (Role.CHAIR, Role.PANEL)


@bp.app_context_processor
def labels():
    return {"cadence_labels": CADENCE_LABELS, "status_labels": STATUS_LABELS}


def _done(message: str, endpoint: str, **values):
    flash(message, "success")
    return redirect(url_for(endpoint, **values))


def _refused(err: DomainError, endpoint: str, **values):
    flash(err.message, "error")
    return redirect(url_for(endpoint, **values))


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
        return _refused(err, "scoring.rulebook")
    return _done(_("已保存类别。"), "scoring.rulebook")


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
            return _done(_("已保存条目。进行中和已生效的评定不受影响。"), "scoring.rulebook")
    return render_template("scoring/criterion.html", form=form, category=category, criterion=found)


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
        return _refused(err, "scoring.panel")
    return _done(_("已更新评比小组。"), "scoring.panel")


@bp.post("/panel/<int:member_id>/remove")
@role_required(Role.CHAIR)
def remove_member(member_id: int):
    member = next((m for m in panels.panel_members(db.session, g.village.id) if m.id == member_id), None)
    if member is None:
        abort(404)
    with write():
        panels.remove_panel_member(db.session, member, current_user.id)
    return _done(_("已移出评比小组。"), "scoring.panel")


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
        return _refused(err, "scoring.panel")
    return _done(_("已保存设置，对之后新建的评定生效。"), "scoring.panel")


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
    page = render_template(
        "scoring/rounds.html",
        rounds=services.list_rounds(db.session, g.village.id),
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
            created = services.create_round(
                db.session,
                g.village,
                form.period_type.data,
                form.period_key.data,
                form.scope.data,
                current_user.id,
            )
    except DomainError as err:
        return _refused(err, "scoring.rounds")
    return _done(
        _("已新建 %(key)s 的评定。", key=created.period_key), "scoring.overview", round_id=created.id
    )


def _round(round_id: int):
    return services.get_round(db.session, g.village.id, round_id)


@bp.get("/rounds/<int:round_id>")
@role_required(*STAFF)
def overview(round_id: int):
    return _overview_page(_round(round_id), ObjectionForm())


def _overview_page(found, objection_form: ObjectionForm, http_status: int = 200):
    tallies = finalisation.tally(db.session, found)
    objections = db.session.scalars(
        db.select(Objection).where(Objection.round_id == found.id).order_by(Objection.id)
    ).all()
    member = panels.membership(db.session, current_user.id)
    is_chair = current_user.role == Role.CHAIR
    now = utcnow()
    counted = services.counted_approvals(found)
    scored = [t for t in tallies if t.times]
    approval = {
        "counted": counted,
        "count": len(counted),
        "missing": services.approvals_missing(found),
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
    done = services.done_households(db.session, found)
    unscored = sum(1 for h in services.round_households(db.session, found) if h.id not in done)
    submit_confirm = ""
    if found.status == RoundStatus.DRAFT and unscored:
        submit_confirm = _("还有 %(n)s 户没打分，确定提交吗？", n=unscored)
    flags = {
        "can_score": found.status == RoundStatus.DRAFT and member is not None,
        "can_submit": found.status == RoundStatus.DRAFT and (member is not None or is_chair),
        "can_approve": services.approval_refusal(db.session, found, current_user) is None,
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
    ), http_status


def _shown(found, member):
    """What the grid and the checklist show: ``(shown, households)``. The shown is "mine" (the groups
    the member scores: where she starts), "all", or one group's name; links carry it on."""
    assigned = member.group_list if member else []
    shown = request.args.get("group", "")[:40] or ("mine" if assigned else "all")
    if shown == "mine" and not assigned:
        shown = "all"
    if shown in ("mine", "all"):
        households = services.round_households(db.session, found)
        if shown == "mine":
            households = [h for h in households if h.group in assigned]
        return shown, households
    return shown, services.round_households(db.session, found, shown)


def _scorable(member, household) -> bool:
    return member is not None and (not member.group_list or household.group in member.group_list)


def _why_readonly(found, member, household) -> str:
    """Why this member may not change this household's scores, in a sentence ("" if she may)."""
    if found.status != RoundStatus.DRAFT:
        status = STATUS_LABELS.get(found.status, found.status)
        return _("这次评定已是“%(status)s”，不能再改分。", status=status)
    if member is None:
        return _("您不是评比小组成员，不能打分。")
    if not _scorable(member, household):
        return _(
            "属于%(group)s，不在您负责的小组（%(mine)s）。",
            group=household.group or _("未分组"),
            mine=join_names(member.group_list),
        )
    return ""


def _group_choices(member):
    mine = member.group_list if member else []
    choices = [("mine", _("我的小组（%(groups)s）", groups=join_names(mine)))] if mine else []
    return choices + [("all", _("全部小组"))] + [(x, x) for x in village_groups(db.session, g.village.id)]


@bp.get("/rounds/<int:round_id>/grid")
@role_required(*STAFF)
def grid(round_id: int):
    """The keyboard grid: households × criteria, saved cell by cell."""
    found = _round(round_id)
    member = panels.membership(db.session, current_user.id)
    group, households = _shown(found, member)
    entered = services.entered_cells(db.session, found)
    why = {h.id: _why_readonly(found, member, h) for h in households}
    return render_template(
        "scoring/grid.html",
        round=found,
        households=households,
        group=group,
        group_choices=_group_choices(member),
        cells=services.scores_of(db.session, found),
        entered=entered,
        done=services.done_households(db.session, found),
        editable={h.id for h in households if not why[h.id]},
        why=why,
    )


@bp.get("/rounds/<int:round_id>/households")
@role_required(*STAFF)
def checklist(round_id: int):
    """The phone's way in: the round's households, searchable by 户号 or name, each marked when done."""
    found = _round(round_id)
    member = panels.membership(db.session, current_user.id)
    group, households = _shown(found, member)
    query, refused = search_text(request.args.get("q"), _("查找农户（户号或户主姓名）"), MAX_QUERY)
    if refused:
        flash(refused, "error")
    done = services.done_households(db.session, found)
    shown = [h for h in households if not query or query in h.household_no or query in h.head_name]
    # progress and "next" count the households she may score (all of them for someone off the panel)
    scorable = [h for h in households if _scorable(member, h)] if member else households
    next_open = next((h for h in scorable if h.id not in done), None)
    page = render_template(
        "scoring/checklist.html",
        round=found,
        households=shown,
        total=len(scorable),
        done=done,
        done_count=sum(1 for h in scorable if h.id in done),
        next_open=next_open,
        query=query,
        group=group,
        group_choices=_group_choices(member),
    )
    return page, 400 if refused else 200


@bp.route("/rounds/<int:round_id>/households/<int:household_id>", methods=["GET", "POST"])
@role_required(*STAFF)
def entry(round_id: int, household_id: int):
    """One household at a time, for a phone: a checklist of the round's criteria."""
    found = _round(round_id)
    member = panels.membership(db.session, current_user.id)
    group, households = _shown(found, member)
    if household_id not in {h.id for h in households}:  # opened from elsewhere: among all of them
        group, households = "all", services.round_households(db.session, found)
    ids = [h.id for h in households]
    if household_id not in ids:
        abort(404)
    index = ids.index(household_id)
    household = households[index]
    why = _why_readonly(found, member, household)
    outside = member is not None and not _scorable(member, household)
    if request.method == "POST" and outside:  # another group's household: say so, save nothing, 403
        flash(why, "error")
    elif request.method == "POST":
        try:
            values = {}
            for criterion in found.criteria:
                value = request.form.get(f"c{criterion.id}", "0").strip() or "0"
                if not re.fullmatch(r"[0-9]{1,3}", value):
                    raise Invalid(_("次数必须是整数。"), code="invalid_times")
                values[criterion.id] = int(value)
            with write():
                for criterion_id, times in values.items():
                    services.set_score(db.session, found, household.id, criterion_id, times, current_user)
        except DomainError as err:
            return _refused(err, "scoring.entry", round_id=found.id, household_id=household.id, group=group)
        step = request.form.get("go", "next")
        target = ids[min(index + 1, len(ids) - 1)] if step == "next" else ids[max(index - 1, 0)]
        flash(_("已保存 %(no)s %(name)s。", no=household.household_no, name=household.head_name), "success")
        return redirect(url_for("scoring.entry", round_id=found.id, household_id=target, group=group))
    cells = services.scores_of(db.session, found)
    page = render_template(
        "scoring/entry.html",
        round=found,
        household=household,
        index=index,
        total=len(ids),
        prev_id=ids[index - 1] if index else None,
        next_id=ids[index + 1] if index + 1 < len(ids) else None,
        group=group,
        times={c.id: cells.get((household.id, c.id), 0) for c in found.criteria},
        done=household.id in services.done_households(db.session, found),
        editable=not why and services.may_score(db.session, current_user, household),
        why=why,
    )
    return page, 403 if request.method == "POST" else 200


@bp.post("/rounds/<int:round_id>/scores")
@role_required(*STAFF)
def save_score(round_id: int):
    """Save one cell of the grid (JSON). Answers the count saved."""
    found = _round(round_id)
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    values = [body.get(k) for k in ("household_id", "criterion_id", "times")]
    # ids within what the tables hold, times a whole number: no "1", no 1.5, no 1e400, no 10**30
    if not (is_id(values[0]) and is_id(values[1]) and type(values[2]) is int):
        return jsonify({"error": {"code": "invalid", "message": _("请求内容有误。")}}), 422
    household_id, criterion_id, times = values
    try:
        with write():
            saved = services.set_score(db.session, found, household_id, criterion_id, times, current_user)
    except DomainError as err:
        return jsonify({"error": {"code": err.code, "message": err.message}}), err.status
    return jsonify({"times": saved})


def _step(round_id: int, action, message: str):
    found = _round(round_id)
    try:
        with write():
            action(found)
    except DomainError as err:
        return _refused(err, "scoring.overview", round_id=found.id)
    return _done(message, "scoring.overview", round_id=found.id)


@bp.post("/rounds/<int:round_id>/submit")
@role_required(*STAFF)
def submit(round_id: int):
    return _step(round_id, lambda r: services.submit_round(db.session, r, current_user), _("已提交审核。"))


@bp.post("/rounds/<int:round_id>/approve")
@role_required(*STAFF)
def approve(round_id: int):
    found = _round(round_id)
    try:
        with write():
            count = services.approve_round(db.session, found, current_user)
    except DomainError as err:
        return _refused(err, "scoring.overview", round_id=found.id)
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
    return _done(message, "scoring.overview", round_id=found.id)


@bp.post("/rounds/<int:round_id>/reopen")
@role_required(Role.CHAIR)
def reopen(round_id: int):
    # the service refuses a missing, too long or unprintable reason, naming the field
    reason = ReasonForm().reason.data or ""
    return _step(
        round_id,
        lambda r: services.reopen_round(db.session, r, current_user.id, reason),
        _("已退回重新评分。"),
    )


@bp.post("/rounds/<int:round_id>/publish")
@role_required(Role.CHAIR)
def publish(round_id: int):
    return _step(
        round_id, lambda r: services.publish_round(db.session, r, current_user.id), _("已开始公示。")
    )


@bp.post("/rounds/<int:round_id>/finalise")
@role_required(Role.CHAIR)
def finalise(round_id: int):
    found = _round(round_id)
    try:
        with write():
            posted = finalisation.finalise_round(db.session, found, current_user.id)
    except DomainError as err:
        return _refused(err, "scoring.overview", round_id=found.id)
    message = _("评定已生效，积分已记入各户。") if posted else _("这次评定早已生效，没有重复记分。")
    return _done(message, "scoring.overview", round_id=found.id)


@bp.post("/rounds/<int:round_id>/objections")
@role_required(Role.CHAIR)
def record_objection(round_id: int):
    found = _round(round_id)
    form = ObjectionForm()
    if not form.validate_on_submit():  # the page again, what was typed kept, each error by its field
        return _overview_page(found, form, 422)
    try:
        household = services.find_round_household(db.session, found, form.household.data)
    except DomainError as err:
        form.household.errors = [err.message]
        return _overview_page(found, form, err.status if 400 <= err.status < 500 else 422)
    try:
        with write():
            services.record_objection(
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
    return _done(_("已记录异议。"), "scoring.overview", round_id=found.id)


@bp.route("/objections/<int:objection_id>", methods=["GET", "POST"])
@role_required(Role.CHAIR)
def objection(objection_id: int):
    found = db.session.get(Objection, objection_id)
    if found is None:
        abort(404)
    scoring_round = _round(found.round_id)
    if request.method == "POST":
        upheld = request.form.get("decision") == "upheld"
        try:
            new_times = (
                {c.id: int(request.form.get(f"c{c.id}", "0") or 0) for c in scoring_round.criteria}
                if upheld
                else {}
            )
            with write():
                services.resolve_objection(
                    db.session, found, upheld, request.form.get("resolution", ""), new_times, current_user.id
                )
        except ValueError:
            flash(_("次数必须是整数。"), "error")
        except DomainError as err:
            flash(err.message, "error")
        else:
            return _done(_("异议已处理。"), "scoring.overview", round_id=scoring_round.id)
    cells = services.scores_of(db.session, scoring_round)
    return render_template(
        "scoring/objection.html",
        objection=found,
        round=scoring_round,
        times={c.id: cells.get((found.household_id, c.id), 0) for c in scoring_round.criteria},
    )
