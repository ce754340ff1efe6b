"""The chair reads the audit log. The log itself (:mod:`pointsmart.audit`) sits below every domain,
auth included, so its page lives here with the chair's other administration pages.

Each entry reads as a sentence (:mod:`pointsmart.audit.sentences`); the filters name people, households
and kinds of entry as the chair knows them, never by code.
"""

import json
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _

from ..audit.sentences import KIND_BY_KEY, KINDS, Names, kind_of, sentence
from ..audit.services import Filters, entries, newest
from ..errors import DomainError
from ..exports import TEXT, WHEN, Column, Table, workbook
from ..extensions import db
from ..ids import form_id
from ..pages import page_arg
from ..periods import parse_day, utc_window
from ..text import visible
from ..xlsx import send_workbook
from .access import role_required
from .models import Role, User

bp = Blueprint("audit", __name__, url_prefix="/audit")

#: an export holds at most this many entries, the newest (narrow the dates for older ones)
EXPORT_LIMIT = 20_000


def _filters() -> tuple[Filters, dict, list[str]]:
    """The filters the query asks for, the values to show back in the form, and a problem per bad one."""
    args = request.args
    shown = {
        "person": args.get("person", "").strip(),
        "kind": args.get("kind", "").strip(),
        "household": args.get("household", "").strip(),
        "start": args.get("start", "").strip(),
        "end": args.get("end", "").strip(),
    }
    problems = []
    actor_id = None
    if shown["person"]:
        try:
            person = form_id(shown["person"])
        except ValueError:
            person = None
        if person is not None and db.session.get(User, person) is not None:
            actor_id = person
        else:
            problems.append(_("操作人：没有这个用户。"))
    kind = KIND_BY_KEY.get(shown["kind"]) if shown["kind"] else None
    if shown["kind"] and kind is None:
        problems.append(_("类别：没有这一类。"))
    days = {}
    for key, label in (("start", _("从")), ("end", _("到"))):
        if shown[key]:
            try:
                days[key] = parse_day(shown[key])
            except DomainError as err:
                problems.append(_("%(field)s：%(problem)s", field=label, problem=err.message))
    start = end = None
    if "start" in days:
        start = utc_window(days["start"], days["start"])[0]
    if "end" in days:
        end = utc_window(days["end"] + timedelta(days=1), days["end"] + timedelta(days=1))[0]
    filters = Filters(
        actor_id=actor_id,
        prefixes=kind.prefixes if kind else (),
        household=shown["household"],
        start=start,
        end=end,
    )
    return filters, shown, problems


def _summary(shown: dict, people: list[User]) -> list[str]:
    """The filters in words, for the printed page (the form itself does not print)."""
    parts = []
    if shown["person"]:
        who = next((u.display_name or u.username for u in people if str(u.id) == shown["person"]), "")
        parts.append(_("操作人：%(name)s", name=who))
    if shown["kind"] in KIND_BY_KEY:
        parts.append(_("类别：%(kind)s", kind=KIND_BY_KEY[shown["kind"]].label))
    if shown["household"]:
        parts.append(_("农户：%(household)s", household=shown["household"]))
    if shown["start"] or shown["end"]:
        parts.append(_("日期：%(start)s 至 %(end)s", start=shown["start"] or "…", end=shown["end"] or "…"))
    return parts


@bp.get("/")
@role_required(Role.CHAIR)
def index():
    filters, shown, problems = _filters()
    people = db.session.scalars(sa.select(User).order_by(User.display_name, User.username)).all()
    if problems:
        found, rows = None, []
    else:
        found = entries(db.session, page_arg(), current_app.config["POINTSMART_PAGE_SIZE"] * 2, filters)
        names = Names(db.session)
        rows = [(e, sentence(e, names), kind_of(e.action)) for e in found.items]
    return (
        render_template(
            "audit/index.html",
            found=found,
            rows=rows,
            shown=shown,
            problems=problems,
            people=people,
            kinds=KINDS,
            filtered=any(shown.values()),
            summary=_summary(shown, people),
        ),
        400 if problems else 200,
    )


@bp.get("/export")
@role_required(Role.CHAIR)
def export():
    """The entries the filters select, as a workbook: each as its sentence, and — for an auditor or an
    engineer — its action code, its target and its stored data, which the page never shows."""
    filters, _shown, problems = _filters()
    if problems:
        return index()  # the page, naming the bad filter (400)
    found = newest(db.session, filters, EXPORT_LIMIT)
    names = Names(db.session)
    rows = [(e, sentence(e, names)) for e in found]
    table = Table(
        _("操作日志"),
        [
            Column(_("时间"), 17, lambda r: r[0].at, WHEN),
            Column(_("操作人"), 12, lambda r: names.person(r[0].actor_id)),
            Column(_("内容"), 60, lambda r: visible(r[1])),
            Column(_("操作代码"), 28, lambda r: r[0].action, TEXT),
            Column(_("对象"), 16, lambda r: f"{r[0].target_type or ''} {r[0].target_id or ''}".strip()),
            Column(_("原始数据"), 60, lambda r: _raw(r[0].data)),
        ],
        rows,
        landscape=True,
    )
    return send_workbook(workbook(_("操作日志"), [table]), "audit-log.xlsx")


def _raw(data: dict) -> str:
    # rows stored before the text rule may hold control characters, which a cell cannot
    return visible(json.dumps(data, ensure_ascii=False, sort_keys=True))
