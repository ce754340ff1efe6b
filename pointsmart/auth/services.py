"""Users, log-in sessions and API tokens. Functions flush, never commit."""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..audit.services import record
from ..clock import utcnow
from ..errors import Conflict, DomainError, Invalid, NotFound
from ..text import checked
from .models import ApiToken, LoginSession, Role, User
from .passwords import check_password, hash_password

#: user names: 2 to MAX_USERNAME letters, digits, dots, dashes or underscores
MAX_USERNAME = 40
USERNAME = re.compile(rf"^[\w.\-]{{2,{MAX_USERNAME}}}$")
#: a display name, and the longest password taken (a longer one is no stronger, only costlier to hash)
MAX_DISPLAY_NAME = 40
MAX_PASSWORD = 200
MIN_PASSWORD = 8
VILLAGE_ROLES = (Role.CHAIR, Role.PANEL, Role.SHOPKEEPER)


class AuthError(DomainError):
    code = "auth_error"
    status = 401


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_password_strength(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise Invalid(_("密码至少需要 %(n)s 个字符。", n=MIN_PASSWORD), code="weak_password")


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(sa.select(User).where(User.username == username))


def get_user(session: Session, user_id: int, village_id: int | None) -> User:
    """Return a user of this village.

    :raises NotFound: no such user here.
    """
    user = session.get(User, user_id)
    if user is None or user.village_id != village_id:
        raise NotFound(_("找不到这个用户。"))
    return user


def user_names(session: Session, user_ids) -> dict[int, str]:
    """The names people are shown by (display name, else user name) of these user ids."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    rows = session.execute(sa.select(User.id, User.display_name, User.username).where(User.id.in_(ids)))
    return {uid: display or username for uid, display, username in rows}


def list_users(session: Session, village_id: int) -> list[User]:
    return list(
        session.scalars(
            sa.select(User).where(User.village_id == village_id).order_by(User.role, User.username)
        )
    )


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    display_name: str = "",
    village_id: int | None = None,
    actor_id: int | None = None,
    township_code: str | None = None,
) -> User:
    """Create a user with a hashed password. ``township_code`` limits a county reviewer to one township.

    :raises Invalid: bad user name, unknown role or weak password.
    :raises Conflict: the user name is taken.
    """
    username = (username or "").strip()
    if not USERNAME.match(username):
        raise Invalid(_("用户名须为 2–40 个字母、数字、下划线、点或连字符。"), code="bad_username")
    if role not in set(Role):
        raise Invalid(_("未知角色：%(role)s", role=role), code="bad_role")
    display_name = checked(display_name, "display_name", _("姓名"), max_length=MAX_DISPLAY_NAME)
    _check_password_strength(password)
    if find_user(session, username) is not None:
        raise Conflict(_("用户名 %(name)s 已被使用。", name=username), code="username_taken")
    if township_code and role != Role.COUNTY_REVIEWER:
        raise Invalid(_("只有县级审核员可以限定在一个乡镇。"), code="bad_role")
    user = User(
        username=username,
        role=role,
        password_hash=hash_password(password),
        display_name=display_name or username,
        village_id=village_id,
        township_code=township_code or None,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    record(
        session,
        "auth.user.created",
        actor_id,
        user,
        username=username,
        role=role,
        display_name=user.display_name,
        township=user.township_code,
    )
    return user


@dataclass(frozen=True)
class LoginAttempt:
    """A user name and password, checked: what :func:`authenticate` needs to decide and audit."""

    username: str
    user_id: int | None
    password_ok: bool


def check_login(session: Session, username: str, password: str) -> LoginAttempt:
    """Check a password against the stored hash. Only reads: the hash is slow on purpose, so callers
    run it before their write transaction. A wrong name and a wrong password take the same time."""
    user = find_user(session, (username or "").strip())
    ok = check_password(user.password_hash if user else None, password or "")
    # the name as typed, kept only to count failed tries (cut to the column); the form refuses longer
    return LoginAttempt((username or "")[:40], user.id if user else None, ok)


def authenticate(session: Session, attempt: LoginAttempt) -> User:
    """Return the user of a checked log-in attempt, read again now (disabled since? refused).

    The refusal is audited (without the password) and kept: the error carries ``keep``.

    :raises AuthError: no such active user, or the password is wrong.
    """
    user = session.get(User, attempt.user_id) if attempt.user_id is not None else None
    if not attempt.password_ok or user is None or not user.active:
        record(
            session,
            "auth.login.refused",
            user.id if user else None,
            user,
            username=attempt.username,
            code="bad_credentials" if not attempt.password_ok else "disabled",
        )
        raise AuthError(_("用户名或密码不正确，或账号已停用。"), code="bad_credentials", keep=True)
    return user


def start_login_session(session: Session, user: User) -> str:
    """Open a server-side log-in session and return its token (to keep in the signed cookie)."""
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=_digest(token), user_id=user.id, created_at=utcnow()))
    record(session, "auth.login", user.id, user)
    session.flush()
    user.login_session_token = token
    return token


def user_for_login_session(session: Session, token: str, max_age: timedelta | None = None) -> User | None:
    """Return the active user of a live log-in session, or None (ended, unknown, older than
    ``max_age``, user disabled)."""
    login = session.scalar(
        sa.select(LoginSession).where(
            LoginSession.token_hash == _digest(token or ""), LoginSession.ended_at.is_(None)
        )
    )
    if login is None or not login.user.active:
        return None
    if max_age is not None and utcnow() - login.created_at > max_age:
        return None
    login.user.login_session_token = token
    return login.user


def end_login_session(session: Session, token: str) -> None:
    session.execute(
        sa.update(LoginSession)
        .where(LoginSession.token_hash == _digest(token or ""), LoginSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def end_all_login_sessions(session: Session, user_id: int, keep_token: str | None = None) -> None:
    stmt = sa.update(LoginSession).where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
    if keep_token:
        stmt = stmt.where(LoginSession.token_hash != _digest(keep_token))
    session.execute(stmt.values(ended_at=utcnow()))


def _revoke_api_tokens(session: Session, user_id: int) -> None:
    """A new password or a disabled account ends the old API tokens too: a leaked one must not outlive it."""
    session.execute(
        sa.update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def change_password(session: Session, user: User, old: str, new: str) -> None:
    """Change one's own password; every other log-in of this user ends.

    :raises AuthError: the old password is wrong.
    """
    if not check_password(user.password_hash, old or ""):
        raise AuthError(_("原密码不正确。"), code="bad_credentials", status=400)
    _check_password_strength(new)
    user.password_hash = hash_password(new)
    end_all_login_sessions(session, user.id, keep_token=user.login_session_token)
    _revoke_api_tokens(session, user.id)
    record(session, "auth.password.changed", user.id, user)


def reset_password(session: Session, user: User, new: str, actor_id: int) -> None:
    """Set a user's password (the chair, for a user who forgot theirs); all their log-ins end."""
    _check_password_strength(new)
    user.password_hash = hash_password(new)
    end_all_login_sessions(session, user.id)
    _revoke_api_tokens(session, user.id)
    record(session, "auth.password.reset", actor_id, user)


def set_active(session: Session, user: User, active: bool, actor_id: int) -> None:
    """Enable or disable a user. Disabling ends their log-ins and revokes their API tokens."""
    if user.id == actor_id and not active:
        raise Conflict(_("不能停用自己的账号。"), code="cannot_disable_self")
    if user.active == active:
        return
    user.active = active
    if not active:
        end_all_login_sessions(session, user.id)
        _revoke_api_tokens(session, user.id)
    record(
        session,
        "auth.user.enabled" if active else "auth.user.disabled",
        actor_id,
        user,
        old={"active": not active},
        new={"active": active},
    )


#: how stale ``last_used_at`` may get before a call writes it again: one write per token per interval,
#: not one per call (an API read would otherwise queue for the writer's lock every time)
TOKEN_USE_GRANULARITY = timedelta(minutes=5)
MAX_TOKEN_NAME = 60


def create_api_token(session: Session, user: User, actor_id: int | None = None, name: str = "") -> str:
    """Make a new API token for a user and return it; only its hash is stored.

    :raises Invalid: the name is longer than :data:`MAX_TOKEN_NAME`.
    """
    name = (name or "").strip()
    if len(name) > MAX_TOKEN_NAME:
        raise Invalid(_("密钥名称最多 %(n)s 个字。", n=MAX_TOKEN_NAME), code="name_too_long")
    token = "pm_" + secrets.token_urlsafe(32)
    api_token = ApiToken(
        user_id=user.id, token_hash=_digest(token), prefix=token[:10], name=name, created_at=utcnow()
    )
    session.add(api_token)
    session.flush()
    record(session, "auth.token.created", actor_id, user, prefix=api_token.prefix, name=name)
    return token


#: built once: every API call runs it
_ACTIVE_TOKEN = (
    sa.select(ApiToken, User)
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == sa.bindparam("token_hash"), ApiToken.revoked_at.is_(None))
)


