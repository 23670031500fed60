"""Character classes for hidden-text attacks: invisible format characters, tags, bidi controls, scripts."""

from __future__ import annotations

import unicodedata

ZWJ = "\u200d"
ZWNJ = "\u200c"
BLACK_FLAG = "\U0001f3f4"
TAG_START, TAG_END, CANCEL_TAG = 0xE0000, 0xE007F, 0xE007F

INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\u180e\u034f\u115f\u1160\u3164\uffa0"
                      "\u17b4\u17b5\u206a\u206b\u206c\u206d\u206e\u206f\ufeff")
"""Zero-width and filler characters that render as nothing. U+FEFF (zero-width no-break space) is one too inside a
value: a file's leading byte-order mark never reaches a cell, and a raw one in the middle of a CSV/JSONL file is
also reported by the reader, but an escaped one in JSON or one in a Parquet string only shows up here."""

BIDI_CONTROLS = {
    "\u202a": "LEFT-TO-RIGHT EMBEDDING", "\u202b": "RIGHT-TO-LEFT EMBEDDING", "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE", "\u202e": "RIGHT-TO-LEFT OVERRIDE", "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE", "\u2068": "FIRST STRONG ISOLATE", "\u2069": "POP DIRECTIONAL ISOLATE",
}
"""Trojan Source characters (CVE-2021-42574); LRM/RLM marks are ordinary in right-to-left text and allowed."""

CONFUSABLE_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC"})
"""Scripts whose letters pass for Latin ones."""


def is_tag(ch: str) -> bool:
    """Unicode tag characters (U+E0000-U+E007F), which can carry invisible ASCII."""
    return TAG_START <= ord(ch) <= TAG_END


def is_variation_selector(ch: str) -> bool:
    """VS1-VS16 and VS17-VS256 (the latter can smuggle bytes, one per selector)."""
    o = ord(ch)
    return 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF


def is_emoji(ch: str) -> bool:
    """Pictographs, symbols and emoji modifiers a ZWJ may legitimately join."""
    o = ord(ch)
    return (0x1F000 <= o <= 0x1FAFF or 0x2600 <= o <= 0x27BF or 0x2B00 <= o <= 0x2BFF or 0x2300 <= o <= 0x23FF
            or unicodedata.category(ch) == "So")


def script_of(ch: str) -> str:
    """The script word of a letter's Unicode name (``LATIN``, ``CYRILLIC`` …), ``""`` for non-letters."""
    if not ch.isalpha():
        return ""
    name = unicodedata.name(ch, "")
    if name.startswith(("FULLWIDTH LATIN", "MATHEMATICAL")):
        return "LATIN"
    return name.split(" ", 1)[0] if name else ""


def joins_complex_script(before: str, after: str) -> bool:
    """ZWJ/ZWNJ between letters of scripts that need them (Arabic, Persian, Indic …)."""
    return bool(before) and bool(after) and before.isalpha() and after.isalpha() and \
        ord(before) >= 0x0590 and ord(after) >= 0x0590


def codepoint_label(ch: str) -> str:
    """``U+200B ZERO WIDTH SPACE``."""
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED')}"
