"""``pointsmart tls``: the village's own certificate authority for HTTPS on the LAN (:mod:`pointsmart.tls`).

``pointsmart run`` and ``serve`` make the CA and the server certificate by themselves on the first
start; these commands do it ahead of time, add names the server certificate must cover (or forget
them), and show what there is.
"""

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import tls


@click.group(help="The village's certificate authority and HTTPS certificate.")
def tls_group():
    pass


def _show(folder) -> None:
    state = tls.status(folder)
    if not state.ready:
        click.echo(f"No certificate authority in {folder} yet: `pointsmart tls init` makes one.")
        return
    click.echo(f"CA:           {state.ca.subject.rfc4514_string()}")
    click.echo(f"  SHA-256:    {tls.fingerprint(state.ca)}")
    click.echo(f"  valid until {state.ca.not_valid_after_utc:%Y-%m-%d}")
    click.echo(f"  file:       {folder / 'ca.crt'} (phones download it from /ca.crt)")
    wide = tls.beyond_lan(state.ca)
    if wide:
        click.echo(
            f"  WARNING: this CA may sign for names beyond the LAN ({', '.join(wide)}): "
            "`pointsmart tls init --new-ca` makes one that cannot (every phone installs it again)"
        )
    for line, why in tls.refused_names(folder):
        click.echo(f"  names.txt: {line} is left out ({why}); `tls init --clear-names` forgets it")
    if state.server is None:
        click.echo("Server certificate: none yet (the server makes one when it starts)")
        return
    names = tls.cert_names(state.server)
    click.echo(f"Server certificate valid until {state.server.not_valid_after_utc:%Y-%m-%d}, for:")
    click.echo("  " + ", ".join(sorted(names.dns) + sorted(map(str, names.ips))))
    reason = tls.renewal_reason(folder, tls.wanted_names(tls.extra_names(folder)))
    if reason:
        click.echo(f"  will be renewed at the next start or hourly check: {reason}")


def _checked_names(ctx, param, values):
    """Each ``--name`` as the certificate will carry it; a bad one is a usage error saying why."""
    checked = []
    for value in values:
        try:
            checked.append(tls.check_name(value))
        except tls.NameRefused as refused:
            raise click.BadParameter(f"{value!r}: {refused}", ctx=ctx, param=param) from None
    return tuple(checked)


@tls_group.command("init", help="Make the CA (once) and a server certificate for this PC's names.")
@click.option(
    "--name",
    "names",
    multiple=True,
    callback=_checked_names,
    help="Another LAN name (under .lan, .local, .home.arpa, .internal or localhost) or private address "
    "to cover (kept; repeatable).",
)
@click.option(
    "--clear-names",
    is_flag=True,
    help="Forget the names kept by earlier --name (the --name given now are kept instead).",
)
@click.option("--new-ca", is_flag=True, help="Replace the CA: every phone must install the new one.")
@click.pass_context
@with_appcontext
def init(ctx, names: tuple[str, ...], clear_names: bool, new_ca: bool):
    from .serve import _village_name

    folder = tls.folder(current_app)
    ca = None if new_ca else tls.load_ca(folder)
    for name in names:
        if ca is not None and not tls.permits(ca[0], name):  # a host name the PC no longer has
            raise click.BadParameter(
                f"{name!r}: this village's CA does not cover it; `--new-ca` makes one for this PC's "
                "names (every phone installs it again)",
                ctx=ctx,
                param_hint="'--name'",
            )
    dropped = []
    if names or clear_names:
        before = tls.extra_names(folder)
        kept = tls.add_names(folder, names, replace=clear_names)
        dropped = [n for n in before if n not in kept]
        if clear_names:
            click.echo(f"Names kept for the certificate: {', '.join(kept) or 'none'}")
    if new_ca:
        tls.create_ca(folder, _village_name())
        click.echo("Made a new certificate authority: install it again on every phone.")
    ready = tls.ensure(
        folder, village=_village_name(), reissue="names dropped: " + ", ".join(dropped) if dropped else None
    )
    if ready.created_ca:
        click.echo(f"Created the village's certificate authority in {folder}")
    click.echo(f"Server certificate: {'issued (' + ready.renewed + ')' if ready.renewed else 'still good'}")
    _show(folder)


@tls_group.command("status", help="Show the CA and the server certificate.")
@with_appcontext
def status():
    _show(tls.folder(current_app))


tls_group.name = "tls"
