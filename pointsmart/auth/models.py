"""Users, their server-side log-in sessions and their API tokens."""

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class Role(enum.StrEnum):
    CHAIR = "chair"  # 妇联主席: the village's administrator
    PANEL = "panel"  # 评比小组成员
    SHOPKEEPER = "shopkeeper"  # 超市管理员
    COUNTY_REVIEWER = "county_reviewer"
    COUNTY_ADMIN = "county_admin"


ROLE_LABELS = {
    Role.CHAIR: _l("妇联主席"),
    Role.PANEL: _l("评比小组成员"),
    Role.SHOPKEEPER: _l("超市管理员"),
    Role.COUNTY_REVIEWER: _l("县级审核员"),
    Role.COUNTY_ADMIN: _l("县级管理员"),
}


class User(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(40), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(40), default="")
    #: argon2id hash (see :mod:`pointsmart.auth.passwords`)
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(20))
    active: Mapped[bool] = mapped_column(default=True)
    village_id: Mapped[int | None] = mapped_column(sa.ForeignKey("village.id"))
    #: a county reviewer limited to one township (乡镇), by its division code; none: the whole county
    township_code: Mapped[str | None] = mapped_column(sa.String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village = relationship("Village")

    # Flask-Login's protocol. The id Flask-Login keeps in the cookie is the *log-in session* token,
    # set by the view at log-in; see LoginSession.
    is_authenticated = True
    is_anonymous = False
    #: set on the loaded object, never stored: which log-in session this request belongs to
    login_session_token = None

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str | None:
        return self.login_session_token

    @property
    def role_label(self) -> str:
        return str(ROLE_LABELS.get(self.role, self.role))


class LoginSession(db.Model):
    """One log-in on one device. Ending it (log-out, password change, disabled user) makes the
    cookie that carries its token worthless, even if someone kept a copy of it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    #: sha256 of the random token in the session cookie
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]

    user = relationship(User)


class ApiToken(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    #: sha256 of the token; the token itself is shown once and never stored
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: first characters, so a chair can tell tokens apart
    prefix: Mapped[str] = mapped_column(sa.String(12))
    #: what its owner calls it ("收银平板"), to tell tokens apart on the tokens page
    name: Mapped[str] = mapped_column(sa.String(60), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: when a call last authenticated with it, to the nearest few minutes (see ``note_token_use``)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user = relationship(User)
