"""Shared setup of the examples: a fresh two-organisation ledger in --dir."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse(description: str, argv: list[str] | None) -> argparse.Namespace:
    """The examples' options: --dir (default: a new temporary directory) and --small."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--dir", type=Path, default=None, help="work here (must not hold a ledger)")
    parser.add_argument("--small", action="store_true", help="few rows and epochs, for tests")
    args = parser.parse_args(argv)
    if args.dir is None:
        args.dir = Path(tempfile.mkdtemp(prefix="tensorledger-example-"))
    args.dir.mkdir(parents=True, exist_ok=True)
    return args


def new_ledger(directory: Path) -> Path:
    """Create the embedded network of Org1 and Org2 under ``directory``."""
    import tensorledger as tl

    path = directory / "ledger"
    tl.init(path, ("Org1", "Org2"))
    return path
