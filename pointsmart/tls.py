"""HTTPS on the village LAN without an IT department: a private certificate authority per village.

A phone's camera needs a secure context, so the village serves HTTPS itself
(:mod:`pointsmart.cli.serve`). No public authority will sign for ``192.168.1.20``, so each village
makes its own: a CA whose certificate the shop's phones install once (the chair's settings page
shows how), and a server certificate it signs for this PC's LAN addresses and names, which the
server renews by itself — before it expires, and when the PC's addresses change — without the
phones doing anything again.

Files, in ``<instance>/tls/``:

| file | what | who may read it |
| --- | --- | --- |
| ``ca.key`` | the CA's private key: it signs for the names below | the server's user only (0600) |
| ``ca.crt`` | the CA's certificate (PEM): what phones install, also served at ``/ca.crt`` | anyone |
| ``server.key`` | the server certificate's private key | the server's user only (0600) |
| ``server.crt`` | the server certificate (PEM), renewed here | anyone |
| ``names.txt`` | more names or addresses to cover, one a line (``tls init --name``) | anyone |

On Windows ``chmod`` only sets the read-only flag: the keys are as private as the instance folder's
access list makes them (a folder in the server user's own profile is readable by that user and the
administrators only). The CA is name-constrained: even a stolen ``ca.key`` signs nothing a phone
accepts for a public name — only private, loopback and link-local addresses, ``localhost`` and the
LAN's own names (``.lan``, ``.local``, ``.home.arpa``, ``.internal``), and this PC's host name when it
is a single label that cannot be a top-level domain (``DESKTOP-AB12CD``; not ``shop``, which is one).
Names given at ``tls init --name`` never widen it: a name or address the CA cannot sign is refused there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import has_request_context, request
from flask.sessions import SecureCookieSessionInterface

#: how long the CA lasts: phones install it once; a new CA means installing again on every phone
CA_DAYS = 10 * 365
#: how long a server certificate lasts (under Apple's 398-day limit for TLS server certificates)
SERVER_DAYS = 397
#: a server certificate with less than this left is renewed (at start and by the server's hourly check)
RENEW_BEFORE = dt.timedelta(days=30)

#: the LAN names any village may use; a CA constraint on a name covers the name and its subdomains
LAN_SUFFIXES = ("localhost", "lan", "local", "home.arpa", "internal")
#: the addresses a village's CA may sign for: private, shared (carrier-grade NAT), link-local, loopback
PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "127.0.0.0/8",
        "fc00::/7",  # IPv6 unique local
        "fe80::/10",  # IPv6 link-local
        "::1/128",
    )
)

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")
#: a last label a browser reads as a number, so the whole host as an IPv4 address (WHATWG URL)
_NUMERIC_LABEL = re.compile(r"^([0-9]+|0x[0-9a-f]*)$")


def folder(app) -> Path:
    return Path(app.instance_path) / "tls"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- the PC's names ---------------------------------------------------------------------------------


def dns_name(name: str) -> str | None:
    """``name`` as a certificate's DNS name (lower case, ASCII), or None if it cannot be one."""
    name = name.strip().rstrip(".").lower()
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if not _DNS_NAME.match(name) or _NUMERIC_LABEL.match(name.rsplit(".", 1)[-1]):
        return None
    return name


class NameRefused(ValueError):
    """A name or address the server certificate cannot carry; the message says why."""


def _unscoped(address):
    """An IPv6 address without its zone (``fe80::1%eth0`` → ``fe80::1``): a certificate has no zones."""
    if address.version == 6 and address.scope_id:
        return ipaddress.IPv6Address(str(address).split("%", 1)[0])
    if address.version == 6 and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_private(address) -> bool:
    return any(address in n for n in PRIVATE_NETWORKS if n.version == address.version)


def host_root(host: str | None = None) -> str | None:
    """This PC's host name as a name the CA may sign for (it and names under it), or None.

    Only a single label that no top-level domain can be: top-level domains are letters only (or IDNA
    ``xn--``), so ``desktop-ab12cd`` may and ``shop``, ``cn`` or ``village`` may not — a CA allowed
    ``shop`` would sign for every ``*.shop`` site. A host name under a LAN suffix is covered already.
    """
    name = dns_name(socket.gethostname() if host is None else host)
    if not name or "." in name or name.startswith("xn--") or not re.search(r"[0-9-]", name):
        return None
    return name


def lan_roots(host: str | None = None) -> tuple[str, ...]:
    """The DNS names (each with the names under it) a village's CA may sign for."""
    root = host_root(host)
    return LAN_SUFFIXES + ((root,) if root and root not in LAN_SUFFIXES else ())


