"""Reproducible research: Org1 records an OLS analysis of the diabetes data, Org2 re-verifies it.

python examples/research.py --dir ./research
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import new_ledger, parse


def main(argv: list[str] | None = None) -> int:
    """Record the analysis as Org1, verify it as Org2; 0 when Org2 reproduces it."""
    args = parse(__doc__ or "", argv)
    from sklearn.datasets import load_diabetes

    import tensorledger as tl
    from tensorledger import registry, stats

    path = new_ledger(args.dir)
    frame = load_diabetes(as_frame=True).frame
    if args.small:
        frame = frame.head(120)
    csv = args.dir / "diabetes.csv"
    frame.to_csv(csv, index=False)
    with tl.connect(path, identity="Org1") as org1, tl.connect(path, identity="Org2") as org2:
        data = registry.add_dataset(org1, csv, "diabetes", tags={"licence": "BSD-3-Clause"})
        print(f"Org1 registered {data.ref}: {data.rows} rows, root {data.root[:16]}")
        ols = stats.run_analysis(org1, "ols", data.ref, y="target")
        r2 = ols.result["r_squared"]
        print(f"Org1 recorded {ols.id} (tx {ols.tx_id[:16]}): R² {r2:.4f}")
        check = stats.verify_analysis(org2, ols.id)
        print(f"Org2: {check.summary()}")
        print(f"verification: {'ok' if check.ok else 'FAILED'}")
    return 0 if check.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
