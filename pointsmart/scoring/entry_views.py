"""Score entry: the grid on a laptop, the household checklist and one-household page on a phone,
and the save each cell makes. Registered on the scoring blueprint (:mod:`.blueprint`)."""

import re

from flask import abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from .. import images
from ..auth.access import role_required
from ..errors import DomainError, Invalid
from ..extensions import db
from ..households.services import groups as village_groups
from ..i18n import join_names
from ..ids import is_id
from ..text import search_text
from ..unit import write
from . import panels, photo_storage, rounds, score_entry, score_photos
from .blueprint import STAFF, bp, flash_refused, village_round
from .forms import ScorePhotoForm
from .models import PHOTO_STAGE_LABELS, STATUS_LABELS, RoundStatus
from .notice_photos import discard_photo_file
from .public import MAX_QUERY


def _shown(found, member):
    """What the grid and the checklist show: ``(shown, households)``. The shown is "mine" (the groups
    the member scores: where she starts), "all", or one group's name; links carry it on."""
    assigned = member.group_list if member else []
    shown = request.args.get("group", "")[:40] or ("mine" if assigned else "all")
    if shown == "mine" and not assigned:
        shown = "all"
    if shown in ("mine", "all"):
        households = rounds.round_households(db.session, found)
        if shown == "mine":
            households = [h for h in households if h.group in assigned]
        return shown, households
    return shown, rounds.round_households(db.session, found, shown)


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
    found = village_round(round_id)
    member = panels.membership(db.session, current_user.id)
    group, households = _shown(found, member)
    entered = rounds.entered_cells(db.session, found)
    why = {h.id: _why_readonly(found, member, h) for h in households}
    return render_template(
        "scoring/grid.html",
        round=found,
        households=households,
        group=group,
        group_choices=_group_choices(member),
        cells=rounds.scores_of(db.session, found),
        entered=entered,
        done=rounds.done_households(db.session, found),
        editable={h.id for h in households if not why[h.id]},
        why=why,
    )


@bp.get("/rounds/<int:round_id>/households")
@role_required(*STAFF)
def checklist(round_id: int):
    """The phone's way in: the round's households, searchable by 户号 or name, each marked when done."""
    found = village_round(round_id)
    member = panels.membership(db.session, current_user.id)
    group, households = _shown(found, member)
    query, refused = search_text(request.args.get("q"), _("查找农户（户号或户主姓名）"), MAX_QUERY)
    if refused:
        flash(refused, "error")
    done = rounds.done_households(db.session, found)
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
        photo_counts=score_photos.counts_by_household(db.session, found),
    )
    return page, 400 if refused else 200


@bp.route("/rounds/<int:round_id>/households/<int:household_id>", methods=["GET", "POST"])
@role_required(*STAFF)
def entry(round_id: int, household_id: int):
    """One household at a time, for a phone: a checklist of the round's criteria."""
    found = village_round(round_id)
    member = panels.membership(db.session, current_user.id)
    group, households = _shown(found, member)
    if household_id not in {h.id for h in households}:  # opened from elsewhere: among all of them
        group, households = "all", rounds.round_households(db.session, found)
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
                    score_entry.set_score(db.session, found, household.id, criterion_id, times, current_user)
        except DomainError as err:
            return flash_refused(
                err, "scoring.entry", round_id=found.id, household_id=household.id, group=group
            )
        step = request.form.get("go", "next")
        target = ids[min(index + 1, len(ids) - 1)] if step == "next" else ids[max(index - 1, 0)]
        flash(_("已保存 %(no)s %(name)s。", no=household.household_no, name=household.head_name), "success")
        return redirect(url_for("scoring.entry", round_id=found.id, household_id=target, group=group))
    cells = rounds.scores_of(db.session, found)
    editable = not why and score_entry.may_score(db.session, current_user, household)
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
        done=household.id in rounds.done_households(db.session, found),
        editable=editable,
        why=why,
        **_photo_context(found, household, editable),
    )
    return page, 403 if request.method == "POST" else 200


