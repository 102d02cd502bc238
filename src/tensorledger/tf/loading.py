"""Loading anchored checkpoints: weights checked tensor by tensor against the chain, then assigned.

Owns `load_weights` and `load_model`. The order is the promise: every
tensor's hash is checked against the on-chain record, and every shape against
the model, before the first variable is assigned, so a refused load leaves
the model exactly as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from tensorledger import blobs
from tensorledger.errors import IntegrityError, InvalidRequestError, NotFoundError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.registry import ModelRecord, resolve_model
from tensorledger.tf import weights as w
from tensorledger.tf._runtime import keras


def _where(record: ModelRecord) -> str:
    """How errors name a checkpoint: ``"model <id> v<version>"``."""
    return f"model {record.id} v{record.version}"


def checkpoint_record(
    gw: Gateway, model_id: str, version: int | None = None, *, channel: str = DEFAULT_CHANNEL
) -> ModelRecord:
    """The checkpoint's on-chain record (the newest version when ``version`` is None)."""
    ref = model_id if version is None else f"{model_id}@{version}"
    return resolve_model(gw, ref, channel=channel)


def verified_tensors(gw: Gateway, record: ModelRecord) -> dict[str, npt.NDArray[Any]]:
    """The checkpoint's tensors by name, each hash-checked against ``record``.

    The chunks are read as stored and the tensors checked first, so that an
    altered byte inside a tensor is reported as that tensor
    (``"model m v3 tensor dense_1/kernel"``), which is what an investigator
    needs; then every chunk is checked against the manifest too, which
    catches changes outside the tensors' bytes (header, padding).
    """
    where = _where(record)
    if w.recorded_root(record.tensors) != record.weights_root:
        raise IntegrityError(f"{where} record", "its tensor hashes do not give its weights root")
    store = blobs.store_for(gw.root)
    try:
        manifest = blobs.get_manifest(store, record.weights)
    except NotFoundError:
        raise IntegrityError(
            f"{where} weights manifest", f"{record.weights} is missing from the chunk store"
        ) from None
    except IntegrityError as exc:
        raise IntegrityError(f"{where} weights manifest", exc.detail) from None
    if manifest.encryption is not None:
        raise InvalidRequestError(f"{where}: encrypted weights are not supported")
    chunks: list[bytes] = []
    for ref in manifest.chunks:
        name = f"{where} weights chunk {ref.index}"
        try:
            chunk = store.get(ref.stored)
        except NotFoundError:
            raise IntegrityError(name, f"missing from the chunk store ({ref.stored})") from None
        if len(chunk) != ref.size:  # else every later tensor would shift and look altered
            raise IntegrityError(name, f"is {len(chunk)} bytes, the manifest says {ref.size}")
        chunks.append(chunk)
    blob = b"".join(chunks)
    del chunks  # the tensors returned are views of `blob`; keep one copy of the file only
    arrays = w.check(blob, record.tensors, where)
    view = memoryview(blob)
    for ref in manifest.chunks:
        actual = hashlib.sha256(view[ref.offset : ref.offset + ref.size]).hexdigest()
        if actual != ref.digest:
            raise IntegrityError(
                f"{where} weights chunk {ref.index}",
                f"SHA-256 is {actual}, the manifest says {ref.digest}",
            )
    return arrays


def _assign(model: Any, record: ModelRecord, arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    """Check the model against the checkpoint, then assign every variable."""
    where = _where(record)
    named = dict(w.named_variables(model))
    missing = [name for name in named if name not in arrays]
    extra = [name for name in arrays if name not in named]
    if missing or extra:
        raise InvalidRequestError(
            f"{where} does not fit this model: the model has tensors the checkpoint lacks "
            f"{missing} and the checkpoint has tensors the model lacks {extra}"
        )
    for name, variable in named.items():
        have = tuple(int(d) for d in variable.shape)
        array = arrays[name]
        if have != array.shape:
            raise InvalidRequestError(
                f"{where} tensor {name} has shape {list(array.shape)}; the model's is {list(have)}"
            )
        if np.dtype(variable.dtype).name != array.dtype.name:
            raise InvalidRequestError(
                f"{where} tensor {name} is {array.dtype.name}; the model's is {variable.dtype}"
            )
    for name, variable in named.items():
        variable.assign(arrays[name])


def load_weights(
    gw: Gateway,
    model: Any,
    model_id: str,
    version: int | None = None,
    *,
    channel: str = DEFAULT_CHANNEL,
) -> ModelRecord:
    """Assign an anchored checkpoint's weights to ``model``, refusing any that do not verify.

    `IntegrityError` names the tensor whose bytes differ from the chain's
    record; `InvalidRequestError` names a tensor whose shape or dtype does not
    fit ``model``. In either case nothing is assigned. Returns the record.
    """
    record = checkpoint_record(gw, model_id, version, channel=channel)
    _assign(model, record, verified_tensors(gw, record))
    return record


def architecture(gw: Gateway, record: ModelRecord) -> str:
    """The checkpoint's Keras JSON, checked against the digest on the chain."""
    name = f"{_where(record)} architecture"
    store = blobs.store_for(gw.root)
    try:
        data = store.get(record.architecture)
    except NotFoundError:
        raise IntegrityError(
            name, f"{record.architecture} is missing from the chunk store"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != record.architecture:
        raise IntegrityError(name, f"SHA-256 is {actual}, the ledger records {record.architecture}")
    return data.decode("utf-8")


def load_model(
    gw: Gateway,
    model_id: str,
    version: int | None = None,
    *,
    custom_objects: Mapping[str, Any] | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> Any:
    """Rebuild an anchored model from its verified architecture and load its verified weights.

    The model comes back uncompiled (the checkpoint anchors what predicts, not
    how it was trained; its optimizer settings are in the record's
    hyperparameters). Keras deserialises in safe mode, so an architecture
    cannot run arbitrary code; pass ``custom_objects`` for custom layers.
    """
    record = checkpoint_record(gw, model_id, version, channel=channel)
    arrays = verified_tensors(gw, record)
    model = keras().models.model_from_json(
        architecture(gw, record), custom_objects=dict(custom_objects or {})
    )
    _assign(model, record, arrays)
    return model


__all__ = ["architecture", "checkpoint_record", "load_model", "load_weights", "verified_tensors"]
