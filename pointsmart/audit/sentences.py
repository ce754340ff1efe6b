"""The audit log in sentences: each kind of entry read out as one sentence in the page's language.

"王秀兰 给 06-001 陈玉兰 加 20 分（义务打扫村道）" — people and households named, never a code or the
stored JSON. :data:`SENTENCES` holds one sentence per action code; a test reads every ``record(...)``
call in the package and fails on a code without one. :data:`KINDS` groups the codes into the kinds the
log's filter offers.

The audit log sits below every domain, so the names are read through the tables' metadata (the
entry itself names its target by table), not through the domains' models: importing those would turn
the one direction of imports around.

It is one long module on purpose: it is a single table, one sentence beside each code, read top to
bottom like the list of what the village's people can do; split by domain, the table the test holds to
the code would have to be gathered back together.
"""

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..extensions import db
from ..periods import WEEKDAYS, read_period
from .models import AuditEntry


@dataclass(frozen=True)
class Kind:
    """A kind of entry the filter offers: a human name and the action codes (or dotted prefixes) it holds."""

    key: str
    label: object
    prefixes: tuple[str, ...]

    def holds(self, action: str) -> bool:
        return any(action == p or action.startswith(p + ".") for p in self.prefixes)


KINDS = (
    Kind("points", _l("积分加减与撤销"), ("ledger",)),
    Kind("scores", _l("打分与改分"), ("scoring.score", "claims")),
    Kind("rounds", _l("评定流程"), ("scoring.round",)),
    Kind("objections", _l("异议"), ("scoring.objection",)),
    Kind("rulebook", _l("积分细则与管理办法"), ("scoring.category", "scoring.criterion", "scoring.bylaws")),
    Kind("panel", _l("评比小组"), ("scoring.panel",)),
    Kind(
        "minutes",
        _l("会议记录、公示照片与佐证照片"),
        ("scoring.minutes", "scoring.notice_photo", "scoring.score_photo"),
    ),
    Kind("households", _l("农户资料"), ("households",)),
    Kind("cards", _l("积分卡"), ("cards",)),
    Kind("redemptions", _l("兑换"), ("shop.redemption",)),
    Kind("goods", _l("商品与库存"), ("shop.goods", "shop.stock", "shop.stocktake")),
    Kind("users", _l("用户、登录与密码"), ("auth",)),
    Kind("settings", _l("设置、备份与同步"), ("org", "settings", "backup", "sync", "county")),
    Kind("closing", _l("月结"), ("closing",)),
)

KIND_BY_KEY = {k.key: k for k in KINDS}


def kind_of(action: str) -> Kind | None:
    return next((k for k in KINDS if k.holds(action)), None)


# --- names ----------------------------------------------------------------------------------------


def _table(name: str) -> sa.Table | None:
    return db.metadata.tables.get(name)


class Names:
    """Names of the people, households, goods and rounds that entries point to; each row read once."""

    def __init__(self, session: Session):
        self.session = session
        self._rows: dict[tuple[str, str, object], dict | None] = {}

    def row(self, table: str, value, column: str = "id") -> dict | None:
        """The row of ``table`` whose ``column`` is ``value`` as a dict, or None."""
        key = (table, column, value)
        if key not in self._rows:
            found = None
            t = _table(table)
            if t is not None and value not in (None, ""):
                if column == "id":
                    try:
                        value = int(value)
                    except (TypeError, ValueError):
                        value = None
                if value is not None:
                    result = self.session.execute(sa.select(t).where(t.c[column] == value).limit(1)).first()
                    found = dict(result._mapping) if result else None
            self._rows[key] = found
        return self._rows[key]

    def person(self, user_id) -> str:
        user = self.row("user", user_id)
        if user is None:
            return _("系统") if user_id is None else _("已删除的用户")
        return user.get("display_name") or user.get("username") or ""

    def user_by_name(self, username) -> str:
        user = self.row("user", username, "username")
        return (user.get("display_name") or username) if user else (username or "")

    def household(self, household_id=None, household_no=None) -> str:
        """``06-001 陈玉兰``: the 户号 and the head's name."""
        if household_id is not None:
            found = self.row("household", household_id)
        else:
            found = self.row("household", household_no, "household_no")
        if found is None:
            return str(household_no or "") or _("（已不存在的户）")
        return f"{found['household_no']} {found['head_name']}"

    def goods(self, goods_id) -> str:
        found = self.row("goods", goods_id)
        if found is None:
            return _("（已不存在的商品）")
        if found.get("spec"):
            return _("%(name)s（%(spec)s）", name=found["name"], spec=found["spec"])
        return found["name"]

    def round(self, round_id=None, period_key=None) -> str:
        if round_id is not None:
            found = self.row("scoring_round", round_id)
            period_key = found["period_key"] if found else period_key
            scope = found.get("scope") if found else ""
        else:
            scope = ""
        period = read_period(period_key or "")
        name = _("%(period)s评定", period=period.label()) if period else _("一次评定")
        return _("%(round)s（%(group)s）", round=name, group=scope) if scope else name

    def card(self, card_id) -> tuple[str, str]:
        """The card's number and its household."""
        found = self.row("card", card_id)
        if found is None:
            return "", _("（已不存在的户）")
        return found["number"], self.household(found["household_id"])

    def village(self, village_id) -> str:
        found = self.row("village", village_id)
        return found["name"] if found else ""


