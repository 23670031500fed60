"""The merge step for dataset shards: a group's partial states become one profile, the cross-row rules run once on
it, and every fact points at the shard file and line where its row lives."""

from __future__ import annotations

import bisect
import itertools
import random
import re
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from aisec.analysis import ArtifactResult
from aisec.analyzers.dataset import cross_row_observations
from aisec.datasets import content_injection, instruction_triggers
from aisec.datasets.limiter import Limiter
from aisec.datasets.pairs import Pair
from aisec.datasets.profile import Profile, SampleRow
from aisec.datasets.records import Observation
from aisec.datasets.row_groups import observation_group
from aisec.datasets.settings import DatasetSettings, load_settings
from aisec.datasets.shard_state import ShardState
from aisec.model import Artifact, Fact, Location, RelatedLocation, Scalar, ScanError

_ROWS_LIST = re.compile(r"^(?P<items>\d+(?:, \d+)*)(?P<tail>, … \(\d+ in all\)| \(\+\d+ more\))?$")


class _Index:
    """Global row numbers of the merged profile → (shard, row index in the shard, physical line)."""

    def __init__(self, states: Sequence[ShardState]) -> None:
        self.states = list(states)
        self.offsets: list[int] = []
        total = 0
        for state in self.states:
            self.offsets.append(total)
            total += state.rows
        self.total = total
        self._sample_lines = [{r.index: r.line for r in s.sample} for s in self.states]
        self._lines = [np.frombuffer(s.lines, dtype=np.int64) for s in self.states]

    def locate(self, row: int) -> tuple[ShardState, int, int | None]:
        """The shard, the row's index in it and its physical line (``None`` for formats without lines)."""
        i = max(bisect.bisect_right(self.offsets, row) - 1, 0)
        local = row - self.offsets[i]
        lines = self._lines[i]
        if local < len(lines):
            line = int(lines[local])
            return self.states[i], local, line if line > 0 else None
        return self.states[i], local, self._sample_lines[i].get(local)

    def related(self, row: int, pointer: str | None = None) -> RelatedLocation:
        """A global row as a related location in its shard, labelled with its row index there (``pointer``: the
        cell inside the record, e.g. a chat answer, which already names the shard's own row)."""
        state, local, line = self.locate(row)
        return RelatedLocation(location=Location(path=state.path, line=line,
                                                 pointer=pointer or (None if line is not None else f"/{local}")),
                               message=f"row {local}")

    def describe(self, row: int) -> str:
        """``path:line`` (or ``path row N``) of a global row, for evidence lists."""
        state, local, line = self.locate(row)
        return f"{state.path}:{line}" if line is not None else f"{state.path} row {local}"


