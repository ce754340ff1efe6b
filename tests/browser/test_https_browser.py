"""The village over HTTPS in a real Chromium: with the village's CA trusted (an NSS database, as a phone
that installed it), the counter opens by a LAN name with no certificate error and in a secure context —
which the camera needs — and plain HTTP brings a browser there; over plain HTTP alone it is not secure."""

import pytest
from playwright.sync_api import Error as PlaywrightError

from ..live import serving
from ..tls_live import VILLAGE_HOST, chromium_trusting
from .conftest import TIMEOUT_MS, login, screenshot

SECURE = "() => ({secure: window.isSecureContext, protocol: location.protocol, host: location.hostname})"


def _tab(browser, base_url: str):
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def test_over_plain_http_by_a_lan_name_the_counter_is_not_a_secure_context(app, playwright, chair):
    """As the village was served before (waitress, plain HTTP): no camera for a phone."""
    with serving(app) as url, chromium_trusting(playwright, None) as browser:
        port = url.rsplit(":", 1)[1]
        context, page = _tab(browser, f"http://{VILLAGE_HOST}:{port}")
        login(page, chair)
        page.goto("/shop/counter")
        assert page.evaluate(SECURE) == {"secure": False, "protocol": "http:", "host": VILLAGE_HOST}
        context.close()


def test_with_the_village_ca_trusted_the_counter_is_served_over_https_in_a_secure_context(
    village_https, trusting_browser, chair
):
    context, page = _tab(trusting_browser, village_https.https_url)
    login(page, chair)
    response = page.goto("/shop/counter")
    assert response.ok and response.url == f"{village_https.https_url}/shop/counter"
    assert page.evaluate(SECURE) == {"secure": True, "protocol": "https:", "host": VILLAGE_HOST}
    assert response.security_details()["subjectName"]  # a real TLS connection, checked by Chromium

    # the address on an old bookmark or a card: plain HTTP brings the browser to HTTPS
    moved = page.goto(f"{village_https.http_url}/shop/counter")
    assert moved.url == f"{village_https.https_url}/shop/counter"
    assert page.evaluate(SECURE)["secure"] is True
    screenshot(page, "https-counter")
    context.close()


def test_without_the_village_ca_chromium_refuses_the_certificate(village_https, playwright):
    with chromium_trusting(playwright, None) as browser:
        context, page = _tab(browser, village_https.https_url)
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto("/login")
        context.close()
