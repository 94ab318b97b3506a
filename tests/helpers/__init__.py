"""Helpers for the test suite (importable as `tests.helpers.*`)."""
