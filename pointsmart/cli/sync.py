"""``pointsmart sync``: the village sends its change log (push or bundle file); the county imports one."""

import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..county.bundles import import_bundle
from ..errors import DomainError
from ..extensions import db
from ..org.services import home_village
from ..periods import local_text
from ..settings.services import county_link
from ..sync import batches
from ..sync.bundle import export_bundle
from ..sync.client import PushError, push, village_address
from .support import fail


@click.group(
    "sync", help="Send this village's change log to the county (push or bundle file), or import one."
)
def sync():
    pass


def _sync_key() -> str:
    key = county_link(db.session, current_app.config).key
    if not key:
        raise click.ClickException(
            "no sync key: set POINTSMART_SYNC_KEY or paste it on the settings page "
            "(the county gives it with `pointsmart county add-village`)"
        )
    return key


@sync.command("push")
@click.option(
    "--url", default=None, help="The county server (default: POINTSMART_COUNTY_URL, else the settings page)."
)
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 5000))
@click.option("--attempts", default=6, show_default=True, type=click.IntRange(1, 20), help="Tries per batch.")
@with_appcontext
def sync_push(url: str | None, batch_size: int, attempts: int):
    """Push every record the county has not acknowledged, resuming where it left off."""

    def show(report):
        click.echo(
            f"  county acknowledged up to {report.acked_seq} of {report.head_seq} "
            f"({report.records} records in {report.batches} batches sent)"
        )

    url = url or county_link(db.session, current_app.config).url
    try:
        report = push(
            db.session,
            url,
            _sync_key(),
            batch_size=batch_size,
            attempts=attempts,
            progress=show,
            village_url=village_address(current_app.config),
        )
    except PushError as err:
        raise click.ClickException(f"{err.message} [{err.code}]") from None
    click.echo(
        f"pushed {report.records} records in {report.batches} batches to {url}; county acknowledged up to "
        f"{report.acked_seq}; {report.waiting} waiting; {report.retries} retries, {report.rewinds} rewinds"
    )


@sync.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--all", "everything", is_flag=True, help="From the first record, not from what the county has."
)
@with_appcontext
def sync_export(file: Path, everything: bool):
    """Write a signed bundle file of the change log, for a USB stick."""

    code = home_village(db.session).code
    tmp = file.with_name(file.name + ".part")
    with tmp.open("wb") as out:
        report = export_bundle(
            db.session, code, _sync_key(), out, from_seq=1 if everything else None,
            village_url=village_address(current_app.config),
        )  # fmt: skip
    os.replace(tmp, file)
    click.echo(
        f"wrote {file} ({file.stat().st_size} bytes): village {code}, "
        f"records {report.from_seq}–{report.to_seq} ({report.records}, {report.batches} batches), signed"
    )


@sync.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def sync_import(file: Path):
    """County: check a village's bundle file and apply what the county does not have yet."""

    if current_app.config["POINTSMART_MODE"] != "county":
        raise click.ClickException("sync import runs at the county (POINTSMART_MODE=county)")
    with file.open("rb") as stream:
        try:
            report = import_bundle(db.session, stream)
        except DomainError as err:  # BundleError and SequenceGap among them
            fail(err)
    db.session.commit()
    click.echo(
        f"imported {file.name}: village {report.village_code} {report.village_name}, records "
        f"{report.from_seq}–{report.to_seq}; {report.applied} new, county now has up to {report.acked_seq}"
    )


@sync.command("status")
@with_appcontext
def sync_status():
    """Print the village's division code, the last acknowledged sequence and how many records wait."""

    state = batches.state(db.session)
    head = batches.head_seq(db.session)
    last = local_text(state.last_sync_at) or "never"
    click.echo(f"village: {home_village(db.session).code}")
    click.echo(f"acknowledged: {state.acked_seq}")
    click.echo(f"waiting: {max(0, head - state.acked_seq)} (log at {head})")
    click.echo(f"last sync: {last}")
    if state.last_error:
        click.echo(f"last error: {state.last_error}")
    db.session.rollback()
