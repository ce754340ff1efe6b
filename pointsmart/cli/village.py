"""``pointsmart village``: set up the village a real install serves."""

import click
from flask.cli import with_appcontext

from ..errors import DomainError
from ..extensions import db
from ..org.services import ensure_village
from .support import fail


@click.group(help="Set up the village this instance serves.")
def village():
    pass


@village.command("init")
@click.argument("code")
@click.argument("name")
@with_appcontext
def village_init(code: str, name: str):
    """Set up the village (12-digit division code and name) of a real install."""

    try:
        v = ensure_village(db.session, code, name)
    except DomainError as err:
        fail(err)
    db.session.commit()
    click.echo(f"village {v.code} {v.name}")
