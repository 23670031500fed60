"""Normalise text for phrase matching while remembering where each character came from."""

from __future__ import annotations

import unicodedata

from aisec.datasets.unicode_sets import is_tag, is_variation_selector


def normalised(text: str) -> tuple[str, list[int]]:
    """NFKC (per character), case-folded, format characters dropped, whitespace runs collapsed to one space.

    Returns the text and, for each of its characters, the index of the original character it came from.
    Per-character NFKC differs from whole-string NFKC only for composing sequences, which do not matter for
    the ASCII phrases matched here.
    """
    out: list[str] = []
    where: list[int] = []
    space = False
    for i, ch in enumerate(text):
        if ch.isascii():
            pieces = ch.lower()
        else:
            if unicodedata.category(ch) == "Cf" or is_tag(ch) or is_variation_selector(ch):
                continue
            pieces = unicodedata.normalize("NFKC", ch).casefold()
        for p in pieces:
            if p.isspace():
                if space:
                    continue
                space = True
                p = " "
            else:
                space = False
            out.append(p)
            where.append(i)
    return "".join(out), where


def squeezed(norm: str, where: list[int]) -> tuple[str, list[int]]:
    """Only the letters and digits of a normalised text: defeats ``i g n o r e`` and ``i.g.n.o.r.e``."""
    keep = [(c, w) for c, w in zip(norm, where, strict=True) if c.isalnum()]
    return "".join(c for c, _ in keep), [w for _, w in keep]


def original_range(where: list[int], start: int, end: int) -> tuple[int, int]:
    """The original ``[start, end)`` a normalised match covers."""
    return where[start], where[max(end - 1, start)] + 1
