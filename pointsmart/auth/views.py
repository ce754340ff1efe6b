"""Log in, log out, change one's password; the chair manages users."""

import math
import time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..audit.services import record
from ..errors import DomainError
from ..extensions import db, limiter
from ..pages import flash_errors, safe_next
from ..unit import write
from .access import role_required
from .forms import LoginForm, PasswordForm, ResetPasswordForm, TokenForm, UserForm
from .help import GUIDES, guide_for
from .models import Role
from .services import (
    MIN_PASSWORD,
    AuthError,
    authenticate,
    change_password,
    check_login,
    create_api_token,
    create_user,
    end_login_session,
    get_user,
    list_users,
    reset_password,
    revoke_api_token,
    set_active,
    start_login_session,
    visible_api_tokens,
)

bp = Blueprint("auth", __name__)


@bp.app_context_processor
def password_rules():
    return {"min_password": MIN_PASSWORD}


def minutes_to_wait(err) -> int:
    """Whole minutes until the limit that refused this request lets the next attempt through."""
    current = limiter.current_limit
    if current is not None and current.reset_at:
        seconds = current.reset_at - time.time()
    else:
        seconds = err.limit.limit.get_expiry() if getattr(err, "limit", None) else 15 * 60
    # the storage keeps the reset in whole seconds, rounded up: a fresh 15-minute pause reads 900.07 s
    return max(1, math.ceil((seconds - 1) / 60))


@bp.errorhandler(429)
def too_many_attempts(err):
    """The log-in and password pages say how long the pause lasts, on the page the person was on."""
    minutes = minutes_to_wait(err)
    message = _(
        "尝试次数过多。为了防止别人猜密码，请 %(n)s 分钟后再试。忘记密码可请妇联主席重设。", n=minutes
    )
    headers = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]
    page = "auth/password.html" if request.endpoint == "auth.password" else "auth/login.html"
    form = PasswordForm() if page == "auth/password.html" else LoginForm()
    return render_template(page, form=form, wait_message=message), 429, headers


def _login_name() -> str:
    return "login-user:" + request.form.get("username", "").strip().lower()


def _failed(response) -> bool:
    return response.status_code == 401


