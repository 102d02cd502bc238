"""Model weights as the ledger knows them: named tensors, their hashes, their Merkle root.

Owns the naming of a Keras model's weights, the tensor hash, the weights root
and the safetensors encoding and parsing, so that anchoring a checkpoint and
checking one at load time cannot drift apart.

* Names: ``"<layer>/<weight>"`` where ``<layer>`` is the layer's class in
  snake case, numbered in model order when it repeats (``dense``,
  ``dense_1``, as Keras's own weight files do) and ``<weight>`` is the
  variable's name (``kernel``, ``bias``; ``kernel_1`` if a layer repeats
  one). Keras's automatic layer names (``dense_7``) depend on how many
  layers the process made before; these do not, so the same architecture
  gets the same names in any process.
* Tensor hash: SHA-256 of ``dtype ‖ 0x00 ‖ shape ‖ 0x00 ‖ data``: the numpy
  dtype name in ASCII (``float32``), the shape as JSON without spaces
  (``[10,1]``), then the raw little-endian C-order bytes, exactly as a
  safetensors file holds them. Dtype and shape are inside the hash, so a
  tensor cannot be reinterpreted unnoticed.
* Weights root: the RFC 9162 Merkle root (`tensorledger.crypto.merkle`) over
  one leaf per tensor in model order, leaf = ``name (UTF-8) ‖ 0x00 ‖ digest``
  (the 32 raw digest bytes).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tensorledger.crypto import merkle
from tensorledger.errors import IntegrityError, InvalidRequestError
from tensorledger.registry import TensorRecord

#: media type of a weights blob in the chunk store
SAFETENSORS = "application/vnd.safetensors"

#: safetensors' dtype codes for the numpy dtypes a checkpoint may hold
_CODES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
}
_HEADER_LENGTH = 8
#: safetensors' own bound on the header; a larger claim is a damaged file
_MAX_HEADER = 100 * 1024 * 1024


def snake_case(name: str) -> str:
    """``BatchNormalization`` → ``batch_normalization``, ``Conv2D`` → ``conv2d``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def named_variables(model: Any) -> list[tuple[str, Any]]:
    """The model's weights as ``(name, variable)`` in model order; see the module for names."""
    named: list[tuple[str, Any]] = []
    layers_seen: dict[str, int] = {}
    for layer in model.layers:
        base = snake_case(type(layer).__name__)
        repeat = layers_seen.get(base, 0)
        layers_seen[base] = repeat + 1
        layer_name = base if repeat == 0 else f"{base}_{repeat}"
        weights_seen: dict[str, int] = {}
        for variable in layer.weights:
            short = str(variable.name).rsplit("/", 1)[-1]
            again = weights_seen.get(short, 0)
            weights_seen[short] = again + 1
            named.append((f"{layer_name}/{short if again == 0 else f'{short}_{again}'}", variable))
    if len(named) != len(model.weights):
        raise InvalidRequestError(
            f"the model has {len(model.weights)} weights but its layers hold {len(named)} "
            "(weights shared between layers, or kept outside any layer); "
            "they cannot be named one to one"
        )
    if not named:
        raise InvalidRequestError("the model has no weights yet: build it or fit it first")
    return named


def little_endian(array: npt.ArrayLike) -> npt.NDArray[Any]:
    """``array`` as a C-contiguous little-endian numpy array (a view when it already is one)."""
    values = np.asarray(array)
    if values.dtype.name not in _CODES.values():
        raise InvalidRequestError(f"a checkpoint cannot hold {values.dtype} tensors")
    # not ascontiguousarray: it turns a 0-d array (a scalar weight) into shape (1,)
    return np.asarray(values, dtype=values.dtype.newbyteorder("<"), order="C")


def _digest(dtype: str, shape: Sequence[int], data: Any) -> str:
    """The tensor hash over already little-endian C-order bytes."""
    header = f"{dtype}\x00{json.dumps(list(shape), separators=(',', ':'))}\x00"
    hasher = hashlib.sha256(header.encode("ascii"))
    hasher.update(data)
    return hasher.hexdigest()


def tensor_sha256(array: npt.ArrayLike) -> str:
    """The tensor hash of ``array`` (hex); see the module docstring for what it covers."""
    values = little_endian(array)
    return _digest(values.dtype.name, values.shape, values.reshape(-1).view(np.uint8))


def weights_root(tensors: Sequence[tuple[str, str]]) -> str:
    """Hex Merkle root over ``(name, hex digest)`` pairs in order, leaf = name ‖ 0x00 ‖ digest."""
    leaves = []
    for name, digest in tensors:
        if "\x00" in name:
            raise InvalidRequestError(f"tensor name {name!r} contains a NUL byte")
        leaves.append(name.encode("utf-8") + b"\x00" + bytes.fromhex(digest))
    return merkle.root(leaves).hex()


