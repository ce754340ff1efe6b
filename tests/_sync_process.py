"""Real processes for the sync tests: `pointsmart` commands, servers on loopback ports, a PostgreSQL schema.

Every process gets an environment built from scratch for its side (village or county): its own
``POINTSMART_INSTANCE`` folder, its own ``DATABASE_URL``, and nothing of the test run's own settings.
Servers write their output to a file (a pipe nobody reads would block them) and are always killed by
the ``with`` block that started them.
"""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from .conftest import pg_schema as conftest_pg_schema
from .conftest import require_postgresql

#: the installed console script of this virtualenv
POINTSMART = str(Path(sys.executable).parent / "pointsmart")
#: seconds a server gets to answer its first request
START_TIMEOUT = 30


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database, what sits in its WAL file included (a file copy misses it)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(instance: Path, database_url: str, **settings: str) -> dict:
    """The environment of one side: this run's PATH and such, none of its PointsMart settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("POINTSMART_") and name not in ("DATABASE_URL", "FLASK_APP", "CI")
    }
    instance.mkdir(parents=True, exist_ok=True)
    env.update(POINTSMART_INSTANCE=str(instance), DATABASE_URL=database_url, PYTHONUNBUFFERED="1")
    loopback = "127.0.0.1,localhost"  # a proxy of the machine running the tests must not see loopback calls
    env["NO_PROXY"] = env["no_proxy"] = ",".join(filter(None, (env.get("NO_PROXY"), loopback)))
    env.update(settings)
    return env


def run(env: dict, *args: str, timeout: float = 60, ok: bool = True) -> subprocess.CompletedProcess:
    """Run ``pointsmart ARGS`` to the end; with ``ok``, fail the test unless it exits 0."""
    done = subprocess.run(
        [POINTSMART, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if ok:
        assert done.returncode == 0, f"pointsmart {' '.join(args)} exited {done.returncode}:\n" + (
            done.stdout + done.stderr
        )
    return done


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1].strip()


def start(env: dict, *args: str, log: Path) -> subprocess.Popen:
    """Start ``pointsmart ARGS`` in the background, its output going to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [POINTSMART, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def kill(process: subprocess.Popen) -> None:
    """SIGKILL a process we started (no chance to clean up, like a power cut) and reap it."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


class Server:
    """``pointsmart serve`` on 127.0.0.1:``port``: started, killed and started again at will."""

    def __init__(self, env: dict, port: int, log: Path):
        self.env, self.port, self.log = env, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Server":
        return self.launch().wait_ready()

    def launch(self) -> "Server":
        """Start the process without waiting for it (start several, then :meth:`wait_ready` each)."""
        self.process = start(self.env, "serve", "--host", "127.0.0.1", "--port", str(self.port), log=self.log)
        return self

    def wait_ready(self) -> "Server":
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"server on {self.port} exited {self.process.returncode}:\n{self.output()}")
            try:
                httpx.get(self.url + "/api/v1/openapi.json", timeout=1.0, trust_env=False)
                return self
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail(f"server on {self.port} did not answer in {START_TIMEOUT}s:\n{self.output()}")
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None:
            kill(self.process)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def get(self, path: str, token: str) -> dict:
        response = httpx.get(
            self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, trust_env=False
        )
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, token: str, body: dict) -> dict:
        response = httpx.post(
            self.url + path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            trust_env=False,
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill()


@contextmanager
def pg_schema(prefix: str = "pm_sync"):
    """A fresh, empty PostgreSQL schema (skipped, or failed in CI, without PostgreSQL); dropped after."""
    require_postgresql()
    with conftest_pg_schema(prefix) as url:
        yield url


def wait_for(predicate, timeout: float, interval: float = 0.005, what: str = "condition"):
    """Poll ``predicate`` until it returns something true; return that, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def push_summary(output: str) -> dict:
    """The numbers of ``sync push``'s last line: pushed N records in B batches … R retries, W rewinds."""
    line = last_line(output)
    words = line.replace(";", " ").replace(",", " ").split()
    assert words[0] == "pushed", line

    def before(word: str) -> int:
        return int(words[words.index(word) - 1])

    return {
        "records": int(words[1]),
        "batches": before("batches"),
        "acked": int(words[words.index("up") + 2]),
        "waiting": before("waiting"),
        "retries": before("retries"),
        "rewinds": before("rewinds"),
    }


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