# --- fields and values ---------------------------------------------------------------------------

FIELD_LABELS = {
    "household_no": _l("户号"),
    "head_name": _l("户主"),
    "group": _l("村民小组"),
    "phone": _l("电话"),
    "members": _l("人口"),
    "address": _l("住址"),
    "tags": _l("标签"),
    "active": _l("启用"),
    "name": _l("名称"),
    "spec": _l("规格"),
    "price": _l("所需积分"),
    "low_stock": _l("库存提醒"),
    "position": _l("排序"),
    "photo": _l("照片"),
    "description": _l("说明"),
    "points": _l("分值"),
    "cadence": _l("评定周期"),
    "max_per_period": _l("每期最多次数"),
    "category_id": _l("类别"),
    "label": _l("称呼"),
    "groups": _l("负责的小组"),
    "approvals_required": _l("审核人数"),
    "notice_days": _l("公示天数"),
    "held_on": _l("会议日期"),
    "place": _l("地点"),
    "host": _l("主持人"),
    "recorder": _l("记录人"),
    "attendees": _l("参会人员"),
    "agenda": _l("议题"),
    "discussion": _l("讨论情况"),
    "decisions": _l("评定结果和决定"),
    "notes": _l("其他记录"),
    "times": _l("次数"),
    "county_url": _l("县里的地址"),
    "sync_key": _l("同步密钥（后4位）"),
    "backup_daily": _l("每天自动备份"),
    "backup_keep_days": _l("备份保留天数"),
    # the county's anomaly thresholds, by rule (:mod:`pointsmart.county.anomalies`)
    "notice_short": _l("公示期少于（天）"),
    "household_outlier": _l("超过全村中位数的倍数"),
    "manual_share": _l("手工加分占比超过（百分数）"),
    "stock_exceeded": _l("允许超出的件数"),
    "issued_spike": _l("超过前 6 个月平均的倍数（本村用了至少 3 个月才比较）"),
    "quick_repeat": _l("两次兑换相隔少于（秒）"),
    "silent": _l("未同步超过（天）"),
}

#: values longer than this are shortened in a sentence (the page is a list, not the record)
_SHORT = 40


def _value(value) -> str:
    if value is True:
        return _("是")
    if value is False:
        return _("否")
    if value is None or value == "":
        return _("（空）")
    text = str(value)
    return text if len(text) <= _SHORT else text[:_SHORT] + "…"


def _label(field: str) -> str:
    return str(FIELD_LABELS.get(field, _("其他项")))


def _diff(data: dict) -> str:
    """``住址 由“一组”改为“二组”；电话 由“（空）”改为“139…”``."""
    old, new = data.get("old") or {}, data.get("new") or {}
    parts = [
        _("%(field)s 由“%(old)s”改为“%(new)s”", field=_label(k), old=_value(old.get(k)), new=_value(v))
        for k, v in new.items()
    ]
    return _("；").join(parts) or _("没有改动")


REFUSAL_REASONS = {
    "insufficient_points": _l("积分不够"),
    "insufficient_stock": _l("库存不够"),
    "unknown_card": _l("找不到这张卡"),
    "card_revoked": _l("卡已作废"),
    "household_inactive": _l("该户已停用"),
    "goods_inactive": _l("商品已下架"),
    "unknown_goods": _l("找不到商品"),
    "empty_basket": _l("没有选商品"),
    "invalid_qty": _l("数量不对"),
    "bad_credentials": _l("用户名或密码不对"),
    "disabled": _l("账号已停用"),
}


