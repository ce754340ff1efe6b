"""The site's frame: home page, language switch, navigation, security headers, template filters."""

import json
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from . import exports
from .auth.access import COUNTY_ROLES, county_mode
from .auth.models import Role
from .extensions import db
from .households.models import Household
from .i18n import COOKIE, LANGUAGES, join_problems, signed
from .ledger.models import Account, TransferKind
from .org.services import home_village
from .periods import local

bp = Blueprint("web", __name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

#: (endpoint, label, roles that see it)
NAV = (
    ("web.index", _l("首页"), None),
    ("shop.counter", _l("收银台"), (Role.CHAIR, Role.SHOPKEEPER)),
    ("shop.goods", _l("商品"), (Role.CHAIR, Role.SHOPKEEPER)),
    ("shop_reports.index", _l("报表"), (Role.CHAIR, Role.SHOPKEEPER)),
    ("households.index", _l("农户"), (Role.CHAIR, Role.PANEL, Role.SHOPKEEPER)),
    ("scoring.rounds", _l("评定"), (Role.CHAIR, Role.PANEL)),
    ("scoring.rulebook", _l("积分细则"), (Role.CHAIR, Role.PANEL)),
    ("ledgers.index", _l("台账"), (Role.CHAIR, Role.PANEL)),
    ("cards.index", _l("积分卡"), (Role.CHAIR,)),
    ("auth.users", _l("用户"), (Role.CHAIR,)),
    ("auth.tokens", _l("令牌"), None),
    ("audit.index", _l("操作日志"), (Role.CHAIR,)),
    ("sync.index", _l("同步"), (Role.CHAIR,)),
    ("county.dashboard", _l("县级总览"), (Role.COUNTY_REVIEWER, Role.COUNTY_ADMIN)),
    ("county.upload_bundle", _l("导入同步文件"), (Role.COUNTY_ADMIN,)),
)


TRANSFER_KINDS = {
    TransferKind.ADJUSTMENT: _l("积分调整"),
    TransferKind.AWARD: _l("评定得分"),
    TransferKind.DEDUCTION: _l("扣分"),
    TransferKind.REDEMPTION: _l("兑换"),
    TransferKind.EXPIRY: _l("过期"),
    TransferKind.REVERSAL: _l("撤销记录"),
}


#: a page number past this is a typo or a probe, not a page anyone needs
MAX_PAGE = 100_000


def page_arg() -> int:
    """The ``page`` query argument, from 1 to :data:`MAX_PAGE` whatever was typed."""
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)


def flash_errors(form) -> None:
    """Flash each invalid field of a form as one message: "label：problem；problem"."""
    for name, errors in form.errors.items():
        problems = join_problems(errors)
        label = form[name].label.text if name in form else ""
        flash(_("%(field)s：%(problems)s", field=label, problems=problems) if label else problems, "error")


def safe_next(target: str | None, default: str) -> str:
    """Only follow a ``next`` that stays on this site (a path, no scheme, no host)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return default


@bp.get("/")
@login_required
def index():
    if county_mode() and current_user.role in COUNTY_ROLES:
        return redirect(url_for("county.dashboard"))
    village = home_village(db.session)
    households, outstanding = db.session.execute(
        sa.select(sa.func.count(Household.id), sa.func.coalesce(sa.func.sum(Account.balance), 0))
        .join(Account, Household.account_id == Account.id)
        .where(Household.village_id == village.id, Household.active.is_(True))
    ).one()
    sync = None
    if current_user.role == Role.CHAIR:
        from .sync import batches

        state = batches.state(db.session)
        sync = {"last": state.last_sync_at, "waiting": batches.waiting(db.session), "error": state.last_error}
    return render_template(
        "index.html", village=village, households=households, outstanding=outstanding, sync=sync
    )


@bp.get("/lang/<code>")
def set_language(code: str):
    response = redirect(safe_next(request.args.get("next"), url_for("web.index")))
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


@bp.get("/healthz")
def healthz():
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}


def init_web(app) -> None:
    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        if request.endpoint and request.endpoint != "static" and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
        return response

    @app.context_processor
    def frame():
        items = []
        if current_user.is_authenticated:
            county = county_mode()
            items = [
                (endpoint, label)
                for endpoint, label, roles in NAV
                if (roles is None or current_user.role in roles) and endpoint.startswith("county.") == county
            ]
        # the page's own item, else the first item of the same blueprint, is marked as current
        here = request.endpoint or ""
        current = next((e for e, _label in items if e == here), None) or next(
            (e for e, _label in items if e.split(".")[0] == here.split(".")[0]), None
        )
        return {
            "nav_items": items,
            "nav_current": current,
            "languages": LANGUAGES,
            "locale": str(get_locale() or "zh"),
            "Role": Role,
            "transfer_kinds": TRANSFER_KINDS,
        }

    @app.template_filter("localtime")
    def localtime(value, fmt="%Y-%m-%d %H:%M"):
        return "" if value is None else local(value).strftime(fmt)

    @app.template_filter("jsontext")
    def jsontext(value) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    app.add_template_filter(signed)
    app.add_template_global(exports.shown, "cell")
