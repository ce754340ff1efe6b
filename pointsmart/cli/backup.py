"""``pointsmart backup``: a consistent copy of the SQLite database while the shop keeps working.

``pointsmart backup PATH`` writes a copy where you say; ``pointsmart backup --due`` takes the daily
backup into the backups folder if it is due (what the server's own scheduler does; for a cron job or
a Windows scheduled task when the village serves some other way).
"""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..extensions import db
from ..settings.backups import BackupUnavailable, copy_sqlite, run_due, sqlite_file


@click.command(help="Take a consistent copy of the SQLite database, safe while the app is serving.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--due", is_flag=True, help="Take today's automatic backup into the backups folder, if due.")
@with_appcontext
def backup(path: Path | None, due: bool):
    database = sqlite_file(db.engine)
    if database is None:
        raise click.ClickException("backup copies the SQLite database; on PostgreSQL use pg_dump")
    if due:
        try:
            run = run_due(current_app._get_current_object())
        except BackupUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"backup written: {run.file_name} ({run.size_bytes} bytes)" if run else "no backup due")
        return
    if path is None:
        raise click.UsageError("give a PATH for the copy, or --due")
    if path.exists():
        raise click.ClickException(f"{path} exists; choose a new file name")
    size = copy_sqlite(database, path)
    click.echo(f"backup written to {path} ({size} bytes)")