def _under(name: str, roots) -> bool:
    return any(name == r or name.endswith("." + r) for r in roots)


def check_name(item: str, host: str | None = None) -> str:
    """``item`` (a ``tls init --name``) as the server certificate carries it, or :class:`NameRefused`.

    An address comes back in its canonical form and must be private, loopback or link-local; a name
    comes back lower case, IDNA-encoded, and must be under a LAN suffix (or this PC's host name): the
    village's CA signs nothing else, so anything else would be left out of the certificate unseen.
    """
    text = item.strip()
    text = text[:-1] if text.endswith(".") else text  # one final dot: the root, as in ``till.lan.``
    if not text:
        raise NameRefused("empty")
    if "%" in text:
        bare, zone = text.split("%", 1)
        try:
            ipaddress.IPv6Address(bare)
        except ValueError:
            raise NameRefused("only letters, digits, hyphens and dots may be in a host name") from None
        raise NameRefused(f"a certificate cannot carry an address's zone (%{zone}): give {bare}")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if address is not None:
        address = _unscoped(address)
        if not is_private(address):
            raise NameRefused(
                "not a private, loopback or link-local address: the village's CA signs for no other"
            )
        return str(address)
    if ":" in text:
        raise NameRefused("not a valid IPv6 address")
    name = text.lower()
    if "*" in name:
        raise NameRefused("wildcards are not supported: give each name with its own --name")
    if len(name) > 253:
        raise NameRefused("longer than 253 characters")
    labels = name.split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        raise NameRefused("looks like an IPv4 address but is not one (write all four numbers, 0-255)")
    for label in labels:
        if not label:
            raise NameRefused("an empty label (two dots in a row, or a dot at the start)")
        if label.isascii():
            if len(label) > 63:
                raise NameRefused(f"the label {label[:20]}… is longer than 63 characters")
            if not re.fullmatch(r"[a-z0-9-]+", label):
                raise NameRefused("only letters, digits, hyphens and dots may be in a host name")
            if label.startswith("-") or label.endswith("-"):
                raise NameRefused(f"the label {label} starts or ends with a hyphen")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise NameRefused("not a valid international host name") from None
    if not _DNS_NAME.match(name):
        raise NameRefused("not a valid host name")
    roots = lan_roots(host)
    if not _under(name, roots):
        raise NameRefused(
            "not a LAN name: the village's CA signs only for "
            + ", ".join(r if r == "localhost" or r not in LAN_SUFFIXES else "." + r for r in roots)
            + " and names under them"
        )
    return name


def lan_addresses() -> set[ipaddress.IPv4Address]:
    """This PC's IPv4 addresses that phones on the LAN can reach: none loopback, none unspecified.

    Found without extra packages on Windows and Linux alike: the addresses the host name resolves to
    (all interfaces, on Windows), and the address each private network's route leaves from (a UDP
    socket's ``connect`` chooses a route and sends nothing).
    """
    found: set[ipaddress.IPv4Address] = set()
    with contextlib.suppress(OSError):
        for *_, sockaddr in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(ipaddress.IPv4Address(sockaddr[0]))
    for probe in ("10.255.255.254", "172.31.255.254", "192.168.255.254", "100.127.255.254", "223.5.5.5"):
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((probe, 9))
            found.add(ipaddress.IPv4Address(s.getsockname()[0]))
    return {a for a in found if not (a.is_loopback or a.is_unspecified or a.is_multicast)}


@dataclass(frozen=True)
class Names:
    """What a server certificate covers."""

    dns: frozenset[str]
    ips: frozenset[ipaddress.IPv4Address | ipaddress.IPv6Address]

    def covered_by(self, other: Names) -> bool:
        return self.dns <= other.dns and self.ips <= other.ips


def _stored(tls_folder: Path) -> list[tuple[str, str | None, str | None]]:
    """``names.txt``, a line at a time: (as written, as the certificate carries it or None, why not)."""
    path = tls_folder / "names.txt"
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:  # an address kept by an earlier version with its zone: the same address without it
            line_ = str(_unscoped(ipaddress.ip_address(line)))
        except ValueError:
            line_ = line
        try:
            found.append((line, check_name(line_), None))
        except NameRefused as refused:
            found.append((line, None, str(refused)))
    return found


def extra_names(tls_folder: Path) -> list[str]:
    """The names kept by ``tls init --name``, as the certificate carries them (any refused left out)."""
    return list(dict.fromkeys(name for _, name, _ in _stored(tls_folder) if name))


