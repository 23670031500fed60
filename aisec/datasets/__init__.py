"""Dataset poisoning signals: streaming readers with line tracking, per-cell and per-dataset signals, manifests."""