# --- photo evidence (打分佐证照片) ----------------------------------------------------------------


def _photo_context(found, household, editable: bool, form=None) -> dict:
    """What the one-household page needs to show the household's photos and take a new one."""
    form = form or ScorePhotoForm()
    form.criterion.choices = [SelectChoice("", _("整户（不指定条目）"))] + [
        SelectChoice(str(c.id), f"{c.category_name} · {c.name}") for c in found.criteria
    ]
    photos = score_photos.photos_of_household(db.session, found, household.id)
    return {
        "photos": photos,
        "photo_form": form,
        "stage_labels": PHOTO_STAGE_LABELS,
        "may_photo": editable and len(photos) < score_photos.MAX_PER_HOUSEHOLD,
        "before_after": [c.name for c in found.criteria if score_photos.takes_before_after(c)],
        "max_photos": score_photos.MAX_PER_HOUSEHOLD,
        "max_mb": images.MAX_PHOTO_BYTES // 1024 // 1024,
    }


@bp.post("/rounds/<int:round_id>/households/<int:household_id>/photos")
@role_required(*STAFF)
def upload_score_photo(round_id: int, household_id: int):
    """Attach a photo to a household's score in a draft round (a panel member, from the phone)."""
    found = village_round(round_id)
    group = request.args.get("group", "")[:40]
    back = {"round_id": found.id, "household_id": household_id, "group": group}
    form = ScorePhotoForm()
    if not form.validate_on_submit():
        for name, errors in form.errors.items():
            label = form[name].label.text if name in form else name
            for message in errors:
                flash(_("%(field)s：%(problem)s", field=label, problem=message), "error")
        return redirect(url_for("scoring.entry", **back)), 303
    criterion_id = form.criterion.data or ""
    if criterion_id and not re.fullmatch(r"[0-9]{1,9}", criterion_id):
        flash(_("条目：请从列表中选择。"), "error")
        return redirect(url_for("scoring.entry", **back)), 303
    folder = score_photos.folder_of(current_app.instance_path)
    stored: list[str] = []
    try:
        # decoded, cleaned of EXIF and scaled down before the write transaction: slow work never locks
        cleaned = images.clean_photo(
            form.photo.data.read(images.MAX_PHOTO_BYTES + 1), fit=score_photos.FIT_SIDE
        )
        with write():
            photo = score_photos.add_photo(
                db.session,
                found,
                household_id,
                int(criterion_id) if criterion_id else None,
                form.stage.data or "",
                cleaned,
                folder,
                current_user,
                photo_storage.limit_bytes(current_app.config),
            )
            stored.append(photo.stored_name)
    except DomainError as err:
        flash(err.message, "error")
        return redirect(url_for("scoring.entry", **back)), 303
    except Exception:
        for name in stored:
            discard_photo_file(folder, name)  # no row, no file
        raise
    flash(_("已上传佐证照片。"), "success")
    return redirect(url_for("scoring.entry", **back) + "#photos"), 303


@bp.post("/rounds/<int:round_id>/scores")
@role_required(*STAFF)
def save_score(round_id: int):
    """Save one cell of the grid (JSON). Answers the count saved."""
    found = village_round(round_id)
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    values = [body.get(k) for k in ("household_id", "criterion_id", "times")]
    # ids within what the tables hold, times a whole number: no "1", no 1.5, no 1e400, no 10**30
    if not (is_id(values[0]) and is_id(values[1]) and type(values[2]) is int):
        return jsonify({"error": {"code": "invalid", "message": _("请求内容有误。")}}), 422
    household_id, criterion_id, times = values
    try:
        with write():
            saved = score_entry.set_score(db.session, found, household_id, criterion_id, times, current_user)
    except DomainError as err:
        return jsonify({"error": {"code": err.code, "message": err.message}}), err.status
    return jsonify({"times": saved})
