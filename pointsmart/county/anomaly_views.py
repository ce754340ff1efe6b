"""需要关注: the anomaly findings' page, a reviewer's mark that one was checked, their ``.xlsx``, and the
county admin's thresholds. Registered on the county blueprint (:mod:`.blueprint`); the checks live in
:mod:`.anomalies`."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import HiddenField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from .. import exports
from ..auth.access import COUNTY_ROLES, county_required
from ..auth.models import Role
from ..errors import DomainError
from ..extensions import db
from ..forms import FlaskForm, IntegerField
from ..pages import flash_errors, flash_marked
from ..periods import KINDS as PERIOD_KINDS
from ..unit import write
from ..xlsx import send_workbook
from . import anomalies, tables
from . import dashboard as board
from .blueprint import bp


class CheckForm(FlaskForm):
    """A reviewer's mark that one finding was checked. The hidden fields are named in Chinese: a tampered
    one is refused as "检查项：…", never "Rule：…"."""

    rule = HiddenField(_l("检查项"), validators=[InputRequired()])
    village = HiddenField(_l("村（社区）"), validators=[InputRequired()])
    subject = HiddenField(_l("核查对象"))
    note = TextAreaField(_l("核查说明"), validators=[Length(max=500)])


class ThresholdsForm(FlaskForm):
    """One whole-number field per settable rule, within its bounds (added below from the rules)."""


for _rule in anomalies.SETTABLE:
    setattr(
        ThresholdsForm,
        _rule.key,
        IntegerField(
            _rule.threshold_label,
            validators=[
                InputRequired(_l("请填写一个整数")),
                NumberRange(_rule.minimum, _rule.maximum, _l("必须在 %(min)s 到 %(max)s 之间")),
            ],
        ),
    )


def _period():
    """The period asked for, read as every county page reads it."""
    # imported here: views imports this module to register its routes, so it is not loaded yet above
    from .views import _period as period_asked

    return period_asked()


@bp.get("/anomalies")
@county_required(*COUNTY_ROLES)
def anomalies_page():
    """The period's findings, each with its evidence, its state and (unchecked) a form to mark it."""
    period = _period()
    found = anomalies.findings(db.session, current_user, period)
    table = tables.findings_table(found)
    table.empty = _("本期没有需要关注的情况。")
    return render_template(
        "county/anomalies.html",
        period=period,
        table=table,
        unchecked=sum(1 for f in found if not f.checked),
        form=CheckForm(),
        scope=board.scope_label(db.session, current_user),
        args={"type": period.kind, "key": period.key},
        kinds=PERIOD_KINDS,
        may_set=current_user.role == Role.COUNTY_ADMIN,
    )


@bp.post("/anomalies/check")
@county_required(*COUNTY_ROLES)
def anomaly_check():
    """Mark one finding checked, with a note (kept, and written to the audit log)."""
    period = _period()
    back = url_for("county.anomalies_page", type=period.kind, key=period.key)
    form = CheckForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(back), 303
    try:
        with write():
            anomalies.mark_checked(
                db.session,
                current_user,
                period,
                form.rule.data,
                form.village.data,
                form.subject.data or "",
                form.note.data or "",
            )
    except DomainError as err:
        flash(err.message, "error")
        return redirect(back), 303
    flash(_("已标记为已核查。"), "success")
    return redirect(back), 303


@bp.get("/anomalies.xlsx")
@county_required(*COUNTY_ROLES)
def anomalies_export():
    period = _period()
    heading = f"{board.scope_label(db.session, current_user)} · {period.label()}"
    table = tables.findings_table(anomalies.findings(db.session, current_user, period))
    return send_workbook(exports.workbook(heading, [table]), f"county-anomalies-{period.key}.xlsx")


@bp.route("/anomalies/thresholds", methods=["GET", "POST"])
@county_required(Role.COUNTY_ADMIN)
def anomaly_thresholds():
    """The county admin's thresholds, one per rule, within each rule's bounds."""
    current = anomalies.thresholds(db.session)
    form = ThresholdsForm(data=current) if request.method == "GET" else ThresholdsForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            values = {rule.key: form[rule.key].data for rule in anomalies.SETTABLE}
            try:
                with write():
                    anomalies.set_thresholds(db.session, values, current_user.id)
            except DomainError as err:
                flash(err.message, "error")
                status = err.status
            else:
                flash(_("检查的阈值已保存。"), "success")
                return redirect(url_for("county.anomaly_thresholds")), 303
        else:
            # each field shows its one message under itself; the banner names them (they may be below)
            flash_marked(form)
            status = 400
    return render_template(
        "county/anomaly_thresholds.html", form=form, rules=anomalies.SETTABLE, defaults=anomalies.RULE_BY_KEY
    ), status
