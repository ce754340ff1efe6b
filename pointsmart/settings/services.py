"""Read and change the chair's settings; the county address and sync key the sync code should use.

A value in the server's configuration (``POINTSMART_COUNTY_URL`` / ``POINTSMART_SYNC_KEY`` from the
environment or ``instance/config.py``) wins over the page's, so an engineer's setting is never
overridden by a paste; the page says when that is the case, without naming variables.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..audit.services import record
from ..clock import utcnow
from ..errors import Invalid
from ..text import checked
from .models import DEFAULT_KEEP_DAYS, VillageSettings

#: the settings row's id
ROW = 1
#: a key the county gives: ``pmk_`` and URL-safe characters (older keys may lack the prefix)
_KEY = re.compile(r"^[A-Za-z0-9_\-.~+/=]{8,200}$")

#: the longest county address and sync key taken, and the most days backups may be kept
MAX_COUNTY_URL = 300
MAX_SYNC_KEY = 200
MAX_KEEP_DAYS = 365

LABELS = {
    "county_url": _l("县里的地址"),
    "sync_key": _l("同步密钥"),
    "backup_daily": _l("每天自动备份"),
    "backup_keep_days": _l("备份保留天数"),
}


def current(session: Session) -> VillageSettings:
    """The settings as stored, or the defaults (not added to the session) when no row exists yet."""
    return session.get(VillageSettings, ROW) or VillageSettings(
        id=ROW, county_url="", sync_key="", backup_daily=True, backup_keep_days=DEFAULT_KEEP_DAYS
    )


def for_update(session: Session) -> VillageSettings:
    """The settings row, locked for this write transaction (made with the defaults if missing).

    Locking it is also how processes take turns deciding whether a backup is due.
    """
    row = session.get(VillageSettings, ROW, with_for_update=True)
    if row is None:
        row = current(session)
        session.add(row)
        session.flush()
    return row


@dataclass(frozen=True)
class CountyLink:
    """The county address and sync key the push and the bundle use, and where each came from."""

    url: str
    key: str
    #: the server's configuration set them, so the page's values are not used
    url_from_config: bool
    key_from_config: bool

    @property
    def configured(self) -> bool:
        return bool(self.url and self.key)

    @property
    def key_tail(self) -> str:
        return key_tail(self.key)


def county_link(session: Session, config) -> CountyLink:
    """The effective county address and sync key: the server's configuration, else the settings page."""
    stored = current(session)
    url_cfg, key_cfg = config.get("POINTSMART_COUNTY_URL") or "", config.get("POINTSMART_SYNC_KEY") or ""
    return CountyLink(
        url=url_cfg or stored.county_url,
        key=key_cfg or stored.sync_key,
        url_from_config=bool(url_cfg),
        key_from_config=bool(key_cfg),
    )


def key_tail(key: str) -> str:
    """The last 4 characters of a key: all of it a page ever shows."""
    return key[-4:] if key else ""


def clean_county_url(value: str) -> str:
    """An ``http(s)://host[:port][/path]`` address without trailing slash, or "".

    :raises Invalid: anything else, naming the field.
    """
    url = checked(value, "county_url", LABELS["county_url"], max_length=MAX_COUNTY_URL)
    if not url:
        return ""
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or " " in url
        or parts.query
        or parts.fragment
    ):
        raise Invalid(
            _("%(field)s：请填写完整的网址，例如 https://county.example.cn", field=LABELS["county_url"]),
            code="invalid_county_url",
            field="county_url",
        )
    return url.rstrip("/")


def clean_sync_key(value: str) -> str:
    """The pasted key without surrounding spaces.

    :raises Invalid: too short, too long or with characters a key never has, naming the field.
    """
    key = checked(value, "sync_key", LABELS["sync_key"], max_length=MAX_SYNC_KEY)
    if not _KEY.match(key):
        raise Invalid(
            _(
                "%(field)s：不像县里给的密钥（应以 pmk_ 开头，没有空格），请重新复制粘贴。",
                field=LABELS["sync_key"],
            ),
            code="invalid_sync_key",
            field="sync_key",
        )
    return key


def save_settings(
    session: Session,
    actor_id: int,
    *,
    county_url: str,
    sync_key: str | None,
    backup_daily: bool,
    backup_keep_days: int,
) -> list[str]:
    """Change the settings and audit what changed; return the names of the changed fields.

    ``sync_key`` None keeps the stored key, "" removes it. The audit entry records a key change by its
    last 4 characters only.

    :raises Invalid: a value the field does not take, naming the field.
    """
    url = clean_county_url(county_url)
    key = None if sync_key is None else (clean_sync_key(sync_key) if sync_key.strip() else "")
    if not isinstance(backup_keep_days, int) or not 1 <= backup_keep_days <= MAX_KEEP_DAYS:
        raise Invalid(
            _(
                "%(field)s：请填 1 到 %(max)s 之间的天数。",
                field=LABELS["backup_keep_days"],
                max=MAX_KEEP_DAYS,
            ),
            code="invalid_keep_days",
            field="backup_keep_days",
        )
    row = for_update(session)
    old_key = row.sync_key
    old = {
        "county_url": row.county_url,
        "sync_key": key_tail(row.sync_key),
        "backup_daily": row.backup_daily,
        "backup_keep_days": row.backup_keep_days,
    }
    row.county_url = url
    if key is not None:
        row.sync_key = key
    row.backup_daily, row.backup_keep_days = bool(backup_daily), backup_keep_days
    new = {
        "county_url": row.county_url,
        "sync_key": key_tail(row.sync_key),
        "backup_daily": row.backup_daily,
        "backup_keep_days": row.backup_keep_days,
    }
    # a new key may end in the same 4 characters as the old one: compare whole keys
    changed = [
        name for name in new if old[name] != new[name] or (name == "sync_key" and row.sync_key != old_key)
    ]
    if changed:
        row.updated_at, row.updated_by = utcnow(), actor_id
        record(
            session,
            "settings.changed",
            actor_id,
            row,
            fields=changed,
            old={name: old[name] for name in changed},
            new={name: new[name] for name in changed},
        )
    return changed
