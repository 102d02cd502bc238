"""Signatures, identities and membership service providers with Fabric's semantics."""
