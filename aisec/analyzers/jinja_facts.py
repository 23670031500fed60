"""The chat-template fact keys, importable without Jinja (folder analyzers declare them before any template is met)."""

from __future__ import annotations

from collections.abc import Mapping

TEMPLATE_FACTS: Mapping[str, str] = {
    "template.escape": "a Jinja template reaches Python internals (dunder attributes, gadget globals, os/eval "
                       "names); detail 'source' names the template",
    "template.obfuscation": "a Jinja template builds attribute names from strings (concatenation, join, format, "
                            "escapes, |attr with a computed name)",
    "template.suspicious": "a Jinja template loads other templates or touches template internals",
    "template.parse_error": "a Jinja template that does not parse (so it could not be fully analyzed)",
    "template.found": "a Jinja template was found and analyzed; value is where it came from",
}
"""Fact keys shared by every analyzer that finds chat templates (GGUF, tokenizer configs, .jinja files)."""
