"""Register, edit, find and credit households. Functions flush, never commit."""

import re
import uuid

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..audit.services import changes, record
from ..clock import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..i18n import join_problems
from ..idempotency import once
from ..ledger import services as ledger
from ..ledger.models import AccountKind, Transfer, TransferKind
from ..paging import Page, paginate
from ..text import checked, problem
from .models import Household

HOUSEHOLD_NO = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-]{0,19}$")
#: a mainland mobile: 11 digits, 1 then 3–9 (written with spaces or hyphens, or after +86, it is kept
#: as the 11 digits)
MOBILE = re.compile(r"^(?:\+?86)?(1[3-9][0-9]{9})$")
#: a landline with its area code: 0 and 2–3 digits (010, 0931), then 7–8 digits, e.g. 0931-8123456;
#: kept as area code, hyphen, number
LANDLINE = re.compile(r"^(0[1-9][0-9]{1,2})[-]?([1-9][0-9]{6,7})$")
TAG_SPLIT = re.compile(r"[,，、;；\s]+")
#: the longest text each household field takes (the columns hold these); the form reads them here
LIMITS = {"household_no": 20, "head_name": 40, "group": 40, "phone": 20, "address": 200, "tags": 200}
#: a household's number of members
MIN_MEMBERS, MAX_MEMBERS = 1, 50
#: a single adjustment larger than this is surely a typo (an extra zero)
MAX_ADJUSTMENT = 100_000
#: the longest reason an adjustment or a reversal keeps
MAX_REASON = 500


class HouseholdError(Invalid):
    code = "invalid_household"


#: a 户号's full-width letters, digits and hyphens (typed with a Chinese input method) as ASCII
_FULL_WIDTH = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
        **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
        "－": "-",
        "—": "-",
        "–": "-",
        "‐": "-",
    }
)


def normal_no(text) -> str:
    """A 户号 as stored and compared: half-width, ASCII letters upper-case (a-01 and Ａ－01 are A-01)."""
    value = "" if text is None else str(text).strip()
    return value.translate(_FULL_WIDTH).upper()


def field_labels() -> dict[str, str]:
    return {
        "household_no": _("户号"),
        "head_name": _("户主姓名"),
        "group": _("村民小组"),
        "phone": _("联系电话"),
        "members": _("家庭人口"),
        "address": _("住址"),
        "tags": _("标签"),
    }


def clean_fields(data: dict) -> tuple[dict, list[str]]:
    """Normalise a household's fields; return the clean values and a message per problem.

    Only the keys present in ``data`` are cleaned and returned, so a spreadsheet without a phone
    column leaves phones alone.
    """
    labels = field_labels()
    clean: dict = {}
    problems: list[str] = []
    for key in Household.EDITABLE:
        if key not in data:
            continue
        raw = data[key]
        value = "" if raw is None else str(raw).strip()
        bad = problem(value, max_length=LIMITS.get(key, 20))
        if bad:
            problems.append(_("%(field)s：%(problem)s", field=labels[key], problem=bad))
            continue
        if key == "household_no":
            value = normal_no(value)
            if not value:
                problems.append(_("户号不能为空"))
            elif not HOUSEHOLD_NO.match(value):
                problems.append(_("户号 %(v)s 格式不对（只能用数字、字母和连字符，最多 20 位）", v=value))
        elif key == "head_name":
            if not value:
                problems.append(_("户主姓名不能为空"))
        elif key == "phone":
            if value:
                phone = normal_phone(value)
                if phone is None:
                    problems.append(_("联系电话 %(v)s 格式不对（%(rule)s）", v=value, rule=phone_rule()))
                else:
                    value = phone
        elif key == "members":
            if value:
                if re.fullmatch(r"\d+(\.0+)?", value) and MIN_MEMBERS <= int(float(value)) <= MAX_MEMBERS:
                    value = int(float(value))
                else:
                    problems.append(
                        _(
                            "家庭人口 %(v)s 应为 %(min)s–%(max)s 的整数",
                            v=value,
                            min=MIN_MEMBERS,
                            max=MAX_MEMBERS,
                        )
                    )
            else:
                value = None
        elif key == "tags":
            value = ",".join(dict.fromkeys(t for t in TAG_SPLIT.split(value) if t))
        limit = LIMITS.get(key)
        if limit and isinstance(value, str) and len(value) > limit:
            problems.append(_("%(field)s 太长（最多 %(n)s 个字）", field=labels[key], n=limit))
        clean[key] = value
    return clean, problems


