"""Did-you-mean hints for misspelt configuration keys."""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest known name, or ``""`` when none is close."""
    import difflib  # only a misspelt key pays for it

    choices = sorted(set(known))
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if not close:
        # A prefix or a plural slip ("signatur", "require_signatures") is still a likely typo.
        close = [c for c in choices if c.startswith(name) or name.startswith(c)][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_key(what: str, name: str, known: Iterable[str]) -> str:
    """The message for an unknown key: the hint first, then every key that is allowed there."""
    choices = sorted(set(known))
    return f"unknown {what} {name!r}{did_you_mean(name, choices)}; known: {', '.join(choices) or '(none)'}"
