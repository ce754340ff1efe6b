"""Backups of the village's SQLite database: taken on demand, once a day by the server, pruned after N days.

A backup is SQLite's online backup (``sqlite3.Connection.backup``): a consistent copy taken page by
page from a read snapshot, while the counter keeps selling. It is written to ``<name>.part`` and
renamed into place, so a file named ``pointsmart-….sqlite3`` is always a whole database.

Several server processes may run beside each other; each runs a small scheduler thread
(:func:`start_scheduler`), which also posts the points past their expiry day (:mod:`.expiry`).
They take turns through the database: a process claims a backup by writing a ``backup_run`` row
while it holds the settings row's lock (SQLite's write lock, or PostgreSQL's row lock), after
checking that no backup succeeded today and none is under way. Only the claimant copies. A claim
whose process died is stale after :data:`STALE` and no longer blocks.

:func:`take_backup` runs its own short write transactions (claim, then finish), with the slow copy
between them outside any lock — like a CLI command, it is called from a thread, a view or the CLI,
never inside another unit of work.

On PostgreSQL nothing here copies anything: a county server is backed up with ``pg_dump``, and the
pages say so.
"""

import os
import re
import sqlite3
import threading
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..audit.services import record
from ..clock import utcnow
from ..extensions import db
from ..periods import day_window, today
from ..unit import write
from . import expiry, services
from .models import BackupKind, BackupRun

#: a claimed backup that has not finished after this long died with its process
STALE = timedelta(minutes=30)
#: how often the scheduler thread asks whether a backup is due
CHECK_EVERY_S = 600
#: the backup files this module writes and prunes (UTC time in the name, by the app's clock)
_NAME = re.compile(r"^pointsmart-(\d{8}-\d{6})-(auto|manual)\.sqlite3$")


class BackupUnavailable(Exception):
    """The database is not a SQLite file: back it up with the database's own tools."""


def folder(app: Flask) -> Path:
    """Where backups are kept: ``POINTSMART_BACKUP_DIR`` or ``instance/backups``."""
    return Path(app.config.get("POINTSMART_BACKUP_DIR") or Path(app.instance_path) / "backups")