def merged_profile(states: Sequence[ShardState], settings: DatasetSettings) -> tuple[Profile, _Index]:
    """One profile over every shard (in path order). Row ``g`` of the group gets the virtual line ``g + 1`` so the
    per-file rules' evidence can be mapped back to the shard and its real line."""
    index = _Index(states)
    profile = Profile(states[0].roles, settings, typed=True, schema_rows=())
    profile.rows = index.total
    counts: Counter[str] = Counter()
    for state in index.states:
        counts.update(dict(state.label_counts))
        for label in state.labels:
            profile.label_index.setdefault(label, len(profile.label_index))
    profile.label_counts = counts
    profile.label_overflow = any(s.label_overflow for s in index.states)
    hashes, features, codes, lines, flags = [], [], [], [], []
    room = settings.dedup_max_rows
    for state, offset in zip(index.states, index.offsets, strict=True):
        n = min(len(state.record_hashes) // 8, room)
        room -= n
        remap = np.array([profile.label_index[label] for label in state.labels] + [-1], dtype=np.int64)
        local_codes = np.frombuffer(state.label_codes, dtype=np.int64)[:n]
        hashes.append(np.frombuffer(state.record_hashes, dtype=np.uint64)[:n])
        features.append(np.frombuffer(state.feature_hashes, dtype=np.uint64)[:n])
        codes.append(remap[np.where(local_codes < 0, len(remap) - 1, local_codes)])
        lines.append(np.arange(offset + 1, offset + n + 1, dtype=np.int64))
        flags.append(np.frombuffer(state.flags, dtype=np.uint8)[:n])
    profile.record_hashes = array("Q", np.concatenate(hashes).tobytes())
    profile.feature_hashes = array("Q", np.concatenate(features).tobytes())
    profile.label_codes = array("l", np.concatenate(codes).tolist())
    profile.lines = array("q", np.concatenate(lines).tobytes())
    profile.flags = bytearray(np.concatenate(flags).tobytes())
    profile.sample = _merged_sample(index, settings)
    profile.text_lengths = [len(r.text) for r in profile.sample]
    return profile, index


def _merged_sample(index: _Index, settings: DatasetSettings) -> list[SampleRow]:
    """Every row when the group fits ``model_max_rows``; else a seeded uniform sample of the union: how many rows
    each shard gives is drawn over all rows of the group (multivariate hypergeometric), then taken from the shard's
    own uniform reservoir. Depends only on the shards' states and the seed, never on worker order."""
    k = settings.model_max_rows
    per_shard: list[Sequence[SampleRow]] = [s.sample for s in index.states]
    if index.total > k:
        rng = random.Random(settings.seed)  # noqa: S311 - reproducible sampling, not secrecy
        taken = Counter(bisect.bisect_right(index.offsets, g) - 1 for g in rng.sample(range(index.total), k))
        per_shard = [sorted(rng.sample(list(rows), min(taken[i], len(rows))), key=lambda r: r.index)
                     for i, rows in enumerate(per_shard)]
    out: list[SampleRow] = []
    for offset, rows in zip(index.offsets, per_shard, strict=True):
        out.extend(replace(r, index=offset + r.index, line=offset + r.index + 1) for r in rows)
    return out


def _merged_pairs(index: _Index, settings: DatasetSettings) -> tuple[list[Pair], bool]:
    """The group's prompt → answer pairs (row numbers of the group, virtual lines), sampled like the rows."""
    seen = [s.pairs_seen for s in index.states]
    total, k = sum(seen), settings.model_max_rows
    per_shard: list[Sequence[Pair]] = [s.pairs for s in index.states]
    if total > k:
        starts = [sum(seen[:i]) for i in range(len(seen))]
        rng = random.Random(settings.seed + 1)  # noqa: S311 - reproducible sampling, not secrecy
        taken = Counter(bisect.bisect_right(starts, g) - 1 for g in rng.sample(range(total), k))
        per_shard = [sorted(rng.sample(list(p), min(taken[i], len(p))), key=lambda q: q.index)
                     for i, p in enumerate(per_shard)]
    out = [replace(p, index=offset + p.index, line=offset + p.index + 1)
           for offset, pairs in zip(index.offsets, per_shard, strict=True) for p in pairs]
    return out, total > k


def _scalar(value: Any) -> Scalar:
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def _localize(obs: Observation, index: _Index) -> tuple[Location, dict[str, Scalar]]:
    detail: dict[str, Scalar] = {k: _scalar(v) for k, v in obs.detail.items()}
    first = index.states[0]
    path, local, line = first.path, None, None
    if obs.span.line is not None and obs.span.line > 0:
        state, local, line = index.locate(obs.span.line - 1)
        path = state.path
    pointer = obs.pointer
    if line is None and local is not None and not (pointer or "").startswith("/"):
        pointer = f"/{local}" + (f"/{pointer}" if pointer else "")
    row = obs.detail.get("row")
    if isinstance(row, int) and not isinstance(row, bool):
        detail["row"] = index.locate(row)[1]
    rows = obs.detail.get("rows")
    if isinstance(rows, str):
        match = _ROWS_LIST.match(rows)
        if match is not None:
            shown = ", ".join(index.describe(int(v) - 1) for v in match["items"].split(", "))
            detail["rows"] = shown + (match["tail"] or "")
    detail["dataset_group"] = first.group
    return Location(path=path, line=line, column=obs.span.column if line else None,
                    end_column=obs.span.end_column if line else None, pointer=pointer), detail


def group_facts(states: Sequence[ShardState], settings: DatasetSettings, *, parts: int = 1) -> list[Fact]:
    """Cross-row facts for shards whose roles agree, located in the shards (``parts``: how many sets of agreeing
    shards the group split into)."""
    profile, index = merged_profile(states, settings)
    first = Location(path=index.states[0].path)
    facts = [Fact(key="dataset.shards", value=index.states[0].group, location=first,
                  detail={"files": len(states), "rows": index.total,
                          "roles": "columns agree" if parts == 1 else
                                   f"one of {parts} sets of shards whose columns agree; sets are analysed apart",
                          "shards": ", ".join(s.path for s in index.states[:20]) +
                                    (f", … ({len(states)} in all)" if len(states) > 20 else "")})]
    if profile.sampled:
        facts.append(Fact(key="dataset.sampled", value=index.total, location=first,
                          detail={"sample_rows": len(profile.sample), "seed": settings.seed,
                                  "dataset_group": index.states[0].group,
                                  "note": "duplicate-text, label and trigger rules over the shard group used a "
                                          "seeded sample"}))
    limiter = Limiter(cap=settings.max_facts_per_signal, related_cap=settings.max_related_locations,
                      related_budget=settings.max_related_per_file)
    pairs, pairs_sampled = _merged_pairs(index, settings)
    observations = cross_row_observations(profile, settings)
    if pairs:
        observations = itertools.chain(instruction_triggers.observations(pairs, settings, sampled=pairs_sampled),
                                       content_injection.observations(pairs, settings, sampled=pairs_sampled),
                                       observations)
    for obs in observations:
        location, detail = _localize(obs, index)
        related: tuple[RelatedLocation, ...] = ()
        if obs.related:
            cap = settings.max_related_locations
            detail.update(affected_rows=len(obs.related), related_shown=min(cap, len(obs.related)))
            # The merged profile's row index is the group row; its virtual line is that plus one.
            related = tuple(index.related(r.index, r.pointer) for r in obs.related[:cap])
        row, local = obs.detail.get("row"), detail.get("row")
        limiter.add(obs.key, _scalar(obs.value), location, detail, row if isinstance(row, int) else None,
                    ordered=False, group=observation_group(obs.key, obs.value, obs.detail), related=related,
                    label=local if isinstance(local, int) and not isinstance(local, bool) else None)
    overflow = limiter.overflow()
    for key in sorted(limiter.kept):
        # Caps bound the output, never what is counted: kept facts of a capped signal carry its totals.
        capped = overflow.get(key)
        totals = {} if capped is None else {"signal_occurrences": capped.total, "rows_with_signal": capped.rows,
                                            "signal_reported": capped.kept}
        facts.extend(Fact(key=key, value=kept.value, location=kept.location,
                          detail={**kept.facts_detail(), **totals}, related=kept.related_locations())
                     for kept in limiter.kept[key])
    facts.extend(Fact(key="dataset.fact_overflow", value=key, location=first,
                      detail={"total": over.total, "rows": over.rows, "reported": over.kept,
                              "cap": settings.max_facts_per_signal})
                 for key, over in overflow.items())
    return facts


def merge_groups(results: Sequence[ArtifactResult], policy_settings: Mapping[str, Any],
                 ) -> Iterator[tuple[Artifact, list[Fact], list[ScanError]]]:
    """Per shard group (and roles within it): the artifact findings are filed under, its facts and any error."""
    artifacts = {r.artifact.path: r.artifact for r in results}
    by_group: dict[tuple[str, tuple[object, ...]], list[ShardState]] = {}
    for result in results:
        for state in result.partials:
            if isinstance(state, ShardState):
                by_group.setdefault((state.group, state.roles_key()), []).append(state)
    base = load_settings(policy_settings)
    parts = Counter(group for group, _roles in by_group)
    for (group, _roles), states in sorted(by_group.items(), key=lambda item: (item[0][0], item[1][0].path)):
        states.sort(key=lambda s: s.path)
        artifact = artifacts[states[0].path]
        try:
            yield artifact, group_facts(states, base.for_path(states[0].path), parts=parts[group]), []
        except Exception as exc:
            message = f"dataset shard group {group}: cross-shard analysis failed: {type(exc).__name__}: {exc}"
            error = ScanError(path=artifact.path, reason="internal", message=message)
            yield artifact, [Fact(key="scan.incomplete", value="internal", location=Location(path=artifact.path),
                                  detail={"message": message})], [error]
