"""Dataset poisoning signals: streaming readers with line tracking, per-cell and per-dataset signals, manifests."""

MANIFEST_NAME = "aisec-dataset-manifest.json"
"""The dataset manifest's file name beside the data (here so the CLI names it without importing the readers)."""
