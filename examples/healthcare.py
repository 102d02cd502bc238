"""Two hospitals, one model: each registers half of a breast-cancer dataset with consent tags.

Org1 and Org2 each own a dataset on the ledger; Org1 trains a classifier on
both, every chunk verified, and the checkpoint's lineage names both.

    python examples/healthcare.py --dir ./hospitals
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import new_ledger, parse

MODEL = "tumour-classifier"


def _refs(node: dict[str, Any]) -> list[str]:
    return [node["ref"], *(ref for child in node["children"] for ref in _refs(child))]


def main(argv: list[str] | None = None) -> int:
    """Register both halves, train on both, print the model's lineage."""
    args = parse(__doc__ or "", argv)
    from sklearn.datasets import load_breast_cancer

    import tensorledger as tl
    import tensorledger.tf as tltf
    from tensorledger import registry
    from tensorledger.tf._runtime import tensorflow

    tf = tensorflow()
    path = new_ledger(args.dir)
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    if args.small:
        frame = frame.head(160)
    half = len(frame) // 2
    epochs = 2 if args.small else 20
    with tl.connect(path, identity="Org1") as org1, tl.connect(path, identity="Org2") as org2:
        refs = []
        for gw, part, name in (
            (org1, frame[:half], "hospital-a"),
            (org2, frame[half:], "hospital-b"),
        ):
            csv = args.dir / f"{name}.csv"
            part.to_csv(csv, index=False)
            tags = {"consent": "research-use", "hospital": gw.msp_id}
            record = registry.add_dataset(gw, csv, name, tags=tags)
            refs.append(record.ref)
            print(f"{gw.msp_id} registered {record.ref}: {record.rows} rows, tags {tags}")
        width = len(frame.columns) - 1
        streams = [tltf.dataset(org1, ref, label="target") for ref in refs]
        train = streams[0].concatenate(streams[1]).batch(32)
        normalise = tf.keras.layers.Normalization()
        normalise.adapt(train.map(lambda x, _y: x))
        model = tf.keras.Sequential(
            [
                tf.keras.Input((width,)),
                normalise,
                tf.keras.layers.Dense(16, activation="relu"),
                tf.keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        anchor = tltf.LedgerCheckpoint(org1, MODEL, datasets=refs, every=epochs)
        with tltf.ledger_errors():
            history = model.fit(train, epochs=epochs, callbacks=[anchor], verbose=0, shuffle=False)
        accuracy = history.history["accuracy"][-1]
        print(f"Org1 trained {MODEL} on {' + '.join(refs)}: accuracy {accuracy:.3f}")
        tree = registry.lineage(org1, MODEL).to_dict()
        named = [ref for ref in _refs(tree) if ref in refs]
        print(f"lineage of {tree['ref']}: {', '.join(named)}")
    return 0 if set(named) == set(refs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