def encode(tensors: Sequence[tuple[str, npt.NDArray[Any]]]) -> bytes:
    """A safetensors file of the named tensors."""
    from safetensors.numpy import save

    return bytes(save(dict(tensors)))


@dataclass(frozen=True)
class StoredTensor:
    """One tensor as a safetensors header places it: dtype, shape, byte range of the data."""

    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


def parse(blob: bytes, where: str) -> dict[str, StoredTensor]:
    """The tensors a safetensors file declares; `IntegrityError` ``"<where> header"`` if damaged.

    Written here rather than taken from the safetensors package so that a
    damaged file still yields the byte range of every tensor it can: that is
    what lets `check` name the tensor that changed.
    """
    name = f"{where} header"
    if len(blob) < _HEADER_LENGTH:
        raise IntegrityError(name, f"{len(blob)} bytes is too short for a safetensors file")
    size = int.from_bytes(blob[:_HEADER_LENGTH], "little")
    if size > min(_MAX_HEADER, len(blob) - _HEADER_LENGTH):
        raise IntegrityError(name, f"declares a {size}-byte header in a {len(blob)}-byte file")
    try:
        header = json.loads(blob[_HEADER_LENGTH : _HEADER_LENGTH + size])
    except (ValueError, UnicodeDecodeError) as exc:
        raise IntegrityError(name, f"not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise IntegrityError(name, "not a JSON object")
    data_size = len(blob) - _HEADER_LENGTH - size
    base = _HEADER_LENGTH + size
    tensors: dict[str, StoredTensor] = {}
    for tensor, entry in header.items():
        if tensor == "__metadata__":
            continue
        stored = _entry(entry, data_size)
        if stored is None:
            raise IntegrityError(name, f"entry of tensor {tensor!r} is malformed")
        tensors[tensor] = StoredTensor(
            stored.dtype, stored.shape, base + stored.start, base + stored.end
        )
    return tensors


def _entry(entry: object, data_size: int) -> StoredTensor | None:
    """One header entry checked for consistency (size matches shape and dtype), or None."""
    if not isinstance(entry, dict):
        return None
    dtype = _CODES.get(str(entry.get("dtype")))
    shape = entry.get("shape")
    offsets = entry.get("data_offsets")
    if dtype is None or not isinstance(shape, list) or not isinstance(offsets, list):
        return None
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return None
    if len(offsets) != 2 or not all(isinstance(o, int) for o in offsets):
        return None
    start, end = offsets
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if not 0 <= start <= end <= data_size or end - start != count * np.dtype(dtype).itemsize:
        return None
    return StoredTensor(dtype, tuple(shape), start, end)


def check(blob: bytes, recorded: Sequence[TensorRecord], where: str) -> dict[str, npt.NDArray[Any]]:
    """Every recorded tensor out of a safetensors file, each hash checked; name → array.

    Raises `IntegrityError` ``"<where> tensor <name>"`` for the first tensor
    (in model order) that is missing or whose bytes, dtype or shape differ
    from the record (the detail lists any others), and ``"<where> weights"``
    if the file holds tensors the record does not. Returned arrays are
    read-only views of ``blob``.
    """
    stored = parse(blob, where)
    view = memoryview(blob)
    bad: list[tuple[str, str]] = []
    for tensor in recorded:
        entry = stored.get(tensor.name)
        if entry is None:
            bad.append((tensor.name, "is missing from the weights file"))
            continue
        actual = _digest(entry.dtype, entry.shape, view[entry.start : entry.end])
        if actual != tensor.sha256:
            bad.append((tensor.name, f"SHA-256 is {actual}, the ledger records {tensor.sha256}"))
    if bad:
        (first, detail), others = bad[0], [n for n, _ in bad[1:]]
        more = f" (also altered: {', '.join(others)})" if others else ""
        raise IntegrityError(f"{where} tensor {first}", detail + more)
    extra = sorted(set(stored) - {t.name for t in recorded})
    if extra:
        raise IntegrityError(f"{where} weights", f"holds tensors the ledger does not: {extra}")
    arrays: dict[str, npt.NDArray[Any]] = {}
    for tensor in recorded:
        entry = stored[tensor.name]
        dtype = np.dtype(entry.dtype).newbyteorder("<")
        count = (entry.end - entry.start) // dtype.itemsize
        flat = np.frombuffer(blob, dtype=dtype, count=count, offset=entry.start)
        arrays[tensor.name] = flat.reshape(entry.shape)
    return arrays


def recorded_root(recorded: Sequence[TensorRecord]) -> str:
    """The weights root of a record's tensor list."""
    return weights_root([(t.name, t.sha256) for t in recorded])


__all__ = [
    "SAFETENSORS",
    "StoredTensor",
    "check",
    "encode",
    "little_endian",
    "named_variables",
    "parse",
    "recorded_root",
    "snake_case",
    "tensor_sha256",
    "weights_root",
]
