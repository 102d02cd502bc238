"""Client updates off chain: tensors → model digest and safetensors object, and back, verified.

A federated round puts only digests on the ledger; the tensors of every
client's update live in the chunk store as one safetensors object, so that
any organisation can fetch them and re-run the aggregation. The model digest
is `tensorledger.tf.weights.weights_root` over the tensors in model order
(``named_variables``), the same value a registered checkpoint carries as
``weightsRoot``; the tensor order is kept in the object's manifest metadata
and is covered by the digest, so reordering tensors is caught too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tensorledger import blobs
from tensorledger.errors import IntegrityError, InvalidRequestError, NotFoundError
from tensorledger.gateway import Gateway
from tensorledger.tf import weights as w

#: a model's weights as Flower passes them: one array per tensor, in model order
NDArrays = list[npt.NDArray[Any]]


@dataclass(frozen=True)
class StoredUpdate:
    """Where one set of tensors went: its model digest and the digest of its stored object."""

    root: str
    object: str


def named(names: Sequence[str], arrays: Sequence[npt.ArrayLike]) -> list[tuple[str, Any]]:
    """``(name, little-endian array)`` pairs; refuses a count that does not match the names."""
    if len(names) != len(arrays):
        raise InvalidRequestError(
            f"an update holds {len(arrays)} tensors but the model has {len(names)} ({list(names)})"
        )
    return [(name, w.little_endian(array)) for name, array in zip(names, arrays, strict=True)]


def model_digest(names: Sequence[str], arrays: Sequence[npt.ArrayLike]) -> str:
    """The model digest (weights root) of tensors named ``names``, in that order."""
    return w.weights_root([(name, w.tensor_sha256(array)) for name, array in named(names, arrays)])


def store_update(
    gw: Gateway, names: Sequence[str], arrays: Sequence[npt.ArrayLike]
) -> StoredUpdate:
    """Store the tensors as a safetensors object in ``gw``'s chunk store; digest and object.

    Storing the same tensors twice writes nothing new (the store is content
    addressed) and returns the same object digest.
    """
    tensors = named(names, arrays)
    root = w.weights_root([(name, w.tensor_sha256(array)) for name, array in tensors])
    _, digest = blobs.put_object(
        blobs.store_for(gw.root),
        w.encode(tensors),
        media_type=w.SAFETENSORS,
        metadata={"tensors": [name for name, _ in tensors], "weights_root": root},
    )
    return StoredUpdate(root, digest)


def fetch_update(
    gw: Gateway, update_object: str, update_root: str, where: str
) -> tuple[list[str], NDArrays]:
    """The names and tensors of a stored update, in model order, checked against ``update_root``.

    ``where`` names the update in errors (e.g. ``"job J round 2 update of
    Org2"``): a missing or altered object, chunk or manifest raises
    `IntegrityError` ``"<where> ..."``; tensors that do not hash to the
    recorded digest raise `IntegrityError` ``"<where>"``.
    """
    store = blobs.store_for(gw.root)
    try:
        manifest = blobs.get_manifest(store, update_object)
    except NotFoundError:
        raise IntegrityError(
            f"{where} object", f"{update_object} is not in the chunk store"
        ) from None
    except IntegrityError as exc:
        raise IntegrityError(f"{where} object", exc.detail) from None
    except InvalidRequestError as exc:
        raise IntegrityError(f"{where} object", str(exc)) from None
    blob = b"".join(blobs.iter_chunks(store, manifest, where=where))
    order = manifest.metadata.get("tensors")
    if not isinstance(order, list) or not all(isinstance(n, str) for n in order):
        raise IntegrityError(f"{where} object", "its manifest does not list the tensor order")
    stored = w.parse(blob, where)
    if sorted(stored) != sorted(order) or len(set(order)) != len(order):
        raise IntegrityError(
            f"{where} object", f"holds tensors {sorted(stored)}, its manifest lists {order}"
        )
    arrays: NDArrays = []
    for name in order:
        entry = stored[name]
        dtype = np.dtype(entry.dtype).newbyteorder("<")
        count = (entry.end - entry.start) // dtype.itemsize
        flat = np.frombuffer(blob, dtype=dtype, count=count, offset=entry.start)
        arrays.append(flat.reshape(entry.shape).astype(dtype.newbyteorder("="), copy=True))
    actual = model_digest(order, arrays)
    if actual != update_root:
        raise IntegrityError(
            where, f"its tensors hash to {actual}, the ledger records {update_root}"
        )
    return list(order), arrays


__all__ = [
    "NDArrays",
    "StoredUpdate",
    "fetch_update",
    "model_digest",
    "named",
    "store_update",
]
