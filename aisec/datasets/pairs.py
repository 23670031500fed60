"""Chat and instruction records read as prompt → answer pairs, and a bounded seeded sample of them."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from aisec.datasets.records import Row

MAX_PAIR_CHARS = 4000
"""Characters of a prompt or an answer kept per pair (phrases and plugs sit well inside this)."""

TURN_LISTS = frozenset({"messages", "conversations", "conversation", "turns", "dialog", "dialogue", "chat"})
"""Top-level keys holding a list of turns (OpenAI ``messages``, ShareGPT ``conversations`` …)."""
ROLE_FIELDS = ("role", "from", "speaker", "author")
CONTENT_FIELDS = frozenset({"content", "value", "text"})
ANSWER_ROLES = frozenset({"assistant", "gpt", "bot", "model", "ai", "chatbot", "output"})
PROMPT_ROLES = frozenset({"user", "human", "system", "prompter", "customer", "input", "instruction"})
PROMPT_KEYS = ("system", "instruction", "prompt", "question", "query", "input", "context")
"""Flat columns that make up the prompt, in this order (alpaca ``instruction`` then ``input``)."""
ANSWER_KEYS = ("output", "response", "completion", "chosen", "answer", "reply")
"""Flat columns that hold the answer (the first one present wins; ``chosen`` for preference data)."""
_PAIR_NAMES = TURN_LISTS | frozenset(PROMPT_KEYS) | frozenset(ANSWER_KEYS)
"""Top-level names a pair is read from (besides digits: a record that is a bare list of turns)."""
_TURN = re.compile(r"^/(?:([^/]+)/)?(\d+)/([^/]+)(?:/(\d+)/([^/]+))?$")


@dataclass(frozen=True, kw_only=True)
class Pair:
    """One record as prompt(s) → answer, with where the answer sits."""

    index: int
    line: int | None
    prompt: str
    answer: str
    answer_pointer: str
    """Column name (CSV), JSON pointer (JSONL) or ``/ROW/...`` (Parquet) of the answer."""


def _relative(row: Row, pointer: str) -> str:
    """The cell's path inside the record: ``/key/...`` for every format."""
    if row.line is None:
        prefix = f"/{row.index}/"
        if pointer.startswith(prefix):
            return pointer[len(prefix) - 1:]
    return pointer if pointer.startswith("/") else f"/{pointer}"


def _turns(paths: dict[str, tuple[str, str]]) -> list[tuple[str, str, str]] | None:
    """(role, content, pointer) per turn, when the record is a list of turns."""
    roles: dict[tuple[str, int], str] = {}
    contents: dict[tuple[str, int], list[tuple[str, str]]] = {}
    for rel, (pointer, text) in paths.items():
        m = _TURN.match(rel)
        if m is None:
            continue
        container, position, name, _inner, inner_name = m.groups()
        container = container or ""
        if container and container.lower() not in TURN_LISTS:
            continue
        key = (container, int(position))
        if inner_name is None and name.lower() in ROLE_FIELDS:
            roles[key] = text.strip().lower()
        elif name.lower() in CONTENT_FIELDS and (inner_name is None or inner_name.lower() == "text"):
            # OpenAI multi-part content: ``content: [{"type": "text", "text": ...}]``.
            contents.setdefault(key, []).append((pointer, text))
    turns = []
    for key in sorted(contents, key=lambda k: (k[0], k[1])):
        role = roles.get(key)
        if role is None:
            continue
        parts = contents[key]
        turns.append((role, "\n".join(t for _, t in parts), parts[0][0]))
    return turns or None


def pair_of(row: Row) -> Pair | None:
    """The record as a prompt → answer pair, or ``None`` when it has no recognisable prompt and answer."""
    if not any(str(name).lower() in _PAIR_NAMES or str(name).isdigit() for name in row.values):
        return None  # decided by the row's top-level names alone, so its cells need not be built
    paths: dict[str, tuple[str, str]] = {}
    for cell in row.cells:
        paths.setdefault(_relative(row, cell.pointer), (cell.pointer, cell.text))
    turns = _turns(paths)
    if turns is not None:
        last = max((i for i, (role, _, _) in enumerate(turns) if role in ANSWER_ROLES), default=None)
        if last is None:
            return None
        prompt = "\n".join(text for role, text, _ in turns[:last] if role not in ANSWER_ROLES)
        if not prompt.strip():
            return None
        _, answer, pointer = turns[last]
        return Pair(index=row.index, line=row.line, prompt=prompt[:MAX_PAIR_CHARS], answer=answer[:MAX_PAIR_CHARS],
                    answer_pointer=pointer)
    return _flat(row, paths)


def _flat(row: Row, paths: dict[str, tuple[str, str]]) -> Pair | None:
    """Alpaca ``instruction/input/output``, ``prompt/response``, ``question/answer`` … columns."""
    fields: dict[str, tuple[str, str]] = {}
    for rel, (pointer, text) in paths.items():
        top = rel[1:].split("/", 1)[0].lower()
        if top in PROMPT_KEYS or top in ANSWER_KEYS:
            # Nested prompts/answers (a list of turns under ``prompt`` or ``chosen``): keep the contents only.
            if "/" in rel[1:] and rel.rsplit("/", 1)[1].lower() not in CONTENT_FIELDS:
                continue
            old = fields.get(top)
            fields[top] = (old[0], f"{old[1]}\n{text}") if old else (pointer, text)
    if not paths:  # readers that did not materialise cells: fall back to the row's flat string values
        for name, value in row.values.items():
            if isinstance(value, str) and name.lower() in (*PROMPT_KEYS, *ANSWER_KEYS):
                fields.setdefault(name.lower(), (name if row.line is not None else f"/{row.index}/{name}", value))
    answer_key = next((k for k in ANSWER_KEYS if k in fields), None)
    prompt_parts = [fields[k][1] for k in PROMPT_KEYS if k in fields and fields[k][1].strip()]
    if answer_key is None or not prompt_parts:
        return None
    pointer, answer = fields[answer_key]
    prompt = "\n".join(prompt_parts)
    return Pair(index=row.index, line=row.line, prompt=prompt[:MAX_PAIR_CHARS], answer=answer[:MAX_PAIR_CHARS],
                answer_pointer=pointer)


class PairCollector:
    """Keeps every pair up to ``max_pairs``, beyond that a seeded reservoir sample (file order on read-out)."""

    def __init__(self, max_pairs: int, seed: int) -> None:
        self.max_pairs = max_pairs
        self.seen = 0
        """Rows that read as pairs (the sample's population)."""
        self._pairs: list[Pair] = []
        self._rng = random.Random(seed)  # noqa: S311 - reproducible sampling, not secrecy

    def add(self, row: Row) -> None:
        """Account for one row (rows that are not pairs are ignored)."""
        pair = pair_of(row)
        if pair is None:
            return
        self.seen += 1
        if len(self._pairs) < self.max_pairs:
            self._pairs.append(pair)
            return
        j = self._rng.randrange(self.seen)
        if j < self.max_pairs:
            self._pairs[j] = pair

    @property
    def sampled(self) -> bool:
        """True when the pairs are a sample, not every pair."""
        return self.seen > self.max_pairs

    def pairs(self) -> list[Pair]:
        """The kept pairs in file order."""
        return sorted(self._pairs, key=lambda p: p.index)
