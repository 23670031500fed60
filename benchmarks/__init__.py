"""Hand-run benchmarks; ``poisonbench`` is also imported by the dataset tests."""
