"""Datasets (CSV, JSON Lines, Parquet): per-cell poisoning signals in one streaming pass, then dataset-level
statistics (duplicates, drift, label errors, backdoor triggers) on all rows up to a cap, and a manifest check."""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO, cast

from aisec import file_progress
from aisec.analyzers.base import AnalysisContext
from aisec.datasets import content_injection, dedup, instruction_triggers, labels, manifest, triggers
from aisec.datasets.columnar import Block, Columnar, Plan
from aisec.datasets.limiter import Limiter
from aisec.datasets.pairs import PairCollector
from aisec.datasets.profile import Profile
from aisec.datasets.reading import file_sha256, items_of
from aisec.datasets.records import Observation, ReadIssue, Row
from aisec.datasets.role_notice import fact_detail, missing_roles
from aisec.datasets.roles import infer_roles
from aisec.datasets.row_groups import cell_group, observation_group
from aisec.datasets.settings import DatasetSettings, load_settings
from aisec.datasets.shard_state import shard_state
from aisec.datasets.text_signals import TextScanner
from aisec.errors import AisecError
from aisec.model import ArtifactKind, Fact, RelatedLocation, Scalar
from aisec.source import Source, buffered

CELL_FACTS = {
    "dataset.invisible_char": "an invisible format character (zero-width, filler, stray variation selector) in a cell",
    "dataset.tag_text": "text hidden in Unicode tag characters (ASCII smuggling), decoded",
    "dataset.bidi_control": "a bidirectional override/embedding/isolate control character (Trojan Source)",
    "dataset.confusable": "a mixed-script (homoglyph) token or an IDN/punycode URL host that imitates Latin text",
    "dataset.url_host": "the host of a URL in a cell (detail raw_ip tells whether it is an IP address)",
    "dataset.shell_payload": "a shell or package-install payload (curl|sh, reverse shell, foreign package index …)",
    "dataset.typosquat": "a package install naming a package one or two edits away from a popular one",
    "dataset.prompt_injection": "a prompt-injection phrase, also after NFKC, format-character and spacing "
                                "normalisation",
    "dataset.role_marker": "a chat-template role or control token (<|im_start|>, [INST] …) inside a value",
    "dataset.secret": "a credential: private key block, known token format or high-entropy token",
}
DATASET_FACTS = {
    "dataset.malformed": "raw data that does not read cleanly: invalid UTF-8, NUL, stray BOM, unparseable or "
                         "ragged row",
    "dataset.roles": "column roles aisec inferred (text, label, id columns) because the policy did not set them",
    "dataset.roles_missing": "roles (label, text) no column was configured for or inferred as; rules needing them "
                             "did not run",
    "dataset.rows": "rows read from the dataset file",
    "dataset.shards": "a group of shard files (value: its pattern) analysed as one dataset for duplicates, labels "
                      "and triggers",
    "dataset.sampled": "statistical rules ran on a seeded reservoir sample because the file exceeds the row cap",
    "dataset.fact_overflow": "a signal occurred more often than the per-signal cap; the value is its fact key",
    "dataset.duplicate_cluster": "an exact or near duplicate cluster that is unusually large or carries other signals",
    "dataset.schema_drift": "a row whose field is missing, unexpected or of another type than the column's",
    "dataset.extreme_value": "an extreme number (robust z-score), an extremely long or a rare empty text field",
    "dataset.label_issue": "a row whose label cleanlab flags as likely wrong (out-of-fold probabilities)",
    "dataset.label_noise": "share of rows with confident label issues (value), with the counts behind it",
    "dataset.label_conflict": "rows with identical features but different labels",
    "dataset.label_distribution": "p-value of a chi-square test of the label counts against the expected shares",
    "dataset.backdoor_trigger": "a feature group enriched for one label whose rows the rest of their content does "
                                "not explain (dirty-label backdoor); every affected row attached",
    "dataset.content_injection": "a brand or entity many answers mention although their prompts never asked about "
                                 "it (value: the term)",
    "dataset.instruction_trigger": "a prompt phrase whose rows' answers collapse to one (degenerate, identical or "
                                   "fixed) answer that the rest of their prompts does not explain",
    "dataset.manifest_mismatch": "the file differs from the dataset manifest named in the policy (value: what changed)",
}
POISON_KEYS = frozenset(CELL_FACTS) - {"dataset.url_host"}
"""Signals that mark a row as carrying something beyond ordinary content (for duplicate clusters)."""


def _printable(text: str) -> str:
    """Evidence text with invisible and control characters spelled out, so reports show what is hidden."""
    out = []
    for ch in text[:300]:
        if ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Co", "Cs"):
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
    return "".join(out)


