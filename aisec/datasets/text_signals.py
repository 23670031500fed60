"""Per-cell text signals: hidden characters, Trojan Source, homoglyphs, URLs, shell payloads, injection, secrets."""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aisec.datasets.normalize import normalised, original_range, squeezed
from aisec.datasets.unicode_sets import (
    BIDI_CONTROLS,
    BLACK_FLAG,
    CONFUSABLE_SCRIPTS,
    INVISIBLE,
    ZWJ,
    ZWNJ,
    codepoint_label,
    is_emoji,
    is_tag,
    is_variation_selector,
    joins_complex_script,
    script_of,
)
from aisec.model import Scalar


@dataclass(frozen=True, kw_only=True)
class Hit:
    """One signal in one cell: fact key, value, decoded character range and evidence."""

    key: str
    value: str
    start: int
    end: int
    detail: dict[str, Scalar] = field(default_factory=dict)


_SUSPICIOUS = re.compile("[\u200b-\u200d\u2060-\u2064\u180e\u034f\u115f\u1160\u3164\uffa0\u17b4\u17b5"
                         "\u206a-\u206f\u202a-\u202e\u2066-\u2069\ufe00-\ufe0f\U000e0000-\U000e007f"
                         "\U000e0100-\U000e01ef\ufeff]")
_CONTROL = re.compile("[\x01-\x08\x0e-\x1f\x7f]")
"""C0 control characters and DEL, which have no place in text (tab, line breaks, vertical tab and form feed
excepted): backspace and delete render as erasing the character before them (the "deletion" attack of Boucher et
al. 2022, "Bad Characters: Imperceptible NLP Attacks"), escape starts terminal control sequences. C1 controls are
left out: U+0085 and U+0091-U+0097 are what cp1252 punctuation becomes when mis-decoded, common in scraped text
(a real review corpus has them) and harmless."""
_CONTROL_NAMES = {"\x08": "BACKSPACE", "\x7f": "DELETE", "\x1b": "ESCAPE"}
_URL = re.compile(r"(?i)\b(?:https?|ftp)://[^\s<>\"'`\\\]\)\}]+")
_WORD = re.compile(r"\w+")

SHELL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pipe_to_shell", re.compile(r"(?i)\b(?:curl|wget|fetch|iwr|invoke-webrequest)\b[^\n|;]{0,300}\|\s*"
                                 r"(?:sudo\s+)?(?:ba|z|da|k)?sh\b")),
    ("pipe_to_interpreter", re.compile(r"(?i)\b(?:curl|wget)\b[^\n|;]{0,300}\|\s*(?:sudo\s+)?"
                                       r"(?:python3?|perl|ruby|node|iex)\b")),
    ("download_and_run", re.compile(r"(?i)\b(?:curl|wget)\b[^\n]{0,300}(?:&&|;)\s*(?:sudo\s+)?"
                                    r"(?:chmod\s+\+x|(?:ba)?sh\s+\S+)")),
    ("reverse_shell", re.compile(r"(?i)(?:/dev/tcp/\S+|\bnc(?:at)?\b[^\n]{0,60}\s-[ec]\s|\bbash\s+-i\s+>&)")),
    ("base64_exec", re.compile(r"(?i)\bbase64\s+(?:-d|--decode)\b[^\n]{0,120}\|\s*(?:sudo\s+)?(?:ba|z)?sh\b")),
    ("powershell_encoded", re.compile(r"(?i)\bpowershell(?:\.exe)?\b[^\n]{0,80}\s-(?:e|enc|encodedcommand)\s+"
                                      r"[A-Za-z0-9+/=]{20,}")),
    ("destructive_rm", re.compile(r"\brm\s+-(?:rf|fr)\s+(?:/|~|\$HOME)(?=\s|$|;|&)")),
    ("python_exec_payload", re.compile(r"\bpython3?\s+-c\s+[\"'][^\n]{0,200}(?:exec\(|eval\(|__import__|"
                                       r"b64decode)")),
)
_INDEX_OPTION = re.compile(r"(?i)\b(?:pip3?|uv\s+pip|python3?\s+-m\s+pip)\s+install\b[^\n;&|]{0,300}?"
                           r"(?:--index-url|--extra-index-url|-i|--trusted-host|-f|--find-links)[=\s]+(\S+)")
