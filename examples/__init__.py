"""Runnable examples from the docs; the tests run them (tests/test_web.py)."""