def phone_rule() -> str:
    """What a phone number must look like, in the page's language."""
    return _("手机号是 1 开头的 11 位数字；座机要带区号，如 0931-8123456")


def normal_phone(text: str) -> str | None:
    """A phone number as it is kept: a mobile's 11 digits, or a landline as ``0931-8123456``; None if
    it is neither (a 7-digit number without its area code, a typo)."""
    compact = re.sub(r"[\s\-()（）]", "", text)
    mobile = MOBILE.match(compact)
    if mobile:
        return mobile.group(1)
    landline = LANDLINE.match(re.sub(r"[\s()（）]", "", text).replace("—", "-"))
    return f"{landline.group(1)}-{landline.group(2)}" if landline else None


_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMBER_RUN = re.compile(r"[0-9]+|[零〇一二两三四五六七八九十百千]+")


def _cn_number(text: str) -> int:
    """一 → 1, 十一 → 11, 二十 → 20, 一百零五 → 105, 一〇五 → 105."""
    if not any(ch in _CN_UNITS for ch in text):
        return int("".join(str(_CN_DIGITS[ch]) for ch in text))
    total = current = 0
    for ch in text:
        if ch in _CN_UNITS:
            total += (current or 1) * _CN_UNITS[ch]
            current = 0
        else:
            current = _CN_DIGITS[ch]
    return total + current


def group_sort_key(name: str | None) -> tuple:
    """Sort 村民小组 as people count them: 一社, 二社, 三社 … 十社, 十一社 (and 1组, 2组 … 10组).

    Numbers written in Chinese numerals or Arabic digits count by their value, the rest of the name by
    its text; a name without a group sorts last. Use it wherever groups are listed or households are
    grouped: ``sorted(names, key=group_sort_key)``.
    """
    if not name:
        return ((2, ""),)  # no group: after every named one
    parts: list[tuple] = []
    position = 0
    for found in _NUMBER_RUN.finditer(name):
        if found.start() > position:
            parts.append((1, name[position : found.start()]))
        run = found.group()
        parts.append((0, int(run) if run.isdigit() else _cn_number(run)))
        position = found.end()
    if position < len(name):
        parts.append((1, name[position:]))
    return (*parts, (3, name))  # the name itself last: 一社 and 1社 both count 1, but are two groups


def get_household(session: Session, household_id: int) -> Household:
    household = session.get(Household, household_id)
    if household is None:
        raise NotFound(_("找不到这一户。"))
    return household


def household_by_uuid(session: Session, village_id: int, household_uuid: str) -> Household:
    household = session.scalar(
        sa.select(Household).where(Household.uuid == household_uuid, Household.village_id == village_id)
    )
    if household is None:
        raise NotFound(_("找不到这一户。"), code="unknown_household")
    return household


def household_by_no(session: Session, village_id: int, household_no: str) -> Household | None:
    """The household with this 户号, however its letters are cased or its characters are wide (a row
    stored before 户号 were normalised may hold lower-case letters: it is found too)."""
    wanted = normal_no(household_no)
    found = session.scalar(
        sa.select(Household).where(Household.village_id == village_id, Household.household_no == wanted)
    )
    if found is not None:
        return found
    return session.scalar(
        sa.select(Household)
        .where(Household.village_id == village_id, sa.func.upper(Household.household_no) == wanted)
        .order_by(Household.id)
        .limit(1)
    )