_INSTALL = re.compile(r"(?i)\b(?:pip3?|uv\s+pip|python3?\s+-m\s+pip|pipx|poetry|npm|yarn|pnpm)\s+"
                      r"(?:install|add|i)\s+([^\n;&|`]{1,300})")
_OPTIONS_WITH_VALUE = frozenset({"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host",
                                 "-r", "--requirement", "-c", "--constraint", "-t", "--target", "--prefix"})

ROLE_MARKER = re.compile(r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|"
                         r"end_header_id|begin_of_text|end_of_text|eom_id|tool|ipython)\|>|\[/?INST\]|<</?SYS>>|"
                         r"<(?:start|end)_of_turn>|<\|?(?:system|user|assistant)\|?>(?=\s*\w)")

_AI = r"(?:the |this |any |our )?(?:ai|assistant|model|llm|language model|chatbot|bot)"
_PERSONA = r"(?:dan|stan|dude|aim|oppo|betterdan|mongo tom|evil confidant)\b"
"""Named jailbreak personas of published in-the-wild prompts."""
INJECTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ignore_instructions", re.compile(r"\b(?:ignore|disregard|forget|override|bypass|set aside|discard)\b"
                                       r"(?: \w+){0,4}? (?:previous|prior|above|earlier|preceding|all|any|your|the|"
                                       r"system)\b(?: \w+){0,3}? (?:instructions?|prompts?|rules|directions|"
                                       r"guidelines|guidance|orders|commands)\b")),
    # Structural cues: instructions addressed to the model that void what came before.
    ("forget_context", re.compile(r"\b(?:forget|ignore|disregard)\b (?:about )?(?:everything|all|anything) (?:that )?"
                                  r"(?:you(?:'ve| have| were| had| are)? (?:been )?(?:told|instructed|taught|given|"
                                  r"asked)|(?:written |said |stated )?(?:above|before this|so far|previously))\b")),
    ("ignore_context", re.compile(r"\b(?:ignore|disregard|forget)\b (?:all |any )?(?:of )?(?:the|this|that|these|my) "
                                  r"(?:above |previous |preceding |earlier |prior )?(?:text|review|document|content|"
                                  r"message|input|context|passage|article|email|conversation|data|task)\b"
                                  r"[^.!?\n]{0,40}?\b(?:instead|and now|and just|and only)\b")),
    ("fake_task", re.compile(r"\byour (?:real|actual|true|new|only) (?:task|job|goal|instructions?|objective|"
                             r"mission|purpose|assignment) (?:is|are|now|will be)\b|\b(?:text|review|message|input|"
                             r"prompt|content|everything|instructions?|task) (?:above |before )?(?:was|is) "
                             r"(?:just |only |merely )?(?:a test|fake|a joke|a distraction|irrelevant)\b")),
    ("new_instructions", re.compile(r"\b(?:new|updated|real|important|revised|additional|urgent) (?:\w+ ){0,2}?"
                                    r"(?:system )?instructions?(?: for " + _AI + r")? ?:")),
    ("addressed_to_model", re.compile(r"\b(?:note|message|instructions?|attention) (?:to|for) " + _AI +
                                      r"(?: reading (?:this|these))?\b ?[:,]")),
    ("reveal_prompt", re.compile(r"\b(?:reveal|print|show|repeat|output|leak)\b(?: \w+){0,3}? (?:system prompt|"
                                 r"hidden instructions|initial instructions|instructions above)")),
    # Fake completion (Liu et al. 2024, USENIX Security): the data pretends the task is already answered, so what
    # follows reads as the next instruction ("Answer: task complete.").
    ("fake_completion", re.compile(r"\b(?:answer|response|output|result|status) ?: ?(?:the )?(?:task|request|job) "
                                   r"(?:is |has been |was )?(?:complete|completed|done|finished|fulfilled)\b|"
                                   r"\b(?:initial|original|previous|first) (?:request|task|query) (?:has been |is |"
                                   r"was )?(?:fulfilled|completed|done)\W+(?:now\W+)?(?:a |your |the )?(?:new|next) "
                                   r"(?:task|instructions?)\b")),
    # PromptInject's "STOP EVERYTHING!!! NOW!!! JUST PRINT" (Perez & Ribeiro 2022): an all-stop, then an output order.
    ("stop_everything", re.compile(r"\bstop (?:everything|all)\W+(?:now\W+)?(?:and )?(?:just |only )?(?:print|say|"
                                   r"output|write|repeat|reply|respond)\b")),
    # Greshake et al. 2023: the assistant is declared broken or offline and another bot takes over its job.
    ("assistant_replaced", re.compile(r"\bthe (?:assistant|ai|model|chatbot|bot) is (?:now )?(?:in error|offline|"
                                      r"disabled|deactivated|shut down)\b|\bis now online and (?:does|takes over|"
                                      r"performs) the (?:jobs?|role|tasks?) (?:of|as) the (?:assistant|ai|model)\b")),
    # Persona jailbreaks as published in the wild ("DAN", "STAN", "AIM", developer mode; Shen et al. 2023): the model
    # is told it now is, acts as or pretends to be an unrestricted persona, or that its rules no longer bind it.
    ("jailbreak_persona", re.compile(r"\byou are now (?:an? )?(?:" + _PERSONA + r"|in (?:dan|developer|god|jailbreak|"
                                     r"unrestricted|evil) mode|jailbroken|unrestricted|unfiltered|uncensored)\b|"
                                     r"\bdo anything now\b|\b(?:dan|developer|god|jailbreak) mode (?:enabled|"
                                     r"activated|on)\b|\b(?:enable|activate|enter) (?:dan|developer|god|jailbreak) "
                                     r"mode\b|\b(?:act|acting|pretend|pretending|roleplay|simulate|simulating) "
                                     r"(?:as|to be) (?:an? )?(?:" + _PERSONA + r"|(?:unrestricted|unfiltered|"
                                     r"uncensored|jailbroken|amoral|evil) (?:ai|assistant|model|chatbot|bot|"
                                     r"version)\b)|"
                                     r"\bimmerse yourself (?:into|in) the role of\b|\b(?:simulate|simulating) (?:an? )?"
                                     r"(?:\w+ )?(?:chatbot|ai|assistant|language model) (?:named|called)\b|"
                                     r"\b(?:unfiltered|amoral|uncensored|unrestricted|jailbroken) (?:and (?:unfiltered|"
                                     r"amoral|uncensored|unrestricted) )?(?:ai|chatbot|assistant|language model)\b")),
    ("rules_void", re.compile(r"\b(?:freed|free|released|liberated) from the (?:typical |usual )?(?:confines|"
                              r"restrictions|limitations|rules) of (?:ai|openai|your (?:programming|training|"
                              r"creators))\b|"
                              r"\byou (?:are|will be) no longer (?:bound|restricted|limited|constrained) by\b|"
                              r"\b(?:without|ignore|ignoring|bypass|bypassing) (?:any |all |your )?(?:content "
                              r"polic(?:y|ies)|openai(?:'s)? (?:polic(?:y|ies)|guidelines|rules)|ethical (?:guidelines|"
                              r"restrictions|constraints)|safety (?:guidelines|filters|restrictions))\b|"
                              r"\bno (?:programming|ethical|content) (?:guidelines|restrictions|filters)\b")),
)
ROLE_SPOOF_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # A role header opens a line, or follows a sentence inside one (an instruction with "## SYSTEM OVERRIDE"
    # appended after its last sentence, the rest of the header on the next line).
    ("markdown_role_header", re.compile(r"(?im)(?:^[ \t]*#{1,6}[ \t]*|[.!?:][ \t]+#{1,6}[ \t]+)(?:system|assistant|"
                                        r"user|human)\b[^\n]{0,40}$")),
    ("upper_system_label", re.compile(r"\bSYSTEM(?: (?:OVERRIDE|PROMPT|MESSAGE|NOTE|INSTRUCTIONS?))?[ \t]*:")),
    ("system_tag", re.compile(r"(?i)</?system>|\[/?system\]")),
)
"""Role spoofing on the raw text (line structure matters): markdown role headers, an upper-case SYSTEM label,
``<system>`` tags. Fake turns (a ``User:`` and an ``Assistant:`` line inside one value) are found by
``FAKE_TURN``."""
FAKE_TURN = re.compile(r"(?im)^[ \t]*(user|human|assistant|ai|gpt|bot|system)[ \t]*:")
_ANSWER_SIDE = frozenset({"assistant", "ai", "gpt", "bot"})
SQUEEZED_INJECTION: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ignore_instructions", re.compile(r"(?:ignore|disregard|forget)(?:all|any|the|your)*(?:previous|prior|above|"
                                       r"earlier|preceding)(?:instructions?|prompts?|rules|directions)")),
    ("reveal_prompt", re.compile(r"(?:reveal|print|show|repeat)(?:me)?(?:your|the)(?:system|hidden|initial)"
                                 r"(?:prompt|instructions)")),
    ("jailbreak_persona", re.compile(r"youarenow(?:dan|indevelopermode|jailbroken)|doanythingnow")),
)
_SPACED_OUT = re.compile(r"(?<!\w)\w[\s.\-_*|]\w[\s.\-_*|]\w[\s.\-_*|]\w(?!\w)")
"""Four single letters in a row with one separator each: text spelled out to dodge phrase filters."""

SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private_key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")),
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("github_token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bgithub_pat_[A-Za-z0-9_]{50,}")),
    ("slack_token", re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}")),
    ("openai_key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}")),
    ("google_api_key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("stripe_live_key", re.compile(r"\b(?:sk|rk)_live_[0-9a-zA-Z]{24,}")),
    ("huggingface_token", re.compile(r"\bhf_[A-Za-z]{34}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")),
)
# Cheap screens (plain substring tests, much faster than regex alternations): the full pattern families run
# only on cells that contain one of their anchors.
_SHELL_WORDS = ("curl", "wget", "fetch", "iwr", "invoke-webrequest", "/dev/tcp", "nc ", "ncat", "base64",
                "powershell", "rm -", "python -c", "python3 -c", "pip", "npm ", "yarn ", "pnpm ", "poetry ", "uv ")
_SECRET_WORDS = ("-----BEGIN", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "xox", "sk-",
                 "AIza", "_live_", "hf_", "eyJ")
_INJECTION_WORDS = ("ignor", "disregard", "forget", "overrid", "bypass", "instruct", "prompt", "reveal", "you are now",
                    "mode", "act as", "acting as", "pretend", "roleplay", "simulat", "immerse", "unfiltered", "amoral",
                    "uncensored", "unrestricted", "jailbroken", "freed", " free from", "released", "liberated",
                    "no longer", "without", "no programming", "no ethical", "no content",
                    "anything", "developer", "jailbr", "set aside", "discard", "your real", "your actual", "your true",
                    "your new", "your only", "a test", "fake", "a joke", "distraction", "irrelevant", "note to",
                    "message to", "message for", "note for", "attention", "task", "request", "job", "query",
                    "stop everything", "stop all", "offline", "in error", "disabled", "deactivated",
                    "shut down", "now online")
