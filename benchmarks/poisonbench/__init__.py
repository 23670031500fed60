"""Poisonbench: published dataset-poisoning attacks on real corpora, with exact ground truth and an evaluator."""
