"""Hostile signature files: any mutation of a valid bundle yields a verdict (never a crash), and never 'valid'."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aisec.signing import KeyTrust, load_public_key, sign_model, verify_model
from aisec.signing.bundle import BundleError, parse_bundle
from aisec.signing.manifest import parse_statement

_SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))


@given(data=st.binary(max_size=2048))
@_SETTINGS
def test_parse_bundle_only_raises_bundle_error(data: bytes) -> None:
    with contextlib.suppress(BundleError):
        parse_bundle(data)


@given(data=st.binary(max_size=2048) | st.text(max_size=512).map(str.encode))
@_SETTINGS
def test_parse_statement_never_raises(data: bytes) -> None:
    statement, problems = parse_statement(data)
    assert statement is not None or problems


def test_byte_flips_of_a_real_bundle_never_verify(tmp_path: Path, ec_keys: dict[str, tuple[Path, Path]]) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"w" * 1000)
    (model / "config.json").write_text("{}")
    sig = tmp_path / "model.sig"
    sign_model(model, private_key=ec_keys["p256"][0], signature_path=sig)
    original = sig.read_bytes()
    trust = KeyTrust(public_key=load_public_key(ec_keys["p256"][1]), source="t")
    assert verify_model(model, signature_path=sig, trust=trust).valid

    @given(position=st.integers(0, len(original) - 1), value=st.integers(0, 255))
    @_SETTINGS
    def flip(position: int, value: int) -> None:
        mutated = bytearray(original)
        if mutated[position] == value:
            return
        mutated[position] = value
        sig.write_bytes(bytes(mutated))
        result = verify_model(model, signature_path=sig, trust=trust)
        if result.valid:
            # Only changes JSON ignores (whitespace) may keep it valid; the signed bytes must be intact.
            doc = json.loads(bytes(mutated))
            assert base64.b64decode(doc["dsseEnvelope"]["payload"]) == base64.b64decode(
                json.loads(original)["dsseEnvelope"]["payload"])
    flip()
