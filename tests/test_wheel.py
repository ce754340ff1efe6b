"""The installable package: build the wheel, install it outside the repository, run and serve from it.

Only what the wheel carries is there: the test builds it from this checkout, installs it into a
fresh virtual environment in a temporary folder and works from another temporary folder, so neither
the checkout's ``templates/`` nor its ``seed/`` can stand in for a file the wheel forgot.

To stay fast and offline, the fresh environment gets the project's dependencies by a ``.pth`` line
naming the project's ``.venv`` site-packages (a path line, so the editable install's own ``.pth``
there is not processed), and the wheel goes in with ``--no-deps``; the wheel is built without an
isolated build environment, by the pinned hatchling from the dev extras.
"""

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from .conftest import DB, pg_schema, require_postgresql

REPO = Path(__file__).resolve().parents[1]
CHAIR_PASSWORD = "demo-chair-2026"  # seed/demo/users.json
FIRST_HOUSEHOLD = "马春梅"  # seed/demo/households.csv, first row
WASM = "vendor/zxing-wasm/zxing_reader.wasm"  # the counter's live QR decoder (make vendor-js)


def _run(*args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=240, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}"
    return result


def _files(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the wheel and install it into a fresh virtual environment; yield (venv, package folder)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # hatchling's own front end: the same build as `pip wheel .`, without pip's seconds of set-up
    _run(sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", tmp / "dist", cwd=REPO)
    (wheel,) = (tmp / "dist").glob("pointsmart-*.whl")
    venv = tmp / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
    Path(purelib, "project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel)
    package = _run(
        python, "-c", "import pointsmart; print(pointsmart.__file__)", cwd=tmp, env=_clean_env()
    ).stdout.strip()
    return venv, Path(package).parent


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POINTSMART_", "PYTHON", "FLASK_"))}
    env.pop("DATABASE_URL", None)
    env.update(extra)
    return env


@pytest.fixture
def database_url(tmp_path):
    """Nothing on SQLite (the instance folder's default database); a schema of its own on PostgreSQL."""
    if DB != "postgresql":
        yield None
        return
    require_postgresql()
    with pg_schema("pm_wheel") as url:
        yield url


class Server:
    """A command from the installed package that serves on a free port; stopped on leaving."""

    def __init__(self, args, cwd: Path, env: dict):
        self.port, self.https_port = _free_port(), _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"server-{self.port}.log"
        self.args = [
            str(a).replace("{port}", str(self.port)).replace("{https_port}", str(self.https_port))
            for a in args
        ]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(self.args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)

    def __enter__(self):
        deadline = time.monotonic() + 120
        while True:
            assert self.process.poll() is None, f"{self.args} stopped:\n{self.output()}"
            try:
                httpx.get(f"{self.url}/static/favicon.svg", timeout=2)
                return self
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"{self.args} did not serve:\n{self.output()}"
                time.sleep(0.2)

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def test_the_wheel_carries_every_template_static_file_seed_file_catalogue_and_migration(installed):
    _venv, package = installed
    assert not package.is_relative_to(REPO)
    for name in ("templates", "static", "seed"):
        assert _files(package / name) == _files(REPO / name), name
    assert _files(package / "migrations") == _files(REPO / "pointsmart" / "migrations")
    assert (package / "translations/en/LC_MESSAGES/messages.mo").stat().st_size > 10_000
    # the counter's QR decoder, copied from node_modules by `make vendor-js` (not in git)
    wasm = package / "static" / WASM
    assert wasm.read_bytes()[:4] == b"\0asm" and wasm.read_bytes() == (REPO / "static" / WASM).read_bytes()
    assert (package / "static/vendor/zxing-wasm/zxing-reader.js").is_file()


def test_pointsmart_run_from_the_installed_package_migrates_loads_the_demo_once_and_serves(
    installed, database_url, tmp_path
):
    venv, _package = installed
    site = tmp_path / "village-pc"  # nowhere near the checkout
    site.mkdir()
    env = _clean_env(**({"DATABASE_URL": database_url} if database_url else {}))
    script = venv / ("Scripts/pointsmart.exe" if os.name == "nt" else "bin/pointsmart")
    with Server([script, "run", "--port", "{port}", "--https-port", "{https_port}"], site, env) as server:
        client = httpx.Client(base_url=server.url, timeout=10)
        login = client.get("/login")
        assert login.status_code == 200 and "登录" in login.text
        css = client.get("/static/css/app.css")
        assert css.status_code == 200 and css.content == (REPO / "static/css/app.css").read_bytes()
        english = client.get("/login", headers={"Accept-Language": "en"})
        assert "Log in" in english.text  # the compiled catalogue travelled too
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login.text).group(1)
        signed_in = client.post(
            "/login", data={"csrf_token": token, "username": "chair", "password": CHAIR_PASSWORD}
        )
        assert signed_in.status_code == 302, signed_in.text
        households = client.get("/households/")
        assert households.status_code == 200 and FIRST_HOUSEHOLD in households.text
        decoder = client.get(f"/static/{WASM}")  # served by the installed package, with its type
        assert decoder.status_code == 200 and decoder.headers["Content-Type"] == "application/wasm"
        assert decoder.content == (REPO / "static" / WASM).read_bytes()
        # HTTPS too, by the village's own CA, made on this first start
        ca = ssl.create_default_context(cafile=str(site / "instance" / "tls" / "ca.crt"))
        secure = httpx.get(f"https://127.0.0.1:{server.https_port}/login", verify=ca, timeout=10)
        assert secure.status_code == 200 and "登录" in secure.text
        assert client.get("/ca.crt").headers["content-type"] == "application/x-x509-ca-cert"
    first = server.output()
    assert "Running upgrade  -> 0001" in first and "(120 added now)" in first, first
    if database_url is None:
        assert (site / "instance" / "pointsmart.sqlite3").exists()

    with Server([script, "run", "--port", "{port}", "--https-port", "{https_port}"], site, env) as again:
        assert httpx.get(f"{again.url}/login").status_code == 200
    assert "(0 added now)" in again.output() and "Running upgrade" not in again.output()


def test_wsgi_py_serves_the_installed_package_to_a_wsgi_server(installed, tmp_path):
    venv, _package = installed
    site = tmp_path / "server"
    site.mkdir()
    shutil.copy(REPO / "wsgi.py", site)  # the file alone, beside an instance folder
    env = _clean_env()
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    with Server([python, "-m", "waitress", "--listen=127.0.0.1:{port}", "wsgi:app"], site, env) as server:
        page = httpx.get(f"{server.url}/login")
        assert page.status_code == 200 and "登录" in page.text
        assert httpx.get(f"{server.url}/static/js/app.js").status_code == 200
