"""Typed, frozen forms of the records the registry contracts store, with their JSON codecs.

Field names are snake_case here and camelCase on the chain; `to_json` gives
back the exact bytes the contract stored (canonical JSON), so a record read
from the ledger can be re-hashed or compared byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar

from tensorledger.contracts._records import canonical
from tensorledger.errors import InvalidRequestError

T = TypeVar("T")


class _Reader:
    """Pulls typed fields out of one record's JSON object; names the field that is wrong."""

    def __init__(self, kind: str, data: bytes | str | Mapping[str, Any]) -> None:
        self.kind = kind
        if isinstance(data, Mapping):
            self.raw: Mapping[str, Any] = data
            return
        try:
            raw = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidRequestError(f"{kind} record is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise InvalidRequestError(f"{kind} record is not a JSON object")
        self.raw = raw

    def get(self, name: str, typ: type[T] | tuple[type, ...], *, null: bool = False) -> Any:
        if name not in self.raw:
            raise InvalidRequestError(f"{self.kind} record has no field {name!r}")
        value = self.raw[name]
        if value is None and null:
            return None
        bad_bool = isinstance(value, bool) and typ in (int, float)
        if bad_bool or not isinstance(value, typ):
            raise InvalidRequestError(f"{self.kind} record: field {name!r} has the wrong type")
        return value

    def each(self, name: str, convert: Callable[[Any], T]) -> tuple[T, ...]:
        try:
            return tuple(convert(v) for v in self.get(name, list))
        except (TypeError, KeyError, ValueError) as exc:
            raise InvalidRequestError(f"{self.kind} record: field {name!r}: {exc}") from None

    def mapping(self, name: str) -> Mapping[str, Any]:
        return MappingProxyType(dict(self.get(name, dict)))


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _stamps(r: _Reader) -> dict[str, str]:
    return {
        "owner": r.get("owner", str),
        "registered_by": r.get("registeredBy", str),
        "tx_id": r.get("txId", str),
        "timestamp": r.get("timestamp", str),
    }


class _Stamped:
    """What the contract adds to every record: who, in which transaction, when."""

    owner: str
    registered_by: str
    tx_id: str
    timestamp: str

    @property
    def registered_at(self) -> datetime:
        """The transaction's timestamp as an aware datetime (nanoseconds truncated)."""
        return datetime.fromisoformat(self.timestamp)

    def _stamp_dict(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "registeredBy": self.registered_by,
            "txId": self.tx_id,
            "timestamp": self.timestamp,
        }

    def to_dict(self) -> dict[str, Any]:
        """The record as the contract stores it (camelCase JSON object)."""
        raise NotImplementedError

    def to_json(self) -> bytes:
        """Canonical JSON: byte for byte what the contract stored."""
        return canonical(self.to_dict()).encode("utf-8")


@dataclass(frozen=True)
class DatasetRecord(_Stamped):
    """One registered dataset version."""

    id: str
    version: int
    manifest: str  # hex SHA-256 of the manifest blob
    root: str  # Merkle root over the chunks' plaintext digests
    size: int
    media_type: str
    columns: tuple[str, ...]
    dtypes: Mapping[str, str]
    rows: int
    encrypted: bool
    key_id: str | None
    parents: tuple[str, ...]
    tags: Mapping[str, str]
    owner: str
    registered_by: str
    tx_id: str
    timestamp: str

    @property
    def ref(self) -> str:
        """'id@version'."""
        return f"{self.id}@{self.version}"

    @property
    def schema(self) -> dict[str, Any]:
        """{columns, dtypes} as on the chain."""
        return {"columns": list(self.columns), "dtypes": dict(self.dtypes)}

    @classmethod
    def from_json(cls, data: bytes | str | Mapping[str, Any]) -> DatasetRecord:
        """Parse a stored dataset record; InvalidRequestError naming a bad field."""
        r = _Reader("dataset", data)
        schema = _Reader("dataset schema", r.get("schema", dict))
        return cls(
            id=r.get("id", str),
            version=r.get("version", int),
            manifest=r.get("manifest", str),
            root=r.get("root", str),
            size=r.get("size", int),
            media_type=r.get("mediaType", str),
            columns=schema.each("columns", _text),
            dtypes=schema.mapping("dtypes"),
            rows=r.get("rows", int),
            encrypted=r.get("encrypted", bool),
            key_id=r.get("keyId", str, null=True),
            parents=r.each("parents", _text),
            tags=r.mapping("tags"),
            **_stamps(r),
        )

    def to_dict(self) -> dict[str, Any]:
        """The record as the contract stores it."""
        return {
            "id": self.id,
            "version": self.version,
            "manifest": self.manifest,
            "root": self.root,
            "size": self.size,
            "mediaType": self.media_type,
            "schema": self.schema,
            "rows": self.rows,
            "encrypted": self.encrypted,
            "keyId": self.key_id,
            "parents": list(self.parents),
            "tags": dict(self.tags),
            **self._stamp_dict(),
        }


@dataclass(frozen=True)
class TensorRecord:
    """One tensor of a checkpoint: its name, shape, dtype and SHA-256 of its bytes."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    sha256: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TensorRecord:
        """From the record's {name, shape, dtype, sha256} object."""
        return cls(
            _text(data["name"]),
            tuple(int(d) for d in data["shape"]),
            _text(data["dtype"]),
            _text(data["sha256"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """The record's {name, shape, dtype, sha256} object."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class ModelRecord(_Stamped):
    """One registered model checkpoint."""

    id: str
    version: int
    architecture: str  # hex SHA-256 of the Keras JSON config blob
    weights: str  # hex SHA-256 of the weights manifest blob
    weights_root: str
    tensors: tuple[TensorRecord, ...]
    datasets: tuple[str, ...]
    hyperparameters: Mapping[str, Any]
    metrics: Mapping[str, float]
    parent: str | None
    epoch: int | None
    framework: str
    tags: Mapping[str, str]
    owner: str
    registered_by: str
    tx_id: str
    timestamp: str

    @property
    def ref(self) -> str:
        """'id@version'."""
        return f"{self.id}@{self.version}"

    @classmethod
    def from_json(cls, data: bytes | str | Mapping[str, Any]) -> ModelRecord:
        """Parse a stored checkpoint record; InvalidRequestError naming a bad field."""
        r = _Reader("model", data)
        return cls(
            id=r.get("id", str),
            version=r.get("version", int),
            architecture=r.get("architecture", str),
            weights=r.get("weights", str),
            weights_root=r.get("weightsRoot", str),
            tensors=r.each("tensors", TensorRecord.from_dict),
            datasets=r.each("datasets", _text),
            hyperparameters=r.mapping("hyperparameters"),
            metrics=r.mapping("metrics"),
            parent=r.get("parent", str, null=True),
            epoch=r.get("epoch", int, null=True),
            framework=r.get("framework", str),
            tags=r.mapping("tags"),
            **_stamps(r),
        )

    def to_dict(self) -> dict[str, Any]:
        """The record as the contract stores it."""
        return {
            "id": self.id,
            "version": self.version,
            "architecture": self.architecture,
            "weights": self.weights,
            "weightsRoot": self.weights_root,
            "tensors": [t.to_dict() for t in self.tensors],
            "datasets": list(self.datasets),
            "hyperparameters": dict(self.hyperparameters),
            "metrics": dict(self.metrics),
            "parent": self.parent,
            "epoch": self.epoch,
            "framework": self.framework,
            "tags": dict(self.tags),
            **self._stamp_dict(),
        }


@dataclass(frozen=True)
class AnalysisInput:
    """A dataset version an analysis read, with the Merkle root it read it under."""

    dataset: str  # 'id@version'
    root: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalysisInput:
        """From the record's {dataset, root} object."""
        return cls(_text(data["dataset"]), _text(data["root"]))

    def to_dict(self) -> dict[str, str]:
        """The record's {dataset, root} object."""
        return {"dataset": self.dataset, "root": self.root}


@dataclass(frozen=True)
class AnalysisRecord(_Stamped):
    """One recorded analysis (analyses have ids, not versions: they are written once)."""

    id: str
    method: str
    parameters: Mapping[str, Any]
    inputs: tuple[AnalysisInput, ...]
    result: Mapping[str, Any]
    result_hash: str
    package: str
    tags: Mapping[str, str]
    owner: str
    registered_by: str
    tx_id: str
    timestamp: str

    @property
    def ref(self) -> str:
        """The analysis id (there is one version of an analysis)."""
        return self.id

    @classmethod
    def from_json(cls, data: bytes | str | Mapping[str, Any]) -> AnalysisRecord:
        """Parse a stored analysis record; InvalidRequestError naming a bad field."""
        r = _Reader("analysis", data)
        return cls(
            id=r.get("id", str),
            method=r.get("method", str),
            parameters=r.mapping("parameters"),
            inputs=r.each("inputs", AnalysisInput.from_dict),
            result=r.mapping("result"),
            result_hash=r.get("resultHash", str),
            package=r.get("package", str),
            tags=r.mapping("tags"),
            **_stamps(r),
        )

    def to_dict(self) -> dict[str, Any]:
        """The record as the contract stores it."""
        return {
            "id": self.id,
            "method": self.method,
            "parameters": dict(self.parameters),
            "inputs": [i.to_dict() for i in self.inputs],
            "result": dict(self.result),
            "resultHash": self.result_hash,
            "package": self.package,
            "tags": dict(self.tags),
            **self._stamp_dict(),
        }