def refused_names(tls_folder: Path) -> list[tuple[str, str]]:
    """Lines of ``names.txt`` left out of the certificate (kept by an earlier version), and why."""
    return [(line, why) for line, _, why in _stored(tls_folder) if why]


def wanted_names(extra=(), addresses=None) -> Names:
    """localhost, 127.0.0.1, this PC's host name and LAN addresses, and ``extra`` names or addresses.

    Every name in its canonical form (an address without a zone, a name lower case and IDNA), so that
    what is wanted compares equal to what a certificate made for it holds; ``extra`` the CA cannot
    sign is left out here (``tls init`` refuses it before).
    """
    dns = {"localhost"}
    ips: set = {ipaddress.IPv4Address("127.0.0.1")}
    host = dns_name(socket.gethostname())
    if host:
        dns.add(host)
    ips |= {_unscoped(a) for a in (lan_addresses() if addresses is None else addresses)}
    for item in extra:
        try:
            name = check_name(str(item))
        except NameRefused:
            continue
        try:
            ips.add(ipaddress.ip_address(name))
        except ValueError:
            dns.add(name)
    return Names(frozenset(dns), frozenset(ips))


def _permitted(ca: x509.Certificate, names: Names) -> Names:
    """The part of ``names`` the CA's name constraints allow (a name left out is not signed)."""
    try:
        constraints = ca.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return names
    subtrees = constraints.permitted_subtrees or []
    dns_roots = [t.value for t in subtrees if isinstance(t, x509.DNSName)]
    networks = [t.value for t in subtrees if isinstance(t, x509.IPAddress)]
    return Names(
        frozenset(n for n in names.dns if any(n == r or n.endswith("." + r) for r in dns_roots)),
        frozenset(a for a in names.ips if any(a in net for net in networks if net.version == a.version)),
    )


def _lan_only(names: Names) -> Names:
    """The part of ``names`` on the LAN: a CA made by an earlier version may permit more."""
    host = dns_name(socket.gethostname())
    roots = lan_roots()
    return Names(
        frozenset(n for n in names.dns if n == host or _under(n, roots)),
        frozenset(a for a in names.ips if is_private(a)),
    )


def cert_names(cert: x509.Certificate) -> Names:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return Names(frozenset(), frozenset())
    return Names(
        frozenset(san.get_values_for_type(x509.DNSName)), frozenset(san.get_values_for_type(x509.IPAddress))
    )


# --- files ------------------------------------------------------------------------------------------


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by the server's user only: created 0600, written, then moved into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)  # whatever the umask did; on Windows only the read-only flag is touched
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


# --- the CA -----------------------------------------------------------------------------------------


