"""Certificates generated for the local control plane: who they name, what they allow."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controller.devcluster import pki


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_client_certificate_is_in_system_masters_and_signed_by_the_ca(tmp_path: Path) -> None:
    keys = pki.generate(tmp_path)
    ca, client = _cert(keys.ca_cert), _cert(keys.client_cert)
    orgs = [a.value for a in client.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert orgs == ["system:masters"]
    assert client.issuer == ca.subject
    client.verify_directly_issued_by(ca)
    usage = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_serving_certificate_covers_loopback_and_the_service_ip(tmp_path: Path) -> None:
    keys = pki.generate(tmp_path, service_ip="10.0.0.1")
    serving = _cert(keys.serving_cert)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = sans.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("127.0.0.1") in ips
    assert ipaddress.ip_address("10.0.0.1") in ips
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)


def test_service_account_key_pair_matches_and_files_are_private(tmp_path: Path) -> None:
    keys = pki.generate(tmp_path)
    private = load_pem_private_key(keys.sa_private_key.read_bytes(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048
    assert keys.sa_public_key.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert all(p.stat().st_mode & 0o077 == 0 for p in tmp_path.iterdir())


def test_kubeconfig_embeds_credentials_and_names_the_server(tmp_path: Path) -> None:
    keys = pki.generate(tmp_path)
    path = pki.write_kubeconfig(tmp_path / "kubeconfig", keys, server="https://127.0.0.1:6443")
    config = yaml.safe_load(path.read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    user = config["users"][0]["user"]
    assert {"client-certificate-data", "client-key-data"} <= set(user)
    assert config["current-context"] == config["contexts"][0]["name"]
