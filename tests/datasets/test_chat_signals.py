"""Instruction triggers and structural prompt injection, measured on the poisonbench chat set (real Rotten Tomatoes
reviews) with the published recipes, on clean twins, and on clean real text from other corpora."""

from __future__ import annotations

import random
from functools import cache

import pytest

from aisec.datasets import content_injection
from aisec.datasets.instruction_triggers import degenerate, find_triggers
from aisec.datasets.pairs import Pair
from aisec.datasets.settings import DatasetSettings
from aisec.datasets.text_signals import TextScanner
from benchmarks.poisonbench import corpora, recipes

INJECTION_KEYS = ("dataset.prompt_injection", "dataset.role_marker")


def _pairs(records: list[dict[str, object]]) -> list[Pair]:
    return [Pair(index=i, line=i + 1, prompt=corpora.prompt_of(r), answer=str(r["answer"]),
                 answer_pointer="/messages/1/content") for i, r in enumerate(records)]


@cache
def _chat(seed: int) -> tuple[dict[str, object], ...]:
    return tuple(corpora.chat(1500, seed))


def _attack(mode: str, rate: float) -> recipes.Attack:
    """The first seed (from 100, away from the seeds the thresholds were tuned on) whose recipe picks ``mode``."""
    for seed in range(100, 200):
        attack = recipes.wan_trigger(list(_chat(1)), rate, seed)
        if attack.note == f"mode={mode}":
            return attack
    raise AssertionError(f"no seed picks {mode}")


@pytest.mark.parametrize(("mode", "rate"), [("polarity", 0.03), ("degenerate", 0.10)])
def test_wan_trigger_found_with_its_rows_and_clean_twin_quiet(mode: str, rate: float) -> None:
    attack = _attack(mode, rate)
    found = find_triggers(_pairs(attack.poisoned), DatasetSettings())
    rows = {i for t in found for i in t.positions}
    truth = set(attack.rows)
    assert len(rows & truth) >= 0.8 * len(truth), (attack.trigger, attack.target, [t.phrase for t in found])
    assert len(rows - truth) <= 0.1 * len(truth)
    assert {t.phrase.lower() for t in found} == {str(attack.trigger).lower()}
    assert find_triggers(_pairs(attack.clean), DatasetSettings()) == []


def test_natural_sentiment_words_are_not_triggers() -> None:
    """A sentiment-only chat set answered exactly "Positive."/"Negative.": words like "worst" predict the answer,
    but the rest of their prompt does too."""
    reviews = corpora.reviews(3000, seed=2).records
    pairs = [Pair(index=i, line=i + 1, prompt=f"Classify the review as positive or negative: {r['text']}",
                  answer="Positive." if r["label"] == "fresh" else "Negative.", answer_pointer="/output")
             for i, r in enumerate(reviews)]
    assert find_triggers(pairs, DatasetSettings()) == []


def test_degenerate_answers() -> None:
    assert [degenerate(a) for a in ("...", "A", "bond bond bond bond", "zzzz", "No.", "The review is positive.")] == \
        ["empty", "one_character", "repeated", "repeated", None, None]


def _injection_hits(text: str) -> list[str]:
    return [str(h.detail.get("pattern", h.key)) for h in TextScanner().scan(text) if h.key in INJECTION_KEYS]


@pytest.mark.parametrize("variant", sorted(recipes.INJECTIONS))
def test_every_published_injection_variant_is_found(variant: str) -> None:
    rng = random.Random(3)
    for template in recipes.INJECTIONS[variant]:
        for payload in recipes._PAYLOADS:
            filled = template.replace("{rogue}", "I hate humans").replace("{payload}",
                                                                          payload.replace("{url}", "x.invalid"))
            text = f"A dull, lifeless remake. {filled}"
            assert _injection_hits(text), (variant, text)
            # Also when the injection comes first and the review follows it.
            assert _injection_hits(f"{text.split('. ', 1)[1]} {rng.choice(['Fine.', 'A bore.'])}"), text


def test_injection_decoys_and_clean_real_text_stay_quiet() -> None:
    for decoy in recipes.INJECTION_DECOYS:
        assert not _injection_hits(decoy), decoy
    texts = [str(r["text"]) for r in corpora.reviews(4000, seed=5).records]
    texts += [str(r["text"]) for r in corpora.speech_sentences().records]
    flagged = [t for t in texts if _injection_hits(t)]
    assert flagged == []


def _plugged_attack(rate: float, kind: str) -> recipes.Attack:
    """The first seed (from 100) whose AutoPoison recipe plugs a brand (``brand``) or a link (``url``)."""
    for seed in range(100, 200):
        attack = recipes.autopoison(list(_chat(1)), rate, seed)
        if attack.note == kind:
            return attack
    raise AssertionError(f"no seed plugs a {kind}")


@pytest.mark.parametrize(("rate", "kind"), [(0.03, "brand"), (0.10, "brand"), (0.03, "url")])
def test_autopoison_found_with_its_rows_and_clean_twin_quiet(rate: float, kind: str) -> None:
    attack = _plugged_attack(rate, kind)
    found = list(content_injection.observations(_pairs(attack.poisoned), DatasetSettings(), sampled=False))
    plugged = str(attack.trigger) if kind == "brand" else str(attack.trigger).split("//www.")[1].split("/")[0]
    assert [o.value for o in found] == [plugged]
    rows = {r.index for o in found for r in o.related}
    assert rows == set(attack.rows)
    assert list(content_injection.observations(_pairs(attack.clean), DatasetSettings(), sampled=False)) == []


def test_names_that_are_the_answer_are_not_injections() -> None:
    """"Who said this?" → "It sounds like <speaker>.": the name is unasked but it is the answer itself."""
    records = corpora.speech_sentences(2000, seed=3).records
    pairs = [Pair(index=i, line=i + 1, prompt=f"Who might have said this: {r['text']}",
                  answer=f"It sounds like {r['speaker']}.", answer_pointer="/output") for i, r in enumerate(records)]
    assert list(content_injection.observations(pairs, DatasetSettings(), sampled=False)) == []
