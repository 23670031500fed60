"""Tests of the ``aisec`` command line package."""
