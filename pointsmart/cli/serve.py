"""``pointsmart serve`` and ``pointsmart run``: serve the app with a production WSGI server.

``run`` is the one command a village PC needs — Windows included, where there is no ``make``: it
applies the migrations, loads the demo village once (never over a real village), and serves. It
replaces Flask's development-server ``run`` on purpose (see :mod:`pointsmart.cli`).

A village serves HTTPS (``--https-port``, 8443) beside plain HTTP (``--port``, 8000), both with
cheroot, which speaks TLS on Windows and Linux alike; the certificate comes from the village's own CA
(:mod:`pointsmart.tls`), made on the first start and renewed by the server itself. Plain HTTP then
moves browsers' page requests to HTTPS, except what must stay reachable over HTTP
(:data:`pointsmart.tls.HTTP_KEPT`). ``--https-port 0`` (a county's default: it sits behind its own
proxy and certificate) serves plain HTTP alone, with waitress, as before.
"""

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import tls
from ..settings.backups import start_scheduler

_host = click.option(
    "--host", default=lambda: os.environ.get("HOST", "127.0.0.1"), show_default="$HOST or 127.0.0.1"
)
_port = click.option(
    "--port", default=lambda: int(os.environ.get("PORT", "8000")), type=int, show_default="$PORT or 8000"
)
_threads = click.option("--threads", default=8, show_default=True)
_https_port = click.option(
    "--https-port",
    type=int,
    default=None,
    help="HTTPS port; 0 serves plain HTTP only, with waitress.",
    show_default="$HTTPS_PORT, or 8443 on a village and 0 on a county",
)

log = logging.getLogger(__name__)

#: how often (seconds) the server checks its certificate: renewed a month before it expires, and
#: at once when the PC's LAN addresses change (a new DHCP lease)
RENEWAL_CHECK_S = 3600
#: waitress's default largest request head (262,144 bytes), kept under cheroot (whose default is none)
MAX_REQUEST_HEADER_SIZE = 262_144
#: seconds a connection may stay silent (waitress's channel_timeout is 120)
SOCKET_TIMEOUT_S = 120

#: how often (seconds) a thread holding Python's interpreter lock hands it on. A request that only
#: waits on the network and the database (``/healthz``, a card lookup) needs the lock for a moment
#: dozens of times; beside a thread busy rendering a report or reading a roster it queued 5 ms (the
#: default) each time, and answered in about a second. 1 ms keeps it well under.
SWITCH_INTERVAL_S = 0.001


def server_options(app) -> dict:
    """waitress's settings beyond host, port and threads.

    waitress reads a request's whole body before the app sees it, so it is given the largest body any
    route takes: ``MAX_CONTENT_LENGTH`` (8 MB) on a village and on a county alike. A larger one is
    refused from its ``Content-Length`` (413) before a byte of it is read. (A county's large bundles
    come in parts, each under that limit: :mod:`pointsmart.county.parts`.)
    """
    return {"ident": "PointsMart", "max_request_body_size": app.config["MAX_CONTENT_LENGTH"]}


def cheroot_server(app, host: str, port: int, threads: int, ssl_adapter=None, wsgi_app=None):
    """A cheroot server serving ``wsgi_app`` (``app`` unless given), held to the limits that
    :func:`server_options` gives waitress: cheroot refuses a larger ``Content-Length`` (413) before
    reading a byte of it and stops a chunked body at the same size; the head is bounded as waitress
    bounds it."""
    from cheroot import wsgi

    options = server_options(app)
    server = wsgi.Server(
        (host, port),
        wsgi_app or app,
        numthreads=threads,
        server_name=options["ident"],
        timeout=SOCKET_TIMEOUT_S,
    )
    server.max_request_body_size = options["max_request_body_size"]
    server.max_request_header_size = MAX_REQUEST_HEADER_SIZE
    server.ssl_adapter = ssl_adapter
    return server


def https_port_for(app, https_port: int | None) -> int:
    if https_port is not None:
        return https_port
    if os.environ.get("HTTPS_PORT", "").isdecimal():
        return int(os.environ["HTTPS_PORT"])
    return 0 if app.config["POINTSMART_MODE"] == "county" else 8443


def _village_name() -> str:
    from ..extensions import db
    from ..org.services import home_village

    try:
        return home_village(db.session).name
    except Exception:  # no village yet, or no database: the CA is named without it
        return ""
    finally:
        # outside a request every transaction writes, holding the process's write lock: end it, or
        # the server's own requests and its backups would queue behind this one for ever
        db.session.remove()


def tls_ready(app) -> tls.Ready:
    """The village's CA and a good server certificate, made or renewed now; says what it did."""
    ready = tls.ensure(tls.folder(app), village=_village_name())
    if ready.created_ca:
        click.echo(f"Created the village's certificate authority in {tls.folder(app)}")
    if ready.renewed:
        click.echo(f"Issued a server certificate ({ready.renewed})")
    return ready


