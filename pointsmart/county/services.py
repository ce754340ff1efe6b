"""The county's org tree, village sync keys, and which villages a county user may see."""

import hashlib
import secrets

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..audit.services import record
from ..auth.models import Role, User
from ..clock import utcnow
from ..errors import Conflict, DomainError, Invalid, NotFound
from ..org.models import DIVISION_CODE, Village
from ..text import checked
from .models import Township, VillageLink


class SyncKeyError(DomainError):
    code = "bad_sync_key"
    status = 401


def key_digest(key: str) -> str:
    """Sync keys are 256-bit random secrets: sha256 is enough to store them (no guessing to slow down)."""
    return hashlib.sha256(key.encode()).hexdigest()


def _new_key() -> str:
    return "pmk_" + secrets.token_urlsafe(32)


def _check_code(code: str) -> str:
    code = (code or "").strip()
    if not DIVISION_CODE.match(code):
        raise Invalid(_("区划代码必须是 12 位数字：%(code)s", code=code), code="bad_division_code")
    return code


def ensure_township(
    session: Session, code: str, name: str | None = None, actor_id: int | None = None
) -> Township:
    """Return the township with this code, creating it when a name is given.

    :raises NotFound: no such township and no name to create it with.
    """
    code = _check_code(code)
    if not code.endswith("000") or code.endswith("000000"):
        raise Invalid(
            _("乡镇的区划代码应以 000 结尾（前 9 位是乡镇）：%(code)s", code=code), code="bad_division_code"
        )
    township = session.scalar(sa.select(Township).where(Township.code == code))
    if township is None:
        name = checked(name, "township_name", _("乡镇名称"), max_length=100)
        if not name:
            raise NotFound(
                _("还没有乡镇 %(code)s；请用 --township-name 给出它的名称。", code=code),
                code="unknown_township",
            )
        township = Township(code=code, name=name)
        session.add(township)
        session.flush()
        record(session, "county.township.added", actor_id, township, code=code, name=township.name)
    return township


def add_village(
    session: Session, code: str, name: str, township_code: str, township_name: str | None = None,
    actor_id: int | None = None,
) -> tuple[Village, str]:  # fmt: skip
    """Register a village under its township and give it a sync key; return the village and the key.

    The key is returned once; only its hash is kept.

    :raises Invalid: a bad code, or a village code that is not inside the township's code.
    :raises Conflict: the village is registered already (use :func:`rotate_key` for a new key).
    """
    code = _check_code(code)
    name = checked(name, "name", _("村名"), max_length=100)
    if not name:
        raise Invalid(_("请填写村名。"), code="name_required")
    township = ensure_township(session, township_code, township_name, actor_id)
    if code[:9] != township.code[:9] or code.endswith("000"):
        raise Invalid(
            _("村的区划代码 %(code)s 不在乡镇 %(township)s（%(prefix)s…）之下。", code=code,
              township=township.name, prefix=township.code[:9]),
            code="bad_division_code",
        )  # fmt: skip
    if session.scalar(sa.select(Village.id).where(Village.code == code)) is not None:
        raise Conflict(
            _("村 %(code)s 已经登记过了；要换密钥请用 rotate-key。", code=code), code="village_exists"
        )
    village = Village(code=code, name=name, township_code=township.code, township_name=township.name)
    session.add(village)
    session.flush()
    key = _new_key()
    session.add(VillageLink(village_id=village.id, key_hash=key_digest(key), key_set_at=utcnow()))
    session.flush()
    record(session, "county.village.added", actor_id, village, code=code, name=name, township=township.code)
    return village, key


def rotate_key(session: Session, code: str, actor_id: int | None = None) -> str:
    """Give a registered village a new sync key; the old one stops working at once. Returns the key."""
    village = session.scalar(sa.select(Village).where(Village.code == _check_code(code)))
    link = session.get(VillageLink, village.id) if village else None
    if link is None:
        raise NotFound(_("县里没有登记村 %(code)s。", code=code), code="unknown_village")
    key = _new_key()
    link.key_hash, link.key_set_at = key_digest(key), utcnow()
    session.flush()
    record(session, "county.village.key_rotated", actor_id, village, code=village.code)
    return key


def village_for_key(session: Session, key: str) -> Village:
    """The village whose sync key this is.

    :raises SyncKeyError: no key, or one the county does not know (or no longer knows).
    """
    link = session.scalar(sa.select(VillageLink).where(VillageLink.key_hash == key_digest(key or "")))
    if not key or link is None:
        raise SyncKeyError(_("同步密钥无效或已更换（Authorization: Bearer <同步密钥>）。"))
    return session.get(Village, link.village_id)


def visible(user: User, query):
    """Limit a query over villages (joined as ``Village``) to those this county user may see."""
    if user.role not in (Role.COUNTY_ADMIN, Role.COUNTY_REVIEWER):
        return query.where(sa.false())
    if user.township_code:
        return query.where(Village.township_code == user.township_code)
    return query


def registered_villages(session: Session, user: User) -> list[tuple[Village, VillageLink]]:
    """The villages this user may see, with their sync links, by township then code."""
    query = sa.select(Village, VillageLink).join(VillageLink, VillageLink.village_id == Village.id)
    return [
        tuple(row)
        for row in session.execute(visible(user, query).order_by(Village.township_code, Village.code))
    ]


def village_for(session: Session, user: User, code: str) -> tuple[Village, VillageLink]:
    """One village this user may see, by code.

    :raises NotFound: unknown, or outside the user's township (the two look the same).
    """
    query = sa.select(Village, VillageLink).join(VillageLink, VillageLink.village_id == Village.id)
    row = session.execute(visible(user, query).where(Village.code == code)).one_or_none()
    if row is None:
        raise NotFound(_("找不到这个村，或它不在您的查看范围内。"), code="unknown_village")
    return row


def townships(session: Session, user: User) -> list[Township]:
    query = sa.select(Township).order_by(Township.code)
    if user.township_code:
        query = query.where(Township.code == user.township_code)
    return list(session.scalars(query))
