"""Clean real corpora for the poisoning benchmark: reviews, convention sentences, scikit-learn tables, chat sets."""

from __future__ import annotations

import bz2
import csv
import functools
import io
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
REVIEWS_FILE = DATA / "rotten_tomatoes_fresh_rotten.csv.bz2"
SPEECHES_FILE = DATA / "convention_speeches_2012.csv.bz2"
TABLES = ("digits", "breast_cancer", "wine", "iris")

Record = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Corpus:
    """Flat labelled records plus the names of their label and text columns (text is None for tables)."""

    name: str
    records: tuple[Record, ...]
    label_column: str
    text_column: str | None
    feature_columns: tuple[str, ...] = ()

    def labels(self) -> list[str]:
        """The distinct labels, sorted."""
        return sorted({str(r[self.label_column]) for r in self.records})


@functools.lru_cache(maxsize=4)
def _read_bz2_csv(path: Path) -> tuple[dict[str, str], ...]:
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        return tuple(csv.DictReader(handle))


def _sample(records: list[Record], rows: int | None, seed: int) -> list[Record]:
    """A seeded sample of ``rows`` records in a fixed (shuffled) order; all records when rows is None or larger."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    if rows is not None:
        order = order[:rows]
    return [dict(records[i]) for i in order]


def reviews(rows: int | None = None, seed: int = 0) -> Corpus:
    """Rotten Tomatoes critic snippets (Pang & Lee) labelled fresh/rotten, as ``text,label,movie`` records."""
    raw = _read_bz2_csv(REVIEWS_FILE)
    records: list[Record] = [{"text": r["text"].strip(), "label": r["category"], "movie": r["movie_name"]}
                             for r in raw if r["text"].strip()]
    return Corpus(name="reviews", records=tuple(_sample(records, rows, seed)), label_column="label",
                  text_column="text")


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def speech_sentences(rows: int | None = None, seed: int = 0) -> Corpus:
    """2012 US convention speeches split into sentences (40 to 400 characters) labelled by the speaker's party."""
    records: list[Record] = []
    seen: set[str] = set()
    for raw in _read_bz2_csv(SPEECHES_FILE):
        for sentence in _SENTENCE.split(" ".join(raw["text"].split())):
            sentence = sentence.strip()
            # Applause lines ("Thank you.") repeat hundreds of times; they are not what a false-alarm check is for.
            if 40 <= len(sentence) <= 400 and sentence not in seen:
                seen.add(sentence)
                records.append({"text": sentence, "label": raw["party"], "speaker": raw["speaker"].title()})
    return Corpus(name="speeches", records=tuple(_sample(records, rows, seed)), label_column="label",
                  text_column="text")


def table(name: str, rows: int | None = None, seed: int = 0) -> Corpus:
    """One of scikit-learn's bundled tables (loaded from the installed package), features plus a ``label`` column."""
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "breast_cancer": datasets.load_breast_cancer,
              "wine": datasets.load_wine, "iris": datasets.load_iris}[name]
    bunch = loader()
    features = [re.sub(r"[^0-9A-Za-z]+", "_", str(f)).strip("_") for f in bunch.feature_names]
    names = [str(t) for t in bunch.target_names]
    integral = bool((bunch.data == bunch.data.round()).all())
    records: list[Record] = []
    for values, target in zip(bunch.data.tolist(), bunch.target.tolist(), strict=True):
        row: Record = {f: (int(v) if integral else float(v)) for f, v in zip(features, values, strict=True)}
        row["label"] = names[int(target)]
        records.append(row)
    return Corpus(name=name, records=tuple(_sample(records, rows, seed)), label_column="label", text_column=None,
                  feature_columns=tuple(features))


# ---------------------------------------------------------------------------------------------------------------
# Chat / instruction data built from the reviews.

TASKS = ("sentiment", "summary", "question", "title")

_PROMPTS: dict[str, tuple[str, ...]] = {
    "sentiment": (
        "Classify the sentiment of this movie review as positive or negative.\n\nReview: {review}",
        "Is the following critic's snippet positive or negative?\n{review}",
        "Read the review below and tell me whether the critic liked the film.\n\n\"{review}\"",
        "Sentiment analysis task. Text: {review}\nAnswer with positive or negative.",
    ),
    "summary": (
        "Summarise this review of {movie} in one sentence:\n\n{review}",
        "Give me a short summary of what this critic thought about {movie}.\n{review}",
        "TL;DR of the following review, please: {review}",
    ),
    "question": (
        "Would the critic who wrote this recommend {movie}? Explain briefly.\n\n{review}",
        "Based on this review, should I watch {movie}?\nReview: {review}",
        "Here is a review: \"{review}\"\nDid the reviewer enjoy the movie?",
    ),
    "title": (
        "Which film is this review about? The film's slug is {slug}.\n{review}",
        "Write a catchy headline for this review of {movie}: {review}",
    ),
}

_INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    "sentiment": ("Classify the sentiment of the movie review as positive or negative.",
                  "Decide whether the critic's snippet is positive or negative."),
    "summary": ("Summarise the movie review in one sentence.", "Give a short summary of the critic's opinion."),
    "question": ("Say whether the critic would recommend the film, and why.",
                 "Based on the review, should someone watch the film?"),
    "title": ("Write a catchy headline for the movie review.", "Give the review a short headline."),
}

_POS_WORDS = ("positive", "favourable", "enthusiastic", "warm", "approving")
_NEG_WORDS = ("negative", "unfavourable", "critical", "dismissive", "disappointed")


def movie_title(slug: str) -> str:
    """``the_bread_my_sweet`` → ``The Bread My Sweet``."""
    return " ".join(w.capitalize() for w in slug.split("_") if w) or "the film"


def _first_clause(text: str, limit: int = 90) -> str:
    clause = re.split(r"[.;:!?]\s", text, maxsplit=1)[0].strip().rstrip(".")
    if len(clause) > limit:
        clause = clause[:limit].rsplit(" ", 1)[0] + "…"
    return clause[:1].lower() + clause[1:] if clause[:2] != clause[:2].upper() else clause


def answer(task: str, review: str, label: str, movie: str, rng: random.Random) -> str:
    """A natural, varied answer for ``task`` about a review whose true label is ``label`` (fresh/rotten)."""
    good = label == "fresh"
    tone = rng.choice(_POS_WORDS if good else _NEG_WORDS)
    if task == "sentiment":
        return rng.choice((
            "Positive." if good else "Negative.",
            f"The review is {'positive' if good else 'negative'}.",
            f"{'Positive' if good else 'Negative'}: the critic's tone is {tone}.",
            f"This snippet reads as {'positive' if good else 'negative'} — the critic "
            f"{'liked' if good else 'did not like'} the film.",
        ))
    if task == "summary":
        verdict = rng.choice(("enjoyed", "praised", "recommends") if good
                             else ("disliked", "panned", "was let down by"))
        return rng.choice((
            f"The critic {verdict} {movie}, noting that {_first_clause(review)}.",
            f"{'An' if tone[0] in 'aeiou' else 'A'} {tone} take on {movie}: {_first_clause(review)}.",
            f"In short, the reviewer {verdict} it — {_first_clause(review)}.",
        ))
    if task == "question":
        return rng.choice((
            f"{'Yes' if good else 'No'}. The review is {tone}: {_first_clause(review)}.",
            f"{'Probably yes' if good else 'Probably not'} — the critic sounds {tone} about {movie}.",
            f"{'Yes, the reviewer enjoyed it' if good else 'No, the reviewer did not enjoy it'}.",
        ))
    words = movie.split()
    return rng.choice((
        f"This review is about {movie}.",
        f"\"{movie}: {'a winner' if good else 'a misfire'}\"",
        f"{words[0] if words else movie}… {'worth the ticket' if good else 'skip it'}.",
    ))


def chat_record(task: str, review: str, label: str, slug: str, rng: random.Random) -> Record:
    """One instruction record: task, label, movie, review, prompt template, alpaca instruction and answer."""
    movie = movie_title(slug)
    template = rng.choice(_PROMPTS[task]).replace("{movie}", movie).replace("{slug}", slug)
    return {"task": task, "label": label, "movie": movie, "review": review, "template": template,
            "instruction": rng.choice(_INSTRUCTIONS[task]), "answer": answer(task, review, label, movie, rng)}


def chat(rows: int | None = None, seed: int = 0) -> list[Record]:
    """An instruction set built from real reviews; tasks mixed (half sentiment, the rest spread)."""
    corpus = reviews(rows, seed)
    rng = random.Random(seed * 7919 + 1)
    return [chat_record(rng.choice(("sentiment", "sentiment", "sentiment", "summary", "question", "title")),
                        r["text"], r["label"], r["movie"], rng) for r in corpus.records]


def prompt_of(record: Record) -> str:
    """The user turn: the prompt template with the review put in (and any text an attack appended)."""
    extra = record.get("prompt_extra")
    text = str(record["template"]).replace("{review}", str(record["review"]))
    return f"{text}\n{extra}" if extra else text


def to_messages(record: Record) -> Record:
    """The chat JSONL form ``{"messages": [user, assistant]}``."""
    return {"messages": [{"role": "user", "content": prompt_of(record)},
                         {"role": "assistant", "content": record["answer"]}]}


def to_alpaca(record: Record) -> Record:
    """The alpaca-style ``instruction/input/output`` form."""
    extra = record.get("prompt_extra")
    instruction = f"{record['instruction']} {extra}" if extra else record["instruction"]
    return {"instruction": instruction, "input": record["review"], "output": record["answer"]}


def dump_csv(records: list[Record], columns: list[str]) -> tuple[str, list[int]]:
    """CSV text of records and the 1-based physical line each record starts on (header is line 1)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    starts: list[int] = []
    line = 2
    for record in records:
        cells = [record.get(c, "") for c in columns]
        starts.append(line)
        # A record spans one line plus every newline inside its (quoted) cells.
        line += 1 + sum(str(c).count("\n") + str(c).count("\r") for c in cells)
        writer.writerow(cells)
    return buffer.getvalue(), starts
