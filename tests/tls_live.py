"""A test's village served over HTTPS for real, and a Chromium that trusts the village's CA.

- :func:`serving_https` — the app served as ``pointsmart serve`` serves a village: cheroot with HTTPS
  and plain HTTP (which moves browsers to HTTPS), on free ports of 127.0.0.1, the CA made in the
  app's instance folder with the extra name ``village.lan`` in the server certificate.
- :func:`chromium_trusting` — Debian's Chromium launched with ``HOME`` at a temporary folder whose
  ``.pki/nssdb`` (made by ``certutil``, Debian's ``libnss3-tools``) trusts that CA, and
  ``--host-resolver-rules`` sending ``village.lan`` to 127.0.0.1, so pages are opened by a LAN-style
  name, not ``localhost`` (which a browser counts as secure even over plain HTTP).

    with serving_https(app) as village, chromium_trusting(playwright, village.ca_file) as browser:
        page = browser.new_page(base_url=village.https_url)
        page.goto("/shop/counter")   # https://village.lan:<port>/shop/counter, no certificate error
"""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from pointsmart import tls
from pointsmart.cli.serve import serve_both

#: the LAN name the tests open the village by (mapped to 127.0.0.1 in Chromium)
VILLAGE_HOST = "village.lan"
CHROMIUM = os.environ.get("POINTSMART_CHROMIUM", "/usr/bin/chromium")
#: as in tests/browser/conftest.py (shared/STACK.md)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass
class VillageTLS:
    """A village served by :func:`serving_https`."""

    app: Flask
    https_port: int
    http_port: int
    ca_file: Path  # the village CA's certificate (PEM)
    host: str = VILLAGE_HOST

    @property
    def https_url(self) -> str:
        return f"https://{self.host}:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"


@contextmanager
def serving_https(
    app: Flask, names: Sequence[str] = (VILLAGE_HOST,), threads: int = 4
) -> Iterator[VillageTLS]:
    """Serve ``app`` with HTTPS and plain HTTP as ``pointsmart serve`` does; stop both after.

    The CA and the server certificate are made in ``app.instance_path``/tls (kept there, so a test may
    look at them), covering ``names`` besides localhost, 127.0.0.1 and this machine's own names.
    """
    folder = tls.folder(app)
    tls.add_names(folder, names)
    with app.app_context():
        serving = serve_both(app, "127.0.0.1", 0, 0, threads)
    try:
        yield VillageTLS(app, serving.https_port, serving.http_port, folder / "ca.crt", names[0])
    finally:
        serving.stop()


def nss_home(ca_file: Path, home: Path) -> Path:
    """Make ``home``/.pki/nssdb, an NSS database trusting ``ca_file`` for web sites; return ``home``."""
    certutil = shutil.which("certutil")
    if certutil is None:
        raise RuntimeError("no certutil: apt-get install libnss3-tools (`make browser-deps`)")
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [certutil, "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True, capture_output=True
    )
    subprocess.run(
        [
            certutil,
            "-A",
            "-d",
            f"sql:{nssdb}",
            "-n",
            "PointsMart village CA",
            "-t",
            "C,,",
            "-i",
            str(ca_file),
        ],
        check=True,
        capture_output=True,
    )
    return home


@contextmanager
def chromium_trusting(
    playwright, ca_file: Path | None, args: Sequence[str] = (), hosts: Sequence[str] = (VILLAGE_HOST,)
):
    """Launch Chromium trusting the CA in ``ca_file`` (None: trusting nothing extra), with ``hosts``
    resolved to 127.0.0.1 and ``args`` added to the usual launch arguments; yield the Browser, closed
    (and its temporary HOME removed) after. ``playwright`` is a started sync Playwright (the browser
    tests' session fixture of that name)."""
    with tempfile.TemporaryDirectory(prefix="pm-chromium-home-") as tmp:
        home = Path(tmp)
        if ca_file is not None:
            nss_home(ca_file, home)
        rules = ", ".join(f"MAP {host} 127.0.0.1" for host in hosts)
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules={rules}", *args],
            env={**os.environ, "HOME": str(home)},
        )
        try:
            yield browser
        finally:
            browser.close()