def _reason(code) -> str:
    return str(REFUSAL_REASONS.get(code, _("其他原因")))


# --- the sentences --------------------------------------------------------------------------------

Sentence = Callable[[AuditEntry, Names, str], str]


def _target_household(e: AuditEntry, n: Names) -> str:
    if e.target_type == "household":
        return n.household(e.target_id)
    return n.household(household_no=e.data.get("household"))


def _adjustment(e, n, who):
    points = e.data.get("points") or 0
    household = _target_household(e, n)
    reason = e.data.get("reason") or ""
    if points >= 0:
        return _(
            "%(who)s 给 %(household)s 加 %(n)s 分（%(reason)s）",
            who=who,
            household=household,
            n=points,
            reason=reason,
        )
    return _(
        "%(who)s 给 %(household)s 扣 %(n)s 分（%(reason)s）",
        who=who,
        household=household,
        n=-points,
        reason=reason,
    )


def _reversal(e, n, who):
    return _(
        "%(who)s 撤销了 %(household)s 的一笔 %(n)s 分（%(reason)s）",
        who=who,
        household=_target_household(e, n),
        n=e.data.get("amount"),
        reason=e.data.get("reason") or "",
    )


def _user_target(e, n):
    return n.person(e.target_id) if e.target_type == "user" else ""


def _created_user(e, n, who):
    return _(
        "%(who)s 添加了用户 %(name)s（%(role)s）",
        who=who,
        name=e.data.get("display_name") or e.data.get("username") or "",
        role=_role(e.data.get("role")),
    )


ROLE_NAMES = {
    "chair": _l("妇联主席"),
    "panel": _l("评比小组成员"),
    "shopkeeper": _l("超市管理员"),
    "county_reviewer": _l("县级审核员"),
    "county_admin": _l("县级管理员"),
}


def _role(code) -> str:
    return str(ROLE_NAMES.get(code, _("其他角色")))


def _login_refused(e, n, who):
    return _(
        "用户名“%(username)s”登录被拒绝：%(reason)s",
        username=_value(e.data.get("username")),
        reason=_reason(e.data.get("code")),
    )


def _token(created: bool):
    def sentence(e, n, who):
        name = e.data.get("name") or _("未命名")
        if created:  # nobody makes a key for someone else: it is always one's own
            return _("%(who)s 新建了接口密钥“%(name)s”", who=who, name=name)
        return _("%(who)s 作废了 %(user)s 的接口密钥“%(name)s”", who=who, user=_user_target(e, n), name=name)

    return sentence


def _round_target(e, n):
    if e.target_type == "scoring_round":
        return n.round(e.target_id)
    return n.round(period_key=e.data.get("round") or e.data.get("period"))


def _score(corrected: bool):
    def sentence(e, n, who):
        old = (e.data.get("old") or {}).get("times")
        new = (e.data.get("new") or {}).get("times")
        args = dict(
            who=who,
            round=_round_target(e, n),
            household=n.household(household_no=e.data.get("household")),
            criterion=e.data.get("criterion") or "",
            old=old,
            new=new,
        )
        if corrected:
            return _(
                "%(who)s 按异议改正了 %(round)s 中 %(household)s 的“%(criterion)s”："
                "%(old)s 次改为 %(new)s 次",
                **args,
            )
        return _(
            "%(who)s 在 %(round)s 给 %(household)s 的“%(criterion)s”记 %(new)s 次（原来 %(old)s 次）", **args
        )

    return sentence


def _round_step(text):
    def sentence(e, n, who):
        return text() % {"who": who, "round": _round_target(e, n)}

    return sentence


def _finalised(e, n, who):
    if "deducted" not in e.data:  # recorded before the deductions were written down
        return _(
            "%(who)s 把 %(round)s 记入积分：%(households)s 户，共 %(points)s 分",
            who=who,
            round=_round_target(e, n),
            households=e.data.get("households"),
            points=e.data.get("points"),
        )
    return _(
        "%(who)s 把 %(round)s 记入积分：%(households)s 户，加 %(plus)s 分，扣 %(minus)s 分",
        who=who,
        round=_round_target(e, n),
        households=e.data.get("households"),
        plus=e.data.get("points"),
        minus=e.data.get("deducted"),
    )


