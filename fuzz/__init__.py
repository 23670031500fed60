"""Fuzzing aisec: targets shared with the test suite, mutations, and a runner for longer sessions."""
