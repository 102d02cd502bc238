"""TensorFlow on the ledger: verified `tf.data` pipelines, anchored checkpoints, verified loading.

`dataset` streams a registered dataset version with every chunk checked
before TensorFlow sees a row of it; `LedgerCheckpoint` anchors Keras
checkpoints with a hash per tensor and lineage to their training data;
`load_weights` / `load_model` refuse weights whose tensors do not match the
chain, naming the tensor. `store_model_parameters` and `dataset_from_ledger`
are the seed's helpers, made correct.

Importing this package imports TensorFlow; ``import tensorledger`` does not.

    import tensorledger.tf as tltf
    ds = tltf.dataset(gw, "diabetes", 1, label="target", batch_size=32)
    anchor = tltf.LedgerCheckpoint(gw, "m", datasets=["diabetes@1"])
    with tltf.ledger_errors():  # a bad chunk raises IntegrityError itself
        model.fit(ds, epochs=10, callbacks=[anchor])
    model = tltf.load_model(gw, "m", version=3)
"""

from __future__ import annotations

from tensorledger.tf._errors import iterate, ledger_errors
from tensorledger.tf.checkpoint import LedgerCheckpoint, anchor_checkpoint
from tensorledger.tf.data import dataset
from tensorledger.tf.loading import load_model, load_weights
from tensorledger.tf.seed import dataset_from_ledger, load_model_parameters, store_model_parameters
from tensorledger.tf.weights import tensor_sha256, weights_root

__all__ = [
    "LedgerCheckpoint",
    "anchor_checkpoint",
    "dataset",
    "dataset_from_ledger",
    "iterate",
    "ledger_errors",
    "load_model",
    "load_model_parameters",
    "load_weights",
    "store_model_parameters",
    "tensor_sha256",
    "weights_root",
]