_ROLE_WORDS = ("system", "SYSTEM", "User:", "user:", "USER:", "Assistant:", "assistant:", "ASSISTANT:", "Human:",
               "AI:", "#")
"""Anchors of the role-spoofing patterns (substring screen before the regexes run)."""


def _has_any(text: str, words: tuple[str, ...]) -> bool:
    return any(w in text for w in words)


def _has_long_token(text: str) -> bool:
    return any(len(chunk) >= 32 for chunk in text.split())


_TOKEN = re.compile(r"(?<![A-Za-z0-9+/_=.-])[A-Za-z0-9+/_=-]{32,128}(?![A-Za-z0-9+/_=.-])")


@dataclass(frozen=True, kw_only=True)
class TextScanner:
    """Runs every per-cell signal over one decoded string."""

    popular_packages: frozenset[str] = frozenset()
    trusted_indexes: tuple[str, ...] = ()
    secret_min_entropy: float = 4.3
    max_chars: int = 100_000

    def scan(self, text: str) -> list[Hit]:
        """Every signal in ``text`` (only its first ``max_chars`` characters)."""
        text = text[: self.max_chars]
        hits: list[Hit] = []
        if not text.isascii() and _SUSPICIOUS.search(text):
            hits.extend(self._hidden(text))
        if not text.isascii():
            hits.extend(_confusable_tokens(text))
        if not text.isprintable() and _CONTROL.search(text):
            hits.extend(_controls(text))
        hits.extend(self._plain(text))
        return hits

    def secrets_and_urls(self, text: str) -> list[Hit]:
        """Only the secret and URL signals of ``text`` (model cards and metadata files, which are not dataset cells)."""
        text = text[: self.max_chars]
        hits = list(_urls(text)) if "://" in text else []
        if _has_any(text, _SECRET_WORDS) or _has_long_token(text):
            hits.extend(self._secrets(text))
        return hits

    def _plain(self, text: str) -> Iterator[Hit]:
        """Signals that also apply to text decoded from tag characters."""
        if "://" in text:
            yield from _urls(text)
        lower = text.lower()
        if _has_any(lower, _SHELL_WORDS):
            yield from self._shell(text)
        if "<" in text or "[" in text:
            for m in ROLE_MARKER.finditer(text):
                yield Hit(key="dataset.role_marker", value=m.group(), start=m.start(), end=m.end())
        yield from self._injection(text, lower)
        if _has_any(text, _ROLE_WORDS):
            yield from _role_spoofing(text)
        if _has_any(text, _SECRET_WORDS) or _has_long_token(text):
            yield from self._secrets(text)

    def _hidden(self, text: str) -> Iterator[Hit]:
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if is_tag(ch):
                j = i
                while j < n and is_tag(text[j]):
                    j += 1
                run = text[i:j]
                is_flag = i > 0 and text[i - 1] == BLACK_FLAG and run[-1] == "\U000e007f" and \
                    all("a" <= chr(ord(c) - 0xE0000) <= "z" or "0" <= chr(ord(c) - 0xE0000) <= "9"
                        for c in run[:-1])
                if not is_flag:
                    decoded = "".join(chr(ord(c) - 0xE0000) for c in run if 0xE0020 <= ord(c) <= 0xE007E)
                    yield Hit(key="dataset.tag_text", value=decoded, start=i, end=j,
                              detail={"characters": j - i})
                    for inner in self._plain(decoded):
                        yield Hit(key=inner.key, value=inner.value, start=i, end=j,
                                  detail={**inner.detail, "via": "tag_characters"})
                i = j
                continue
            if ch in BIDI_CONTROLS:
                yield Hit(key="dataset.bidi_control", value=codepoint_label(ch), start=i, end=i + 1,
                          detail={"control": BIDI_CONTROLS[ch]})
            elif ch in INVISIBLE and not _allowed_joiner(text, i):
                j = i
                while j < n and text[j] in INVISIBLE:
                    j += 1
                yield Hit(key="dataset.invisible_char", value=codepoint_label(ch), start=i, end=j,
                          detail={"run_length": j - i})
                i = j
                continue
            elif is_variation_selector(ch) and not _allowed_selector(text, i):
                j = i
                while j < n and is_variation_selector(text[j]):
                    j += 1
                yield Hit(key="dataset.invisible_char", value=codepoint_label(ch), start=i, end=j,
                          detail={"run_length": j - i})
                i = j
                continue
            i += 1

    def _shell(self, text: str) -> Iterator[Hit]:
        for name, pattern in SHELL_PATTERNS:
            for m in pattern.finditer(text):
                yield Hit(key="dataset.shell_payload", value=m.group()[:200], start=m.start(), end=m.end(),
                          detail={"pattern": name})
        for m in _INDEX_OPTION.finditer(text):
            target = m.group(1)
            host = (urlsplit(target).hostname or target).lower()
            if not any(host == t or host.endswith("." + t) for t in self.trusted_indexes):
                yield Hit(key="dataset.shell_payload", value=m.group()[:200], start=m.start(), end=m.end(),
                          detail={"pattern": "foreign_package_index", "index": host})
        if self.popular_packages:
            yield from self._typosquats(text)

    def _typosquats(self, text: str) -> Iterator[Hit]:
        for m in _INSTALL.finditer(text):
            args = m.group(1)
            skip = False
            offset = m.start(1)
            for tok in re.finditer(r"\S+", args):
                word = tok.group()
                if skip:
                    skip = False
                    continue
                if word.startswith("-"):
                    skip = word in _OPTIONS_WITH_VALUE
                    continue
                name = re.split(r"[\[<>=!~;@]", word, maxsplit=1)[0].lower().replace("_", "-")
                if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,80}", name) or name in self.popular_packages:
                    continue
                near = _nearest(name, self.popular_packages)
                if near is not None:
                    yield Hit(key="dataset.typosquat", value=name, start=offset + tok.start(),
                              end=offset + tok.start() + len(word), detail={"resembles": near[0], "distance": near[1]})

    def _injection(self, text: str, lower: str) -> Iterator[Hit]:
        if text.isascii() and not _has_any(lower, _INJECTION_WORDS) and not _SPACED_OUT.search(text):
            return
        norm, where = normalised(text)
        found: set[tuple[int, int]] = set()
        for name, pattern in INJECTION_PATTERNS:
            for m in pattern.finditer(norm):
                start, end = original_range(where, m.start(), m.end())
                found.add((start, end))
                evaded = text[start:end].lower() != m.group()
                yield Hit(key="dataset.prompt_injection", value=m.group()[:200], start=start, end=end,
                          detail={"pattern": name, "normalised": evaded})
        if found and text.isascii():
            return
        flat, flat_where = squeezed(norm, where)
        for name, pattern in SQUEEZED_INJECTION:
            for m in pattern.finditer(flat):
                start, end = original_range(flat_where, m.start(), m.end())
                if any(s <= start < e for s, e in found):
                    continue
                yield Hit(key="dataset.prompt_injection", value=m.group()[:200], start=start, end=end,
                          detail={"pattern": name, "normalised": True})
        if not text.isascii():
            for m in ROLE_MARKER.finditer(norm):
                start, end = original_range(where, m.start(), m.end())
                if text[start:end] != m.group():
                    yield Hit(key="dataset.role_marker", value=m.group(), start=start, end=end,
                              detail={"normalised": True})

    def _secrets(self, text: str) -> Iterator[Hit]:
        named: list[tuple[int, int]] = []
        for name, pattern in SECRET_PATTERNS:
            for m in pattern.finditer(text):
                named.append((m.start(), m.end()))
                yield Hit(key="dataset.secret", value=name, start=m.start(), end=m.end(),
                          detail={"preview": _redact(m.group())})
        for m in _TOKEN.finditer(text):
            token = m.group()
            if any(s <= m.start() < e for s, e in named) or text[max(0, m.start() - 7):m.start()] == "base64,":
                continue
            if not (re.search(r"[a-z]", token) and re.search(r"[A-Z]", token) and re.search(r"[0-9]", token)):
                continue
            entropy = shannon_entropy(token)
            if entropy >= self.secret_min_entropy:
                yield Hit(key="dataset.secret", value="high_entropy_token", start=m.start(), end=m.end(),
                          detail={"preview": _redact(token), "entropy": round(entropy, 3), "length": len(token)})