def create_ca(tls_folder: Path, village: str = "") -> x509.Certificate:
    """Make the village's CA (key and certificate), replacing any there was.

    Its name constraints are the LAN's alone (:func:`lan_roots`, :data:`PRIVATE_NETWORKS`), whatever
    names the server certificate is asked to cover.
    """
    tls_folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    label = f"PointsMart {village}".strip() if village else "PointsMart village"
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PointsMart"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{label} CA"[:64]),
        ]
    )
    roots = lan_roots()
    networks = list(PRIVATE_NETWORKS)
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # not critical, so a phone that does not know the extension still installs the CA; the
        # browsers that know it (Chrome, Firefox) refuse anything signed outside it
        .add_extension(
            x509.NameConstraints(
                permitted_subtrees=[x509.DNSName(r) for r in roots] + [x509.IPAddress(n) for n in networks],
                excluded_subtrees=None,
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(tls_folder / "ca.key", _key_pem(key))
    _write_public(tls_folder / "ca.crt", cert.public_bytes(serialization.Encoding.PEM))
    # a server certificate from an earlier CA is of no use now
    for stale in ("server.crt", "server.key"):
        with contextlib.suppress(FileNotFoundError):
            (tls_folder / stale).unlink()
    return cert


def load_ca(tls_folder: Path):
    """(certificate, key) of the village's CA, or None when there is none (or it cannot be read)."""
    cert = _load_cert(tls_folder / "ca.crt")
    try:
        key = serialization.load_pem_private_key((tls_folder / "ca.key").read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if cert is None or cert.public_key().public_numbers() != key.public_key().public_numbers():
        return None
    return cert, key


# --- the server certificate -------------------------------------------------------------------------


def issue_server_cert(tls_folder: Path, names: Names) -> x509.Certificate:
    ca_cert, ca_key = load_ca(tls_folder)
    names = _lan_only(_permitted(ca_cert, names))
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    first = sorted(names.dns)[0] if names.dns else "localhost"
    sans = [x509.DNSName(n) for n in sorted(names.dns)] + [
        x509.IPAddress(a) for a in sorted(names.ips, key=lambda a: (a.version, int(a)))
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(min(now + dt.timedelta(days=SERVER_DAYS), ca_cert.not_valid_after_utc))
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
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(tls_folder / "server.key", _key_pem(key))
    _write_public(tls_folder / "server.crt", cert.public_bytes(serialization.Encoding.PEM))
    return cert


def renewal_reason(tls_folder: Path, names: Names, now: dt.datetime | None = None) -> str | None:
    """Why the server certificate must be (re)issued now, or None while it is good."""
    ca = load_ca(tls_folder)
    cert = _load_cert(tls_folder / "server.crt")
    if cert is None or not (tls_folder / "server.key").exists():
        return "no server certificate"
    if ca is None or cert.issuer != ca[0].subject:
        return "signed by another CA"
    try:
        cert.verify_directly_issued_by(ca[0])
    except (ValueError, TypeError, InvalidSignature):
        return "signed by another CA"
    if cert.not_valid_after_utc - (now or _now()) < RENEW_BEFORE:
        return "expires soon"
    present = cert_names(cert)
    if _lan_only(present) != present:
        return "it covers names beyond the LAN"
    if not _lan_only(_permitted(ca[0], names)).covered_by(present):
        return "the PC's names or addresses changed"
    return None


@dataclass(frozen=True)
class Ready:
    """The files a TLS server needs, and what was done to have them."""

    cert_file: Path
    key_file: Path
    created_ca: bool
    renewed: str | None  # why the server certificate was issued now, or None


def ensure(
    tls_folder: Path, village: str = "", extra=(), addresses=None, now=None, new_ca=True, reissue=None
) -> Ready:
    """Make sure there is a CA and a good server certificate for this PC; create or renew what is not.

    ``new_ca=False`` (the running server's hourly check) never makes a CA: one gone from under a
    running server is an error to report (``FileNotFoundError``), not to replace behind the phones' back.
    ``reissue`` (a reason) issues the server certificate even while it is good: names were dropped.
    """
    tls_folder.mkdir(parents=True, exist_ok=True)
    extra = list(extra) + extra_names(tls_folder)
    created = False
    if load_ca(tls_folder) is None:
        if not new_ca:
            raise FileNotFoundError(f"no readable certificate authority in {tls_folder}")
        create_ca(tls_folder, village)
        created = True
    names = wanted_names(extra, addresses)
    reason = renewal_reason(tls_folder, names, now) or reissue
    if reason:
        issue_server_cert(tls_folder, names)
    return Ready(tls_folder / "server.crt", tls_folder / "server.key", created, reason)


def add_names(tls_folder: Path, names, replace: bool = False) -> list[str]:
    """Keep extra names or addresses for the server certificate (``names.txt``); return them all.

    Each is checked (:func:`check_name`, :class:`NameRefused` for the first bad one, nothing kept
    then); ``replace`` forgets the names kept before (``tls init --clear-names``). Lines an earlier
    version kept that are refused now stay as they were (``tls status`` lists them) until then.
    """
    given = [check_name(str(item)) for item in names]
    kept = [] if replace else [name or line for line, name, _why in _stored(tls_folder)]
    for item in given:
        if item not in kept:
            kept.append(item)
    tls_folder.mkdir(parents=True, exist_ok=True)
    _write_public(tls_folder / "names.txt", "".join(f"{n}\n" for n in dict.fromkeys(kept)).encode())
    return extra_names(tls_folder)


def permits(ca: x509.Certificate, name: str) -> bool:
    """Whether the CA's name constraints allow ``name`` (as :func:`check_name` returns it)."""
    try:
        names = Names(frozenset(), frozenset({ipaddress.ip_address(name)}))
    except ValueError:
        names = Names(frozenset({name}), frozenset())
    return _permitted(ca, names) == names


def beyond_lan(ca: x509.Certificate) -> list[str]:
    """What the CA may sign for beyond the LAN: a CA made by an earlier version with public names in
    its constraints (or none at all). Only a new CA (``tls init --new-ca``) takes that back."""
    try:
        constraints = ca.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return ["any name"]
    wide = []
    for tree in constraints.permitted_subtrees or []:
        if isinstance(tree, x509.DNSName):
            if not (_under(tree.value, LAN_SUFFIXES) or host_root(tree.value) == tree.value):
                wide.append(tree.value)
        elif isinstance(tree, x509.IPAddress):
            net = tree.value
            if not any(net.version == p.version and net.subnet_of(p) for p in PRIVATE_NETWORKS):
                wide.append(str(net))
        else:
            wide.append(str(tree.value))
    kinds = {type(t) for t in constraints.permitted_subtrees or []}
    wide += [f"any {k}" for k, t in (("name", x509.DNSName), ("address", x509.IPAddress)) if t not in kinds]
    return wide


# --- what the settings page and ``tls status`` show -------------------------------------------------


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate, as phones show it: ``AB:CD:…``."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


@dataclass(frozen=True)
class Status:
    ca: x509.Certificate | None
    server: x509.Certificate | None

    @property
    def ready(self) -> bool:
        return self.ca is not None


def status(tls_folder: Path) -> Status:
    ca = load_ca(tls_folder)
    return Status(ca[0] if ca else None, _load_cert(tls_folder / "server.crt") if ca else None)


def ca_der(tls_folder: Path) -> bytes | None:
    """The CA certificate as DER (what the download serves), read without the key; None if absent."""
    cert = _load_cert(tls_folder / "ca.crt")
    return cert.public_bytes(serialization.Encoding.DER) if cert else None


# --- plain HTTP beside HTTPS ------------------------------------------------------------------------

#: what plain HTTP still serves as it is once HTTPS is set up: the CA certificate (a phone fetches it
#: before it trusts HTTPS), the health check, the API (its clients send a bearer token, which a
#: redirect would drop, and they need no camera), static files, and the pages families open from a
#: card or a poster, and their language switch — their phones never install the village's CA, and
#: need no camera either
HTTP_KEPT = ("/ca.crt", "/healthz", "/api/", "/static/", "/c/", "/notice", "/honour", "/lang/")


def kept_on_http(path: str) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p if p.endswith("/") else p + "/") for p in HTTP_KEPT)


_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253})(:\d{1,5})?$")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` (and its subdomains), 127.0.0.0/8 and ``[::1]``: the PC itself.

    A browser counts plain HTTP to these as a secure context already (the camera works), so they are
    never moved to HTTPS — the chair opening http://127.0.0.1:8000 on the village PC must not land on
    a certificate warning before she reaches 设置, where the certificate is explained.
    """
    host = host.strip().lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def redirect_to_https(app, https_port: int):
    """Wrap ``app`` for the plain-HTTP listener: a browser's page request moves to HTTPS (307).

    A browser is told apart by ``Upgrade-Insecure-Requests: 1``, which browsers send with every page
    they navigate to and scripts, scanners and sync clients never do; and only GET and HEAD move
    (a form posted over HTTP is answered where it was sent). A request to the PC itself (loopback:
    :func:`is_loopback_host`) is never moved: it is a secure context already. No HSTS header is sent:
    the paths in :data:`HTTP_KEPT` must stay reachable over HTTP.
    """

    def middleware(environ, start_response):
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        match = _HOST.match(host)
        if (
            environ.get("REQUEST_METHOD") in ("GET", "HEAD")
            and environ.get("HTTP_UPGRADE_INSECURE_REQUESTS", "").strip() == "1"
            and match
            and not is_loopback_host(match.group(1))
            and not kept_on_http(path)
        ):
            port = "" if https_port == 443 else f":{https_port}"
            query = environ.get("QUERY_STRING", "")
            location = f"https://{match.group(1)}{port}{quote(path, safe=_PATH_SAFE, encoding='latin-1')}"
            location += f"?{quote(query, safe=_QUERY_SAFE, encoding='latin-1')}" if query else ""
            start_response(
                "307 Temporary Redirect",
                [
                    ("Location", location),
                    ("Vary", "Upgrade-Insecure-Requests"),
                    ("Cache-Control", "no-store"),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", "0"),
                ],
            )
            return [b""]
        return app(environ, start_response)

    return middleware


_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"


class SecureOverHTTPS(SecureCookieSessionInterface):
    """Flask's signed-cookie session, whose cookie is ``Secure`` when it is set over HTTPS.

    A village serves HTTPS and plain HTTP on one host; a browser sends a cookie to every port of the
    host, by either scheme, unless it is ``Secure``. A log-in made over HTTPS so never travels in
    clear to the plain-HTTP pages (a family page, a static file) on the LAN; one made over plain HTTP
    (HTTPS not set up) still works as before. ``SESSION_COOKIE_SECURE`` still forces it everywhere.
    """

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)