@bp.route("/login", methods=["GET", "POST"])
# Failed attempts are counted per user name (a whole village may share one address) and per address.
@limiter.limit(
    lambda: current_app.config["POINTSMART_LOGIN_LIMIT_USER"],
    key_func=_login_name,
    methods=["POST"],
    deduct_when=_failed,
)
@limiter.limit(
    lambda: current_app.config["POINTSMART_LOGIN_LIMIT_ADDR"], methods=["POST"], deduct_when=_failed
)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    form = LoginForm()
    if form.validate_on_submit():
        # the slow password hash first, outside the write lock; then audit and open the session
        attempt = check_login(db.session, form.username.data, form.password.data)
        try:
            with write():
                user = authenticate(db.session, attempt)  # a refusal is audited and kept
                start_login_session(db.session, user)
        except AuthError as err:
            flash(err.message, "error")
            return render_template("auth/login.html", form=form), 401
        session.clear()
        login_user(user)
        return redirect(safe_next(request.args.get("next"), url_for("web.index")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    with write():
        end_login_session(db.session, current_user.login_session_token)
    logout_user()
    session.clear()
    flash(_("已退出登录。"), "info")
    return redirect(url_for("auth.login"))


def _password_user() -> str:
    return f"password-user:{current_user.get_id()}"


def _wrong_old_password(_response) -> bool:
    return g.get("wrong_old_password", False)


@bp.route("/password", methods=["GET", "POST"])
@login_required
# A stolen session must not become a way to guess the password: wrong old passwords are counted like
# failed log-ins, per user and per address.
@limiter.limit(
    lambda: current_app.config["POINTSMART_LOGIN_LIMIT_USER"],
    key_func=_password_user,
    methods=["POST"],
    deduct_when=_wrong_old_password,
)
@limiter.limit(
    lambda: current_app.config["POINTSMART_LOGIN_LIMIT_ADDR"],
    methods=["POST"],
    deduct_when=_wrong_old_password,
)
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            with write():
                change_password(db.session, current_user, form.old.data, form.new.data)
        except DomainError as err:
            if err.code == "bad_credentials":
                g.wrong_old_password = True
                with write():  # the refusal is recorded too
                    record(db.session, "auth.password.refused", current_user.id, current_user)
            flash(err.message, "error")
            return render_template("auth/password.html", form=form), 400
        flash(_("密码已修改，其他设备上的登录已退出。"), "success")
        return redirect(url_for("web.index"))
    return render_template("auth/password.html", form=form)


@bp.get("/users")
@role_required(Role.CHAIR)
def users():
    return render_template(
        "auth/users.html",
        users=list_users(db.session, current_user.village_id),
        form=UserForm(),
        reset_form=ResetPasswordForm(),
    )


@bp.post("/users")
@role_required(Role.CHAIR)
def create():
    form = UserForm()
    if form.validate_on_submit():
        try:
            with write():
                user = create_user(
                    db.session,
                    form.username.data,
                    form.role.data,
                    form.password.data,
                    form.display_name.data,
                    village_id=current_user.village_id,
                    actor_id=current_user.id,
                )
        except DomainError as err:
            flash(err.message, "error")
        else:
            flash(_("已创建用户 %(name)s。", name=user.username), "success")
            return redirect(url_for("auth.users"))
    flash_errors(form)
    return render_template(
        "auth/users.html",
        users=list_users(db.session, current_user.village_id),
        form=form,
        reset_form=ResetPasswordForm(),
    ), 400


@bp.post("/users/<int:user_id>/active")
@role_required(Role.CHAIR)
def toggle_active(user_id: int):
    with write():
        user = get_user(db.session, user_id, current_user.village_id)
        set_active(db.session, user, not user.active, actor_id=current_user.id)
    flash(
        _("已启用 %(name)s。", name=user.username)
        if user.active
        else _("已停用 %(name)s，其登录已全部退出。", name=user.username),
        "success",
    )
    return redirect(url_for("auth.users"))


@bp.post("/users/<int:user_id>/password")
@role_required(Role.CHAIR)
def reset(user_id: int):
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        flash(_("密码至少需要 %(n)s 个字符。", n=MIN_PASSWORD), "error")
        return redirect(url_for("auth.users"))
    with write():
        user = get_user(db.session, user_id, current_user.village_id)
        reset_password(db.session, user, form.password.data, actor_id=current_user.id)
    flash(_("已重设 %(name)s 的密码。", name=user.username), "success")
    return redirect(url_for("auth.users"))


@bp.get("/tokens")
@login_required
def tokens():
    """Each user's API tokens (a chair's page lists her village's too): name, made, last used; revoke."""
    return render_template(
        "auth/tokens.html", tokens=visible_api_tokens(db.session, current_user), form=TokenForm()
    )


@bp.post("/tokens")
@login_required
def create_token():
    """Make a token for oneself: nobody mints a token for someone else, a chair included."""
    form = TokenForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(url_for("auth.tokens"))
    try:
        with write():
            value = create_api_token(db.session, current_user, actor_id=current_user.id, name=form.name.data)
    except DomainError as err:
        flash(err.message, "error")
        return redirect(url_for("auth.tokens"))
    return render_template("auth/token.html", user=current_user, token=value)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    with write():
        revoked = revoke_api_token(db.session, token_id, current_user)
    flash(_("接口密钥 %(prefix)s… 已作废。", prefix=revoked.prefix), "success")
    return redirect(url_for("auth.tokens"))


@bp.get("/help/")
@login_required
def help_index():
    """One's own role's guide."""
    return redirect(url_for("auth.help_page", guide=guide_for(current_user.role)))


@bp.get("/help/<guide>")
@login_required
def help_page(guide: str):
    """A role's 使用说明; anyone signed in may read (and print) any role's, e.g. the chair a member's."""
    if guide not in GUIDES:
        abort(404)
    return render_template(f"help/{guide}.html", guides=GUIDES, key=guide, title=GUIDES[guide][0])
