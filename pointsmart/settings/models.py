"""The settings row and the record of every backup taken."""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column

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
