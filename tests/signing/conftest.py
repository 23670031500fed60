"""Fixtures for signing tests: EC keys, a throwaway PKI built with cryptography, and small models."""

from __future__ import annotations

import datetime
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DATA = Path(__file__).resolve().parent.parent / "data" / "signing"
SIGSTORE_IDENTITY = "stefanb@us.ibm.com"
SIGSTORE_ISSUER = "https://sigstore.verify.ibm.com/oauth2"
LEAF_EMAIL = "signer@example.com"
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def write_key(path: Path, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> Path:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def write_public(path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def write_certs(path: Path, *certs: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(*, subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
              issuer_key: ec.EllipticCurvePrivateKey, ca: bool, not_before: datetime.datetime = NOW - 30 * DAY,
              not_after: datetime.datetime = NOW + 365 * DAY, key_usage: str = "sign",
              eku: list[x509.ObjectIdentifier] | None = None, email: str | None = None) -> x509.Certificate:
    """A certificate with the extensions cryptography's web-PKI CA profile wants (SKI, AKI, BC, KU)."""
    builder = (x509.CertificateBuilder().subject_name(_name(subject))
               .issuer_name(issuer.subject if issuer else _name(subject))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    if ca:
        usage = dict(digital_signature=False, key_cert_sign=True, crl_sign=True)
    elif key_usage == "sign":
        usage = dict(digital_signature=True, key_cert_sign=False, crl_sign=False)
    else:  # "encipher": not usable for signatures
        usage = dict(digital_signature=False, key_cert_sign=False, crl_sign=False)
    builder = builder.add_extension(x509.KeyUsage(
        content_commitment=False, key_encipherment=key_usage == "encipher", data_encipherment=False,
        key_agreement=False, encipher_only=False, decipher_only=False, **usage), critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if email is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Leaf:
    key: Path
    cert: Path
    chain: Path
    """The intermediates to embed in the bundle."""


@dataclass
class PKI:
    root: Path
    other_root: Path
    good: Leaf
    p384: Leaf
    no_code_signing: Leaf
    server_only: Leaf
    expired: Leaf
    not_yet_valid: Leaf
    expired_intermediate: Leaf
    untrusted: Leaf


@pytest.fixture(scope="session")
def keydir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def ec_keys(keydir: Path) -> dict[str, tuple[Path, Path]]:
    """(private, public) PEM paths per curve name, plus an unrelated P-256 key as 'other'."""
    out = {}
    for name, curve in (("p256", ec.SECP256R1()), ("p384", ec.SECP384R1()), ("p521", ec.SECP521R1()),
                        ("other", ec.SECP256R1()), ("k256", ec.SECP256K1())):
        key = ec.generate_private_key(curve)
        out[name] = (write_key(keydir / f"{name}.pem", key), write_public(keydir / f"{name}.pub", key))
    return out


@pytest.fixture(scope="session")
def ed25519_key(keydir: Path) -> Path:
    return write_key(keydir / "ed25519.pem", ed25519.Ed25519PrivateKey.generate())


@pytest.fixture(scope="session")
def pki(keydir: Path) -> PKI:
    root_key = ec.generate_private_key(ec.SECP384R1())
    root = make_cert(subject="aisec test root", key=root_key, issuer=None, issuer_key=root_key, ca=True,
                     not_before=NOW - 3650 * DAY, not_after=NOW + 3650 * DAY)
    int_key = ec.generate_private_key(ec.SECP256R1())
    inter = make_cert(subject="aisec test intermediate", key=int_key, issuer=root, issuer_key=root_key, ca=True)
    old_int_key = ec.generate_private_key(ec.SECP256R1())
    old_inter = make_cert(subject="aisec expired intermediate", key=old_int_key, issuer=root,
                          issuer_key=root_key, ca=True, not_before=NOW - 400 * DAY, not_after=NOW - 10 * DAY)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = make_cert(subject="untrusted root", key=other_key, issuer=None, issuer_key=other_key, ca=True)
    other_int_key = ec.generate_private_key(ec.SECP256R1())
    other_inter = make_cert(subject="aisec test intermediate", key=other_int_key, issuer=other,
                            issuer_key=other_key, ca=True)

    def leaf(name: str, *, curve: ec.EllipticCurve = ec.SECP256R1(), parent: x509.Certificate = inter,
             parent_key: ec.EllipticCurvePrivateKey = int_key, **kw: object) -> Leaf:
        key = ec.generate_private_key(curve)
        kw.setdefault("eku", [ExtendedKeyUsageOID.CODE_SIGNING])
        kw.setdefault("email", LEAF_EMAIL)
        cert = make_cert(subject=name, key=key, issuer=parent, issuer_key=parent_key, ca=False,
                         **kw)  # type: ignore[arg-type]
        return Leaf(key=write_key(keydir / f"{name}.key", key), cert=write_certs(keydir / f"{name}.crt", cert),
                    chain=write_certs(keydir / f"{name}.chain", parent))

    return PKI(
        root=write_certs(keydir / "root.pem", root),
        other_root=write_certs(keydir / "other-root.pem", other),
        good=leaf("good signer"),
        p384=leaf("p384 signer", curve=ec.SECP384R1()),
        no_code_signing=leaf("encipher only", key_usage="encipher", eku=None),
        server_only=leaf("server only", eku=[ExtendedKeyUsageOID.SERVER_AUTH]),
        expired=leaf("expired signer", not_before=NOW - 100 * DAY, not_after=NOW - DAY),
        not_yet_valid=leaf("future signer", not_before=NOW + 10 * DAY, not_after=NOW + 100 * DAY),
        expired_intermediate=leaf("orphan signer", parent=old_inter, parent_key=old_int_key,
                                  not_before=NOW - 300 * DAY, not_after=NOW + 300 * DAY),
        untrusted=leaf("untrusted signer", parent=other_inter, parent_key=other_int_key),
    )


def build_model(root: Path) -> Path:
    """A small model with nesting, an empty file, a name that sorts differently by component, and git noise."""
    (root / "nested" / "adapter").mkdir(parents=True)
    (root / "config.json").write_text('{"hidden": 8}\n')
    (root / "weights.bin").write_bytes(bytes(range(256)) * 2000)  # 512000 bytes: several shards
    (root / "nested" / "adapter" / "x").write_bytes(b"adapter")
    (root / "nested-notes.txt").write_text("notes\n")
    (root / "empty").write_bytes(b"")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".gitattributes").write_text("*.bin filter=lfs\n")
    return root


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return build_model(tmp_path / "model")


def copy_sample(name: str, dest: Path) -> Path:
    """A writable copy of one of the real signed samples."""
    target = dest / name
    shutil.copytree(DATA / name, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target
