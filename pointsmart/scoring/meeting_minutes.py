"""积分评定会议记录: the scoring meeting's minutes of a round — read, written (flushed and audited;
the caller commits) and exported.
"""

from datetime import date
from operator import itemgetter

import sqlalchemy as sa
from flask_babel import gettext as _
from openpyxl.styles import Alignment, Font
from sqlalchemy.orm import Session

from ..audit.services import changes, record
from ..clock import utcnow
from ..errors import Invalid
from ..exports import DAY, Column, Figure, Table
from ..months.guard import is_closed, month_label, refuse_round
from ..org.models import Village
from ..periods import Period, check_day, read_period
from ..text import checked
from ..xlsx import Book, ledger_sheet, workbook_bytes
from . import panels
from .models import (
    MeetingMinutes,
    Score,
    ScoringRound,
)
from .reports import period_label, round_results

#: the longest text each field of the minutes keeps (the columns hold these); the form reads them here
LENGTHS = {"place": 100, "others_present": 300, "decisions": 5000, "notes": 5000}


def minutes_of(session: Session, scoring_round: ScoringRound) -> MeetingMinutes | None:
    return session.scalar(sa.select(MeetingMinutes).where(MeetingMinutes.round_id == scoring_round.id))


def present_ids(minutes: MeetingMinutes | None) -> list[int]:
    if minutes is None:
        return []
    return [int(x) for x in minutes.panel_present.split(",") if x.strip().isdigit()]


def minutes_defaults(session: Session, scoring_round: ScoringRound, today: date) -> dict:
    """A first draft of the minutes: today, the panel members who took part in the round, a summary."""
    results = round_results(session, scoring_round)
    involved = {a.user_id for a in scoring_round.approvals}
    involved |= {scoring_round.created_by, scoring_round.submitted_by, scoring_round.published_by}
    involved |= set(
        session.scalars(sa.select(Score.entered_by).where(Score.round_id == scoring_round.id).distinct())
    )
    members = [m.user_id for m in panels.panel_members(session, scoring_round.village_id)]
    summary = _(
        "本次%(period)s共评定 %(n)s 户，加分合计 %(plus)s 分，扣分合计 %(minus)s 分。",
        period=period_label(scoring_round),
        n=len(results.rows),
        plus=sum(r.awarded for r in results.rows),
        minus=sum(r.deducted for r in results.rows),
    )
    return {
        "held_on": today,
        "panel_present": [u for u in members if u in involved],
        "decisions": summary,
    }


def _check_meeting_day(session: Session, scoring_round: ScoringRound, held_on: date) -> None:
    """The meeting that scored a round was held once its period had begun, and in a month still open:
    minutes dated 2000-01-01, or in a month already closed (月结), would sit in a ledger the round is
    not in.

    :raises Invalid: ``before_period`` or ``month_closed``, on the field ``held_on``."""
    period = read_period(scoring_round.period_key or "")
    if period is not None and held_on < period.start:
        raise Invalid(
            _(
                "会议日期：评定会议不能早于这次评定的期间（%(period)s，从 %(start)s 开始），"
                "请填写会议实际召开的日期。",
                period=period_label(scoring_round),
                start=period.start.isoformat(),
            ),
            code="before_period",
            field="held_on",
        )
    month = Period.of(held_on).key
    if is_closed(session, month, scoring_round.village_id):
        raise Invalid(
            _(
                "会议日期：%(month)s已经月结，会议记录不能记在这个月。请填写还没有月结的月份里的日期。",
                month=month_label(month),
            ),
            code="month_closed",
            field="held_on",
        )


