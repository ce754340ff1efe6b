"""``pointsmart cards``: issue point cards."""

import click
from flask.cli import with_appcontext

from ..cards import services as card_services
from ..errors import DomainError
from ..extensions import db
from ..households.services import household_by_no
from ..org.services import home_village
from .support import fail


@click.group("cards", help="Issue point cards.")
def cards():
    pass


@cards.command("issue")
@click.argument("household_no", required=False)
@click.option("--all", "everyone", is_flag=True, help="Every active household that has no card yet.")
@with_appcontext
def cards_issue(household_no: str | None, everyone: bool):
    """Issue a card to one household (by 户号) or, with --all, to every household without one."""

    if everyone == bool(household_no):
        raise click.UsageError("give a 户号 or --all (not both)")
    try:
        village_id = home_village(db.session).id
        if everyone:
            issued = card_services.issue_all(db.session, village_id, actor_id=None)
        else:
            household = household_by_no(db.session, village_id, household_no)
            if household is None:
                raise click.ClickException(f"no household {household_no}")
            issued = [card_services.issue_card(db.session, household, actor_id=None)]
    except DomainError as err:
        fail(err)
    db.session.commit()
    for card in issued:
        click.echo(f"{card.household.household_no}  {card.number_display}")
    click.echo(f"issued {len(issued)} cards")