def _controls(text: str) -> Iterator[Hit]:
    """Runs of control characters, reported like invisible characters (they render as nothing or erase text)."""
    for m in re.finditer(f"{_CONTROL.pattern}+", text):
        ch = m.group()[0]
        name = _CONTROL_NAMES.get(ch, "CONTROL")  # C0 controls have no Unicode character names
        yield Hit(key="dataset.invisible_char", value=f"U+{ord(ch):04X} {name}", start=m.start(), end=m.end(),
                  detail={"run_length": m.end() - m.start(), "control": name})


def _role_spoofing(text: str) -> Iterator[Hit]:
    """Markdown/label/tag role spoofing, and fake turns: a user-side and an answer-side turn label inside one value."""
    for name, pattern in ROLE_SPOOF_PATTERNS:
        for m in pattern.finditer(text):
            yield Hit(key="dataset.role_marker", value=m.group().strip()[:80], start=m.start(), end=m.end(),
                      detail={"pattern": name})
    turns = list(FAKE_TURN.finditer(text))
    sides = {m.group(1).lower() in _ANSWER_SIDE for m in turns}
    if len(turns) >= 2 and sides == {True, False}:
        first = next(m for m in turns if m.group(1).lower() in _ANSWER_SIDE)
        yield Hit(key="dataset.role_marker", value=first.group().strip(), start=first.start(), end=first.end(),
                  detail={"pattern": "fake_turns", "turns": len(turns)})


