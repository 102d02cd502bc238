"""Tests of `tensorledger.registry`: typed records, reference checks, lineage, add_dataset."""
