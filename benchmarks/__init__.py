"""Benchmark and validation scripts (importable so tests can reuse their definitions)."""