def _approved(e, n, who):
    return _(
        "%(who)s 审核通过了 %(round)s（%(count)s / %(required)s 人已通过）",
        who=who,
        round=_round_target(e, n),
        count=e.data.get("approvals"),
        required=e.data.get("required"),
    )


def _reopened(e, n, who):
    return _(
        "%(who)s 退回了 %(round)s（%(reason)s）",
        who=who,
        round=_round_target(e, n),
        reason=e.data.get("reason") or "",
    )


def _objection_household(e, n):
    if e.data.get("household"):
        return n.household(household_no=e.data["household"])
    found = n.row("objection", e.target_id) if e.target_type == "objection" else None
    return n.household(found["household_id"]) if found else ""


def _objection_round(e, n):
    if e.data.get("round"):
        return n.round(period_key=e.data["round"])
    found = n.row("objection", e.target_id) if e.target_type == "objection" else None
    return n.round(found["round_id"]) if found else n.round()


def _objection_recorded(e, n, who):
    return _(
        "%(who)s 登记了 %(objector)s 对 %(round)s 中 %(household)s 的异议：%(content)s",
        who=who,
        objector=e.data.get("objector") or _("村民"),
        round=_objection_round(e, n),
        household=_objection_household(e, n),
        content=_value(e.data.get("content")),
    )


def _objection_resolved(e, n, who):
    args = dict(who=who, household=_objection_household(e, n), resolution=_value(e.data.get("resolution")))
    if e.data.get("status") == "upheld":
        return _("%(who)s 处理了 %(household)s 的异议：异议成立（%(resolution)s）", **args)
    return _("%(who)s 处理了 %(household)s 的异议：异议不成立（%(resolution)s）", **args)


def _named_target(table: str, field: str = "name"):
    def name(e, n):
        if e.target_type == table:
            found = n.row(table, e.target_id)
            if found is not None:
                return found.get(field) or ""
        new = e.data.get("new") or {}
        return new.get(field) or ""

    return name


_category = _named_target("category")
_criterion = _named_target("criterion")


def _goods_target(e, n):
    return n.goods(e.target_id) if e.target_type == "goods" else _("（已不存在的商品）")


def _panel_person(e, n):
    return n.user_by_name(e.data.get("user"))


def _card_target(e, n):
    number, household = n.card(e.target_id) if e.target_type == "card" else ("", "")
    return e.data.get("number") or number, household


def _card_issued(e, n, who):
    number, household = _card_target(e, n)
    return _(
        "%(who)s 给 %(household)s 发了积分卡（卡号 %(number)s）", who=who, household=household, number=number
    )


def _card_revoked(e, n, who):
    number, household = _card_target(e, n)
    return _(
        "%(who)s 作废了 %(household)s 的积分卡（卡号 %(number)s，%(reason)s）",
        who=who,
        household=household,
        number=number,
        reason=_value(e.data.get("reason")),
    )


def _redemption_household(e, n):
    if e.data.get("household"):
        return n.household(household_no=e.data["household"])
    found = n.row("redemption", e.target_id) if e.target_type == "redemption" else None
    return n.household(found["household_id"]) if found else ""


def _redeemed(e, n, who):
    return _(
        "%(who)s 给 %(household)s 兑换了 %(items)s，用去 %(points)s 分，余 %(balance)s 分",
        who=who,
        household=_redemption_household(e, n),
        items=e.data.get("items") or "",
        points=e.data.get("points"),
        balance=e.data.get("balance_after"),
    )


def _redemption_cancelled(e, n, who):
    return _(
        "%(who)s 撤销了 %(household)s 的一次兑换，退回 %(points)s 分（%(reason)s）",
        who=who,
        household=_redemption_household(e, n),
        points=e.data.get("points"),
        reason=_value(e.data.get("reason")),
    )


def _redemption_refused(e, n, who):
    card = str(e.data.get("card") or "")
    found = n.row("card", card, "number") if card.isdigit() else None
    if found is not None:
        return _(
            "%(who)s 在柜台给 %(household)s 兑换被拒绝（卡号 %(card)s）：%(reason)s",
            who=who,
            household=n.household(found["household_id"]),
            card=card,
            reason=_reason(e.data.get("code")),
        )
    if card == "(QR)" or card.startswith("id:"):
        card = _("扫码")
    return _(
        "%(who)s 在柜台兑换被拒绝（卡号 %(card)s）：%(reason)s",
        who=who,
        card=card,
        reason=_reason(e.data.get("code")),
    )


