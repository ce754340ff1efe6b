"""``pointsmart photos``: the photos stored under the instance folder (goods, posted notices)."""

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

#: every folder under ``instance/uploads`` that holds photos anyone may be shown
PHOTO_FOLDERS = ("goods", "notices")


@click.group("photos", help="Stored photos: goods and posted notices.")
def photos():
    pass


@photos.command("strip-metadata")
@with_appcontext
def strip_metadata():
    """Remove EXIF (GPS position, camera) and XMP from every stored photo that still has them.

    Uploads are cleaned as they are stored; this is for photos stored before that. Run once after
    upgrading; running it again changes nothing. Files only: nothing in the database changes.
    """
    from ..images import PhotoRefused, strip_stored_photo

    changed = checked = 0
    for name in PHOTO_FOLDERS:
        folder = Path(current_app.instance_path) / "uploads" / name
        for path in sorted(folder.glob("*")) if folder.is_dir() else []:
            if path.name.startswith(".") or not path.is_file():
                continue
            checked += 1
            try:
                changed += strip_stored_photo(path)
            except PhotoRefused:
                click.echo(f"not a photo, left as it is: {path}", err=True)
    click.echo(f"checked {checked} photos, removed metadata from {changed}")
