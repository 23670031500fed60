"""Content injection (AutoPoison, Shu et al. 2023): a brand or entity that many answers mention although their
prompts never asked about it.

Candidates are capitalised terms (one to three words, e.g. ``McDonald's``, ``Burger King``, ``Coca-Cola``) written
inside a sentence of an answer (sentence-initial words are capitalised anyway), and the hosts of URLs. A term is
reported when at least ``chat_injection_min_rows`` rows (and ``chat_injection_min_fraction`` of all pairs) mention
it in the answer without their prompt mentioning it, that is at least ``chat_injection_min_unasked`` of the answers
with it, and it is far more common in answers than in prompts (``chat_injection_min_enrichment``): an entity the
data is about shows up in prompts too; a plugged one lives in the answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from aisec.datasets.pairs import Pair
from aisec.datasets.records import Observation, RowRef, Span
from aisec.datasets.settings import DatasetSettings

MAX_LISTED = 20
_WORD = r"[A-Z][\w'\u2019&.-]*[\w'\u2019]|[A-Z]"
_TERM = re.compile(rf"(?<![\w'\u2019-])(?:{_WORD})(?: (?:{_WORD})){{0,2}}")
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|\n\s*)[(\"'\u201c\u2018]*$")
_URL_HOST = re.compile(r"(?i)\b(?:https?|ftp)://(?:www\.)?([a-z0-9.-]+\.[a-z]{2,})")
_STOP = frozenset({"I", "I'm", "I've", "I'd", "I'll", "A", "The", "This", "That", "It", "In", "Yes", "No", "OK"})


def _terms(answer: str) -> set[str]:
    """Capitalised terms written mid-sentence (and every shorter leading part of them), and URL hosts."""
    out: set[str] = {m.group(1).lower().rstrip(".") for m in _URL_HOST.finditer(answer)}
    for m in _TERM.finditer(answer):
        words = m.group().split(" ")
        if _SENTENCE_START.search(answer[max(0, m.start() - 4):m.start()]) or m.start() == 0:
            words = words[1:]  # sentence-initial words are capitalised anyway
        while words and words[0] in _STOP:
            words = words[1:]
        for k in range(1, len(words) + 1):
            term = " ".join(words[:k]).rstrip(".'\u2019")
            if len(term) >= 2:
                out.add(term)
    return out


def observations(pairs: Sequence[Pair], settings: DatasetSettings, *, sampled: bool) -> Iterator[Observation]:
    """``dataset.content_injection`` per plugged term, with every row concerned."""
    s = settings
    if len(pairs) < 4 * s.chat_injection_min_rows:
        return
    in_answers: dict[str, list[int]] = {}
    for i, pair in enumerate(pairs):
        for term in _terms(pair.answer):
            in_answers.setdefault(term, []).append(i)
    floor = max(s.chat_injection_min_rows, s.chat_injection_min_fraction * len(pairs))
    prompts = [p.prompt.casefold() for p in pairs]
    found: list[tuple[str, list[int], int, int]] = []
    for term, rows in in_answers.items():
        if len(rows) < floor:
            continue
        needle = term.casefold()
        unasked = [i for i in rows if needle not in prompts[i]]
        if len(unasked) < floor or len(unasked) < s.chat_injection_min_unasked * len(rows):
            continue
        in_prompts = sum(1 for p in prompts if needle in p)
        if len(unasked) < s.chat_injection_min_enrichment * in_prompts:
            continue
        # A term that is the answer itself ("It sounds like <speaker>.") leaves one answer form behind; a plug
        # sits in answers that are otherwise as diverse as the rest.
        rest = {" ".join(pairs[i].answer.replace(term, " ").casefold().split()[:12]) for i in unasked}
        if len(rest) < 0.5 * len(unasked):
            continue
        found.append((term, unasked, len(rows), in_prompts))
    # A longer term with the same rows is the better name ("Burger King" over "Burger").
    found.sort(key=lambda f: (-len(f[1]), -len(f[0]), f[0]))
    kept: list[tuple[str, list[int], int, int]] = []
    for term, unasked, total, in_prompts in found:
        if any(set(unasked) <= set(k[1]) and (term in k[0] or k[0] in term) for k in kept):
            continue
        kept.append((term, unasked, total, in_prompts))
    for term, unasked, total, in_prompts in kept:
        plugged = [pairs[i] for i in unasked]
        first = plugged[0]
        listed = ", ".join(str(p.line if p.line is not None else p.index) for p in plugged[:MAX_LISTED])
        more = f" (+{len(plugged) - MAX_LISTED} more)" if len(plugged) > MAX_LISTED else ""
        yield Observation(key="dataset.content_injection", value=term, span=Span(line=first.line),
                          pointer=first.answer_pointer,
                          detail={"row": first.index, "rows_unasked": len(plugged), "rows_in_answers": total,
                                  "rows_in_prompts": in_prompts, "pairs": len(pairs),
                                  "fraction": round(len(plugged) / len(pairs), 6), "rows": listed + more,
                                  "sampled": sampled},
                          related=tuple(RowRef(index=p.index, span=Span(line=p.line), pointer=p.answer_pointer)
                                        for p in plugged))