def active_api_token(session: Session, token: str) -> ApiToken | None:
    """The unrevoked token of an active user that ``token`` is, or None.

    One query for the token and its user (every API call asks): the user is then in the session, and
    ``api_token.user`` finds it there.
    """
    found = session.execute(_ACTIVE_TOKEN, {"token_hash": _digest(token or "")}).first()
    if found is None:
        return None
    api_token, user = found
    return api_token if user.active else None


def user_for_api_token(session: Session, token: str) -> User | None:
    api_token = active_api_token(session, token)
    return api_token.user if api_token else None


def token_use_is_stale(api_token: ApiToken, now=None) -> bool:
    """Whether a call with this token should write its ``last_used_at`` again."""
    now = now or utcnow()
    return api_token.last_used_at is None or now - api_token.last_used_at >= TOKEN_USE_GRANULARITY


def note_token_use(session: Session, token_id: int) -> None:
    """Record that a token was used now (the caller holds the write transaction)."""
    session.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))


def visible_api_tokens(session: Session, viewer: User) -> list[ApiToken]:
    """The tokens a user may see and revoke: their own; a chair also every token of her village."""
    query = sa.select(ApiToken).join(User, ApiToken.user_id == User.id)
    if viewer.role == Role.CHAIR and viewer.village_id is not None:
        query = query.where(sa.or_(User.village_id == viewer.village_id, ApiToken.user_id == viewer.id))
    else:
        query = query.where(ApiToken.user_id == viewer.id)
    return list(session.scalars(query.order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())))


def may_manage_token(viewer: User, api_token: ApiToken) -> bool:
    """Whether ``viewer`` may see and revoke this token (the rule :func:`visible_api_tokens` lists by)."""
    if api_token.user_id == viewer.id:
        return True
    return (
        viewer.role == Role.CHAIR
        and viewer.village_id is not None
        and api_token.user.village_id == viewer.village_id
    )


def revoke_api_token(session: Session, token_id: int, viewer: User) -> ApiToken:
    """Revoke one token: the owner's own, or, for a chair, any token of her village.

    :raises NotFound: no such token, or one this user may not see (the same answer, so that token
        ids reveal nothing).
    """
    api_token = session.get(ApiToken, token_id)
    if api_token is None or not may_manage_token(viewer, api_token):
        raise NotFound(_("找不到这个接口密钥。"), code="unknown_token")
    if api_token.revoked_at is None:
        api_token.revoked_at = utcnow()
        session.flush()
        record(
            session,
            "auth.token.revoked",
            viewer.id,
            api_token.user,
            prefix=api_token.prefix,
            name=api_token.name,
        )
    return api_token
