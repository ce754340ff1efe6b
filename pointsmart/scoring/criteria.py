"""The rulebook (积分细则): categories and their criteria, with points, cadence and limits. Functions
flush, never commit.
"""

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..audit.services import changes, record
from ..clock import utcnow
from ..errors import Invalid, NotFound
from ..text import checked
from .models import (
    Cadence,
    Category,
    Criterion,
)

#: the longest names and description a rulebook keeps (the columns hold these); the forms read them here
CATEGORY_NAME_LENGTH, CRITERION_NAME_LENGTH, DESCRIPTION_LENGTH = 60, 100, 500
#: a criterion's points either way (deductions negative), and how many times a period may count it
MAX_POINTS, MAX_TIMES = 1000, 31


def categories(session: Session, village_id: int) -> list[Category]:
    return list(
        session.scalars(
            sa.select(Category)
            .where(Category.village_id == village_id)
            .order_by(Category.position, Category.id)
        )
    )


def get_category(session: Session, village_id: int, category_id: int) -> Category:
    category = session.get(Category, category_id)
    if category is None or category.village_id != village_id:
        raise NotFound(_("找不到这个积分类别。"))
    return category


def get_criterion(session: Session, village_id: int, criterion_id: int) -> Criterion:
    criterion = session.get(Criterion, criterion_id)
    if criterion is None or criterion.category.village_id != village_id:
        raise NotFound(_("找不到这个积分条目。"))
    return criterion


def save_category(
    session: Session, village_id: int, data: dict, actor_id: int | None, category: Category | None = None
) -> Category:
    """Create or edit a category (name, position, active).

    :raises Invalid: no name.
    """
    name = checked(data.get("name"), "name", _("类别名称"), max_length=CATEGORY_NAME_LENGTH)
    if not name:
        raise Invalid(_("类别名称不能为空。"), code="name_required")
    new = {
        "name": name,
        "position": int(data.get("position") or 0),
        "active": bool(data.get("active", True)),
    }
    if category is None:
        category = Category(village_id=village_id, **new)
        session.add(category)
        session.flush()
        record(session, "scoring.category.created", actor_id, category, new=new)
        return category
    diff = changes({"name": category.name, "position": category.position, "active": category.active}, new)
    if diff["new"]:
        for key, value in diff["new"].items():
            setattr(category, key, value)
        record(session, "scoring.category.updated", actor_id, category, **diff)
    return category


CRITERION_FIELDS = (
    "name", "description", "points", "cadence", "max_per_period", "active", "position", "claimable"
)  # fmt: skip


def _clean_criterion(data: dict) -> dict:
    name = checked(data.get("name"), "name", _("条目名称"), max_length=CRITERION_NAME_LENGTH)
    if not name:
        raise Invalid(_("条目名称不能为空。"), code="name_required")
    try:
        points = int(data.get("points"))
        max_per_period = int(data.get("max_per_period") or 1)
    except (TypeError, ValueError):
        raise Invalid(_("分值和次数必须是整数。"), code="invalid_amount") from None
    if points == 0 or abs(points) > MAX_POINTS:
        raise Invalid(
            _("分值必须是 -%(n)s 到 %(n)s 之间的非零整数（扣分填负数）。", n=MAX_POINTS),
            code="invalid_amount",
        )
    if not 1 <= max_per_period <= MAX_TIMES:
        raise Invalid(_("每期最多次数应为 1–%(n)s。", n=MAX_TIMES), code="invalid_amount")
    try:
        cadence = Cadence(data.get("cadence"))
    except ValueError:
        raise Invalid(_("请选择评定周期（月、季或半年）。"), code="bad_period") from None
    return {
        "name": name,
        "description": checked(
            data.get("description"),
            "description",
            _("评分标准和佐证"),
            max_length=DESCRIPTION_LENGTH,
            multiline=True,
        ),
        "points": points,
        "cadence": str(cadence),
        "max_per_period": max_per_period,
        "active": bool(data.get("active", True)),
        "position": int(data.get("position") or 0),
        # families may claim it from their card page (申领积分); the chair decides, off by default
        "claimable": bool(data.get("claimable", False)),
    }


def save_criterion(
    session: Session, category: Category, data: dict, actor_id: int | None, criterion: Criterion | None = None
) -> Criterion:
    """Create or edit a criterion. Rounds already created keep the points they copied.

    :raises Invalid: missing name, zero or absurd points, bad cadence.
    """
    clean = _clean_criterion(data)
    if criterion is None:
        criterion = Criterion(category_id=category.id, updated_at=utcnow(), **clean)
        session.add(criterion)
        session.flush()
        record(session, "scoring.criterion.created", actor_id, criterion, new=clean)
        return criterion
    diff = changes({k: getattr(criterion, k) for k in CRITERION_FIELDS}, clean)
    if diff["new"]:
        for key, value in diff["new"].items():
            setattr(criterion, key, value)
        criterion.updated_at = utcnow()
        record(session, "scoring.criterion.updated", actor_id, criterion, **diff)
    return criterion


def active_criteria(session: Session, village_id: int, cadence: str) -> list[Criterion]:
    return list(
        session.scalars(
            sa.select(Criterion)
            .join(Category)
            .where(
                Category.village_id == village_id,
                Category.active.is_(True),
                Criterion.active.is_(True),
                Criterion.cadence == cadence,
            )
            .order_by(Category.position, Category.id, Criterion.position, Criterion.id)
        )
    )
