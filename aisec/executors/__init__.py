"""Executors beside the built-in process pool: a per-task bounded runner any engine can call, and a Dask executor."""
