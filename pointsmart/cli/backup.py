"""``pointsmart backup``: a consistent copy of the SQLite database while the shop keeps working."""

import os
import sqlite3
from pathlib import Path

import click
from flask.cli import with_appcontext

from ..extensions import db


@click.command(help="Take a consistent copy of the SQLite database, safe while the app is serving.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(path: Path):
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        raise click.ClickException("backup copies the SQLite database; on PostgreSQL use pg_dump")
    if path.exists():
        raise click.ClickException(f"{path} exists; choose a new file name")
    tmp = path.with_name(path.name + ".part")
    source = sqlite3.connect(url.database)
    try:
        target = sqlite3.connect(tmp)
        with target:
            source.backup(target)  # SQLite's online backup: a consistent snapshot, writers keep going
        target.close()
    finally:
        source.close()
    os.replace(tmp, path)
    click.echo(f"backup written to {path} ({path.stat().st_size} bytes)")
