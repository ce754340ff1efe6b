"""HTTPS on the village LAN: the village's own CA, its server certificate, renewal, the CLI, the
``/ca.crt`` download, plain HTTP moving browsers to HTTPS, and both served for real by cheroot."""

import datetime as dt
import ipaddress
import os
import socket
import ssl
import time

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from werkzeug.test import Client
from werkzeug.wrappers import Response

from pointsmart import tls
from pointsmart.cli import serve as serve_module

from .conftest import PASSWORD
from .tls_live import serving_https

LAN = ipaddress.IPv4Address("192.168.1.20")


def _cert(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _verify(folder, name: str, when: dt.datetime | None = None):
    """Verify the server certificate for ``name`` against the CA alone, as a phone that installed it would."""
    ca, server = _cert(folder / "ca.crt"), _cert(folder / "server.crt")
    builder = PolicyBuilder().store(Store([ca])).time(when or dt.datetime.now(dt.UTC))
    try:
        subject = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        subject = x509.DNSName(name)
    return builder.build_server_verifier(subject).verify(server, [])


# --- the certificates -------------------------------------------------------------------------------


def test_the_server_certificate_covers_the_lan_addresses_host_name_localhost_and_given_names(tmp_path):
    folder = tmp_path / "tls"
    ready = tls.ensure(folder, village="金家湾村", extra=["village.lan"], addresses=[LAN])
    assert ready.created_ca and ready.renewed == "no server certificate"
    names = tls.cert_names(_cert(folder / "server.crt"))
    host = tls.dns_name(socket.gethostname())
    assert {"localhost", "village.lan", host} <= names.dns
    assert {LAN, ipaddress.IPv4Address("127.0.0.1")} <= names.ips
    for name in ("localhost", "village.lan", host, "192.168.1.20", "127.0.0.1"):
        _verify(folder, name)  # a chain a browser that trusts the CA accepts, for each name
    with pytest.raises(VerificationError):
        _verify(folder, "192.168.1.21")
    ca = _cert(folder / "ca.crt")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert "金家湾村" in ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > dt.timedelta(days=9 * 365)
    server = _cert(folder / "server.crt")
    assert server.not_valid_after_utc - server.not_valid_before_utc <= dt.timedelta(days=398)


def test_the_ca_signs_nothing_for_a_public_name_even_with_its_key(tmp_path):
    """Name constraints: a phone trusting the village CA trusts it for the LAN only."""
    folder = tmp_path / "tls"
    tls.ensure(folder, addresses=[LAN])
    # names asked for after the CA was made: the LAN's kinds of names only
    tls.ensure(folder, extra=["bank.example.com", "8.8.8.8", "till.lan", "192.168.9.9"], addresses=[LAN])
    names = tls.cert_names(_cert(folder / "server.crt"))
    assert "bank.example.com" not in names.dns and ipaddress.ip_address("8.8.8.8") not in names.ips
    assert "till.lan" in names.dns and ipaddress.ip_address("192.168.9.9") in names.ips
    # forged with the stolen key: a verifier that knows name constraints refuses it
    ca_cert, ca_key = tls.load_ca(folder)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bank.example.com")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("bank.example.com")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    verifier = PolicyBuilder().store(Store([ca_cert])).build_server_verifier(x509.DNSName("bank.example.com"))
    with pytest.raises(VerificationError):
        verifier.verify(forged, [])


@pytest.mark.skipif(os.name == "nt", reason="Windows: the instance folder's access list guards the keys")
def test_the_keys_are_readable_by_the_servers_user_only(tmp_path):
    folder = tmp_path / "tls"
    old = os.umask(0o022)
    try:
        tls.ensure(folder, addresses=[LAN])
    finally:
        os.umask(old)
    for name in ("ca.key", "server.key"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name
    assert (folder / "ca.crt").stat().st_mode & 0o044  # the certificate is for everyone
    assert not list(folder.glob(".*"))  # no temporary files left behind


def test_the_server_certificate_is_renewed_before_it_expires_and_when_the_addresses_change(tmp_path):
    folder = tmp_path / "tls"
    tls.ensure(folder, addresses=[LAN])
    first = _cert(folder / "server.crt")
    ca_print = tls.fingerprint(_cert(folder / "ca.crt"))

    again = tls.ensure(folder, addresses=[LAN])
    assert again.renewed is None and not again.created_ca
    assert _cert(folder / "server.crt").serial_number == first.serial_number

    # a month and a day before it expires: still good; a day later: renewed, by the same CA
    month = tls.RENEW_BEFORE
    assert (
        tls.ensure(
            folder, addresses=[LAN], now=first.not_valid_after_utc - month - dt.timedelta(days=1)
        ).renewed
        is None
    )
    soon = tls.ensure(folder, addresses=[LAN], now=first.not_valid_after_utc - month + dt.timedelta(days=1))
    assert soon.renewed == "expires soon"
    second = _cert(folder / "server.crt")
    assert second.serial_number != first.serial_number
    assert tls.fingerprint(_cert(folder / "ca.crt")) == ca_print  # the phones keep what they installed
    _verify(folder, "192.168.1.20")

    moved = tls.ensure(folder, addresses=[ipaddress.IPv4Address("10.0.0.7")])  # a new DHCP lease
    assert moved.renewed == "the PC's names or addresses changed"
    _verify(folder, "10.0.0.7")
    # an address gone is no reason to renew: the certificate still covers the one there is
    assert tls.ensure(folder, addresses=[]).renewed is None

    # the running server's check never replaces a CA gone from under it (the phones trust the old one)
    (folder / "ca.key").rename(folder / "ca.key.away")
    with pytest.raises(FileNotFoundError):
        tls.ensure(folder, addresses=[LAN], new_ca=False)
    (folder / "ca.key.away").rename(folder / "ca.key")

    # an unreadable or foreign server certificate is replaced
    (folder / "server.crt").write_text("not a certificate")
    assert tls.ensure(folder, addresses=[LAN]).renewed == "no server certificate"
    other = tmp_path / "other"
    tls.ensure(other, addresses=[LAN])
    (folder / "server.crt").write_bytes((other / "server.crt").read_bytes())
    assert tls.ensure(folder, addresses=[LAN]).renewed == "signed by another CA"


def test_host_names_become_dns_names_or_are_left_out():
    assert tls.dns_name("DESKTOP-AB12CD") == "desktop-ab12cd"
    assert tls.dns_name("村委会").startswith("xn--")  # IDNA, as browsers send it
    for bad in ("a_b", "-x", "x" * 64, "", "a..b"):
        assert tls.dns_name(bad) is None, bad


# --- the command line -------------------------------------------------------------------------------


def test_tls_init_and_status(app):
    runner = app.test_cli_runner()
    assert "No certificate authority" in runner.invoke(args=["tls", "status"]).output
    first = runner.invoke(args=["tls", "init", "--name", "village.lan", "--name", "192.168.5.5"])
    assert first.exit_code == 0, first.output
    assert "Created the village's certificate authority" in first.output
    assert "village.lan" in first.output and "192.168.5.5" in first.output
    folder = tls.folder(app)
    print_ = tls.fingerprint(_cert(folder / "ca.crt"))
    assert print_ in first.output and "测试村" in first.output

    status = runner.invoke(args=["tls", "status"])
    assert status.exit_code == 0 and print_ in status.output and "will be renewed" not in status.output
    again = runner.invoke(args=["tls", "init"])
    assert "still good" in again.output and "Created" not in again.output
    assert tls.fingerprint(_cert(folder / "ca.crt")) == print_  # the CA is made once
    assert "village.lan" in tls.cert_names(_cert(folder / "server.crt")).dns  # the name was kept

    new = runner.invoke(args=["tls", "init", "--new-ca"])
    assert "install it again on every phone" in new.output
    assert tls.fingerprint(_cert(folder / "ca.crt")) != print_
    _verify(folder, "village.lan")


# --- /ca.crt and the settings card ------------------------------------------------------------------


def test_the_ca_certificate_is_served_to_anyone_for_a_phone_to_install(app, client):
    assert client.get("/ca.crt").status_code == 404  # no CA yet
    tls.ensure(tls.folder(app), addresses=[LAN])
    response = client.get("/ca.crt")
    assert response.status_code == 200
    assert response.mimetype == "application/x-x509-ca-cert"
    assert "attachment" in response.headers["Content-Disposition"]
    assert x509.load_der_x509_certificate(response.data) == _cert(tls.folder(app) / "ca.crt")
    saved = client.get("/ca.crt?file=1")
    assert saved.mimetype == "application/octet-stream" and saved.data == response.data
    # never the key
    assert b"PRIVATE" not in response.data and client.get("/ca.key").status_code == 404


def test_a_county_serves_no_village_ca(county_app):
    tls.ensure(tls.folder(county_app), addresses=[LAN])
    assert county_app.test_client().get("/ca.crt").status_code == 404


def test_the_settings_page_shows_the_phone_steps_the_qr_and_the_fingerprint(app, login_as):
    chair = login_as("chair")
    page = chair.get("/settings/").get_data(as_text=True)
    assert 'id="https-missing"' in page and "pointsmart tls init" in page
    tls.ensure(tls.folder(app), addresses=[LAN])
    page = chair.get("/settings/").get_data(as_text=True)
    assert "设置 → 安全 → 加密与凭据 → 安装证书 → CA 证书" in page
    assert tls.fingerprint(_cert(tls.folder(app) / "ca.crt")) in page
    assert 'src="data:image/svg+xml;base64,' in page
    assert "http://pointsmart.test/ca.crt" in page  # POINTSMART_BASE_URL's host, over plain HTTP
    assert "https://pointsmart.test:8443/" in page
    for role in ("shopkeeper", "panel"):
        assert login_as(role).get("/settings/").status_code in (302, 403, 404)


def test_the_download_address_is_one_a_phone_can_reach(make_app, make_user, app):
    """Asked on the PC itself (127.0.0.1), the QR names the PC's LAN address, not 127.0.0.1."""
    lan = make_app(POINTSMART_BASE_URL="", POINTSMART_HTTP_PORT=8000, POINTSMART_HTTPS_PORT=8443)
    tls.ensure(tls.folder(lan), addresses=[LAN])
    _user_id, name = make_user("chair")
    for host, download, secure in (
        ("127.0.0.1:8000", "http://192.168.1.20:8000/ca.crt", "https://192.168.1.20:8443/"),
        ("village.lan:8000", "http://village.lan:8000/ca.crt", "https://village.lan:8443/"),
    ):
        client, base = lan.test_client(), f"http://{host}"
        signed_in = client.post("/login", data={"username": name, "password": PASSWORD}, base_url=base)
        assert signed_in.status_code == 302
        page = client.get("/settings/", base_url=base).get_data(as_text=True)
        assert download in page and secure in page, host


# --- plain HTTP beside HTTPS ------------------------------------------------------------------------


def _plain(environ, start_response):
    return Response("plain")(environ, start_response)


BROWSER = {"Upgrade-Insecure-Requests": "1"}


def test_plain_http_moves_browsers_page_requests_to_https():
    client = Client(tls.redirect_to_https(_plain, 8443))
    moved = client.get("/shop/counter?q=%E9%A9%AC", headers=BROWSER, base_url="http://192.168.1.20:8000")
    assert moved.status_code == 307
    assert moved.headers["Location"] == "https://192.168.1.20:8443/shop/counter?q=%E9%A9%AC"
    assert "Strict-Transport-Security" not in moved.headers
    assert client.get("/", headers=BROWSER, base_url="http://village.lan").headers["Location"] == (
        "https://village.lan:8443/"
    )
    assert (
        Client(tls.redirect_to_https(_plain, 443))
        .get("/x", headers=BROWSER, base_url="http://village.lan")
        .headers["Location"]
        == "https://village.lan/x"
    )


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.1:8000",
        "http://127.1.2.3:8000",
        "http://localhost:8000",
        "http://[::1]:8000",
        "http://LOCALHOST",
        "http://pc.localhost:8000",
    ],
)
def test_the_pc_itself_is_never_moved_to_https(base):
    # loopback is a secure context already: the chair on the village PC must reach 设置 (which explains
    # the certificate) without a certificate warning first
    client = Client(tls.redirect_to_https(_plain, 8443))
    for path in ("/", "/settings/", "/shop/counter"):
        page = client.get(path, headers=BROWSER, base_url=base)
        assert page.status_code == 200 and page.get_data(as_text=True) == "plain", (base, path)


