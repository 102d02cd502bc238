"""Fixtures for the chunk-store tests: a fresh local store per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tensorledger.blobs import LocalChunkStore


@pytest.fixture
def store(tmp_path: Path) -> LocalChunkStore:
    return LocalChunkStore(tmp_path / "blobs")
