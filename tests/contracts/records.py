"""Valid records of each registry, built fresh per call, for tests to break one field at a time."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from fabric_protos.common import common_pb2


def h(label: str) -> str:
    """A well-formed digest, distinct per label."""
    return hashlib.sha256(label.encode()).hexdigest()


def uid(prefix: str = "t") -> str:
    """An id no other test uses (networks are shared within a module)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def dataset(record_id: str, version: int = 1, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": record_id,
        "version": version,
        "manifest": h(f"manifest {record_id}@{version}"),
        "root": h(f"root {record_id}@{version}"),
        "size": 1234,
        "mediaType": "text/csv",
        "schema": {"columns": ["age", "bmi", "target"], "dtypes": {"age": "float64"}},
        "rows": 42,
        "encrypted": False,
    }
    record.update(fields)
    return record


def model(record_id: str, version: int = 1, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": record_id,
        "version": version,
        "architecture": h(f"arch {record_id}"),
        "weights": h(f"weights {record_id}@{version}"),
        "weightsRoot": h(f"weights root {record_id}@{version}"),
        "tensors": [
            {"name": "dense/kernel", "shape": [10, 10], "dtype": "float32", "sha256": h("k")},
            {"name": "dense/bias", "shape": [10], "dtype": "float32", "sha256": h("b")},
        ],
        "datasets": [],
        "framework": "keras-3.15",
    }
    record.update(fields)
    return record


def analysis(record_id: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": record_id,
        "method": "ols",
        "parameters": {"label": "target", "features": ["age", "bmi"]},
        "inputs": [{"dataset": "cohort@1", "root": h("root cohort@1")}],
        "result": {"coefficients": [0.5, -1.25], "r2": 0.31},
        "resultHash": h(f"result {record_id}"),
        "package": "tensorledger 0.1.0",
    }
    record.update(fields)
    return record


def js(record: dict[str, Any]) -> str:
    return json.dumps(record)


def envelope_timestamp(envelope: bytes) -> str:
    """The channel header's timestamp of a stored envelope, as RFC 3339 (the proposal's time)."""
    payload = common_pb2.Payload.FromString(common_pb2.Envelope.FromString(envelope).payload)
    header = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
    return str(header.timestamp.ToJsonString())
