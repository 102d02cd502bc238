"""The blog post's two helpers, made correct: small models and data through `storeData`.

The seed called ``.tolist()`` on the list `get_weights()` returns and used a
Python Fabric client that does not exist; these run on any `Contract` of the
gateway, with the seed's wire names (`storeData`, `retrieveData`). They put
values on chain, which suits a few kilobytes; anything larger belongs off
chain, anchored by `LedgerCheckpoint`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt

from tensorledger.errors import InvalidRequestError
from tensorledger.gateway import Contract, SubmitResult
from tensorledger.ledger.simulator import MAX_VALUE_BYTES
from tensorledger.tf._runtime import tensorflow


def store_model_parameters(contract: Contract, key: str, model: Any) -> SubmitResult:
    """Store ``model.get_weights()`` as JSON (one nested list per tensor) under ``key``.

    Refuses, before sending anything, weights that JSON cannot carry exactly
    (NaN, infinity) and models whose JSON exceeds the ledger's value limit.
    float32 weights survive the round trip bit for bit (see
    `load_model_parameters`).
    """
    try:
        text = json.dumps([array.tolist() for array in model.get_weights()], allow_nan=False)
    except ValueError:
        raise InvalidRequestError(
            f"model parameters for {key!r} hold NaN or infinite values, which JSON cannot carry"
        ) from None
    size = len(text.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise InvalidRequestError(
            f"model parameters for {key!r} are {size} bytes of JSON; a storeData value may be "
            f"at most {MAX_VALUE_BYTES}. Anchor large models off chain with "
            "tensorledger.tf.LedgerCheckpoint, which puts only hashes on the ledger"
        )
    return contract.submit("storeData", key, text)


def load_model_parameters(
    contract: Contract, key: str, dtype: str = "float32"
) -> list[npt.NDArray[Any]]:
    """The parameters `store_model_parameters` stored under ``key``, as arrays of ``dtype``.

    Ready for ``model.set_weights(...)``. JSON keeps no dtype, hence the
    argument; float32 values come back exactly (a float32 printed as its
    shortest float64 repr parses back to the same float64, which narrows
    back to the same float32).
    """
    values = _json_value(contract, key)
    if not isinstance(values, list):
        raise InvalidRequestError(f"data {key!r} is not a JSON array of tensors")
    try:
        return [np.asarray(v, dtype=dtype) for v in values]
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"data {key!r} is not a list of numeric tensors: {exc}") from None


def dataset_from_ledger(contract: Contract, key: str) -> Any:
    """``retrieveData(key)`` → JSON array → `tf.data.Dataset.from_tensor_slices`, as in the seed.

    One element per top-level array entry; numbers keep TensorFlow's default
    types (float32 for decimals, int32 for integers). `ContractError` carries
    the contract's "Data with ID <key> does not exist."; a value that is not a
    JSON array of equal-length entries is refused with `InvalidRequestError`.
    """
    values = _json_value(contract, key)
    if not isinstance(values, list):
        raise InvalidRequestError(
            f"data {key!r} is a JSON {type(values).__name__}, not an array; "
            "from_tensor_slices needs an array"
        )
    tf = tensorflow()
    try:
        return tf.data.Dataset.from_tensor_slices(values)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(
            f"data {key!r} is not a rectangular numeric array: {exc}"
        ) from None


def _json_value(contract: Contract, key: str) -> Any:
    raw = contract.evaluate("retrieveData", key)
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequestError(f"data {key!r} is not JSON: {exc}") from None


__all__ = ["dataset_from_ledger", "load_model_parameters", "store_model_parameters"]