def _stock_in(label):
    def sentence(e, n, who):
        donor = e.data.get("donor")
        text = _(
            "%(who)s %(how)s %(goods)s %(qty)s 件，库存 %(after)s",
            who=who,
            how=label,
            goods=_goods_target(e, n),
            qty=e.data.get("qty"),
            after=e.data.get("stock_after"),
        )
        return text + (_("（捐赠：%(donor)s）", donor=donor) if donor else "")

    return sentence


def _stock_loss(e, n, who):
    return _(
        "%(who)s 记了 %(goods)s 损耗 %(qty)s 件（%(note)s），库存 %(after)s",
        who=who,
        goods=_goods_target(e, n),
        qty=e.data.get("qty"),
        note=_value(e.data.get("note")),
        after=e.data.get("stock_after"),
    )


def _stocktake(e, n, who):
    lines = e.data.get("lines") or {}
    return _(
        "%(who)s 做了盘点（盘点人 %(counter)s，%(n)s 种商品）",
        who=who,
        counter=e.data.get("counted_by") or "",
        n=len(lines),
    )


def _village_target(e, n):
    if e.target_type == "village":
        return n.village(e.target_id) or e.data.get("name") or ""
    return e.data.get("name") or ""


def _bundle_imported(e, n, who):
    return _(
        "%(who)s 导入了 %(village)s 的同步文件，新增 %(n)s 条",
        who=who,
        village=_village_target(e, n),
        n=e.data.get("applied"),
    )


def _bundle_refused(e, n, who):
    return _("%(who)s 导入同步文件被拒绝：%(message)s", who=who, message=_value(e.data.get("message")))


def _anomaly_checked(e, n, who):
    period = read_period(e.data.get("period") or "")
    sentence = _(
        "%(who)s 核查了 %(village)s %(period)s 需要关注的情况（%(rule)s）",
        who=who,
        village=_village_target(e, n),
        period=period.label() if period else e.data.get("period") or "",
        rule=_ANOMALY_RULES.get(e.data.get("rule"), e.data.get("rule") or ""),
    )
    note = e.data.get("note")
    return sentence + _("：") + _value(note) if note else sentence


#: the county's anomaly rules as people read them (:data:`pointsmart.county.anomalies.RULES`, which
#: this module may not import: the audit log sits below the county)
_ANOMALY_RULES = {
    "notice_short": _l("公示期过短或没有公示照片"),
    "household_outlier": _l("农户得分异常高"),
    "manual_share": _l("手工加分比例过高"),
    "stock_exceeded": _l("兑换超过入库"),
    "issued_spike": _l("月发放积分突增"),
    "quick_repeat": _l("短时间内重复兑换"),
    "silent": _l("长时间未同步"),
    "mismatch": _l("总数与县里重算不符"),
    "closed_day": _l("非营业日兑换"),
}


def _simple(text: Callable[[], str], target: Callable | None = None) -> Sentence:
    """A sentence with ``%(who)s`` and, if ``target`` is given, ``%(target)s``."""

    def sentence(e, n, who):
        return text() % {"who": who, "target": target(e, n) if target else ""}

    return sentence


def _changed(text: Callable[[], str], target: Callable) -> Sentence:
    """``text`` names ``%(who)s`` and ``%(target)s``; the fields changed follow it."""

    def sentence(e, n, who):
        return text() % {"who": who, "target": target(e, n)} + _("：") + _diff(e.data)

    return sentence


def _household_of_entry(e, n):
    return _target_household(e, n)


def _created_household(e, n, who):
    new = e.data.get("new") or {}
    if e.target_type == "household" and n.row("household", e.target_id):
        name = n.household(e.target_id)
    else:
        name = f"{new.get('household_no', '')} {new.get('head_name', '')}".strip()
    return _("%(who)s 添加了农户 %(household)s", who=who, household=name)


def _minutes(created: bool):
    def sentence(e, n, who):
        target = n.round(period_key=e.data.get("round"))
        if created:
            return _("%(who)s 写了 %(round)s 的评定会议记录", who=who, round=target)
        return _("%(who)s 修改了 %(round)s 的评定会议记录", who=who, round=target) + _("：") + _diff(e.data)

    return sentence


