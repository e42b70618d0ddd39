"""A throwaway certificate authority and server certificate for the loopback API.

Kubernetes clients send a kubeconfig's bearer token only over TLS (client-go drops it on plain
HTTP), so the facade serves HTTPS with a certificate made at start-up: a fresh CA whose
certificate goes into the kubeconfig as ``certificate-authority-data``, and a server certificate
for ``127.0.0.1`` and ``localhost`` signed by it. Neither key leaves the process's private
directory.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["VALIDITY", "ServerCertificate", "make_server_certificate"]

VALIDITY = timedelta(days=30)


@dataclass(frozen=True)
class ServerCertificate:
    ca_pem: bytes
    cert_file: Path
    key_file: Path


def make_server_certificate(directory: Path) -> ServerCertificate:
    """Write a server key and certificate into ``directory`` (mode 0600); return the CA too."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "itbench-recording-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + VALIDITY)
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
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "itbench-recording")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file = directory / "server.crt"
    key_file = directory / "server.key"
    for path, data in (
        (cert_file, server_cert.public_bytes(serialization.Encoding.PEM)),
        (
            key_file,
            server_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        ),
    ):
        path.touch(mode=0o600)
        path.write_bytes(data)
    return ServerCertificate(ca_cert.public_bytes(serialization.Encoding.PEM), cert_file, key_file)
