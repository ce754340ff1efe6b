"""The site's frame: home page, language switch, navigation, security headers, template filters."""

import json

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from jinja2 import pass_context
from markupsafe import Markup

from . import exports, home, text
from .auth.access import COUNTY_ROLES, county_mode
from .auth.models import Role
from .clock import utcnow
from .extensions import db
from .i18n import COOKIE, LANGUAGES, signed
from .ledger.models import TransferKind
from .org.services import home_village
from .pages import safe_next
from .periods import MINUTE, local_text

bp = Blueprint("web", __name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
#: The counter's pages only: where a phone's browser has no BarcodeDetector, the live camera reads the
#: card with a WebAssembly decoder (static/vendor/zxing-wasm), and compiling WebAssembly needs
#: 'wasm-unsafe-eval'. It allows WebAssembly.compile/instantiate and nothing else (not eval(), not
#: new Function(), not inline script); scripts still come only from 'self'. Every other page keeps CSP.
CSP_WITH_WASM = CSP.replace("script-src 'self';", "script-src 'self' 'wasm-unsafe-eval';", 1)
#: the endpoints that render templates/shop/counter.html (the camera's page)
WASM_ENDPOINTS = frozenset({"shop.counter", "shop.find"})

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
    ("picture.index", _l("村情概览"), (Role.CHAIR,)),
    ("cards.index", _l("积分卡"), (Role.CHAIR,)),
    ("auth.users", _l("用户"), (Role.CHAIR,)),
    ("auth.tokens", _l("接口密钥"), None),
    ("audit.index", _l("操作日志"), (Role.CHAIR,)),
    ("sync.index", _l("同步"), (Role.CHAIR,)),
    ("settings.index", _l("设置"), (Role.CHAIR,)),
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


@bp.get("/")
@login_required
def index():
    if county_mode() and current_user.role in COUNTY_ROLES:
        return redirect(url_for("county.dashboard"))
    return home.page(current_user, home_village(db.session), utcnow())


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


@bp.get("/ca.crt")
def ca_certificate():
    """The village's CA certificate, for phones to install (DER, which Android's installer takes).

    Public and served over plain HTTP too: a phone fetches it before it trusts the village's HTTPS.
    ``?file=1`` sends the same bytes as a plain download, for a phone whose browser hands the CA type
    to the system installer instead of saving it (Android 11 and later install CAs only from Settings).
    """
    from flask import current_app

    from . import tls

    der = None if county_mode() else tls.ca_der(tls.folder(current_app))
    if der is None:
        abort(404)
    response = current_app.response_class(
        der, mimetype="application/octet-stream" if request.args.get("file") else "application/x-x509-ca-cert"
    )
    response.headers["Content-Disposition"] = 'attachment; filename="pointsmart-village-ca.crt"'
    response.headers["Cache-Control"] = "no-cache"
    return response


def refuse_bad_query() -> None:
    """Hold query parameters and path segments to the text rule before any view reads them.

    A path segment that breaks it names nothing we have: 404. A query parameter that breaks it is
    refused naming the parameter (422 ``invalid_text``).
    """
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and text.problem(value, max_length=text.MAX_QUERY_VALUE):
            abort(404)
    for name, value in request.args.items(multi=True):
        message = text.problem(name, max_length=100) or text.problem(value, max_length=text.MAX_QUERY_VALUE)
        if message:
            label = QUERY_LABELS.get(name)
            raise text.refusal(text.visible(name), str(label) if label else text.visible(name), message)


#: how the pages' own query fields are named to a person (a refusal says 查找：…, not q：…)
QUERY_LABELS = {
    "q": _l("查找"),
    "household": _l("农户"),
    "person": _l("操作人"),
    "kind": _l("类别"),
    "start": _l("从"),
    "end": _l("到"),
    "page": _l("页码"),
    "group": _l("村民小组"),
    "year": _l("年份"),
    "month": _l("月份"),
    "day": _l("日期"),
    "key": _l("期别"),
    "type": _l("类型"),
}


def shown(value):
    """Every value a template prints: text stored before the rule shows its control characters as
    visible escapes (``\x0b``), as the exports do, so a chair can find the record and fix it."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return text.visible(value)
    return value


def _shown_variables(translate):
    """A template's ``_()`` whose variables :func:`shown` prints: its result is markup, which the
    ``finalize`` hook passes as it is, so a name in a sentence would keep its control characters."""

    @pass_context
    def translated(context, *args, **variables):
        return context.call(translate, *args, **{k: shown(v) for k, v in variables.items()})

    return translated


def init_web(app) -> None:
    app.before_request(refuse_bad_query)
    app.jinja_env.finalize = shown
    for name in ("_", "gettext", "ngettext", "pgettext", "npgettext"):
        if name in app.jinja_env.globals:
            app.jinja_env.globals[name] = _shown_variables(app.jinja_env.globals[name])

    @app.after_request
    def security_headers(response):
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy", CSP_WITH_WASM if request.endpoint in WASM_ENDPOINTS else CSP
        )
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
    def localtime(value, fmt=MINUTE):
        return local_text(value, fmt)

    @app.template_filter("jsontext")
    def jsontext(value) -> str:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)

    app.add_template_filter(signed)
    app.add_template_global(exports.shown, "cell")
