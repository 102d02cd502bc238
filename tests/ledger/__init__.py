"""Tests of the embedded ledger: Fabric semantics, bad input, the contract suite."""
