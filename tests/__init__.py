"""Test suite of tensorledger (a package so test-only contracts import by name)."""
