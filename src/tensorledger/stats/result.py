"""What every statistical result shares: a JSON form and an exact, portable hash.

The hash is what the ledger records, so it must not depend on how a platform
prints floats: every float is serialised with `float.hex()`, which is exact.
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar, TypeAlias

from tensorledger.errors import InvalidRequestError

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"
JSONScalar: TypeAlias = "bool | int | float | str"


class StatResult(ABC):
    """Base of the frozen result dataclasses: `to_dict()` plus `result_hash()`."""

    #: the method name the ledger records, e.g. ``"ols"``
    method: ClassVar[str] = ""

    @abstractmethod
    def to_dict(self) -> dict[str, JSONValue]:
        """The result as JSON-ready Python values (floats as `float`, never numpy)."""

    def result_hash(self) -> str:
        """Hex SHA-256 of the canonical JSON of `to_dict()`; see `hash_result`."""
        return hash_result(self.to_dict())


def canonical_json(value: JSONValue) -> bytes:
    """Sorted keys, no spaces, ASCII, every float replaced by its `float.hex()` string.

    A recorded result read back from the ledger's JSON gives the same bytes:
    Python parses the shortest-repr floats it wrote back to the same doubles,
    and lists and tuples both serialise as arrays.
    """
    return json.dumps(
        _hex_floats(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    ).encode("ascii")


def hash_result(value: Mapping[str, JSONValue]) -> str:
    """Hex SHA-256 of `canonical_json(value)`: exact, platform independent."""
    return hashlib.sha256(canonical_json(dict(value))).hexdigest()


def _hex_floats(value: JSONValue) -> JSONValue:
    # bool is an int subclass and must stay a JSON boolean; int stays int.
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequestError(f"a result holds a non-finite float ({value})")
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _hex_floats(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_hex_floats(v) for v in value]
    return value


def floats(values: Sequence[float]) -> list[JSONValue]:
    """Plain Python floats for a JSON list (numpy scalars would not serialise)."""
    return [float(v) for v in values]


def matrix(rows: Sequence[Sequence[float]]) -> list[JSONValue]:
    """A matrix as a JSON list of lists of Python floats."""
    return [floats(row) for row in rows]
