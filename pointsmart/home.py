"""Each role's home page: what waits for this person, one sentence a line, each with its link.

The chair sees rounds to approve, publish or finalise, open objections, notice periods and their end
dates, goods out of or low in stock, and how the last backup and the last sync went, with a button for
each. A panel member sees the rounds to score and to approve. Both see the families' claims (申领)
waiting for their answer. The shopkeeper's home is the counter.
Lines are computed here, in Python; the template only shows them.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from .auth.models import Role, User
from .claims.services import waiting_by_round
from .closing.services import month_to_close
from .extensions import db
from .households.models import Household
from .i18n import join_names
from .ledger.models import Account
from .org.models import Village
from .periods import local_text
from .scoring.finalisation import finalise_refusal
from .scoring.models import Objection, ObjectionStatus, RoundStatus, ScoringRound
from .scoring.panels import membership
from .scoring.reports import period_label
from .scoring.workflow import approval_refusal, open_objections
from .settings import backups
from .settings.services import county_link
from .settings.services import current as current_settings
from .shop.services import low_stock
from .sync import batches, progress

#: a backup older than this is shown as a warning
BACKUP_LATE = timedelta(days=2)
#: a sync older than this (with records waiting) is shown as a warning
SYNC_LATE = timedelta(days=7)
#: at most this many goods lines; the rest are counted in one more line
GOODS_LINES = 8


@dataclass
class Line:
    """One line of the to-do list: a sentence and what to press."""

    text: str
    url: str
    action: str
    #: what kind of thing it is, for tests and styling: approve, publish, finalise, objection, notice,
    #: score, submit, waiting, out_of_stock, low_stock, claims
    kind: str
    #: "urgent" (do it now), "" (to do), "info" (nothing to do yet)
    tone: str = ""


@dataclass
class Status:
    """The backup or sync line: when it last happened, and a button (a form post) or a link."""

    text: str
    tone: str = ""
    button: str = ""
    post_to: str = ""
    link: str = ""
    link_text: str = ""
    notes: list[str] = field(default_factory=list)


def _day(value: datetime) -> str:
    return local_text(value)


def _open_rounds(session: Session, village_id: int) -> list[ScoringRound]:
    return list(
        session.scalars(
            sa.select(ScoringRound)
            .where(ScoringRound.village_id == village_id, ScoringRound.status != RoundStatus.FINALISED)
            .order_by(ScoringRound.period_key, ScoringRound.id)
        )
    )


def _approve_line(scoring_round: ScoringRound) -> Line:
    return Line(
        _(
            "%(round)s 已提交，等您审核（已有 %(n)s/%(need)s 人审核）。",
            round=period_label(scoring_round),
            n=len(scoring_round.approvals),
            need=scoring_round.approvals_required,
        ),
        url_for("scoring.overview", round_id=scoring_round.id),
        _("去审核"),
        "approve",
        "urgent",
    )


def chair_lines(session: Session, village: Village, user: User, now: datetime) -> list[Line]:
    """What waits for the chair, most pressing first."""
    lines: list[Line] = []
    for r in _open_rounds(session, village.id):
        link = url_for("scoring.overview", round_id=r.id)
        name = period_label(r)
        if r.status == RoundStatus.DRAFT:
            lines.append(
                Line(_("%(round)s 正在评分，评完后提交审核。", round=name), link, _("查看"), "submit")
            )
        elif r.status == RoundStatus.SUBMITTED:
            if approval_refusal(session, r, user) is None:
                lines.append(_approve_line(r))
            else:
                lines.append(
                    Line(
                        _(
                            "%(round)s 已提交，等评比小组审核（已有 %(n)s/%(need)s 人审核）。",
                            round=name,
                            n=len(r.approvals),
                            need=r.approvals_required,
                        ),
                        link,
                        _("查看"),
                        "waiting",
                        "info",
                    )
                )
        elif r.status == RoundStatus.APPROVED:
            lines.append(
                Line(
                    _("%(round)s 已审核通过，可以公示了。", round=name),
                    link,
                    _("去公示"),
                    "publish",
                    "urgent",
                )
            )
        elif r.status == RoundStatus.NOTICE:
            objections = open_objections(session, r)
            if now < r.notice_ends_at:
                days = (r.notice_ends_at - now).days
                lines.append(
                    Line(
                        _(
                            "%(round)s 正在公示，%(end)s 结束（还有 %(days)s 天）。",
                            round=name,
                            end=_day(r.notice_ends_at),
                            days=days,
                        )
                        if days
                        else _(
                            "%(round)s 正在公示，今天 %(end)s 结束。", round=name, end=_day(r.notice_ends_at)
                        ),
                        link,
                        _("查看"),
                        "notice",
                        "info",
                    )
                )
            elif finalise_refusal(session, r) is None:
                lines.append(
                    Line(
                        _(
                            "%(round)s 公示已在 %(end)s 结束，可以生效、记入积分了。",
                            round=name,
                            end=_day(r.notice_ends_at),
                        ),
                        link,
                        _("去生效"),
                        "finalise",
                        "urgent",
                    )
                )
            elif objections:
                lines.append(
                    Line(
                        _(
                            "%(round)s 公示已结束，还有 %(n)s 条异议没处理，处理完才能生效。",
                            round=name,
                            n=objections,
                        ),
                        link,
                        _("查看"),
                        "finalise",
                        "urgent",
                    )
                )
    lines += objection_lines(session, village.id)
    lines += claim_lines(session, user)
    lines += goods_lines(session, village.id)
    lines += month_close_lines(session, village.id)
    order = {"urgent": 0, "": 1, "info": 2}
    return sorted(lines, key=lambda line: order[line.tone])


def month_close_lines(session: Session, village_id: int) -> list[Line]:
    """The month that has ended and waits for its 月结, and whether it can be closed now."""
    waiting = month_to_close(session, village_id)
    if waiting is None:
        return []
    link = url_for("closing.index", _anchor=f"m-{waiting.month}")
    if waiting.closable:
        return [
            Line(_("%(month)s已经过完，可以月结了。", month=waiting.label), link, _("去月结"), "close_month")
        ]
    return [
        Line(
            _("%(month)s还没有月结：%(why)s", month=waiting.label, why=waiting.blockers[0].text),
            link,
            _("查看"),
            "close_month",
            "info",
        )
    ]


def objection_lines(session: Session, village_id: int) -> list[Line]:
    rows = session.execute(
        sa.select(Objection, ScoringRound)
        .join(ScoringRound, Objection.round_id == ScoringRound.id)
        .where(ScoringRound.village_id == village_id, Objection.status == ObjectionStatus.OPEN)
        .order_by(Objection.id)
    ).all()
    return [
        Line(
            _(
                "%(who)s 对 %(no)s %(head)s 在 %(round)s 的积分有异议，请处理。",
                who=o.objector,
                no=o.household.household_no,
                head=o.household.head_name,
                round=period_label(r),
            ),
            url_for("scoring.objection", objection_id=o.id),
            _("处理异议"),
            "objection",
            "urgent",
        )
        for o, r in rows
    ]


def _unit(spec: str | None) -> str:
    """The measure word a goods item is counted in: 袋 from "袋（2kg）", 个 from "个"; else 件."""
    word = re.split(r"[（(\s]", spec or "", maxsplit=1)[0]
    return word if 0 < len(word) <= 2 else _("件")


def goods_lines(session: Session, village_id: int) -> list[Line]:
    goods = sorted(low_stock(session, village_id), key=lambda item: item.stock)  # the empty first
    lines = []
    for item in goods[:GOODS_LINES]:
        name = f"{item.name} {item.spec}" if item.spec else item.name
        link = url_for("shop.stock", goods_id=item.id)
        if item.stock == 0:
            lines.append(Line(_("%(goods)s 已经没货了。", goods=name), link, _("进货"), "out_of_stock"))
        else:
            lines.append(
                Line(
                    _(
                        "%(goods)s 只剩 %(n)s %(unit)s（低于 %(low)s %(unit)s就该进货）。",
                        goods=item.name,
                        n=item.stock,
                        low=item.low_stock,
                        unit=_unit(item.spec),
                    ),
                    link,
                    _("进货"),
                    "low_stock",
                )
            )
    if len(goods) > GOODS_LINES:
        lines.append(
            Line(
                _("还有 %(n)s 种商品没货或快没货了。", n=len(goods) - GOODS_LINES),
                url_for("shop.goods"),
                _("看全部商品"),
                "low_stock",
            )
        )
    return lines


def panel_lines(session: Session, village: Village, user: User) -> list[Line]:
    """The rounds a panel member should score or approve."""
    member = membership(session, user.id)
    if member is None:
        return []
    lines = []
    for r in _open_rounds(session, village.id):
        if r.status == RoundStatus.DRAFT and (
            not r.scope or not member.group_list or r.scope in member.group_list
        ):
            groups = join_names(member.group_list)
            lines.append(
                Line(
                    _(
                        "%(round)s 正在评分，请给 %(groups)s 的农户打分。",
                        round=period_label(r),
                        groups=groups,
                    )
                    if groups
                    else _("%(round)s 正在评分，请给农户打分。", round=period_label(r)),
                    url_for("scoring.overview", round_id=r.id),
                    _("去打分"),
                    "score",
                    "urgent",
                )
            )
        elif approval_refusal(session, r, user) is None:
            lines.append(_approve_line(r))
    return lines + claim_lines(session, user)


def claim_lines(session: Session, user: User) -> list[Line]:
    """Families' claims (申领) waiting, a line a round: to do for what ``user`` may answer; for what only
    other panel members may answer, a line that asks nothing of her."""
    lines = []
    for r, mine, others in waiting_by_round(session, user):
        link = url_for("claims.round_claims", round_id=r.id)
        if mine:
            text = _("%(round)s：%(n)s 条家庭申领待审。", round=period_label(r), n=mine)
            lines.append(Line(text, link, _("去审核"), "claims"))
        elif others:
            text = _("%(round)s：%(n)s 条家庭申领等评比小组审核。", round=period_label(r), n=others)
            lines.append(Line(text, link, _("查看"), "claims", "info"))
    return lines


def backup_status(session: Session, now: datetime) -> Status:
    if backups.sqlite_file(db.engine) is None:
        return Status(_("这个系统用的是 PostgreSQL 数据库：请管理员每天用 pg_dump 备份。"), "info")
    last = backups.last_backup(session)
    failure = backups.last_failure(session)
    button = dict(button=_("现在备份"), post_to=url_for("settings.backup_now"))
    if last is None:
        status = Status(_("还没有备份过数据。"), "urgent", **button)
    elif now - last.started_at > BACKUP_LATE:
        status = Status(
            _(
                "上次备份是 %(when)s，已经 %(days)s 天没有备份了。",
                when=_day(last.started_at),
                days=(now - last.started_at).days,
            ),
            "urgent",
            **button,
        )
    else:
        how = {"auto": _("自动"), "manual": _("手动"), "download": _("下载")}[last.kind]
        status = Status(
            _("上次备份：%(when)s（%(how)s）。", when=_day(last.started_at), how=how), "", **button
        )
    if failure:
        status.notes.append(_("%(when)s 的备份没有成功。", when=_day(failure.started_at)))
        status.tone = "urgent"
    if not current_settings(session).backup_daily:
        status.notes.append(_("每天自动备份已关闭。"))
    status.link, status.link_text = url_for("settings.index"), _("备份设置")
    return status


def sync_status(session: Session, now: datetime) -> Status:
    state = batches.state(session)
    waiting = batches.waiting(session)
    link = county_link(session, current_app.config)
    text = (
        (_("上次同步 %(when)s", when=_day(state.last_sync_at)) if state.last_sync_at else _("从未同步"))
        + " · "
        + _("等待发送 %(n)s 条记录", n=waiting)
    )
    status = Status(text)
    if state.last_error:
        status.notes.append(_("上次同步出错：%(why)s", why=state.last_error))
        status.tone = "urgent"
    if waiting and (state.last_sync_at is None or now - state.last_sync_at > SYNC_LATE):
        status.tone = "urgent"
    if not link.configured:
        status.notes.append(_("还没有填写县里的地址和同步密钥。"))
        status.link, status.link_text = url_for("settings.index"), _("去设置")
    elif progress.current(session).running:
        status.notes.append(_("正在同步…"))
        status.link, status.link_text = url_for("sync.index"), _("查看同步")
    else:
        status.button, status.post_to = _("现在同步"), url_for("sync.start_push")
        status.link, status.link_text = url_for("sync.index"), _("同步页")
    return status


def page(user: User, village: Village, now: datetime):
    """The home page of ``user`` (a village role): the shopkeeper goes to the counter."""
    if user.role == Role.SHOPKEEPER:
        return redirect(url_for("shop.counter"))
    session = db.session
    households, outstanding = session.execute(
        sa.select(sa.func.count(Household.id), sa.func.coalesce(sa.func.sum(Account.balance), 0))
        .join(Account, Household.account_id == Account.id)
        .where(Household.village_id == village.id, Household.active.is_(True))
    ).one()
    chair = user.role == Role.CHAIR
    lines = chair_lines(session, village, user, now) if chair else panel_lines(session, village, user)
    return render_template(
        "index.html",
        village=village,
        households=households,
        outstanding=outstanding,
        lines=lines,
        to_do=[line for line in lines if line.tone != "info"],
        backup=backup_status(session, now) if chair else None,
        sync=sync_status(session, now) if chair else None,
        is_member=chair or membership(session, user.id) is not None,
        picture_link=url_for("picture.index") if chair else None,
    )
