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
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
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


@pytest.fixture
def host_name(monkeypatch):
    """This PC's host name, as Windows names a new PC (a single label no top-level domain can be)."""
    monkeypatch.setattr(tls.socket, "gethostname", lambda: "DESKTOP-AB12CD")
    return "desktop-ab12cd"


def _forge(ca_key, ca_cert, name: str, days: int = 30) -> x509.Certificate:
    """A server certificate for ``name`` as a thief with ``ca.key`` would make it: complete, with every
    extension a verifier asks for, so that only the CA's name constraints stand in its way."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    try:
        san = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        san = x509.DNSName(name)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _verify_forged(ca_cert, forged, name: str):
    try:
        subject = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        subject = x509.DNSName(name)
    return PolicyBuilder().store(Store([ca_cert])).build_server_verifier(subject).verify(forged, [])


def _constraints(ca: x509.Certificate):
    trees = ca.extensions.get_extension_for_class(x509.NameConstraints).value.permitted_subtrees
    return (
        {t.value for t in trees if isinstance(t, x509.DNSName)},
        {t.value for t in trees if isinstance(t, x509.IPAddress)},
    )


def test_the_server_certificate_covers_the_lan_addresses_host_name_localhost_and_given_names(
    tmp_path, host_name
):
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
    # forged with the stolen key, complete: the same forgery a verifier accepts for a LAN name, it
    # refuses for a public one, on the name constraints alone
    ca_cert, ca_key = tls.load_ca(folder)
    for lan in ("till.lan", "nas.home.arpa", "192.168.9.9", "10.1.2.3", "fd00::7"):
        _verify_forged(ca_cert, _forge(ca_key, ca_cert, lan), lan)
    for public in ("bank.example.com", "www.alipay.com", "8.8.8.8", "2001:db8::1"):
        with pytest.raises(VerificationError):
            _verify_forged(ca_cert, _forge(ca_key, ca_cert, public), public)


@pytest.mark.parametrize("given", ["com", "cn", "evil.com", "8.8.8.8", "shop"])
def test_names_given_when_the_ca_is_made_never_widen_it(app, host_name, given):
    """``tls init --name com`` once made a CA that signs for www.alipay.com: now the CA's constraints
    are the LAN's alone, however it is made, and a public ``--name`` is refused."""
    runner = app.test_cli_runner()
    folder = tls.folder(app)
    refused = runner.invoke(args=["tls", "init", "--name", given])
    assert refused.exit_code == 2 and "--name" in refused.output and given in refused.output
    assert not (folder / "ca.crt").exists() and not (folder / "names.txt").exists()

    tls.ensure(folder, extra=[given, "till.lan"], addresses=[LAN])  # the library leaves it out too
    ca_cert, ca_key = tls.load_ca(folder)
    dns, networks = _constraints(ca_cert)
    assert dns == {"localhost", "lan", "local", "home.arpa", "internal", host_name}
    assert networks == set(tls.PRIVATE_NETWORKS)
    assert tls.beyond_lan(ca_cert) == []
    for public in ("www.alipay.com", "evil.com", "8.8.8.8", "x.shop"):
        with pytest.raises(VerificationError):
            _verify_forged(ca_cert, _forge(ca_key, ca_cert, public), public)
    _verify_forged(ca_cert, _forge(ca_key, ca_cert, f"till.{host_name}"), f"till.{host_name}")
    assert runner.invoke(args=["tls", "init", "--new-ca", "--name", given]).exit_code == 2
    assert tls.fingerprint(_cert(folder / "ca.crt")) == tls.fingerprint(ca_cert)  # not replaced


def test_a_host_name_a_top_level_domain_could_be_stays_out_of_the_ca(tmp_path, monkeypatch):
    for host in ("shop", "cn", "village", "xn--fiqs8s", "pc.example.com"):
        monkeypatch.setattr(tls.socket, "gethostname", lambda host=host: host)
        folder = tmp_path / host
        tls.ensure(folder, addresses=[LAN])
        dns, _networks = _constraints(_cert(folder / "ca.crt"))
        assert dns == set(tls.LAN_SUFFIXES), host
        assert host not in tls.cert_names(_cert(folder / "server.crt")).dns
        assert tls.ensure(folder, addresses=[LAN]).renewed is None  # and that is stable
    assert tls.host_root("DESKTOP-AB12CD") == "desktop-ab12cd" and tls.host_root("till-2") == "till-2"


