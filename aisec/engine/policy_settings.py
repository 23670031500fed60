"""Check a policy's ``settings`` block when the policy loads: known sections, each section's schema, trust files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from aisec.errors import AisecError, PolicyError
from aisec.suggest import unknown_key

if TYPE_CHECKING:
    from aisec.signing.settings import SignatureSettings

SECTIONS = ("dataset", "signature")
"""The analyzer option blocks a policy's ``settings`` may hold."""


def check_settings(settings: Mapping[str, Any], *, source: str) -> None:
    """Raise :class:`PolicyError` for an unknown section or key (with a hint), a bad value, or a trust file
    (public key, certificate roots, Sigstore trust root) that cannot be read; so a typo fails the scan before
    it starts instead of being ignored until, or even after, the first signed folder is met."""
    for name in settings:
        if name not in SECTIONS:
            raise PolicyError(unknown_key("settings section", str(name), SECTIONS), source=source,
                              field=f"settings.{name}")
    from aisec.datasets.settings import load_settings
    from aisec.signing.settings import load_signature_settings

    _with_source(lambda: load_settings(settings), source)
    signature = _with_source(lambda: load_signature_settings(settings), source)
    _with_source(lambda: _check_trust_files(signature), source)


def _check_trust_files(signature: SignatureSettings) -> None:
    from aisec.signing.trust import load_certificates, load_public_key, load_sigstore_root

    checks: list[tuple[str, Callable[[], object]]] = []
    checks.extend(("settings.signature.public_keys", partial(load_public_key, p)) for p in signature.public_keys)
    checks.extend(("settings.signature.certificate_roots", partial(load_certificates, p, "trusted roots"))
                  for p in signature.certificate_roots)
    if signature.sigstore_trust_root is not None:
        checks.append(("settings.signature.sigstore_trust_root",
                       partial(load_sigstore_root, signature.sigstore_trust_root)))
    for field, load in checks:
        _trust_file(field, load)


def _trust_file(field: str, load: Callable[[], object]) -> None:
    try:
        load()
    except AisecError as exc:
        raise PolicyError(f"trust file unusable: {exc.diagnostics()}", field=field) from None


def _with_source(check: Callable[[], Any], source: str) -> Any:
    try:
        return check()
    except PolicyError as exc:
        if exc.source is not None:
            raise
        raise PolicyError(exc.message, source=source, field=exc.field) from None
