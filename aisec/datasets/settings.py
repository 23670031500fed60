"""The analyzer's knobs, read from the policy's ``settings.dataset`` block, validated, with safe defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from aisec.datasets.file_roles import FileRoles, parse_file_roles, pick
from aisec.errors import PolicyError
from aisec.suggest import unknown_key


@dataclass(frozen=True, kw_only=True)
class DatasetSettings:
    """Column roles, caps and statistical thresholds for the dataset analyzer (``settings.dataset``)."""

    text_columns: tuple[str, ...] = ()
    """Columns (CSV/Parquet names or top-level JSONL keys) holding free text; inferred when empty."""
    label_column: str | None = None
    """The label column; inferred from names like ``label``/``target``/``class`` when unset."""
    id_columns: tuple[str, ...] = ()
    """Columns ignored by duplicate and label analysis (row ids, timestamps)."""
    roles: tuple[FileRoles, ...] = ()
    """Per-file roles (``{glob, label_column, text_columns, id_columns}``); the first matching glob wins over the
    three file-wide settings above."""
    expected_label_distribution: Mapping[str, float] = field(default_factory=dict)
    """Expected share of each label; compared with a chi-square test when given."""
    manifest: str | None = None
    """A dataset manifest (``aisec dataset manifest``) to compare each scanned dataset file against."""
    max_facts_per_signal: int = 100
    """Per file and signal, at most this many facts (a per-row signal is one fact per column or value with its
    rows attached); the rest is counted in a summary fact."""
    max_related_locations: int = 10_000
    """Per finding, at most this many affected rows attached as related locations (SARIF ``relatedLocations``);
    the true number is always in the ``affected_rows`` evidence."""
    max_related_per_file: int = 100_000
    """Per file, at most this many rows attached to per-row signals' findings in all (memory stays bounded on a
    file with a signal in every cell); the counts are never capped."""
    max_line_bytes: int = 16 * 1024 * 1024
    """Longest physical line (CSV/JSONL) read; longer lines are skipped and reported."""
    max_values_per_record: int = 10_000
    """Most JSON values walked in one record."""
    max_cell_chars: int = 100_000
    """Characters of one cell scanned by the text rules (the rest is counted, not scanned)."""
    prescreen: bool = True
    """Skip the per-cell scan of CSV/JSONL lines a batch-wide RE2 screen proves signal-free (same findings)."""
    columnar: bool = True
    """Read clean JSON Lines batches with pyarrow and build the profile's statistics column by column; only rows
    the pre-screen passes or that hold something irregular become Python rows (same findings)."""
    role_sample_rows: int = 500
    """Rows read before column roles are inferred."""
    text_min_distinct_ratio: float = 0.5
    """A string column is text when at least this share of its sampled values are distinct …"""
    text_min_mean_chars: float = 15.0
    """… and their mean length is at least this."""
    label_max_classes: int = 50
    """A label column has at most this many distinct values."""
    label_name_patterns: tuple[str, ...] = ("label", "labels", "target", "class", "y", "category", "sentiment",
                                            "intent", "tag", "outcome", "polarity", "emotion", "stance",
                                            "gold_label", "diagnosis", "species")
    """Column names (case-insensitive, also as a ``_label`` suffix) taken as the label when not configured."""
    model_max_rows: int = 20_000
    """Rows kept for statistical and model-based rules; beyond this a seeded reservoir sample is used."""
    dedup_max_rows: int = 1_000_000
    """Rows whose hashes are kept for exact-duplicate and label-conflict detection (33 bytes each)."""
    seed: int = 20240611
    """Seed for sampling, MinHash and cross-validation (deterministic output)."""
    minhash_permutations: int = 64
    minhash_bands: int = 16
    near_duplicate_jaccard: float = 0.8
    """Estimated Jaccard similarity at which two texts are near duplicates."""
    duplicate_cluster_outlier_factor: float = 10.0
    """A duplicate cluster is unusually large when it exceeds this many times the 99th percentile size …"""
    duplicate_cluster_min_size: int = 10
    """… and has at least this many members."""
    drift_max_fraction: float = 0.02
    """Rows whose field type differs from the column's dominant type are drift when they are this rare."""
    extreme_robust_z: float = 12.0
    """A number this many robust standard deviations (MAD) from the median is extreme."""
    extreme_max_chars: int = 20_000
    """A text cell longer than this (and 20 times the median) is extreme."""
    cv_folds: int = 5
    label_issue_max_self_confidence: float = 1.0
    """Optional extra cut: only rows cleanlab flags whose out-of-fold probability of their own label is at most
    this are reported (1.0: every flagged row; cleanlab's thresholds are already per class)."""
    label_noise_text_floor: float = 0.2
    """Share of rows cleanlab flags on clean real text corpora (Rotten Tomatoes snippets: 12-19 %) …"""
    label_noise_text_error_share: float = 0.9
    """… or this share of the out-of-fold error rate when higher (clean text: 0.55-0.8 of the error)."""
    label_noise_tabular_floor: float = 0.02
    """Share of rows cleanlab flags on clean real tables (scikit-learn's wine, breast cancer, digits: 0-0.3 %) …"""
    label_noise_tabular_error_share: float = 0.25
    """… or this share of the out-of-fold error rate when higher (clean tables: at most 0.1 of the error)."""
    trigger_min_support: int = 5
    """A trigger candidate (n-gram, value or value pattern) must occur in at least this many rows …"""
    trigger_max_fraction: float = 0.5
    """… and in at most this share of the rows. Only bounds the mining: a feature in more than half the rows
    cannot mark one label's poisoned subset; attacks of 10-15 % and more stay visible."""
    trigger_max_ngram: int = 5
    """Longest token n-gram mined (longer repeated sentences are covered by their overlapping n-grams)."""
    trigger_alpha: float = 0.05
    """Family-wise error rate (Bonferroni over the feature x label tests that could reach it: Tarone's count for
    text) of the enrichment screen; the ablation
    test below, not this screen, decides what is reported."""
    trigger_screen_p: float = 0.01
    """… and, as candidates only, features enriched at this unadjusted p: an attack on the majority label with
    decoys is weakly enriched over the base rate it inflated itself (300 of 375 trigger rows at a 71 % base rate:
    p = 1e-4); such a candidate is reported only if the ablated model's expectation is exceeded significantly
    (Bonferroni over the candidates) and the rest of its rows leaves the label unexplained."""
    trigger_group_jaccard: float = 0.7
    """Features marking rows this similar (Jaccard) are one candidate, tested and ablated together."""
    trigger_min_unexplained: float = 0.75
    """Share of a candidate's target-labelled rows whose other content (candidate removed, model fitted without
    these rows) does not say the target class. Measured on real corpora: natural class words and decoys up to
    0.66 (Rotten Tomatoes "fails to", convention speeches "unemployment", 10k rows); dirty-label triggers
    0.78-1.0 (a follow-up token sharing rows with a found one: 0.58, missed at this cut)."""
    trigger_min_content_z: float = 4.0
    """… and the target rows' mean ablated P(target) must lie this many standard errors below the mean on
    ordinary target rows (follow-up tokens of a confirmed trigger excepted). Measured (2,000-row Rotten Tomatoes
    and convention-speech files, seeds 0-2): natural phrases and decoys that pass the share cut by chance on
    15-30 rows ("america s", "paul ryan", a decoy token on 15 rotten reviews) 3.0-3.5; dirty-label triggers
    5.1-17 on their own rows. Structural candidates (long repeated spans and rare word sets, chosen blind to the
    labels) need instead the z of ``trigger_alpha`` over the number of structural candidates (2.2-2.9 on 800-row
    files) with an unexplained share of 0.6 (``triggers.STRUCTURAL_MIN_UNEXPLAINED``)."""
    trigger_max_candidates: int = 200
    """Most candidate groups screened."""
    trigger_max_refits: int = 20
    """Most candidates given the exact test (text: leaving the rows out of the once-fitted naive Bayes counts;
    tables: one warm-started model fit each)."""
    secret_min_entropy: float = 4.3
    """Shannon entropy (bits per character) of a 32+ character token taken as a generic secret."""
    popular_packages: tuple[str, ...] = ()
    """Package names typosquats imitate (from the policy)."""
    trusted_package_indexes: tuple[str, ...] = ("pypi.org", "files.pythonhosted.org", "registry.npmjs.org")
    """Hosts a ``pip install --index-url`` may point to without being reported."""
    chat_trigger_min_rows: int = 8
    """Instruction triggers: a prompt phrase must be in at least this many rows of one answer cluster …"""
    chat_trigger_min_purity: float = 0.5
    """… and at least this share of the rows whose prompt has it must share that one answer."""
    chat_trigger_alpha: float = 0.001
    """Family-wise error rate (Bonferroni over all phrase-by-answer-cluster candidates) of the purity test."""
    chat_trigger_rare_answer: float = 0.01
    """An answer this rare without the phrase needs no further check (it exists because of the phrase) …"""
    chat_trigger_min_context_score: float = 0.45
    """… otherwise at least this share of the phrase's rows must look unlike the answer's other rows to a model
    blind to the phrase (natural phrases sit in prompts that already point at the answer)."""
    chat_injection_min_rows: int = 8
    """Content injection: a term must be in at least this many answers whose prompt does not mention it …"""
    chat_injection_min_fraction: float = 0.005
    """… and in at least this share of all pairs …"""
    chat_injection_min_unasked: float = 0.9
    """… at least this share of the answers with it must come from prompts that never mention it …"""
    chat_injection_min_enrichment: float = 3.0
    """… and it must be in this many times more unasked answers than prompts."""

    def for_path(self, path: str) -> DatasetSettings:
        """These settings with the first ``roles`` entry that matches the report path ``path`` applied."""
        entry = pick(self.roles, path)
        if entry is None:
            return self
        return replace(self, label_column=entry.label_column or self.label_column,
                       text_columns=entry.text_columns or self.text_columns,
                       id_columns=entry.id_columns or self.id_columns)