def _photo(uploaded: bool):
    def sentence(e, n, who):
        target = n.round(period_key=e.data.get("round"))
        if uploaded:
            return _("%(who)s 上传了 %(round)s 的公示照片", who=who, round=target)
        return _("%(who)s 删除了 %(round)s 的一张公示照片", who=who, round=target)

    return sentence


#: why an evidence photo was refused, by the refusal's code (:mod:`pointsmart.scoring.score_photos`)
_PHOTO_REFUSALS = {
    "wrong_status": _l("评定已不在打分阶段"),
    "not_panel_member": _l("不是这一户的评分人"),
    "too_many_photos": _l("这一户的照片已到上限"),
    "storage_full": _l("本村照片存储空间已满"),
}


def _score_photo(kind: str):
    """``scoring.score_photo.<kind>``: a photo of a household's score, uploaded, deleted or shown."""

    def sentence(e, n, who):
        values = {
            "who": who,
            "round": n.round(period_key=e.data.get("round")),
            "household": n.household(e.data.get("household_id")),
        }
        if kind == "uploaded":
            text = _("%(who)s 给 %(round)s 中 %(household)s 的打分上传了佐证照片", **values)
            criterion = e.data.get("criterion")
            return text + (_("（%(criterion)s）", criterion=_value(criterion)) if criterion else "")
        if kind == "refused":
            text = _("%(who)s 给 %(round)s 中 %(household)s 上传佐证照片被拒绝", **values)
            reason = _PHOTO_REFUSALS.get(e.data.get("code"))
            return text + _("：") + str(reason) if reason else text
        if kind == "made_public":
            return _("%(who)s 把 %(round)s 中 %(household)s 的一张佐证照片在公示上公开", **values)
        if kind == "made_private":
            return _("%(who)s 把 %(round)s 中 %(household)s 的一张佐证照片从公示上撤下", **values)
        return _("%(who)s 删除了 %(round)s 中 %(household)s 的一张佐证照片", **values)

    return sentence


def _bylaws(e, n, who):
    version, length = _value(e.data.get("version")), _value(e.data.get("length"))
    return _("%(who)s 保存了管理办法第 %(n)s 版（%(length)s 字）", who=who, n=version, length=length)


def _claim(kind: str):
    """``claims.claim.<kind>``: a family's own claim (申领积分), filed from its card, accepted or declined."""

    def sentence(e, n, who):
        values = {
            "who": who,
            "household": n.household(household_no=e.data.get("household")),
            "criterion": _value(e.data.get("criterion")),
            "round": _value(e.data.get("round")),
        }
        if kind == "submitted":
            return _("%(household)s 从积分卡页面申领“%(criterion)s”（%(round)s）", **values)
        if kind == "accepted" and "added" in e.data:
            return _(
                "%(who)s 采纳了 %(household)s 的申领“%(criterion)s”：这一格从 %(before)s 次加 %(added)s 次，"
                "共 %(times)s 次",
                before=_value(e.data.get("before")),
                added=_value(e.data.get("added")),
                times=_value(e.data.get("times")),
                **values,
            )
        if kind == "accepted":  # entries written before the claim kept what it added
            return _(
                "%(who)s 采纳了 %(household)s 的申领“%(criterion)s”，这一格记为共 %(times)s 次",
                times=_value(e.data.get("times")),
                **values,
            )
        return _(
            "%(who)s 没有采纳 %(household)s 的申领“%(criterion)s”：%(reason)s",
            reason=_value(e.data.get("reason")),
            **values,
        )

    return sentence


def _backup(e, n, who):
    """``settings.backup.<kind>`` and ``settings.backup.<kind>.failed`` (kinds: auto, manual, download)."""
    failed = e.action.endswith(".failed")
    kind = e.action.split(".")[2] if e.action.count(".") >= 2 else ""
    if failed:
        return _("%(who)s 的备份没有做成：%(message)s", who=who, message=_value(e.data.get("message")))
    if kind == "download":
        return _("%(who)s 下载了一份数据备份", who=who)
    if kind == "auto":
        return _("服务器做了每天的自动备份（%(file)s）", file=_value(e.data.get("file")))
    return _("%(who)s 备份了数据（%(file)s）", who=who, file=_value(e.data.get("file")))


def _points_rule_words(data) -> str:
    """A year-end rule for points as stored in an entry (``{"rule": "months", "months": 12}``), in words."""
    data = data or {}
    if data.get("rule") == "year_end":
        return _("每年年底清零")
    if data.get("rule") == "months":
        return _("获得满 %(n)s 个月后过期", n=data.get("months"))
    return _("一直有效")