@pytest.mark.parametrize(
    "path",
    [
        *("/ca.crt", "/healthz", "/api/v1/households", "/static/css/app.css"),
        *("/c/abcdef", "/notice", "/notice/abc", "/honour", "/lang/en"),
    ],
)
def test_what_must_stay_reachable_over_plain_http_is_not_moved(path):
    client = Client(tls.redirect_to_https(_plain, 8443))
    assert client.get(path, headers=BROWSER, base_url="http://192.168.1.20:8000").status_code == 200


def test_scripts_forms_and_odd_hosts_are_not_moved():
    client = Client(tls.redirect_to_https(_plain, 8443))
    assert client.get("/login").status_code == 200  # no Upgrade-Insecure-Requests: not a browser page
    assert client.post("/login", headers=BROWSER).status_code == 200  # a posted form is answered
    assert client.get("/login", headers={**BROWSER, "Host": "evil.example/x"}).status_code == 200
    assert client.get("/api", headers=BROWSER).status_code == 200
    lan = "http://192.168.1.20:8000"
    assert (
        client.get("/cards", headers=BROWSER, base_url=lan).status_code == 307
    )  # /c/ is a family card, /cards is not


# --- served for real --------------------------------------------------------------------------------


def _trusting(ca_file) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def test_cheroot_serves_https_and_plain_http_with_the_waitress_limits(app):
    with serving_https(app) as village:
        https = f"https://127.0.0.1:{village.https_port}"
        ok = httpx.get(f"{https}/healthz", verify=_trusting(village.ca_file))
        assert ok.status_code == 200 and ok.headers["Server"] == "PointsMart"
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the village CA
            httpx.get(f"{https}/healthz")
        too_big = httpx.post(
            f"{https}/login",
            content=b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
            verify=_trusting(village.ca_file),
        )
        assert too_big.status_code == 413
        plain = f"http://127.0.0.1:{village.http_port}"
        assert httpx.get(f"{plain}/login").status_code == 200
        # the PC itself (loopback) is a secure context already: not moved, no certificate warning
        assert httpx.get(f"{plain}/login", headers=BROWSER).status_code == 200
        moved = httpx.get(f"{plain}/login", headers={**BROWSER, "Host": f"village.lan:{village.http_port}"})
        assert (
            moved.status_code == 307
            and moved.headers["Location"] == f"https://village.lan:{village.https_port}/login"
        )
        assert httpx.get(f"{plain}/ca.crt", headers=BROWSER).status_code == 200
        assert app.config["POINTSMART_HTTPS_PORT"] == village.https_port