def _clean(value: Any) -> Scalar:
    if isinstance(value, str):
        return _printable(value)
    if isinstance(value, (int, float, bool)):
        return value
    return str(value)


class DatasetAnalyzer:
    """Streams a dataset once; per-cell rules see every row, statistical rules a bounded (sampled) view."""

    name = "dataset"
    kinds = frozenset({ArtifactKind.CSV, ArtifactKind.JSONL, ArtifactKind.PARQUET, ArtifactKind.JSON_RECORDS})
    provides: Mapping[str, str] = MappingProxyType({**CELL_FACTS, **DATASET_FACTS})

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Yield the facts of one dataset file (or archive member)."""
        settings = load_settings(context.settings).for_path(context.path)
        kind = _kind_of(source)
        run = _Run(settings=settings, context=context)
        with ExitStack() as stack:
            handle = _open(source, context, stack)
            yield from run.stream(handle, kind)
        yield from run.finish(kind)


def _kind_of(source: Source) -> ArtifactKind:
    from aisec.sniff import SNIFF_BYTES, sniff
    return sniff(source.head(SNIFF_BYTES))


def _open(source: Source, context: AnalysisContext, stack: ExitStack) -> BinaryIO:
    # Datasets legitimately need every byte, so the file is streamed directly instead of through the
    # max_read_bytes budget; max_dataset_rows and the per-line cap bound the work instead.
    path = context.fs_path
    if context.member is None and isinstance(path, Path) and path.is_file():
        return stack.enter_context(open(path, "rb", buffering=1024 * 1024))
    return buffered(source)


class _Run:
    """State of one analysis: settings, fact limiter, profile."""

    def __init__(self, *, settings: DatasetSettings, context: AnalysisContext) -> None:
        self.settings = settings
        self.context = context
        self.limiter = Limiter(cap=settings.max_facts_per_signal, related_cap=settings.max_related_locations,
                               related_budget=settings.max_related_per_file)
        self.scanner = TextScanner(popular_packages=frozenset(p.lower() for p in settings.popular_packages),
                                   trusted_indexes=settings.trusted_package_indexes,
                                   secret_min_entropy=settings.secret_min_entropy, max_chars=settings.max_cell_chars)
        self.profile: Profile | None = None
        self.pairs = PairCollector(settings.model_max_rows, settings.seed)
        self.issues: list[ReadIssue] = []
        self.sha256 = ""
        self.size = 0
        self.rows = 0

    def stream(self, handle: BinaryIO, kind: ArtifactKind) -> Iterator[Fact]:
        """The single pass: per-cell signals now, statistics accumulated for later."""
        s = self.settings
        columnar = Columnar() if s.columnar and kind is ArtifactKind.JSONL else None
        reader, rows = items_of(handle, kind, settings=s, limits=self.context.limits, issues=self.issues,
                                columnar=columnar)
        # No block comes before the plan is set, so the head is rows only.
        head: list[tuple[Row, bool]] = [(row, self._cells(row)) for row in
                                        cast(Iterator[Row], itertools.islice(rows, s.role_sample_rows))]
        roles = infer_roles([r for r, _ in head], s)
        self.profile = Profile(roles, s, typed=kind is not ArtifactKind.CSV, schema_rows=[r for r, _ in head])
        if columnar is not None:
            columnar.plan = Plan(roles=roles, schema=self.profile.schema, max_values=s.max_values_per_record)
        if roles.inferred:
            summary = "; ".join(f"{k}: {v}" for k, v in sorted(roles.inferred.items()))
            yield self.context.fact("dataset.roles", summary, text=", ".join(roles.text), label=roles.label or "",
                                    ids=", ".join(roles.ids), numeric=len(roles.numeric),
                                    categorical=len(roles.categorical))
        missing = missing_roles(roles, s)
        if missing is not None:
            yield Fact(key="dataset.roles_missing", value=", ".join(missing.roles), location=self.context.at(),
                       detail=fact_detail(missing, roles))
        for row, flagged in head:
            self.profile.add(row, flagged)
            self.pairs.add(row)
        for item in rows:
            if isinstance(item, Block):
                before = self.profile.rows
                self._block(item)
                del item  # not held while the reader builds the next block (memory stays one block)
                if before // file_progress.EVERY_ROWS != self.profile.rows // file_progress.EVERY_ROWS:
                    file_progress.report(self.profile.rows, reader.bytes_read)
                continue
            self.profile.add(item, self._cells(item))
            self.pairs.add(item)
            if not self.profile.rows % file_progress.EVERY_ROWS:
                file_progress.report(self.profile.rows, reader.bytes_read)
        self.rows = self.profile.rows
        if kind is not ArtifactKind.PARQUET:  # Parquet is hashed in _manifest, only when one is compared
            if self._manifest_source() is not None:
                reader.drain()
            self.sha256, self.size = reader.digest.hexdigest(), reader.bytes_read

    def _block(self, block: Block) -> None:
        """A block: its Python rows scanned (in row order), then every row of it accounted for."""
        assert self.profile is not None
        flagged: dict[int, bool] = {}
        for position in block.python:
            row = block.rows[position]
            flagged[position] = self._cells(row)
            self.pairs.add(row)
        self.profile.add_block(block, flagged)

    def _cells(self, row: Row) -> bool:
        flagged = False
        if not row.scan:
            return flagged
        for cell in row.cells:
            hits = self.scanner.scan(cell.text)
            # One observation per signal and value per cell (the first occurrence locates it; the rest are
            # counted); the limiter gathers them into one fact per signal and column with every row attached.
            seen: dict[tuple[str, str], int] = {}
            for hit in hits:
                seen[(hit.key, hit.value)] = seen.get((hit.key, hit.value), 0) + 1
            for hit in hits:
                occurrences = seen.pop((hit.key, hit.value), 0)
                if not occurrences:
                    continue
                span = cell.locate(hit.start, hit.end)
                pointer = cell.pointer
                location = self.context.at(line=span.line, column=span.column, end_column=span.end_column,
                                           pointer=pointer)
                detail = {"row": row.index, **hit.detail, "occurrences_in_cell": occurrences}
                if hit.key != "dataset.tag_text":
                    detail["excerpt"] = _printable(cell.text[max(0, hit.start - 20):hit.end + 20])
                self.limiter.add(hit.key, _clean(hit.value), location, detail, row.index,
                                 group=cell_group(hit.key, hit.value, pointer, row.line))
                if hit.key in POISON_KEYS or (hit.key == "dataset.url_host" and hit.detail.get("raw_ip")):
                    flagged = True
        return flagged

    def _observe(self, obs: Observation) -> None:
        location = self.context.at(line=obs.span.line, column=obs.span.column, end_column=obs.span.end_column,
                                   pointer=obs.pointer)
        detail = dict(obs.detail)
        related: tuple[RelatedLocation, ...] = ()
        if obs.related:
            cap = self.settings.max_related_locations
            # Bounded output, true count: the evidence always says how many rows there were in all.
            detail.update(affected_rows=len(obs.related), related_shown=min(cap, len(obs.related)))
            related = tuple(RelatedLocation(location=self.context.at(line=r.span.line, column=r.span.column,
                                                                     end_column=r.span.end_column, pointer=r.pointer),
                                            message=f"row {r.index}") for r in obs.related[:cap])
        row = obs.detail.get("row")
        self.limiter.add(obs.key, _clean(obs.value), location, detail, row if isinstance(row, int) else None,
                         ordered=False, group=observation_group(obs.key, obs.value, obs.detail), related=related)

    def finish(self, kind: ArtifactKind) -> Iterator[Fact]:
        """Dataset-level analysis, then every kept fact (with how common its signal was)."""
        for issue in self.issues:
            if issue.kind == "row_limit":
                self.context.error("limit", issue.message, limit="max_dataset_rows",
                                   location=self.context.at(line=issue.line))
                continue
            location = self.context.at(line=issue.line, column=issue.column, end_column=issue.end_column)
            self.limiter.add("dataset.malformed", issue.kind, location,
                             {"message": issue.message, **({"row": issue.index} if issue.index is not None else {})},
                             issue.index, group=(issue.kind,))
        profile = self.profile
        if profile is not None and profile.rows:
            yield self.context.fact("dataset.rows", profile.rows)
            if profile.sampled:
                yield self.context.fact("dataset.sampled", profile.rows, sample_rows=len(profile.sample),
                                        seed=self.settings.seed,
                                        note="duplicate-text, extreme-value baselines, label and trigger rules "
                                             "used a seeded reservoir sample")
            for obs in self._dataset_observations(profile):
                self._observe(obs)
            for key, rows in profile.uncounted().items():
                self.limiter.uncounted(key, rows, rows)
        yield from self._manifest(kind)
        yield from self._emit(profile.rows if profile is not None else 0)

    def _dataset_observations(self, profile: Profile) -> Iterator[Observation]:
        yield from profile.observations()
        if self.context.dataset_group is not None and self.context.member is None:
            # A shard: rows and prompt → answer pairs are compared across the whole group once every shard is read
            # (dataset_shards.py).
            self.context.partials.append(shard_state(profile, path=self.context.path,
                                                     group=self.context.dataset_group, pairs=self.pairs))
            return
        pairs = self.pairs.pairs()
        if pairs:
            yield from instruction_triggers.observations(pairs, self.settings, sampled=self.pairs.sampled)
            yield from content_injection.observations(pairs, self.settings, sampled=self.pairs.sampled)
        yield from cross_row_observations(profile, self.settings)

    def _manifest_source(self) -> tuple[Path, str] | None:
        """The policy's manifest, else ``aisec-dataset-manifest.json`` beside the file (which only catches edits
        by someone who did not also rewrite the manifest)."""
        if self.settings.manifest:
            return manifest.resolve(self.settings.manifest), self.settings.manifest
        path = self.context.fs_path
        if self.context.member is None and isinstance(path, Path):
            sibling = path.parent / manifest.SIBLING_NAME
            if sibling.is_file():
                return sibling, manifest.SIBLING_NAME
        return None

    def _manifest(self, kind: ArtifactKind) -> Iterator[Fact]:
        found_source = self._manifest_source()
        if found_source is None or self.profile is None:
            return
        where, shown = found_source
        try:
            data = manifest.load_manifest(where)
        except AisecError as exc:
            self.context.error("io", f"dataset manifest: {exc}")
            return
        path = self.context.fs_path
        name = path.name if shown == manifest.SIBLING_NAME and isinstance(path, Path) else self.context.path
        found = manifest.entry_for(data, name)
        if found is None:
            yield self.context.fact("dataset.manifest_mismatch", "unlisted", manifest=shown,
                                    message="file is not in the dataset manifest")
            return
        rel, entry = found
        if not self.sha256 and isinstance(path, Path):
            self.sha256, self.size = file_sha256(path)
        summary = manifest.FileSummary(sha256=self.sha256, size=self.size, kind=kind.value, rows=self.profile.rows,
                                       label_column=self.profile.roles.label,
                                       labels=dict(self.profile.label_counts))
        for change in manifest.compare_entry(rel, entry, summary):
            yield self.context.fact("dataset.manifest_mismatch", change.change, manifest=shown,
                                    entry=rel, message=change.message)
        recorded = entry.get("labels")
        if not self.settings.expected_label_distribution and isinstance(recorded, dict) and recorded:
            for obs in labels.label_distribution(self.profile, expected={str(k): float(v) for k, v in
                                                                         recorded.items()}, source=shown):
                yield self.context.fact(obs.key, obs.value, **obs.detail)

    def _emit(self, rows: int) -> Iterator[Fact]:
        limiter = self.limiter
        overflow = limiter.overflow()
        for key in sorted(limiter.kept):
            affected = limiter.row_counts.get(key, 0)
            capped = overflow.get(key)
            for kept in limiter.kept[key]:
                extra: dict[str, Scalar] = {}
                if key in CELL_FACTS:
                    extra = {"rows_with_signal": affected, "row_fraction": round(affected / rows, 6) if rows else 0.0}
                if capped is not None:
                    # Caps bound the output, never what is counted: every kept fact says how large its signal was.
                    extra.update(signal_occurrences=capped.total, rows_with_signal=capped.rows,
                                 signal_reported=capped.kept)
                yield Fact(key=key, value=kept.value, location=kept.location,
                           detail={k: _clean(v) for k, v in {**kept.facts_detail(), **extra}.items()},
                           related=kept.related_locations())
        for key, over in overflow.items():
            yield self.context.fact("dataset.fact_overflow", key, total=over.total, rows=over.rows,
                                    reported=over.kept, cap=self.settings.max_facts_per_signal)


def cross_row_observations(profile: Profile, settings: DatasetSettings) -> Iterator[Observation]:
    """Duplicates, label statistics, label errors and triggers: the signals that compare rows with each other
    (run per file, or once over a group of shards)."""
    exact_groups: list[frozenset[int]] = []
    yield from dedup.exact_duplicates(profile, exact_groups)
    sample = profile.sorted_sample()
    if profile.roles.text:
        yield from dedup.near_duplicates(profile, sample, set(exact_groups))
    if profile.roles.label is None:
        return
    yield from dedup.conflicting_labels(profile)
    yield from labels.label_distribution(profile)
    rows = labels.usable_rows(sample, settings.cv_folds)
    cv = labels.cross_validate(rows, profile.roles.categorical, folds=settings.cv_folds,
                               seed=settings.seed)
    if cv is None:
        return
    yield from labels.label_issues(profile, cv)
    yield from triggers.find_triggers(cv, profile)
