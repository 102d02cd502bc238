"""ModelContract (chaincode `models`): the registry of model checkpoints anchored by hash.

A checkpoint names its architecture, its weights manifest and Merkle root, a
hash per tensor (so a tampered tensor is named at load time), the dataset
versions it was trained on, its metrics and the checkpoint it continues.
"""

from __future__ import annotations

from typing import Any

from tensorledger.contracts import _records as r
from tensorledger.contracts._base import Contract, TransactionContext

KIND = "model"
LABEL = "Model"
EVENT = "CheckpointRegistered"
MAX_TENSORS = 65_536
MAX_TENSOR_NAME = 512
MAX_RANK = 32
_DTYPE = r"[A-Za-z0-9_]+"


def _tensors(f: r.Fields, name: str, value: Any) -> list[dict[str, Any]]:
    """[{name, shape, dtype, sha256}], at least one, names distinct."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_TENSORS:
        raise f.fail(name, f"an array of 1 to {MAX_TENSORS} tensors", value)
    out = []
    for i, tensor in enumerate(value):
        where = f"{name}[{i}]"
        if not isinstance(tensor, dict):
            raise f.fail(where, "an object {name, shape, dtype, sha256}", tensor)
        extra = sorted(set(tensor) - {"name", "shape", "dtype", "sha256"})
        if extra:
            raise r.RecordError(f"{f.kind} record: unknown field '{where}.{extra[0]}'")
        for part in ("name", "shape", "dtype", "sha256"):
            if part not in tensor:
                raise r.RecordError(f"{f.kind} record: missing required field '{where}.{part}'")
        shape = tensor["shape"]
        if not isinstance(shape, list) or len(shape) > MAX_RANK:
            raise f.fail(f"{where}.shape", f"an array of at most {MAX_RANK} dimensions", shape)
        for d, dim in enumerate(shape):
            r.count(f, f"{where}.shape[{d}]", dim)
        out.append(
            {
                "name": r.text(MAX_TENSOR_NAME)(f, f"{where}.name", tensor["name"]),
                "shape": shape,
                "dtype": r.text(32, _DTYPE)(f, f"{where}.dtype", tensor["dtype"]),
                "sha256": r.digest(f, f"{where}.sha256", tensor["sha256"]),
            }
        )
    names = [t["name"] for t in out]
    if len(set(names)) != len(names):
        raise r.RecordError(f"{f.kind} record: field '{name}' names a tensor twice")
    return out


def _metrics(f: r.Fields, name: str, value: Any) -> dict[str, float | int]:
    """{metric: finite number}, e.g. {"loss": 0.31, "val_auc": 0.92}."""
    if not isinstance(value, dict) or len(value) > r.MAX_ENTRIES:
        raise f.fail(name, "an object {metric: number}", value)
    return {k: r.number(f, f"{name}.{k}", v) for k, v in value.items()}


def _epoch(f: r.Fields, name: str, value: Any) -> int:
    return r.count(f, name, value)


def parse_model(text: str) -> dict[str, Any]:
    """Check a caller's checkpoint record and return it normalised (defaults filled in)."""
    f = r.Fields(KIND, text)
    f.need("id", r.identifier)
    f.need("version", r.version)
    f.need("architecture", r.digest)
    f.need("weights", r.digest)
    f.need("weightsRoot", r.digest)
    f.need("tensors", _tensors)
    f.need("datasets", r.refs)
    f.may("hyperparameters", r.json_object, {})
    f.may("metrics", _metrics, {})
    f.may("parent", r.ref, None)
    f.may("epoch", _epoch, None)
    f.need("framework", r.text(128))
    f.may("tags", r.tags, {})
    return f.done()


class ModelContract(Contract):
    """Append-only checkpoint versions; only the organisation that registered version 1 adds more.

    The parent checkpoint is read through the stub (same namespace); the
    training dataset versions through a call to the `datasets` chaincode, so a
    checkpoint can only name data that is registered.
    """

    Name = "ModelContract"

    def get_evaluate_transactions(self) -> list[str]:
        """Queries, so Fabric's metadata marks them evaluate-only."""
        return ["GetModel", "ListModels", "ListVersions"]

    async def RegisterCheckpoint(self, ctx: TransactionContext, recordJSON: str) -> str:
        """Register the next checkpoint of a model; returns the stored record JSON."""
        record = parse_model(recordJSON)
        creator = r.stamp(ctx, record)
        await r.check_next_version(ctx, KIND, LABEL, record["id"], record["version"], creator)
        if record["parent"] is not None:
            await r.require_versions(ctx, KIND, KIND, "parent", [record["parent"]])
        for i, reference in enumerate(record["datasets"]):
            await r.registered_dataset(ctx, KIND, f"datasets[{i}]", reference)
        return await r.put_version(ctx, KIND, record, EVENT)

    async def GetModel(self, ctx: TransactionContext, modelId: str, version: str) -> str:
        """One checkpoint's record; `version` may be 'latest'."""
        return await r.get_version(ctx, KIND, LABEL, modelId, version)

    async def ListModels(self, ctx: TransactionContext) -> str:
        """The newest checkpoint of every model, as a JSON array."""
        return await r.list_latest(ctx, KIND)

    async def ListVersions(self, ctx: TransactionContext, modelId: str) -> str:
        """Every checkpoint of one model, oldest first, as a JSON array."""
        return await r.list_versions(ctx, KIND, LABEL, modelId)