def test_the_running_server_takes_a_renewed_certificate_without_a_restart(app, monkeypatch):
    monkeypatch.setattr(serve_module, "RENEWAL_CHECK_S", 0.2)
    with serving_https(app) as village:

        def served_names():
            context = _trusting(village.ca_file)
            with (
                socket.create_connection(("127.0.0.1", village.https_port), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname="village.lan") as tls_socket,
            ):
                der = tls_socket.getpeercert(binary_form=True)
            return tls.cert_names(x509.load_der_x509_certificate(der)).dns

        assert "shop.lan" not in served_names()
        tls.add_names(tls.folder(app), ["shop.lan"])  # as if the PC got a new name or address
        deadline = time.monotonic() + 10
        while "shop.lan" not in served_names():
            assert time.monotonic() < deadline, "the renewed certificate was not served"
            time.sleep(0.1)


def test_a_log_in_over_https_keeps_its_cookie_off_plain_http(app, make_user):
    _user_id, name = make_user("chair")
    for base, secure in (("https://village.lan:8443", True), ("http://village.lan:8000", False)):
        client = app.test_client()
        signed_in = client.post("/login", data={"username": name, "password": PASSWORD}, base_url=base)
        assert signed_in.status_code == 302
        cookie = signed_in.headers["Set-Cookie"]
        assert ("; Secure" in cookie) is secure, (base, cookie)
        assert client.get("/settings/", base_url=base).status_code == 200  # logged in, either way


