"""Who may do what: the log-in loader, role checks for pages, bearer tokens for the API.

Authorisation is by role *and* by village: a village user acts only on the village they belong to,
and county roles have no village pages.
"""

from datetime import timedelta
from functools import wraps

from flask import abort, current_app, g, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from ..database import WriterBusy
from ..errors import DomainError
from ..extensions import db, login_manager
from ..org.services import home_village
from ..unit import write
from .models import Role
from .services import active_api_token, note_token_use, token_use_is_stale, user_for_login_session


def init_login(app) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("请先登录。")
    login_manager.login_message_category = "warning"

    @login_manager.user_loader
    def load_user(token: str):
        # The id in the cookie is a log-in session token; an ended session loads nobody.
        days = current_app.config["POINTSMART_SESSION_DAYS"]
        return user_for_login_session(db.session, token, timedelta(days=days))


def village_for(user):
    """The village this user may act on, or 403."""
    village = home_village(db.session)
    if user.village_id != village.id:
        abort(403)
    return village


def role_required(*roles: Role):
    """Let in only logged-in users of these roles, of this instance's village; others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            g.village = village_for(current_user)
            return view(*args, **kwargs)

        wrapper.allowed_roles = tuple(roles)
        return wrapper

    return decorator


VILLAGE_STAFF = (Role.CHAIR, Role.PANEL, Role.SHOPKEEPER)


class ApiAuthError(DomainError):
    code = "unauthorized"
    status = 401


def bearer_token() -> str:
    """The token of an ``Authorization: Bearer <token>`` header, or an empty string."""
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _token_user(roles):
    api_token = active_api_token(db.session, bearer_token())
    if api_token is None:
        raise ApiAuthError(_l("缺少有效的 API 令牌（Authorization: Bearer <token>）。"))
    user = api_token.user
    if user.role not in roles:
        raise DomainError(_l("此角色无权调用这个接口。"), code="forbidden", status=403)
    if token_use_is_stale(api_token):
        _note_use(api_token.id)
    return user


def _note_use(token_id: int) -> None:
    """Write the token's last use (a short write of its own, at most once per few minutes a token).

    A busy writer's lock is no reason to refuse a read: the note is skipped and taken next time.
    """
    try:
        with write():
            note_token_use(db.session, token_id)
    except WriterBusy:
        pass


def api_auth(*roles: Role):
    """Authenticate an API call by ``Authorization: Bearer <token>`` and check its role and village.

    :raises ApiAuthError: no token or an unknown one (401); a role that may not (403).
    """

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = _token_user(roles)
            village = home_village(db.session)
            if user.village_id != village.id:
                raise DomainError(_l("此令牌不属于本村。"), code="forbidden", status=403)
            g.api_user, g.village = user, village
            return view(*args, **kwargs)

        wrapper.allowed_roles = tuple(roles)
        return wrapper

    return decorator


COUNTY_ROLES = (Role.COUNTY_REVIEWER, Role.COUNTY_ADMIN)


def county_mode() -> bool:
    return current_app.config["POINTSMART_MODE"] == "county"


def county_required(*roles: Role):
    """Pages of the county instance: logged-in county users of these roles; elsewhere 404.

    Which villages they see is narrowed further by :func:`pointsmart.county.services.visible`.
    """

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if not county_mode():
                abort(404)
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = tuple(roles)
        return wrapper

    return decorator


def county_api_auth(*roles: Role):
    """The county's API: a county user's bearer token of one of these roles."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not county_mode():
                abort(404)
            user = _token_user(roles)
            g.api_user = user
            return view(*args, **kwargs)

        wrapper.allowed_roles = tuple(roles)
        return wrapper

    return decorator
