"""Fraud detection with an audit trail: every model version, its data and its metrics.

Card transactions are generated here with numpy (amount, hour, merchant risk,
fraud label); a classifier trains on them verified, anchoring a checkpoint
every few epochs, and the audit lists every version on the ledger.

    python examples/finance.py --dir ./fraud
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import new_ledger, parse

MODEL = "fraud-detector"
EVERY = 2


def transactions(rows: int, seed: int = 3) -> object:
    """A table of synthetic card transactions; fraud favours night, large amounts, risky shops."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3.5, 1.0, rows)
    hour = rng.integers(0, 24, rows)
    risk = rng.beta(2, 5, rows)
    score = 0.004 * amount + 2.5 * risk + 1.5 * ((hour < 6) | (hour > 22)) - 4.0
    fraud = rng.random(rows) < 1 / (1 + np.exp(-score))
    return pd.DataFrame(
        {
            "amount": amount,
            "hour": hour.astype(float),
            "merchant_risk": risk,
            "fraud": fraud.astype(float),
        }
    )


def main(argv: list[str] | None = None) -> int:
    """Generate, register, train with checkpoints, print the audit trail."""
    args = parse(__doc__ or "", argv)
    import tensorledger as tl
    import tensorledger.tf as tltf
    from tensorledger import registry
    from tensorledger.tf._runtime import tensorflow

    tf = tensorflow()
    path = new_ledger(args.dir)
    rows, epochs = (400, 4) if args.small else (20_000, 10)
    csv = args.dir / "transactions.csv"
    transactions(rows).to_csv(csv, index=False)  # type: ignore[attr-defined]
    with tl.connect(path, identity="Org1") as bank:
        data = registry.add_dataset(bank, csv, "card-transactions", tags={"source": "synthetic"})
        print(f"registered {data.ref}: {data.rows} transactions")
        train = tltf.dataset(bank, data.ref, label="fraud", batch_size=64)
        normalise = tf.keras.layers.Normalization()
        normalise.adapt(train.map(lambda x, _y: x))
        model = tf.keras.Sequential(
            [
                tf.keras.Input((3,)),
                normalise,
                tf.keras.layers.Dense(8, activation="relu"),
                tf.keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        anchor = tltf.LedgerCheckpoint(bank, MODEL, datasets=[data.ref], every=EVERY)
        with tltf.ledger_errors():
            model.fit(train, epochs=epochs, callbacks=[anchor], verbose=0, shuffle=False)
        versions = registry.model_versions(bank, MODEL)
        print(f"audit trail of {MODEL}: {len(versions)} versions")
        for m in versions:
            metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(m.metrics.items()))
            print(
                f"  {m.ref} epoch {m.epoch} datasets {', '.join(m.datasets)} {metrics} "
                f"parent {m.parent or '-'} tx {m.tx_id[:16]}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