def keep_certificate_fresh(app, adapter, stop: threading.Event, every: float | None = None):
    """Check the server certificate every ``every`` seconds until ``stop`` is set; a renewed one is
    loaded into the running server's TLS context, so the next connection gets it (open ones keep theirs)."""

    every = every or RENEWAL_CHECK_S

    def loop():
        while not stop.wait(every):
            try:
                ready = tls.ensure(tls.folder(app), new_ca=False)
                if ready.renewed:
                    adapter.context.load_cert_chain(str(ready.cert_file), str(ready.key_file))
                    log.warning("PointsMart: server certificate renewed (%s)", ready.renewed)
            except Exception:  # a failed check is tried again next time; the old certificate serves on
                log.exception("PointsMart: checking the server certificate failed")

    thread = threading.Thread(target=loop, name="pointsmart-tls-renewal", daemon=True)
    thread.start()
    return thread


@dataclass
class Serving:
    """HTTPS and plain HTTP, listening and served in background threads (:func:`serve_both`)."""

    secure: object  # cheroot.wsgi.Server
    plain: object
    https_port: int
    http_port: int
    _stop: threading.Event

    @property
    def ready(self) -> bool:
        return self.secure.ready and self.plain.ready

    def stop(self) -> None:
        self._stop.set()
        for server in (self.plain, self.secure):
            server.stop()


def serve_both(app, host: str, port: int, https_port: int, threads: int) -> Serving:
    """Listen with HTTPS on ``https_port`` and plain HTTP on ``port`` (0: a free port), plain HTTP
    moving browsers to HTTPS, and serve both in background threads; ``.stop()`` stops them."""
    from cheroot.ssl.builtin import BuiltinSSLAdapter

    ready = tls_ready(app)
    adapter = BuiltinSSLAdapter(str(ready.cert_file), str(ready.key_file))
    secure = cheroot_server(app, host, https_port, threads, adapter)
    secure.prepare()  # binds: a port in use fails here, before anything is served
    https_port = secure.bind_addr[1]
    plain = cheroot_server(app, host, port, threads, wsgi_app=tls.redirect_to_https(app, https_port))
    try:
        plain.prepare()
    except BaseException:
        secure.stop()
        raise
    # the settings page's phone steps name these ports
    # (and the push tells the county the village's LAN address from them: sync.client.village_address)
    app.config.update(
        POINTSMART_HTTP_PORT=plain.bind_addr[1], POINTSMART_HTTPS_PORT=https_port, POINTSMART_HTTP_HOST=host
    )
    for server in (secure, plain):
        threading.Thread(target=server.serve, name=f"cheroot-{server.bind_addr[1]}", daemon=True).start()
    stop = threading.Event()
    keep_certificate_fresh(app, adapter, stop)
    return Serving(secure, plain, https_port, plain.bind_addr[1], stop)


_ALL_INTERFACES = ("0.0.0.0", "::", "")  # noqa: S104 -- compared with, never bound here


def serving_message(host: str, http_port: int, https_port: int, addresses=None) -> str:
    """What ``serve`` prints: which address this PC opens, which the phones open, and how they get there."""
    if addresses is None:
        every_interface = host in _ALL_INTERFACES
        addresses = sorted(tls.lan_addresses()) if every_interface else []
        if not every_interface and not tls.is_loopback_host(host):
            addresses = [host]
    lines = [
        f"PointsMart serving on https://{host}:{https_port}/ and http://{host}:{http_port}/  (Ctrl+C stops)",
        f"This PC: open http://127.0.0.1:{http_port}/ (no certificate needed on the PC itself)",
    ]
    if addresses:
        phones = "  ".join(f"https://{a}:{https_port}/" for a in addresses)
        lines.append(
            f"Phones on the village Wi-Fi: first install the village's certificate from "
            f"http://{addresses[0]}:{http_port}/ca.crt (steps in 设置), then open {phones}"
        )
    else:
        lines.append(
            "Phones cannot reach this PC: it listens on this PC only. To serve phones too: "
            f"HOST=0.0.0.0 make run, then on a phone install http://<LAN IP>:{http_port}/ca.crt "
            f"(steps in 设置) and open https://<LAN IP>:{https_port}/"
        )
    return "\n".join(lines)


@click.command(help="Serve: HTTPS and plain HTTP with cheroot, or plain HTTP alone with waitress.")
@_host
@_port
@_https_port
@_threads
@with_appcontext
def serve(host: str, port: int, threads: int, https_port: int | None = None):
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app = current_app._get_current_object()
    https_port = https_port_for(app, https_port)
    if not https_port:
        from waitress import serve as waitress_serve

        click.echo(f"PointsMart serving on http://{host}:{port}/  (Ctrl+C stops)")
        # the daily backup, taken by the server itself; several processes take turns through the database
        start_scheduler(app)
        app.config.update(POINTSMART_HTTP_PORT=port, POINTSMART_HTTP_HOST=host)
        waitress_serve(app, host=host, port=port, threads=threads, **server_options(app))
        return
    serving = serve_both(app, host, port, https_port, threads)
    start_scheduler(app)
    click.echo(serving_message(host, serving.http_port, serving.https_port))
    try:
        while serving.ready:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        serving.stop()


@click.command(
    help="Migrate, load the demo (once, and only if no other village is set up), serve (HTTPS and HTTP)."
)
@_host
@_port
@_https_port
@_threads
@with_appcontext
def run(host: str, port: int, threads: int, https_port: int | None = None):
    from flask_migrate import upgrade

    from .demo import demo

    upgrade()
    ctx = click.get_current_context()
    ctx.invoke(demo, if_empty=True)
    ctx.invoke(serve, host=host, port=port, threads=threads, https_port=https_port)
