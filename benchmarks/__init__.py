"""Benchmark and evaluation harness (not part of the test suite): run ``python -m benchmarks``."""
