"""Every level of a policy is a closed schema: a misspelt key is an error with a did-you-mean, and trust files
named in it are checked when the policy loads (issue 12, verdict integrity 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aisec.errors import PolicyError
from aisec.scan import load_configuration


def _policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "team.yaml"
    path.write_text("name: team\nextends: default\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(("body", "field", "hint"), [
    ("fail_onn: high\n", "fail_onn", "'fail_on'"),
    ("params: {require_signatures: true}\n", "params.require_signatures", "'require_signature'"),
    ("params: {signatur: true}\n", "params.signatur", "'require_signature'"),
    ("settings: {dataset: {text_colums: [a]}}\n", "settings.dataset.text_colums", "'text_columns'"),
    ("settings: {signature: {public_key: k.pub}}\n", "settings.signature.public_key", "'public_keys'"),
    ("settings: {datset: {}}\n", "settings.datset", "'dataset'"),
    ("settings: {dataset: {roles: [{glob: '*.csv', label: y}]}}\n", "settings.dataset.roles[0].label",
     "'label_column'"),
    ("rules: {includ: ['*']}\n", "rules.includ", "'include'"),
    ("limits: {max_fil_bytes: 3}\n", "limits.max_fil_bytes", "'max_file_bytes'"),
    ("suppressions: [{rule: AISEC-MDL-001, path: x, justification: reviewed by us, expire: 2030-01-01}]\n",
     "suppressions.0.expire", "'expires'"),
    ("lists: {extra: {entries: [], includes: []}}\n", "includes", "'include'"),
])
def test_a_misspelt_key_at_any_level_is_an_error_with_a_hint(tmp_path: Path, body: str, field: str,
                                                             hint: str) -> None:
    with pytest.raises(PolicyError) as raised:
        load_configuration(_policy(tmp_path, body))
    assert raised.value.field is not None and raised.value.field.endswith(field)
    assert f"did you mean {hint}?" in raised.value.diagnostics()
    assert str(tmp_path / "team.yaml") in raised.value.diagnostics()


def test_a_known_parameter_is_accepted(tmp_path: Path) -> None:
    policy, _rules, _bound = load_configuration(_policy(tmp_path, "params: {require_signature: true}\n"))
    assert policy.params["require_signature"] is True


def _write_key(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    path.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def test_trust_files_are_checked_when_the_policy_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _write_key(tmp_path / "release.pub")
    policy, _rules, _bound = load_configuration(
        _policy(tmp_path, "settings: {signature: {public_keys: [release.pub]}}\n"))
    assert policy.settings["signature"]["public_keys"] == ["release.pub"]

    with pytest.raises(PolicyError) as missing:
        load_configuration(_policy(tmp_path, "settings: {signature: {public_keys: [relase.pub]}}\n"))
    assert missing.value.field == "settings.signature.public_keys" and "relase.pub" in missing.value.diagnostics()

    (tmp_path / "root.pem").write_text("not a certificate\n", encoding="utf-8")
    with pytest.raises(PolicyError) as bad_root:
        load_configuration(_policy(tmp_path, "settings: {signature: {certificate_roots: [root.pem]}}\n"))
    assert bad_root.value.field == "settings.signature.certificate_roots"

    (tmp_path / "trusted_root.json").write_text("{}", encoding="utf-8")
    with pytest.raises(PolicyError) as bad_sigstore:
        load_configuration(_policy(tmp_path, "settings: {signature: {sigstore_trust_root: trusted_root.json}}\n"))
    assert bad_sigstore.value.field == "settings.signature.sigstore_trust_root"