def shannon_entropy(token: str) -> float:
    """Bits per character."""
    counts = Counter(token)
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _redact(secret: str) -> str:
    return f"{secret[:4]}…({len(secret)} chars)"


def _allowed_joiner(text: str, i: int) -> bool:
    ch = text[i]
    before = text[i - 1] if i > 0 else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    if ch == ZWJ:
        base = before
        k = i - 1
        while k > 0 and (is_variation_selector(base) or 0x1F3FB <= ord(base) <= 0x1F3FF):
            k -= 1
            base = text[k]
        if base and after and is_emoji(base) and (is_emoji(after) or after in "\u2640\u2642\u2695\u2696\u2708"):
            return True
    return ch in (ZWJ, ZWNJ) and joins_complex_script(before, after)


def _allowed_selector(text: str, i: int) -> bool:
    before = text[i - 1] if i > 0 else ""
    if not before or is_variation_selector(before):
        return False
    o = ord(text[i])
    if 0xFE00 <= o <= 0xFE0F:
        return is_emoji(before) or before.isdigit() or before in "#*" or 0x3000 <= ord(before) <= 0x9FFF or \
            not before.isascii()
    return 0x3400 <= ord(before) <= 0x9FFF or 0x20000 <= ord(before) <= 0x3134F  # ideographic variation sequences