def save_minutes(
    session: Session, scoring_round: ScoringRound, data: dict, actor_id: int | None
) -> MeetingMinutes:
    """Write or correct a round's meeting minutes; every change goes to the audit log.

    ``data`` holds ``held_on`` (a date), ``place``, ``panel_present`` (user ids), ``others_present``,
    ``decisions`` and ``notes``.

    :raises Invalid: no meeting date, or someone listed as a panel member who is not one.
    """
    refuse_round(session, scoring_round)  # the minutes of a closed month's round are part of its book
    held_on = data.get("held_on")
    if not isinstance(held_on, date):
        raise Invalid(_("请填写会议日期。"), code="date_required")
    check_day(held_on, "held_on", _("会议日期"))  # minutes of a meeting that was held
    _check_meeting_day(session, scoring_round, held_on)
    present = []
    for raw in data.get("panel_present") or []:
        try:
            present.append(int(raw))
        except (TypeError, ValueError):
            raise Invalid(_("出席人员选择有误。"), code="unknown_member") from None
    existing = minutes_of(session, scoring_round)
    allowed = {m.user_id for m in panels.panel_members(session, scoring_round.village_id)}
    allowed |= set(present_ids(existing))  # someone who has left the panel since stays on old minutes
    if any(uid not in allowed for uid in present):
        raise Invalid(_("出席人员中有人不是本村评比小组成员。"), code="unknown_member")
    new = {
        "held_on": held_on,
        "place": checked(data.get("place"), "place", _("地点"), max_length=LENGTHS["place"]),
        "panel_present": ",".join(str(u) for u in dict.fromkeys(present)),
        "others_present": checked(
            data.get("others_present"),
            "others_present",
            _("其他参会人员"),
            max_length=LENGTHS["others_present"],
        ),
        "decisions": checked(
            data.get("decisions"),
            "decisions",
            _("评定结果和决定"),
            max_length=LENGTHS["decisions"],
            multiline=True,
        ),
        "notes": checked(
            data.get("notes"), "notes", _("其他记录"), max_length=LENGTHS["notes"], multiline=True
        ),
    }
    now = utcnow()
    if existing is None:
        minutes = MeetingMinutes(round_id=scoring_round.id, updated_by=actor_id, updated_at=now, **new)
        session.add(minutes)
        session.flush()
        record(session, "scoring.minutes.created", actor_id, minutes, round=scoring_round.period_key, new=new)
        return minutes
    diff = changes({k: getattr(existing, k) for k in new}, new)
    if diff["new"]:
        for key, value in diff["new"].items():
            setattr(existing, key, value)
        existing.updated_by, existing.updated_at = actor_id, now
        session.flush()
        record(session, "scoring.minutes.updated", actor_id, existing, round=scoring_round.period_key, **diff)
    return existing


def minutes_items(minutes: MeetingMinutes, present: list[str], recorder: str) -> list[tuple[str, object]]:
    """The minutes as (item, content) lines, as the workbook lists them."""
    return [
        (_("会议日期"), minutes.held_on),
        (_("地点"), minutes.place),
        (_("出席的评比小组成员"), _("、").join(present)),
        (_("其他参会人员"), minutes.others_present),
        (_("评定结果和决定"), minutes.decisions),
        (_("其他记录"), minutes.notes),
        (_("记录人"), recorder),
    ]


def minutes_table(minutes: MeetingMinutes, present: list[str], recorder: str) -> Table:
    """The minutes as a two-column table (item, content), for a sheet holding several rounds' minutes."""
    items = [
        (item, Figure(content, DAY) if isinstance(content, date) else content)
        for item, content in minutes_items(minutes, present, recorder)
    ]
    return Table(
        _("会议记录"),
        [Column(_("项目"), 18, itemgetter(0)), Column(_("内容"), 90, itemgetter(1), wrap=True)],
        items,
    )


def minutes_xlsx(
    scoring_round: ScoringRound, minutes: MeetingMinutes, present: list[str], recorder: str, village: Village
) -> bytes:
    """The minutes as a two-column workbook (item, content), set up to print on A4.

    A form, not a table: each line is a different item (a date, a place, long text that wraps), the
    items in bold down the left; so it is written cell by cell, not as an
    :class:`~pointsmart.exports.Table`."""
    book = Book()
    sheet = ledger_sheet(
        book.active,
        _("会议记录"),
        _(
            "%(village)s %(period)s 积分评定会议记录",
            village=village.label,
            period=period_label(scoring_round),
        ),
        [_("项目"), _("内容")],
        [18, 90],
        landscape=False,
    )
    for item, content in minutes_items(minutes, present, recorder):
        sheet.append([item, content])
    for row in sheet.iter_rows(min_row=3):
        row[0].font = Font(bold=True)
        row[0].alignment = Alignment(vertical="top")
        row[1].alignment = Alignment(wrap_text=True, vertical="top")
    sheet["B3"].number_format = "yyyy-mm-dd"
    return workbook_bytes(book)
