"""Fixtures: a migrated database per test (SQLite or PostgreSQL), the app, clients, factories.

``POINTSMART_TEST_DB`` picks the database for the whole run: ``sqlite`` (default) or ``postgresql``
(at ``POINTSMART_TEST_PG_URL``). ``make test`` runs the suite once on each. With ``CI=true`` an
unreachable PostgreSQL fails the run instead of skipping it.
"""

import os
import shutil
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask import got_request_exception, request, request_finished
from flask_migrate import upgrade

from pointsmart import clock, create_app
from pointsmart.config import normalise_db_url
from pointsmart.extensions import db, limiter

from . import speedups

speedups.install()

DB = os.environ.get("POINTSMART_TEST_DB", "sqlite")
PG_URL = normalise_db_url(
    os.environ.get("POINTSMART_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
)
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "correct-horse-42"
VILLAGE_CODE = "620123105299"

#: tables whose rows survive between PostgreSQL tests: the migration's own data
KEEP = {"alembic_version"}


def pytest_report_header(config):
    return f"database: {DB}" + (f" ({PG_URL.rsplit('@', 1)[-1]})" if DB == "postgresql" else "")


BROWSER_TESTS = Path(__file__).resolve().parent / "browser"


def pytest_collection_modifyitems(config, items):
    """Run each test on the database it is about: SQLite-only behaviour (PRAGMAs, online backup) on
    the SQLite run, races between separate server processes on the PostgreSQL run."""
    other = "postgresql_only" if DB == "sqlite" else "sqlite_only"

    def elsewhere(item) -> bool:
        if other in item.keywords:
            return True
        # a browser flow runs once, on SQLite: the services under it run on both databases in the HTTP
        # tests; only the flows whose database work differs (sync, the county) run in both passes
        browser = BROWSER_TESTS in Path(item.path).resolve().parents
        return DB == "postgresql" and browser and "both_databases" not in item.keywords

    kept = [item for item in items if not elsewhere(item)]
    deselected = [item for item in items if elsewhere(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


#: every 5xx answered (or exception escaping a view) during the running test, by any app in this
#: process: the test client's and the ones :mod:`tests.live` serves from waitress threads
_server_errors: list[str] = []
_server_errors_lock = threading.Lock()


def _note_server_error(line: str) -> None:
    with _server_errors_lock:
        _server_errors.append(line)


@request_finished.connect
def _on_request_finished(sender, response, **extra):
    if response.status_code >= 500:
        _note_server_error(f"{request.method} {request.full_path} answered {response.status}")


@got_request_exception.connect
def _on_request_exception(sender, exception, **extra):
    _note_server_error(f"{request.method} {request.full_path} raised {exception!r}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail a test that saw a server error (a 5xx or an exception out of a view), unless it is marked
    ``@pytest.mark.allow_5xx`` because the 5xx is what it tests."""
    with _server_errors_lock:
        _server_errors.clear()
    result = yield
    with _server_errors_lock:
        seen = list(_server_errors)
        _server_errors.clear()
    if seen and item.get_closest_marker("allow_5xx") is None:
        shown = "\n  ".join(seen[:10]) + (f"\n  … and {len(seen) - 10} more" if len(seen) > 10 else "")
        pytest.fail(
            f"the server answered 5xx (mark the test allow_5xx if it means to):\n  {shown}", pytrace=False
        )
    return result


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip()


def _migrate(url: str, instance: str) -> None:
    os.environ["POINTSMART_INSTANCE"] = instance
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    with app.app_context():
        upgrade()
        db.engine.dispose()


def require_postgresql() -> None:
    """Skip the test when PostgreSQL cannot be reached — or fail it, in CI."""
    problem = _pg_reachable()
    if problem:
        message = f"PostgreSQL not reachable at {PG_URL}: {problem}"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@contextmanager
def pg_schema(prefix: str):
    """A fresh, empty PostgreSQL schema; yields a URL whose connections use it; dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = sa.engine.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            # a killed server's backend may still hold locks for a moment; don't wait on it forever
            conn.execute(sa.text("SET lock_timeout = '20s'"))
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    """Migrate one database for the session; yield ``(kind, url_or_template_path)``."""
    instance = str(tmp_path_factory.mktemp("instance"))
    if DB == "sqlite":
        template = tmp_path_factory.mktemp("db") / "template.sqlite3"
        _migrate(f"sqlite:///{template}", instance)
        yield "sqlite", template
        return
    if DB != "postgresql":
        raise pytest.UsageError(f"POINTSMART_TEST_DB must be sqlite or postgresql, not {DB}")
    require_postgresql()
    with pg_schema("pm_test") as url:
        _migrate(url, instance)
        yield "postgresql", url


def another_database(database, tmp_path_factory, prefix: str):
    """A second migrated database for another instance, as a session fixture's body: on SQLite the
    same migrated template (copied to a file per test), on PostgreSQL a schema of its own."""
    kind, source = database
    if kind == "sqlite":
        yield kind, source
        return
    with pg_schema(prefix) as url:
        _migrate(url, str(tmp_path_factory.mktemp(f"{prefix}-instance")))
        yield "postgresql", url


@pytest.fixture(scope="session")
def county_database(database, tmp_path_factory):
    """A second migrated database for a county instance (the village tests' one stays the village's)."""
    yield from another_database(database, tmp_path_factory, "pm_county")


@pytest.fixture
def county_app(county_database, tmp_path):
    """A county instance (``POINTSMART_MODE=county``) on its own database, empty but for the migration."""
    kind, source = county_database
    if kind == "sqlite":
        target = tmp_path / "county.sqlite3"
        shutil.copy(source, target)
        url = f"sqlite:///{target}"
    else:
        url = source
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "POINTSMART_MODE": "county",
            "POINTSMART_BASE_URL": "http://county.test",
        }
    )
    with app.app_context():
        if kind == "postgresql":
            _reset_postgresql()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


#: per schema, the statements that empty it (see :func:`_reset_postgresql`)
_EMPTYING: dict[str, str] = {}


def _emptying_statements() -> str:
    schema = db.session.scalar(sa.text("SELECT current_schema()"))
    if schema not in _EMPTYING:
        tables = [t.name for t in db.metadata.sorted_tables if t.name not in KEEP | {"account"}]
        sequences = db.session.scalars(
            sa.text(
                "SELECT s.relname FROM pg_class s"
                " JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')"
                " JOIN pg_class t ON t.oid = d.refobjid"
                " WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace"
                " AND t.relname <> 'account'"
            )
        ).all()
        _EMPTYING[schema] = "; ".join(
            [
                # no row triggers (the append-only guards) and no foreign-key checks while emptying
                "SET LOCAL session_replication_role = replica",
                *(f'DELETE FROM "{table}"' for table in tables),
                "DELETE FROM account WHERE kind = 'household'",
                "UPDATE account SET balance = 0",
                *(f'ALTER SEQUENCE "{sequence}" RESTART' for sequence in sequences),
            ]
        )
    return _EMPTYING[schema]


def _reset_postgresql() -> None:
    """Empty every table but keep the migration's system accounts, and restart the ids.

    A test's rows are few, so deleting them is some 20 times faster than a TRUNCATE of 50 tables,
    which makes new files for every table and index. Switching the row triggers off needs a
    superuser; on a server where the tests run as another role, TRUNCATE does the same job."""
    try:
        db.session.execute(sa.text(_emptying_statements()))
    except sa.exc.ProgrammingError:  # not a superuser: no session_replication_role
        db.session.rollback()
        tables = [t.name for t in db.metadata.sorted_tables if t.name not in KEEP | {"account"}]
        quoted = ", ".join(f'"{table}"' for table in tables)
        db.session.execute(sa.text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        db.session.execute(sa.text("DELETE FROM account WHERE kind = 'household'"))
        db.session.execute(sa.text("UPDATE account SET balance = 0"))
    db.session.commit()


@pytest.fixture
def db_url(database, tmp_path):
    kind, source = database
    if kind == "sqlite":
        target = tmp_path / "pointsmart.sqlite3"
        shutil.copy(source, target)
        return f"sqlite:///{target}"
    return source


@pytest.fixture
def make_app(db_url, tmp_path, monkeypatch):
    """Return a callable that builds an app on this test's database (extra settings as keywords)."""
    monkeypatch.setenv("POINTSMART_INSTANCE", str(tmp_path / "instance"))
    apps = []

    def factory(**settings):
        config = {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "POINTSMART_BASE_URL": "http://pointsmart.test",
        }
        config.update(settings)
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app, database):
    app = make_app()
    limiter.reset()
    clock.reset()
    with app.app_context():
        if database[0] == "postgresql":
            _reset_postgresql()
        from pointsmart.org.services import ensure_village

        ensure_village(db.session, VILLAGE_CODE, "测试村", township_name="测试镇", county_name="测试县")
        db.session.commit()
    yield app
    clock.reset()


@pytest.fixture
def ctx(app):
    """Run the test inside an app context (for tests that call services directly)."""
    with app.app_context():
        yield db.session


@pytest.fixture
def village_id(app):
    with app.app_context():
        from pointsmart.org.services import home_village

        return home_village(db.session).id


@contextmanager
def committing(app):
    """A unit of work in its own app context, committed at the end."""
    with app.app_context():
        yield db.session
        db.session.commit()


@pytest.fixture
def make_user(app, village_id):
    """Return a callable creating a user: ``make_user("chair")`` → (id, username)."""
    counter = iter(range(1, 10_000))

    def factory(role="chair", username=None, password=PASSWORD, village=True):
        from pointsmart.auth.services import create_user

        name = username or f"{role}{next(counter)}"
        with committing(app) as session:
            user = create_user(
                session, name, role, password, name, village_id=village_id if village else None
            )
            return user.id, name

    return factory


@pytest.fixture
def make_household(app, village_id):
    """Return a callable registering a household, optionally with opening points; returns its id."""
    counter = iter(range(1, 100_000))

    def factory(points: int = 0, **fields):
        from pointsmart.households.services import adjust_points, create_household

        n = next(counter)
        data = {"household_no": f"09-{n:03d}", "head_name": f"测试{n}", "group": "一社"} | fields
        with committing(app) as session:
            household = create_household(session, village_id, data, actor_id=None)
            if points:
                adjust_points(session, household, points, "开户积分", actor_id=None)
            return household.id

    return factory


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login_as(app, make_user):
    """Return a callable that logs a fresh test client in as a new user of ``role``."""

    def login(role="chair", client=None):
        client = client or app.test_client()
        user_id, name = make_user(role)
        response = client.post("/login", data={"username": name, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)
        client.user_id, client.username = user_id, name
        return client

    return login


@pytest.fixture
def api_token(app, make_user):
    """Return a callable making a user of ``role`` and an API token for it; returns the token."""

    def factory(role="chair"):
        from pointsmart.auth.models import User
        from pointsmart.auth.services import create_api_token

        user_id, _name = make_user(role)
        with committing(app) as session:
            return create_api_token(session, session.get(User, user_id))

    return factory
