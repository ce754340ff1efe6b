"""What the command modules share: turning a domain error into a command-line failure."""

from typing import NoReturn

import click

from ..errors import DomainError
from ..extensions import db


def fail(err: DomainError) -> NoReturn:
    """Roll back and stop the command with the error's message and code (exit status 1)."""
    db.session.rollback()
    raise click.ClickException(f"{err.message} [{err.code}]")