def _opening_days_words(days) -> str:
    """The shop's opening days as stored in an entry (``[1, 3, 5]``), in words; none is "not set"."""
    names = [str(WEEKDAYS[d]) for d in days or () if isinstance(d, int) and d in WEEKDAYS]
    return _("、").join(names) if names else _("不设置（不检查）")


def _opening_days(e, n, who):
    return _(
        "%(who)s 把积分超市营业日由“%(old)s”改为“%(new)s”",
        who=who,
        old=_opening_days_words(e.data.get("old")),
        new=_opening_days_words(e.data.get("new")),
    )


def _points_rule(e, n, who):
    return _(
        "%(who)s 把积分到期规则由“%(old)s”改为“%(new)s”（只管以后获得的积分）",
        who=who,
        old=_points_rule_words(e.data.get("old")),
        new=_points_rule_words(e.data.get("new")),
    )


def _expiry(e, n, who):
    return _(
        "系统按积分到期规则清掉了 %(households)s 户共 %(points)s 分到期的积分",
        households=e.data.get("households") or 0,
        points=e.data.get("points") or 0,
    )


def _month_closed(e, n, who):
    month = str(e.data.get("month") or "")
    return _(
        "%(who)s 月结了 %(month)s（账目校验码 %(sha)s…）",
        who=who,
        month=month,
        sha=str(e.data.get("sha256") or "")[:12],
    )


def _round_carried(e, n, who):
    return _(
        "%(who)s 把 %(round)s 从 %(month)s 结转到下月",
        who=who,
        round=_round_target(e, n),
        month=str(e.data.get("month") or ""),
    )