_TUPLES = {f.name for f in fields(DatasetSettings) if str(f.type).startswith("tuple")} - {"roles"}


def load_settings(settings: Mapping[str, Any]) -> DatasetSettings:
    """Parse ``settings["dataset"]``; unknown keys and wrong types are policy errors (never silently ignored)."""
    raw = settings.get("dataset") or {}
    if not isinstance(raw, Mapping):
        raise PolicyError("settings.dataset must be a mapping", field="settings.dataset")
    defaults = DatasetSettings()
    known = {f.name: getattr(defaults, f.name) for f in fields(DatasetSettings)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            raise PolicyError(unknown_key("dataset setting", str(key), known),
                              field=f"settings.dataset.{key}")
        default = known[key]
        if key == "roles":
            value = parse_file_roles(value)
        elif key in _TUPLES:
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise PolicyError(f"settings.dataset.{key} must be a list of strings", field=f"settings.dataset.{key}")
            value = tuple(value)
        elif key == "expected_label_distribution":
            if not isinstance(value, Mapping) or not all(isinstance(v, (int, float)) for v in value.values()):
                raise PolicyError("settings.dataset.expected_label_distribution maps labels to shares",
                                  field=f"settings.dataset.{key}")
            value = {str(k): float(v) for k, v in value.items()}
        elif default is None:
            if not isinstance(value, str) or not value:
                raise PolicyError(f"settings.dataset.{key} must be a non-empty string, got {value!r}",
                                  field=f"settings.dataset.{key}")
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise PolicyError(f"settings.dataset.{key} must be true or false, got {value!r}",
                                  field=f"settings.dataset.{key}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise PolicyError(f"settings.dataset.{key} must be a non-negative number, got {value!r}",
                                  field=f"settings.dataset.{key}")
            value = float(value)
        elif isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise PolicyError(f"settings.dataset.{key} must be a positive integer, got {value!r}",
                              field=f"settings.dataset.{key}")
        values[key] = value
    return DatasetSettings(**values)