def test_a_ca_made_by_an_earlier_version_is_flagged_and_its_public_names_dropped(app, host_name):
    """A CA whose constraints hold ``com`` (made before this fix) cannot be narrowed without the
    phones installing a new one: ``tls status`` says so, and the server certificate loses the names."""
    folder = tls.folder(app)
    tls.ensure(folder, addresses=[LAN])
    ca_cert, ca_key = tls.load_ca(folder)
    wide = (
        x509.CertificateBuilder()
        .subject_name(ca_cert.subject)
        .issuer_name(ca_cert.subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ca_cert.not_valid_before_utc)
        .not_valid_after(ca_cert.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[x509.DNSName("lan"), x509.DNSName("com")]
                + [x509.IPAddress(n) for n in tls.PRIVATE_NETWORKS]
                + [x509.IPAddress(ipaddress.ip_network("8.8.8.8/32"))],
                excluded_subtrees=None,
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.crt").write_bytes(wide.public_bytes(serialization.Encoding.PEM))
    (folder / "server.crt").write_bytes(
        _forge(ca_key, wide, "www.alipay.com", days=300).public_bytes(serialization.Encoding.PEM)
    )
    (folder / "names.txt").write_text("www.alipay.com\n999.1.1.1\ntill.lan\n", encoding="utf-8")
    status = app.test_cli_runner().invoke(args=["tls", "status"]).output
    assert "WARNING" in status and "com, 8.8.8.8/32" in status and "--new-ca" in status
    assert "names.txt: www.alipay.com is left out (not a LAN name" in status
    assert "names.txt: 999.1.1.1 is left out (looks like an IPv4 address" in status
    assert tls.ensure(folder, addresses=[LAN]).renewed == "it covers names beyond the LAN"
    names = tls.cert_names(_cert(folder / "server.crt"))
    assert "www.alipay.com" not in names.dns and "till.lan" in names.dns
    assert tls.ensure(folder, addresses=[LAN]).renewed is None
    tls.add_names(folder, ["pos.lan"])  # what is refused stays listed until --clear-names
    assert tls.refused_names(folder)[0][0] == "www.alipay.com"
    assert tls.extra_names(folder) == ["till.lan", "pos.lan"]
    new = app.test_cli_runner().invoke(args=["tls", "init", "--new-ca", "--clear-names"])
    assert new.exit_code == 0 and "WARNING" not in new.output and "left out" not in new.output
    assert (folder / "names.txt").read_text() == ""


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
    for bad in ("a_b", "-x", "x" * 64, "", "a..b", "999.1.1.1", "127.1", "0x7f.1"):
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


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("*.village.lan", "wildcards are not supported"),
        ("*", "wildcards are not supported"),
        ("a" * 60 + "." + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + "." + "e" * 55 + ".lan", "253"),
        ("x" * 64 + ".lan", "longer than 63"),
        ("exa mple.lan", "only letters, digits, hyphens and dots"),
        ("till_1.lan", "only letters, digits, hyphens and dots"),
        ("-bad-.lan", "starts or ends with a hyphen"),
        ("a..lan", "empty label"),
        ("999.1.1.1", "looks like an IPv4 address but is not one"),
        ("192.168.1.256", "looks like an IPv4 address but is not one"),
        ("127.1", "looks like an IPv4 address but is not one"),
        ("0x7f.1", "looks like an IPv4 address but is not one"),
        ("fe80::1::2", "not a valid IPv6 address"),
        ("fe80::1%eth0", "give fe80::1"),
        ("0.0.0.0", "not a private, loopback or link-local address"),  # noqa: S104
        ("www.alipay.com", "not a LAN name"),
        ("desktop-ab12cd.example", "not a LAN name"),
        ("", "empty"),
    ],
)
def test_a_bad_name_is_a_usage_error_saying_why(app, host_name, given, why):
    """Before, these were dropped with exit 0 or put into the certificate as DNS names."""
    result = app.test_cli_runner().invoke(args=["tls", "init", "--name", "till.lan", "--name", given])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--name'" in result.output and why in result.output
    assert repr(given)[:40].strip("'") in result.output.replace("\n", "")
    folder = tls.folder(app)
    assert not (folder / "names.txt").exists() and not (folder / "ca.crt").exists()  # nothing done