def test_serve_picks_https_on_a_village_and_plain_http_on_a_county(app, county_app, monkeypatch):
    monkeypatch.delenv("HTTPS_PORT", raising=False)
    assert serve_module.https_port_for(app, None) == 8443
    assert serve_module.https_port_for(county_app, None) == 0
    assert serve_module.https_port_for(app, 0) == 0
    monkeypatch.setenv("HTTPS_PORT", "9443")
    assert serve_module.https_port_for(app, None) == 9443


def test_run_says_which_address_the_pc_opens_and_which_the_phones_open():
    lan = serve_module.serving_message("0.0.0.0", 8000, 8443, addresses=["192.168.1.20"])  # noqa: S104
    assert "This PC: open http://127.0.0.1:8000/" in lan
    assert "http://192.168.1.20:8000/ca.crt" in lan and "then open https://192.168.1.20:8443/" in lan
    alone = serve_module.serving_message("127.0.0.1", 8000, 8443)
    assert "This PC: open http://127.0.0.1:8000/" in alone
    assert "HOST=0.0.0.0" in alone and "https://<LAN IP>:8443/" in alone


def test_the_phones_are_shown_the_lan_ip_addresses_first_never_a_bare_host_name(app, login_as):
    from pointsmart.settings.views import phone_addresses

    names = tls.Names(
        frozenset({"localhost", "vm", "village.lan"}),
        frozenset(ipaddress.ip_address(a) for a in ("127.0.0.1", "192.0.2.2", "192.168.1.20", "169.254.3.4")),
    )
    assert phone_addresses(names, 8443) == [
        "https://192.168.1.20:8443/",
        "https://192.0.2.2:8443/",
        "https://village.lan:8443/",
    ]
    tls.ensure(tls.folder(app), addresses=[LAN])
    page = login_as("chair").get("/settings/").get_data(as_text=True)
    shown = page.split('class="https-names">', 1)[1].split("</dd>", 1)[0]
    assert shown.startswith(f"https://{LAN}:8443/")
    host = tls.dns_name(socket.gethostname())
    assert not host or "." in host or f"//{host}:" not in shown  # a bare host name: not for phones
