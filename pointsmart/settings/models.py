"""The settings row and the record of every backup taken."""

import uuid as uuid_mod
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db

#: how many days automatic backups are kept unless the chair says otherwise
DEFAULT_KEEP_DAYS = 14


class VillageSettings(db.Model):
    """One row (id 1): what the chair set on the settings page."""

    __tablename__ = "village_settings"
    __table_args__ = (sa.CheckConstraint("backup_keep_days BETWEEN 1 AND 365", name="keep_days_range"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    #: the county server's address, e.g. ``https://county.example.cn``; "" when not set
    county_url: Mapped[str] = mapped_column(sa.String(300), default="")
    #: the village's sync key as the county gave it; shown back only by its last 4 characters
    sync_key: Mapped[str] = mapped_column(sa.String(200), default="")
    #: the server takes one backup a day by itself
    backup_daily: Mapped[bool] = mapped_column(default=True)
    #: automatic and manual backup files older than this many days are deleted
    backup_keep_days: Mapped[int] = mapped_column(default=DEFAULT_KEEP_DAYS)
    updated_at: Mapped[datetime | None]
    updated_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))


class BackupKind:
    AUTO = "auto"  # the server's daily backup
    MANUAL = "manual"  # 现在备份, a copy kept on the server
    DOWNLOAD = "download"  # a copy the chair downloaded


BACKUP_KIND_LABELS = {
    BackupKind.AUTO: _l("自动"),
    BackupKind.MANUAL: _l("手动"),
    BackupKind.DOWNLOAD: _l("下载"),
}


class BackupRun(db.Model):
    """One backup: claimed (``ok`` None) before the copy starts, finished with its outcome."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    #: None while the copy runs; True or False when it ended
    ok: Mapped[bool | None]
    #: the backup file's name in the backups folder ("" for a download or a failure)
    file_name: Mapped[str] = mapped_column(sa.String(200), default="")
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    #: what went wrong, in words
    message: Mapped[str] = mapped_column(sa.String(500), default="")
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))


class PointsRuleKind:
    """What happens to points at the end of their life (the chair's 积分到期规则)."""

    KEEP = "keep"  # points never expire (the default)
    YEAR_END = "year_end"  # points earned in a year are cleared when that year ends
    MONTHS = "months"  # points expire N months after the day they were earned


#: the longest life, in months, the chair may give points under :attr:`PointsRuleKind.MONTHS`
MAX_RULE_MONTHS = 120


class PointsRule(db.Model):
    """One choice of the year-end rule: points earned from ``since`` on follow it, until the next row.

    Rows are appended, never edited: points earned before a change keep the rule in force when they
    were earned. No row means :attr:`PointsRuleKind.KEEP`.
    """

    __tablename__ = "points_rule"
    __table_args__ = (
        sa.CheckConstraint("rule IN ('keep', 'year_end', 'months')", name="rule_known"),
        sa.CheckConstraint(
            f"(rule = 'months' AND months IS NOT NULL AND months BETWEEN 1 AND {MAX_RULE_MONTHS})"
            " OR (rule <> 'months' AND months IS NULL)",
            name="months_with_rule",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: global identity: the change log carries each row to the county, which shows the village's rule
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    rule: Mapped[str] = mapped_column(sa.String(10))
    #: the points' life in months, for :attr:`PointsRuleKind.MONTHS` only
    months: Mapped[int | None]
    #: points earned at or after this moment (stored UTC) follow this rule
    since: Mapped[datetime]
    set_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    #: when the chair chose it (rows made before 0011 take their ``since``)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


#: every weekday as ISO numbers (1 周一 … 7 周日); ``days`` holds them as bits (bit 0 周一)
ALL_DAYS_MASK = 0b1111111


class OpeningDays(db.Model):
    """One choice of the shop's opening days (营业日); the latest row is the setting in force.

    Rows are appended, never edited, so the county judges a redemption by the days set when it was made.
    ``days`` 0 (none ticked) means "not set": the county then does not check the days. No row is "not set".
    """

    __tablename__ = "opening_days"
    __table_args__ = (sa.CheckConstraint(f"days BETWEEN 0 AND {ALL_DAYS_MASK}", name="days_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: global identity: the change log carries each row to the county
    uuid: Mapped[str] = mapped_column(sa.String(36), unique=True, default=lambda: str(uuid_mod.uuid4()))
    #: the weekdays the shop opens, one bit each: bit ``n - 1`` for ISO weekday ``n`` (0 = not set)
    days: Mapped[int] = mapped_column(default=0)
    set_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    #: from this moment (stored UTC) on, the shop opens on these days
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