def test_odd_but_good_names_are_kept_as_the_certificate_carries_them_and_stay_good(app, host_name):
    """What is wanted and what the certificate holds compare equal: no reissue at every start."""
    runner = app.test_cli_runner()
    given = ["Till.LAN.", "村委会.lan", "::FFFF:192.168.1.7", "FE80::0:1", "fd00::7", f"pos.{host_name}"]
    first = runner.invoke(args=["tls", "init", *(a for name in given for a in ("--name", name))])
    assert first.exit_code == 0, first.output
    folder = tls.folder(app)
    kept = (folder / "names.txt").read_text(encoding="utf-8").split()
    assert kept == [
        "till.lan",
        "xn--6oq54x7zk.lan",
        "192.168.1.7",
        "fe80::1",
        "fd00::7",
        "pos.desktop-ab12cd",
    ]
    names = tls.cert_names(_cert(folder / "server.crt"))
    assert set(kept) <= {*names.dns, *map(str, names.ips)}
    assert "still good" in runner.invoke(args=["tls", "init"]).output
    assert tls.ensure(folder).renewed is None
    for name in ("fe80::1", "192.168.1.7", "xn--6oq54x7zk.lan"):
        _verify(folder, name)


def test_a_name_under_a_host_name_the_ca_was_not_made_for_is_refused(app, monkeypatch):
    monkeypatch.setattr(tls.socket, "gethostname", lambda: "DESKTOP-AB12CD")
    runner = app.test_cli_runner()
    assert (
        runner.invoke(args=["tls", "init", "--name", "pos.desktop-ab12cd", "--name", "1.2.3.4."]).exit_code
        == 2
    )
    assert (
        runner.invoke(args=["tls", "init", "--name", "pos.desktop-ab12cd", "--name", "10.0.0.9."]).exit_code
        == 0
    )
    monkeypatch.setattr(tls.socket, "gethostname", lambda: "DESKTOP-ZZ99")  # the PC renamed
    refused = runner.invoke(args=["tls", "init", "--name", "pos.desktop-zz99"])
    assert (
        refused.exit_code == 2 and "'pos.desktop-zz99': this village's CA does not cover it" in refused.output
    )
    assert "--new-ca" in refused.output and "pos.desktop-zz99" not in tls.extra_names(tls.folder(app))
    made = runner.invoke(args=["tls", "init", "--new-ca", "--name", "pos.desktop-zz99"])
    assert made.exit_code == 0, made.output
    _verify(tls.folder(app), "pos.desktop-zz99")
    _verify(tls.folder(app), "10.0.0.9")


def test_a_scoped_address_kept_by_an_earlier_version_no_longer_reissues_at_every_start(tmp_path):
    folder = tmp_path / "tls"
    folder.mkdir()
    (folder / "names.txt").write_text("fe80::1%eth0\n", encoding="utf-8")
    assert tls.ensure(folder, addresses=[LAN]).renewed == "no server certificate"
    assert ipaddress.ip_address("fe80::1") in tls.cert_names(_cert(folder / "server.crt")).ips
    assert tls.ensure(folder, addresses=[LAN]).renewed is None
    assert tls.ensure(folder, addresses=[ipaddress.ip_address("fe80::1%eth0"), LAN]).renewed is None
    _verify(folder, "fe80::1")


def test_kept_names_can_be_cleared_or_replaced(app):
    runner = app.test_cli_runner()
    folder = tls.folder(app)
    assert runner.invoke(args=["tls", "init", "--name", "a.lan", "--name", "b.lan"]).exit_code == 0
    assert {"a.lan", "b.lan"} <= tls.cert_names(_cert(folder / "server.crt")).dns
    ca_print = tls.fingerprint(_cert(folder / "ca.crt"))

    replaced = runner.invoke(args=["tls", "init", "--clear-names", "--name", "c.lan"])
    assert replaced.exit_code == 0, replaced.output
    assert "Names kept for the certificate: c.lan" in replaced.output
    assert "Server certificate: issued (" in replaced.output
    assert tls.extra_names(folder) == ["c.lan"]
    names = tls.cert_names(_cert(folder / "server.crt")).dns
    assert "c.lan" in names and not {"a.lan", "b.lan"} & names
    assert tls.fingerprint(_cert(folder / "ca.crt")) == ca_print  # the phones keep the CA
    assert "still good" in runner.invoke(args=["tls", "init"]).output

    cleared = runner.invoke(args=["tls", "init", "--clear-names"])
    assert (
        "Names kept for the certificate: none" in cleared.output
        and "issued (names dropped: c.lan)" in cleared.output
    )
    assert tls.extra_names(folder) == [] and "c.lan" not in tls.cert_names(_cert(folder / "server.crt")).dns
    with pytest.raises(tls.NameRefused):
        tls.add_names(folder, ["d.lan", "evil.com"])
    assert tls.extra_names(folder) == []  # nothing kept of a list with a bad name


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
