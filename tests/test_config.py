"""Settings, the SQLite connection set-up, and what a fresh install looks like."""

import pytest
import requests
import sqlalchemy as sa

from pointsmart import create_app
from pointsmart.auth.services import create_user
from pointsmart.database import SQLITE_BUSY_TIMEOUT_MS
from pointsmart.extensions import db

from .conftest import PASSWORD
from .live import serving


@pytest.mark.sqlite_only
def test_sqlite_connections_are_set_up_for_power_loss_and_concurrent_writers(app):
    with app.app_context():
        conn = db.session.connection()
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL
        assert pragma("busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
        assert pragma("foreign_keys") == 1
        # the transaction began with BEGIN IMMEDIATE: this connection already holds the write lock,
        # so another connection cannot start writing
        import sqlite3

        other = sqlite3.connect(db.engine.url.database, timeout=0.1, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
        db.session.rollback()


@pytest.mark.sqlite_only
def test_every_transaction_begins_immediate(app):
    statements = []
    with app.app_context():
        sa.event.listen(
            db.engine, "before_cursor_execute", lambda conn, cursor, stmt, *args: statements.append(stmt)
        )
        db.session.execute(sa.text("SELECT 1"))
        db.session.commit()
    assert statements[0] == "BEGIN IMMEDIATE"


def test_secret_key_is_generated_once_and_kept_out_of_the_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("POINTSMART_INSTANCE", str(tmp_path))
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"]
    second = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"]
    assert first == second and len(first) >= 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_settings_win(tmp_path, monkeypatch):
    monkeypatch.setenv("POINTSMART_INSTANCE", str(tmp_path))
    (tmp_path / "config.py").write_text(
        "POINTSMART_BASE_URL = 'http://from-file'\nPOINTSMART_PAGE_SIZE = 7\n"
    )
    monkeypatch.setenv("POINTSMART_BASE_URL", "https://village.example")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    app = create_app()
    assert app.config["POINTSMART_BASE_URL"] == "https://village.example"
    assert app.config["POINTSMART_PAGE_SIZE"] == 7
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_unknown_mode_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("POINTSMART_INSTANCE", str(tmp_path))
    monkeypatch.setenv("POINTSMART_MODE", "province")
    with pytest.raises(RuntimeError, match="POINTSMART_MODE"):
        create_app()


def test_migrations_match_the_models(app):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with app.app_context():
        diff = compare_metadata(MigrationContext.configure(db.engine.connect()), db.metadata)
    assert diff == []


def test_no_default_account_exists_in_a_fresh_install(app):
    from pointsmart.auth.models import User

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_a_village_and_a_county_on_one_pc_keep_their_own_log_ins(app, county_app, make_user):
    """Cookies ignore the port: one browser logged in to the village on one port and the county on
    another must stay logged in to both (the county's session cookie has a name of its own)."""
    _id, chair = make_user("chair")
    with county_app.app_context():
        create_user(db.session, "county-admin-1", "county_admin", PASSWORD, "县管理员")
        db.session.commit()
    with serving(app) as village, serving(county_app) as county:
        browser = requests.Session()
        for base, name in ((village, chair), (county, "county-admin-1")):
            answer = browser.post(
                f"{base}/login", data={"username": name, "password": PASSWORD}, allow_redirects=False
            )
            assert answer.status_code == 302, answer.text[:300]
        assert {cookie.name for cookie in browser.cookies} >= {"session", "pointsmart_county"}
        for home_page in (f"{village}/", f"{county}/county/"):
            home = browser.get(home_page, allow_redirects=False)
            assert home.status_code == 200, f"{home_page} logged out: {home.status_code}"
