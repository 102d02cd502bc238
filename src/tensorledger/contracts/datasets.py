"""DatasetContract (chaincode `datasets`): the registry of dataset versions anchored by hash.

The chain holds a few hundred bytes per version (manifest digest, Merkle root,
schema, lineage, tags); the data itself stays in the off-chain chunk store.
"""

from __future__ import annotations

from typing import Any

from tensorledger.contracts import _records as r
from tensorledger.contracts._base import Contract, TransactionContext

KIND = "dataset"
LABEL = "Dataset"
EVENT = "DatasetRegistered"
_MEDIA_TYPE = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
MAX_COLUMNS = 65_536
MAX_COLUMN_NAME = 256
MAX_DTYPE = 64


def _schema(f: r.Fields, name: str, value: Any) -> dict[str, Any]:
    """{columns: [distinct names], dtypes: {column: dtype}} — dtypes only for listed columns."""
    if not isinstance(value, dict):
        raise f.fail(name, "an object {columns, dtypes}", value)
    extra = sorted(set(value) - {"columns", "dtypes"})
    if extra:
        raise r.RecordError(f"{f.kind} record: unknown field '{name}.{extra[0]}'")
    columns = value.get("columns")
    if not isinstance(columns, list) or len(columns) > MAX_COLUMNS:
        raise f.fail(f"{name}.columns", f"an array of at most {MAX_COLUMNS} column names", columns)
    checked = [r.text(MAX_COLUMN_NAME)(f, f"{name}.columns[{i}]", c) for i, c in enumerate(columns)]
    if len(set(checked)) != len(checked):
        raise r.RecordError(f"{f.kind} record: field '{name}.columns' names a column twice")
    dtypes = value.get("dtypes")
    if not isinstance(dtypes, dict):
        raise f.fail(f"{name}.dtypes", "an object {column: dtype}", dtypes)
    known = set(checked)
    for column, dtype in dtypes.items():
        if column not in known:
            raise r.RecordError(
                f"{f.kind} record: field '{name}.dtypes' names {column!r}, which is not a column"
            )
        r.text(MAX_DTYPE)(f, f"{name}.dtypes.{column}", dtype)
    return {"columns": checked, "dtypes": dict(dtypes)}


def parse_dataset(text: str) -> dict[str, Any]:
    """Check a caller's dataset record and return it normalised (defaults filled in)."""
    f = r.Fields(KIND, text)
    f.need("id", r.identifier)
    f.need("version", r.version)
    f.need("manifest", r.digest)
    f.need("root", r.digest)
    f.need("size", r.count)
    f.need("mediaType", r.text(255, _MEDIA_TYPE))
    f.need("schema", _schema)
    f.need("rows", r.count)
    encrypted = f.need("encrypted", r.boolean)
    if encrypted:
        f.need("keyId", r.text(64, r"[0-9a-f]{16,64}"))
    elif f.raw.get("keyId") is not None:
        raise r.RecordError(f"{KIND} record: field 'keyId' must be null when not encrypted")
    else:
        f.out["keyId"] = None
    f.may("parents", r.refs, [])
    f.may("tags", r.tags, {})
    return f.done()


class DatasetContract(Contract):
    """Append-only dataset versions; only the organisation that registered version 1 adds more."""

    Name = "DatasetContract"

    def get_evaluate_transactions(self) -> list[str]:
        """Queries, so Fabric's metadata marks them evaluate-only."""
        return ["GetDataset", "ListDatasets", "ListVersions"]

    async def RegisterDataset(self, ctx: TransactionContext, recordJSON: str) -> str:
        """Register the next version of a dataset; returns the stored record JSON.

        Refused unless the version is latest+1, the caller's organisation owns
        the dataset (or it is new), and every parent version exists.
        """
        record = parse_dataset(recordJSON)
        creator = r.stamp(ctx, record)
        await r.check_next_version(ctx, KIND, LABEL, record["id"], record["version"], creator)
        await r.require_versions(ctx, KIND, KIND, "parents", record["parents"])
        return await r.put_version(ctx, KIND, record, EVENT)

    async def GetDataset(self, ctx: TransactionContext, datasetId: str, version: str) -> str:
        """One version's record; `version` may be 'latest'."""
        return await r.get_version(ctx, KIND, LABEL, datasetId, version)

    async def ListDatasets(self, ctx: TransactionContext) -> str:
        """The newest version of every dataset, as a JSON array."""
        return await r.list_latest(ctx, KIND)

    async def ListVersions(self, ctx: TransactionContext, datasetId: str) -> str:
        """Every version of one dataset, oldest first, as a JSON array."""
        return await r.list_versions(ctx, KIND, LABEL, datasetId)
