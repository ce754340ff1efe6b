"""PointsMart (巾帼家美积分超市): the app factory."""

from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent


def create_app(config: dict | None = None) -> Flask:
    """Create the app: settings, extensions, blueprints, CLI, error handlers."""
    from . import config as settings
    from . import database  # noqa: F401  (registers the SQLite connection set-up)
    from .resources import folder

    app = Flask(
        __name__,
        instance_path=str(settings.instance_path()),
        template_folder=str(folder("templates")),
        static_folder=str(folder("static")),
    )
    settings.load(app, config)
    from .json_limits import BoundedJSONProvider

    app.json = BoundedJSONProvider(app)  # request bodies bounded in depth before anything walks them
    from .tls import SecureOverHTTPS

    app.session_interface = SecureOverHTTPS()  # a log-in made over HTTPS stays off plain HTTP

    from .extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    from . import unit

    unit.init_app(app)  # requests read in read transactions and write in ``unit.write()`` blocks
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)

    from .i18n import select_locale

    babel.init_app(
        app, locale_selector=select_locale, default_translation_directories=str(ROOT / "translations")
    )
    login_manager.init_app(app)
    from . import limits

    limits.init_app(app)  # a body over the size limit is refused from its Content-Length, unread

    from . import models  # noqa: F401  (every table, for Alembic and create_all)
    from .sync.outbox import listen

    listen()  # the change log, written in the same transaction as each change
    from .ids import register_converters

    register_converters(app)  # every <int:id> in a URL is bounded to what the tables hold
    from .accounts.views import bp as accounts_bp
    from .api.views import bp as api_bp
    from .auth.audit_log import bp as audit_bp
    from .auth.views import bp as auth_bp
    from .book.views import bp as book_bp
    from .cards.views import bp as cards_bp
    from .claims.views import bp as claims_bp
    from .closing.views import bp as closing_bp
    from .county.views import bp as county_bp
    from .family.views import bp as family_bp
    from .households.views import bp as households_bp
    from .picture.views import bp as picture_bp
    from .scoring.ledgers import bp as ledgers_bp
    from .scoring.public import bp as public_bp
    from .scoring.views import bp as scoring_bp
    from .settings.views import bp as settings_bp
    from .shop.reports_views import bp as shop_reports_bp
    from .shop.views import bp as shop_bp
    from .sync.views import bp as sync_bp
    from .web import bp as web_bp

    for blueprint in (
        web_bp,
        auth_bp,
        households_bp,
        cards_bp,
        family_bp,
        claims_bp,
        shop_bp,
        shop_reports_bp,
        scoring_bp,
        ledgers_bp,
        book_bp,
        closing_bp,
        picture_bp,
        public_bp,
        accounts_bp,
        audit_bp,
        sync_bp,
        settings_bp,
        county_bp,
        api_bp,
    ):
        app.register_blueprint(blueprint)
    if app.config["POINTSMART_MODE"] == "county":
        # a county serves the public notice and honour pages from the villages' synced records
        from .family import views as family_views

        app.view_functions["public.notices"] = family_views.county_notices
        app.view_functions["public.honour"] = family_views.county_honour
    csrf.exempt(api_bp)  # bearer tokens, never cookies: no cross-site request can carry one

    from .auth.access import init_login
    from .handlers import register_error_handlers
    from .web import init_web

    init_login(app)
    init_web(app)
    register_error_handlers(app)

    from .cli import register_commands

    register_commands(app)
    return app
