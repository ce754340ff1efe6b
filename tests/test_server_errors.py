"""The suite's 5xx hook (conftest.py) sees every server error, from the test client and from a served
app alike; these tests mark that they expect one and check that it was seen."""

import httpx
import pytest
from flask import abort

from . import conftest
from .live import serving


def _boom():
    raise RuntimeError("boom")


@pytest.mark.allow_5xx
def test_a_5xx_answer_from_the_test_client_is_seen(app):
    app.add_url_rule("/busy", "busy", lambda: abort(503))
    assert app.test_client().get("/busy").status_code == 503
    assert any("/busy" in line and "503" in line for line in conftest._server_errors)


@pytest.mark.allow_5xx
def test_an_exception_in_a_served_app_is_seen(app):
    app.add_url_rule("/boom", "boom", _boom)
    with serving(app, threads=1) as base:
        assert httpx.get(f"{base}/boom").status_code == 500
    assert any("/boom" in line and "RuntimeError" in line for line in conftest._server_errors)


def test_an_unmarked_test_starts_with_no_server_errors_seen():
    assert conftest._server_errors == []
