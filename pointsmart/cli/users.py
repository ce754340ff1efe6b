"""``pointsmart users``: create users, list them, make API tokens."""

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ..auth.models import User
from ..auth.services import create_api_token, create_user, find_user
from ..errors import DomainError
from ..extensions import db
from ..org.services import home_village
from .support import fail


@click.group(help="Manage users and API tokens.")
def users():
    pass


@users.command("create")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["chair", "panel", "shopkeeper", "county_reviewer", "county_admin"]),
)
@click.option("--password", help="Asked for when not given (better: it stays out of the shell history).")
@click.option("--display-name", default="", help="The person's name as shown on pages.")
@click.option(
    "--township", default=None, help="County reviewers only: limit to this township's 12-digit code."
)
@with_appcontext
def users_create(name: str, role: str, password: str | None, display_name: str, township: str | None):
    """Create a user of this village (or, for county roles, of the county)."""

    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        village_id = home_village(db.session).id if not role.startswith("county") else None
        user = create_user(
            db.session, name, role, password, display_name, village_id=village_id, township_code=township
        )
    except DomainError as err:
        fail(err)
    db.session.commit()
    click.echo(f"created {user.username} ({user.role})")


@users.command("token")
@click.argument("name")
@with_appcontext
def users_token(name: str):
    """Make a new API token for a user; the token is the last line printed."""

    user = find_user(db.session, name)
    if user is None or not user.active:
        raise click.ClickException(f"no active user named {name}")
    token = create_api_token(db.session, user)
    db.session.commit()
    click.echo(f"API token for {user.username} ({user.role}); it is shown only once:")
    click.echo(token)


@users.command("list")
@with_appcontext
def users_list():
    """List users."""

    for user in db.session.scalars(sa.select(User).order_by(User.username)):
        click.echo(f"{user.username:<16} {user.role:<16} {'active' if user.active else 'disabled'}")
