"""A self-signed certificate for HTTPS on a LAN, made once in the data folder and reused.

Browsers give camera and microphone only to secure pages; off localhost that means HTTPS. The
certificate names localhost, this machine's name and its addresses, so a phone on the LAN can open
https://<this machine's address>:3000/ after accepting the warning once.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

VALID_DAYS = 825  # the longest validity Apple devices accept for a TLS server certificate


def ensure_self_signed(data_dir: Path, host: str) -> tuple[Path, Path]:
    folder = data_dir / "tls"
    cert_path, key_path = folder / "self-signed.crt", folder / "self-signed.key"
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    names = _subject_names(host)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "videochat (self-signed)")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as key_file:
        key_file.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.info("created a self-signed certificate in %s", folder)
    return cert_path, key_path


def _subject_names(host: str) -> list[x509.GeneralName]:
    dns = {"localhost", socket.gethostname()}
    addresses = {"127.0.0.1", "::1"} | set(lan_addresses())
    for candidate in (host,):
        try:
            ipaddress.ip_address(candidate)
            if candidate not in ("0.0.0.0", "::"):
                addresses.add(candidate)
        except ValueError:
            dns.add(candidate)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in sorted(dns) if d]
    names += [x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses)]
    return names


def lan_addresses() -> list[str]:
    """This machine's non-loopback IPv4 addresses, best effort (no packet is sent)."""
    found = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.add(str(info[4][0]))  # (address, port) for AF_INET
    except OSError:
        pass
    return sorted(a for a in found if not a.startswith("127."))