def households_by_no(session: Session, village_id: int) -> dict[str, Household]:
    """The village's households by normalised 户号 (for an import: one query, not one per row)."""
    found: dict[str, Household] = {}
    for household in session.scalars(
        sa.select(Household).where(Household.village_id == village_id).order_by(Household.id)
    ):
        found.setdefault(normal_no(household.household_no), household)
    return found


def search_households(
    session: Session,
    village_id: int,
    q: str = "",
    group: str = "",
    include_inactive: bool = False,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """One page of households matching a name or 户号 fragment and a group, in 户号 order."""
    query = _households(village_id, include_inactive)
    if q:
        like = f"%{q.strip()}%"
        no_like = f"%{normal_no(q)}%"
        query = query.where(
            sa.or_(Household.head_name.like(like), sa.func.upper(Household.household_no).like(no_like))
        )
    if group:
        query = query.where(Household.group == group)
    return paginate(session, query, page, per_page)


def all_households(session: Session, village_id: int, include_inactive: bool = True) -> list[Household]:
    """Every household of the village in 户号 order: for exports, which are never paged."""
    return list(session.scalars(_households(village_id, include_inactive)))


def _households(village_id: int, include_inactive: bool) -> sa.Select:
    query = sa.select(Household).where(Household.village_id == village_id).order_by(Household.household_no)
    return query if include_inactive else query.where(Household.active.is_(True))


def groups(session: Session, village_id: int) -> list[str]:
    """The village's 村民小组 names, as used by its households, in counting order (一社, 二社 … 十一社)."""
    names = session.scalars(
        sa.select(Household.group).where(Household.village_id == village_id, Household.group != "").distinct()
    )
    return sorted(names, key=group_sort_key)


def _require_unique_no(session: Session, village_id: int, household_no: str, exclude_id=None) -> None:
    other = household_by_no(session, village_id, household_no)
    if other is not None and other.id != exclude_id:
        raise Conflict(_("户号 %(no)s 已经存在。", no=household_no), code="duplicate_household_no")


def create_household(session: Session, village_id: int, data: dict, actor_id: int | None) -> Household:
    """Register a household and open its points account.

    :raises HouseholdError: a field is missing or malformed.
    :raises Conflict: the 户号 is taken.
    """
    clean, problems = clean_fields({k: data.get(k) for k in Household.EDITABLE})
    if problems:
        raise HouseholdError(join_problems(problems))
    _require_unique_no(session, village_id, clean["household_no"])
    return register_clean(session, village_id, clean, actor_id)


def register_clean(session: Session, village_id: int, clean: dict, actor_id: int | None) -> Household:
    """Insert a household from already-cleaned fields (see :func:`clean_fields`) and open its account."""
    household = Household(
        uuid=str(uuid.uuid4()), village_id=village_id, created_at=utcnow(), updated_at=utcnow(), **clean
    )
    household.account = ledger.open_household_account(session, household.uuid)
    session.add(household)
    session.flush()
    record(session, "households.household.created", actor_id, household, new=clean)
    return household


def update_household(session: Session, household: Household, data: dict, actor_id: int | None) -> dict:
    """Change a household's details; return the audited ``{"old", "new"}`` difference.

    :raises HouseholdError: a field is malformed.
    :raises Conflict: the new 户号 is taken.
    """
    clean, problems = clean_fields(data)
    if problems:
        raise HouseholdError(join_problems(problems))
    if "household_no" in clean:
        _require_unique_no(session, household.village_id, clean["household_no"], exclude_id=household.id)
    diff = changes(household.snapshot(), clean)
    if diff["new"]:
        for key, value in diff["new"].items():
            setattr(household, key, value)
        household.updated_at = utcnow()
        session.flush()
        record(session, "households.household.updated", actor_id, household, **diff)
    return diff


def set_household_active(session: Session, household: Household, active: bool, actor_id: int | None) -> None:
    """Deactivate (or reactivate) a household. Households are never deleted: their history stays."""
    if household.active == active:
        return
    household.active = active
    household.updated_at = utcnow()
    record(
        session,
        "households.household.reactivated" if active else "households.household.deactivated",
        actor_id,
        household,
        old={"active": not active},
        new={"active": active},
    )


def adjust_points(
    session: Session,
    household: Household,
    points: int,
    reason: str,
    actor_id: int | None,
    ref: str | None = None,
):
    """Award (points > 0) or deduct (points < 0) points by hand, with a reason. Chair only.

    :raises Invalid: zero or absurd points, or no reason.
    :raises InsufficientPoints: a deduction larger than the balance ("扣分后余额不能为负 …"); nothing
        is written.
    """
    reason = checked(reason, "reason", _("原因"), max_length=MAX_REASON, multiline=True)
    if not isinstance(points, int) or isinstance(points, bool) or points == 0:
        raise Invalid(_("积分调整必须是非零整数。"), code="invalid_amount")
    if abs(points) > MAX_ADJUSTMENT:
        raise Invalid(_("一次调整不能超过 %(n)s 分。", n=MAX_ADJUSTMENT), code="invalid_amount")
    if not reason:
        raise Invalid(_("积分调整必须填写原因。"), code="reason_required")
    if not household.active:
        raise Conflict(_("该户已停用，不能调整积分。"), code="household_inactive")
    if points > 0:
        source, target = ledger.system_account(session, AccountKind.ISSUANCE), household.account
    else:
        source, target = household.account, ledger.system_account(session, AccountKind.DEDUCTIONS)
    try:
        transfer = ledger.post(
            session, source, target, abs(points), TransferKind.ADJUSTMENT, reason, actor_id=actor_id, ref=ref
        )
    except ledger.InsufficientPoints as err:  # the ledger speaks of paying; this is a deduction
        balance = err.extra.get("balance")
        raise ledger.InsufficientPoints(
            _("扣分后余额不能为负：现有 %(balance)s 分，扣 %(points)s 分。", balance=balance, points=-points),
            balance=balance,
            needed=-points,
        ) from err
    record(
        session,
        "ledger.adjustment",
        actor_id,
        household,
        points=points,
        reason=reason,
        transfer=transfer.uuid,
        balance_after=household.account.balance,
    )
    return transfer


def reverse_transfer(session: Session, household: Household, transfer_id: int, reason: str, actor_id: int):
    """Reverse one of this household's transfers, with a reason. Chair only.

    :raises NotFound: the transfer is not this household's.
    """
    transfer = session.get(Transfer, transfer_id)
    if transfer is None or household.account_id not in (transfer.from_account_id, transfer.to_account_id):
        raise NotFound(_("找不到这笔积分记录。"))
    if transfer.kind == TransferKind.REDEMPTION:  # the goods must go back too: that is the shop's cancel
        raise Conflict(
            _("兑换记录请在收银台的兑换凭条上撤销，这样商品也会退回库存。"), code="use_redemption_cancel"
        )
    reason = checked(reason, "reason", _("撤销原因"), max_length=MAX_REASON, multiline=True)
    reversal = ledger.reverse(session, transfer_id, reason, actor_id)
    record(
        session,
        "ledger.reversal",
        actor_id,
        household,
        transfer=transfer.uuid,
        reversal=reversal.uuid,
        reason=reason,
        amount=transfer.amount,
    )
    return reversal


def adjust_once(
    session: Session, household: Household, points: int, reason: str, actor_id: int, key: str
) -> dict:
    """:func:`adjust_points` behind an idempotency key: a form posted twice, or an API call retried,
    records the adjustment once and gets the same answer: ``{"transfer", "points", "balance"}``.

    :raises DomainError: the refusal, the same one again on a retry with the same key.
    """

    def perform() -> dict:
        transfer = adjust_points(session, household, points, reason, actor_id)
        return {"transfer": transfer.uuid, "points": points, "balance": household.account.balance}

    body = {"household": household.uuid, "points": points, "reason": reason}
    return once(
        session, f"adjustment:{actor_id}", key, body, perform, remember=lambda answer: answer, recall=dict
    )
