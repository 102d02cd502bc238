"""Tests of the registry contracts (datasets, models, analyses) through the public gateway."""