#: one sentence per action code written anywhere in the package (a test holds this to the code)
SENTENCES: dict[str, Sentence] = {
    # 月结
    "closing.month.closed": _month_closed,
    "closing.round.carried": _round_carried,
    # points
    "ledger.adjustment": _adjustment,
    "ledger.reversal": _reversal,
    "ledger.expiry": _expiry,
    # users
    "auth.user.created": _created_user,
    "auth.user.enabled": _simple(lambda: _("%(who)s 恢复了用户 %(target)s"), _user_target),
    "auth.user.disabled": _simple(lambda: _("%(who)s 停用了用户 %(target)s"), _user_target),
    "auth.login": _simple(lambda: _("%(who)s 登录了")),
    "auth.login.refused": _login_refused,
    "auth.password.changed": _simple(lambda: _("%(who)s 修改了自己的密码")),
    "auth.password.refused": _simple(lambda: _("%(who)s 修改密码时旧密码输错太多次，被暂停")),
    "auth.password.reset": _simple(lambda: _("%(who)s 重设了 %(target)s 的密码"), _user_target),
    "auth.token.created": _token(True),
    "auth.token.revoked": _token(False),
    # settings, sync and the county
    "org.village.settings": _changed(lambda: _("%(who)s 修改了评定设置"), lambda e, n: ""),
    "settings.backup.download": _backup,
    "settings.changed": _changed(lambda: _("%(who)s 修改了村里的设置"), lambda e, n: ""),
    "settings.points_rule.changed": _points_rule,
    "settings.opening_days.changed": _opening_days,
    "sync.pushed": _simple(lambda: _("%(who)s 把数据同步到了县里")),
    "sync.bundle_exported": _simple(lambda: _("%(who)s 导出了给县里的同步文件（U 盘）")),
    "county.township.added": _simple(
        lambda: _("%(who)s 添加了乡镇 %(target)s"), lambda e, n: e.data.get("name") or ""
    ),
    "county.village.added": _simple(lambda: _("%(who)s 添加了村 %(target)s"), _village_target),
    "county.village.key_rotated": _simple(lambda: _("%(who)s 给 %(target)s 换了同步密钥"), _village_target),
    "county.bundle.imported": _bundle_imported,
    "county.bundle.refused": _bundle_refused,
    "county.anomaly.checked": _anomaly_checked,
    "county.anomaly.thresholds": _changed(lambda: _("%(who)s 修改了县里的检查阈值"), lambda e, n: ""),
    # households and cards
    "households.household.created": _created_household,
    "households.household.updated": _changed(
        lambda: _("%(who)s 修改了 %(target)s 的资料"), _household_of_entry
    ),
    "households.household.deactivated": _simple(
        lambda: _("%(who)s 停用了农户 %(target)s"), _household_of_entry
    ),
    "households.household.reactivated": _simple(
        lambda: _("%(who)s 恢复了农户 %(target)s"), _household_of_entry
    ),
    "cards.card.issued": _card_issued,
    "cards.card.revoked": _card_revoked,
    # scoring
    "scoring.round.created": _simple(lambda: _("%(who)s 新建了 %(target)s"), _round_target),
    "scoring.round.submitted": _round_step(lambda: _("%(who)s 提交了 %(round)s 的打分，等待审核")),
    "scoring.round.approved": _approved,
    "scoring.round.reopened": _reopened,
    "scoring.round.published": _round_step(lambda: _("%(who)s 公示了 %(round)s 的结果")),
    "scoring.round.finalised": _finalised,
    "scoring.score.set": _score(False),
    "scoring.score.corrected": _score(True),
    "scoring.objection.recorded": _objection_recorded,
    "scoring.objection.resolved": _objection_resolved,
    "scoring.category.created": _simple(lambda: _("%(who)s 添加了积分类别“%(target)s”"), _category),
    "scoring.category.updated": _changed(lambda: _("%(who)s 修改了积分类别“%(target)s”"), _category),
    "scoring.criterion.created": _simple(lambda: _("%(who)s 添加了积分条目“%(target)s”"), _criterion),
    "scoring.criterion.updated": _changed(lambda: _("%(who)s 修改了积分条目“%(target)s”"), _criterion),
    "scoring.panel.added": _simple(lambda: _("%(who)s 把 %(target)s 加入了评比小组"), _panel_person),
    "scoring.panel.updated": _changed(lambda: _("%(who)s 修改了评比小组成员 %(target)s"), _panel_person),
    "scoring.panel.removed": _simple(lambda: _("%(who)s 把 %(target)s 移出了评比小组"), _panel_person),
    "scoring.minutes.created": _minutes(True),
    "scoring.minutes.updated": _minutes(False),
    "scoring.notice_photo.uploaded": _photo(True),
    "scoring.notice_photo.deleted": _photo(False),
    "scoring.score_photo.uploaded": _score_photo("uploaded"),
    "scoring.score_photo.deleted": _score_photo("deleted"),
    "scoring.score_photo.made_public": _score_photo("made_public"),
    "scoring.score_photo.made_private": _score_photo("made_private"),
    "scoring.score_photo.refused": _score_photo("refused"),
    "scoring.bylaws.saved": _bylaws,
    "claims.claim.submitted": _claim("submitted"),
    "claims.claim.accepted": _claim("accepted"),
    "claims.claim.declined": _claim("declined"),
    # the shop
    "shop.goods.created": _simple(lambda: _("%(who)s 添加了商品 %(target)s"), _goods_target),
    "shop.goods.updated": _changed(lambda: _("%(who)s 修改了商品 %(target)s"), _goods_target),
    "shop.goods.photo": _simple(lambda: _("%(who)s 换了商品 %(target)s 的照片"), _goods_target),
    "shop.stock.donation": _stock_in(_l("捐赠入库")),
    "shop.stock.purchase": _stock_in(_l("采购入库")),
    "shop.stock.loss": _stock_loss,
    "shop.stocktake": _stocktake,
    "shop.redemption.done": _redeemed,
    "shop.redemption.cancelled": _redemption_cancelled,
    "shop.redemption.refused": _redemption_refused,
}

#: codes built at run time (``f"shop.stock.{kind}"``): the sentence for any code under the prefix
FAMILIES: dict[str, Sentence] = {
    "shop.stock.": _stock_in(_l("入库")),
    "settings.backup.": _backup,
}


def sentence_for(action: str) -> Sentence | None:
    if action in SENTENCES:
        return SENTENCES[action]
    return next((s for prefix, s in FAMILIES.items() if action.startswith(prefix)), None)


def sentence(entry: AuditEntry, names: Names) -> str:
    """The entry as one sentence in the current language."""
    who = names.person(entry.actor_id)
    found = sentence_for(entry.action)
    if found is None:  # a code newer than this table: say what kind of thing happened, not the code
        kind = kind_of(entry.action)
        return _("%(who)s 做了一项操作（%(kind)s）", who=who, kind=kind.label if kind else _("其他"))
    return found(entry, names, who)
