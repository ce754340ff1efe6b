"""Find and set up the village this instance serves."""

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..audit.services import changes, record
from ..errors import Invalid, NotFound
from .models import DIVISION_CODE, Village

#: how many approvals a round may need, and how many days its notice may last
MAX_APPROVALS, MAX_NOTICE_DAYS = 9, 30


def home_village(session: Session) -> Village:
    """Return the village this instance serves (the first one set up).

    :raises NotFound: no village has been set up yet (run ``pointsmart demo`` or ``pointsmart village init``).
    """
    village = session.scalar(sa.select(Village).order_by(Village.id).limit(1))
    if village is None:
        raise NotFound(
            _("还没有设置村庄。请先运行 pointsmart village init 或 pointsmart demo。"), code="no_village"
        )
    return village


def ensure_village(session: Session, code: str, name: str, **extra) -> Village:
    """Create the village with this division code, or return it if it exists."""
    if not DIVISION_CODE.match(code or ""):
        raise Invalid(_("区划代码必须是 12 位数字：%(code)s", code=code), code="bad_division_code")
    village = session.scalar(sa.select(Village).where(Village.code == code))
    if village is None:
        village = Village(code=code, name=name, **extra)
        session.add(village)
        session.flush()
    return village


def update_settings(
    session: Session, village: Village, approvals_required: int, notice_days: int, actor_id: int | None
) -> dict:
    """Change how rounds run in this village (approvals needed, notice days); rounds already created
    keep the settings they started with. Returns the audited difference.

    :raises Invalid: a number out of its range.
    """
    if not 1 <= approvals_required <= MAX_APPROVALS or not 1 <= notice_days <= MAX_NOTICE_DAYS:
        raise Invalid(
            _("审核人数应为 1–%(a)s，公示天数应为 1–%(d)s。", a=MAX_APPROVALS, d=MAX_NOTICE_DAYS),
            code="bad_settings",
        )
    new = {"approvals_required": approvals_required, "notice_days": notice_days}
    diff = changes({key: getattr(village, key) for key in new}, new)
    if diff["new"]:
        for key, value in diff["new"].items():
            setattr(village, key, value)
        record(session, "org.village.settings", actor_id, village, **diff)
    return diff
