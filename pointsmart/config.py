"""Settings from the environment and an optional instance config file.

| variable | meaning | default |
| --- | --- | --- |
| ``DATABASE_URL`` | SQLAlchemy URL of the database | ``pointsmart.sqlite3`` in the instance folder |
| ``SECRET_KEY`` | signs sessions and CSRF tokens | generated once into ``instance/secret_key`` |
| ``POINTSMART_BASE_URL`` | public address printed in QR cards and links | none: the address asked on |
| ``POINTSMART_MODE`` | ``village`` (one village) or ``county`` | ``village`` |
| ``POINTSMART_INSTANCE`` | the instance folder | ``./instance`` |
| ``POINTSMART_SESSION_DAYS`` | days a log-in lasts | ``14`` |
| ``POINTSMART_COUNTY_URL`` | the county server a village's ``sync push`` sends to | none |
| ``POINTSMART_SYNC_KEY`` | the village's sync key (``pointsmart county add-village`` prints it) | none |

``instance/config.py`` may set any of these (and any Flask setting) too; the environment wins.
"""

import os
import secrets
from pathlib import Path

MODES = ("village", "county")


def instance_path() -> Path:
    return Path(os.environ.get("POINTSMART_INSTANCE", Path.cwd() / "instance")).resolve()


def _secret_key(folder: Path) -> str:
    """Return the instance's secret key, generating and keeping it on first use.

    Written to a temporary file and linked into place, so processes starting together on a fresh
    instance all end up with the same complete key.
    """
    path = folder / "secret_key"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won; use its key
        finally:
            tmp.unlink()
    return path.read_text().strip()


def normalise_db_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy would otherwise look for psycopg2)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def load(app, overrides: dict | None = None) -> None:
    """Fill ``app.config``: defaults, then ``instance/config.py``, then the environment, then overrides."""
    folder = Path(app.instance_path)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'pointsmart.sqlite3'}",
        #: empty: QR cards and links use the address the page was asked on (any host, any port)
        POINTSMART_BASE_URL="",
        POINTSMART_MODE="village",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # a form left open all morning at the counter still submits
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        POINTSMART_PAGE_SIZE=20,
        #: a log-in lasts this many days, then the person logs in again (a lost phone stops being a key)
        POINTSMART_SESSION_DAYS=14,
        #: failed log-ins allowed per user name / per address before a pause
        POINTSMART_LOGIN_LIMIT_USER="5 per 15 minutes",
        POINTSMART_LOGIN_LIMIT_ADDR="30 per 15 minutes",
        #: the family card page, per address: plenty for a family, far too few to guess tokens
        POINTSMART_CARD_PAGE_LIMIT="30 per minute",
        #: the largest sync bundle the county's upload page takes
        POINTSMART_BUNDLE_MAX_BYTES=512 * 1024 * 1024,
        #: the bundle page's script sends a larger file in parts of this size (each one body, under 8 MB)
        POINTSMART_BUNDLE_PART_BYTES=4 * 1024 * 1024,
        POINTSMART_COUNTY_URL="",
        POINTSMART_SYNC_KEY="",
        #: all the photos a village keeps (score evidence and notice photos), in MB; uploads past it
        #: are refused, and the chair sees what is used on the settings page
        POINTSMART_PHOTO_STORAGE_MB=2048,
    )
    app.config.from_pyfile(str(folder / "config.py"), silent=True)

    env = os.environ
    if env.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = env["DATABASE_URL"]
    for key in (
        "SECRET_KEY",
        "POINTSMART_BASE_URL",
        "POINTSMART_MODE",
        "POINTSMART_COUNTY_URL",
        "POINTSMART_SYNC_KEY",
    ):
        if env.get(key):
            app.config[key] = env[key]
    if env.get("POINTSMART_PHOTO_STORAGE_MB", "").isdecimal():
        app.config["POINTSMART_PHOTO_STORAGE_MB"] = int(env["POINTSMART_PHOTO_STORAGE_MB"])
    if env.get("POINTSMART_SESSION_DAYS", "").isdecimal():
        app.config["POINTSMART_SESSION_DAYS"] = int(env["POINTSMART_SESSION_DAYS"])
    app.config.update(overrides or {})

    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_db_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(folder)
    if app.config["POINTSMART_MODE"] not in MODES:
        raise RuntimeError(f"POINTSMART_MODE must be one of {', '.join(MODES)}")
    app.config["SESSION_COOKIE_SECURE"] = app.config["POINTSMART_BASE_URL"].startswith("https://")
    if app.config["POINTSMART_MODE"] == "county" and app.config["SESSION_COOKIE_NAME"] == "session":
        # cookies ignore the port: a county served beside a village on one PC (the demo: 8000 and
        # 8001) would otherwise overwrite the village's log-in with its own, and the other way round
        app.config["SESSION_COOKIE_NAME"] = "pointsmart_county"