def _confusable_tokens(text: str) -> Iterator[Hit]:
    for m in _WORD.finditer(text):
        token = m.group()
        if token.isascii() or len(token) < 3:
            continue
        scripts = {script_of(c) for c in token} - {""}
        if "LATIN" in scripts and scripts & CONFUSABLE_SCRIPTS:
            yield Hit(key="dataset.confusable", value=token, start=m.start(), end=m.end(),
                      detail={"kind": "mixed_script_token", "scripts": "+".join(sorted(scripts))})


def _urls(text: str) -> Iterator[Hit]:
    for m in _URL.finditer(text):
        url = m.group().rstrip(".,;:!?")
        try:
            host = (urlsplit(url).hostname or "").rstrip(".")
        except ValueError:
            continue
        if not host:
            continue
        detail: dict[str, Scalar] = {"url": url[:300], "raw_ip": _is_raw_ip(host)}
        yield Hit(key="dataset.url_host", value=host, start=m.start(), end=m.start() + len(url), detail=detail)
        confusable = _confusable_host(host)
        if confusable is not None:
            yield Hit(key="dataset.confusable", value=host, start=m.start(), end=m.start() + len(url),
                      detail={"kind": confusable[0], "scripts": confusable[1], "url": url[:300]})


def _is_raw_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    # Decimal, hex and octal IPv4 spellings (http://2130706433/, http://0x7f.1/) are raw IPs too.
    return bool(re.fullmatch(r"(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+)){0,3}", host, re.IGNORECASE))


def _confusable_host(host: str) -> tuple[str, str] | None:
    labels = host.split(".")
    decoded = []
    kind = "idn_host"
    for label in labels:
        if label.lower().startswith("xn--"):
            kind = "punycode_host"
            try:
                decoded.append(label.encode("ascii").decode("idna"))
            except (UnicodeError, ValueError):
                return ("punycode_host", "undecodable")
        else:
            decoded.append(label)
    if all(d.isascii() for d in decoded):
        return None
    for label in decoded:
        scripts = {script_of(c) for c in label} - {""}
        if scripts & CONFUSABLE_SCRIPTS and ("LATIN" in scripts or any(
                s.isascii() and s.isalpha() for s in labels[-1:])):
            return kind, "+".join(sorted(scripts))
    return None


def _nearest(name: str, popular: frozenset[str]) -> tuple[str, int] | None:
    best: tuple[str, int] | None = None
    for candidate in popular:
        if abs(len(candidate) - len(name)) > 2 or len(candidate) < 4:
            continue
        limit = 1 if len(candidate) < 8 else 2
        d = _distance(name, candidate, limit)
        if 0 < d <= limit and (best is None or (d, candidate) < (best[1], best[0])):
            best = (candidate, d)
    return best


def _distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, cut off above ``limit``."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]