def sqlite_file(engine: sa.Engine) -> str | None:
    """The SQLite database file the app uses, or None (PostgreSQL, or an in-memory database)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return url.database


def copy_sqlite(database: str, target: Path) -> int:
    """Copy a live SQLite database to ``target`` (which must not exist) consistently; return its size."""
    tmp = target.with_name(target.name + ".part")
    tmp.unlink(missing_ok=True)
    source = sqlite3.connect(database)
    try:
        copy = sqlite3.connect(tmp)
        try:
            with copy:
                source.backup(copy)  # SQLite's online backup: a consistent snapshot, writers keep going
        finally:
            copy.close()
    finally:
        source.close()
    os.replace(tmp, target)
    return target.stat().st_size


def last_backup(session: Session) -> BackupRun | None:
    """The newest backup that succeeded (kept on the server or downloaded)."""
    return session.scalar(
        sa.select(BackupRun).where(BackupRun.ok.is_(True)).order_by(BackupRun.started_at.desc()).limit(1)
    )


def last_failure(session: Session) -> BackupRun | None:
    """The newest backup that failed, if it is newer than the newest that succeeded."""
    failed = session.scalar(
        sa.select(BackupRun).where(BackupRun.ok.is_(False)).order_by(BackupRun.started_at.desc()).limit(1)
    )
    good = last_backup(session)
    return failed if failed and (good is None or failed.started_at > good.started_at) else None


def _running(session: Session, now: datetime) -> BackupRun | None:
    return session.scalar(
        sa.select(BackupRun).where(BackupRun.ok.is_(None), BackupRun.started_at > now - STALE).limit(1)
    )


def due(session: Session, now: datetime | None = None) -> bool:
    """Whether the daily backup has yet to be taken today (the villages' day) and nothing is running."""
    now = now or utcnow()
    if not services.current(session).backup_daily:
        return False
    start, end = day_window(today())
    done_today = session.scalar(
        sa.select(sa.func.count(BackupRun.id)).where(
            BackupRun.ok.is_(True),
            BackupRun.kind.in_((BackupKind.AUTO, BackupKind.MANUAL)),
            BackupRun.started_at >= start,
            BackupRun.started_at < end,
        )
    )
    return not done_today and _running(session, now) is None


def claim(session: Session, kind: str, actor_id: int | None, only_if_due: bool) -> BackupRun | None:
    """Claim a backup (inside a write transaction): None if one is running, or (``only_if_due``) not due.

    The settings row is locked first, so two processes asking at once are answered one after the other.
    """
    services.for_update(session)
    now = utcnow()
    if (only_if_due and not due(session, now)) or _running(session, now) is not None:
        return None
    run = BackupRun(kind=kind, started_at=now, actor_id=actor_id, file_name="", size_bytes=0, message="")
    session.add(run)
    session.flush()
    return run


def finish(
    session: Session, run_id: int, ok: bool, file_name: str = "", size: int = 0, message: str = ""
) -> BackupRun:
    """Record a claimed backup's outcome and audit it (inside a write transaction)."""
    run = session.get(BackupRun, run_id)
    run.finished_at, run.ok = utcnow(), ok
    # the backup's own message (an OS error, a size), cut to the column: no one typed it
    run.file_name, run.size_bytes, run.message = file_name, size, message[:500]
    outcome = "" if ok else ".failed"
    record(
        session,
        f"settings.backup.{run.kind}{outcome}",
        run.actor_id,
        run,
        file=file_name,
        size=size,
        message=run.message,
    )
    return run


def prune(where: Path, keep_days: int, now: datetime | None = None) -> list[str]:
    """Delete backup files older than ``keep_days`` (by the time in their names); never the newest one."""
    now = now or utcnow()
    found = []
    for path in where.glob("pointsmart-*.sqlite3") if where.is_dir() else ():
        match = _NAME.match(path.name)
        if match:
            found.append((datetime.strptime(match.group(1), "%Y%m%d-%H%M%S"), path))
    found.sort()
    removed = []
    for taken, path in found[:-1]:
        if now - taken > timedelta(days=keep_days):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def take_backup(
    app: Flask, kind: str = BackupKind.MANUAL, actor_id: int | None = None, only_if_due: bool = False
) -> BackupRun | None:
    """Claim, copy and record one backup kept on the server; None if not due or another one is running.

    The copy is made between two short write transactions, holding no lock (call it in an app context).

    :raises BackupUnavailable: the database is not a SQLite file.
    """
    database = sqlite_file(db.engine)
    if database is None:
        raise BackupUnavailable(_("这个系统用的是 PostgreSQL 数据库，请让管理员用 pg_dump 备份。"))
    with write():
        run = claim(db.session, kind, actor_id, only_if_due)
        run_id, started = (run.id, run.started_at) if run else (None, None)
    if run_id is None:
        return None
    where = folder(app)
    try:
        where.mkdir(parents=True, exist_ok=True)
        target = where / f"pointsmart-{started:%Y%m%d-%H%M%S}-{kind}.sqlite3"
        size = copy_sqlite(database, target)
    except (OSError, sqlite3.Error) as exc:
        with write():
            finish(db.session, run_id, False, message=str(exc))
        raise
    with write():
        run = finish(db.session, run_id, True, target.name, size)
        keep_days = services.current(db.session).backup_keep_days
    prune(where, keep_days)
    return run


def record_download(session: Session, actor_id: int, size: int) -> BackupRun:
    """Record a backup the chair downloaded (inside a write transaction)."""
    now = utcnow()
    run = BackupRun(
        kind=BackupKind.DOWNLOAD, started_at=now, finished_at=now, ok=True, file_name="", size_bytes=size,
        message="", actor_id=actor_id,
    )  # fmt: skip
    session.add(run)
    session.flush()
    record(session, "settings.backup.download", actor_id, run, size=size)
    return run


def run_due(app: Flask) -> BackupRun | None:
    """Take today's automatic backup if it is due (SQLite only); what the scheduler calls."""
    with app.app_context():
        try:
            if sqlite_file(db.engine) is None:
                return None
            run = take_backup(app, BackupKind.AUTO, only_if_due=True)
            if run is not None:  # the caller reads it after this app context's session is gone
                db.session.refresh(run)
                db.session.expunge(run)
            return run
        finally:
            db.session.remove()


def start_scheduler(app: Flask, every_s: float = CHECK_EVERY_S) -> threading.Thread:
    """Start a daemon thread for the server's daily jobs, now, then every ``every_s`` seconds: the
    backup when it is due, and the points past their expiry day (:func:`expiry.run_due`, once a day)."""
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                run_due(app)
            except Exception:  # a full disk must not end the thread: tomorrow may be better
                app.logger.exception("daily backup failed")
            try:
                expiry.run_due(app)
            except Exception:  # a database hiccup must not end the thread either: the next check retries
                app.logger.exception("daily points expiry failed")
            stop.wait(every_s)

    thread = threading.Thread(target=loop, daemon=True, name="daily-backup")
    thread.stop = stop
    thread.start()
    return thread
