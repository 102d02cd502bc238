"""Registering and reading dataset versions through the `datasets` chaincode.

Thin typed calls over the contract; what the contract checks (version rule,
ownership, parents) is not repeated here, only resolved for convenience.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from tensorledger.errors import ContractError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.registry._records import DatasetRecord
from tensorledger.registry._refs import latest_version, not_found, split_ref

#: chaincode name of the dataset registry
DATASETS = "datasets"


def register_dataset(
    gw: Gateway,
    dataset_id: str,
    *,
    manifest: str,
    root: str,
    size: int,
    media_type: str,
    columns: Sequence[str],
    rows: int,
    dtypes: Mapping[str, str] | None = None,
    version: int | None = None,
    encrypted: bool = False,
    key_id: str | None = None,
    parents: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> DatasetRecord:
    """Register a dataset version whose data is already in the chunk store.

    `version=None` registers the next one (latest+1; a concurrent registration
    of the same version makes one of the two fail, never both succeed).
    Parents may be bare ids, meaning their newest version; each is resolved
    here, so a missing parent raises NotFoundError before anything is sent.
    ContractError carries the contract's refusal (version rule, owner, fields).
    """
    if version is None:
        version = latest_version(gw, channel, DATASETS, "GetDataset", "Dataset", dataset_id) + 1
    record = {
        "id": dataset_id,
        "version": version,
        "manifest": manifest,
        "root": root,
        "size": size,
        "mediaType": media_type,
        "schema": {"columns": list(columns), "dtypes": dict(dtypes or {})},
        "rows": rows,
        "encrypted": encrypted,
        "keyId": key_id,
        "parents": [resolve_dataset(gw, p, channel=channel).ref for p in parents],
        "tags": dict(tags or {}),
    }
    contract = gw.network(channel).contract(DATASETS)
    result = contract.submit("RegisterDataset", json.dumps(record))
    return DatasetRecord.from_json(result.payload)


def get_dataset(
    gw: Gateway, dataset_id: str, version: int | None = None, *, channel: str = DEFAULT_CHANNEL
) -> DatasetRecord:
    """A dataset version (the newest when `version` is None; 'id@v' also accepted).

    ContractError "Dataset <id>@<v> does not exist." when it is not registered.
    """
    if version is None:
        dataset_id, version = split_ref(dataset_id)
    wanted = "latest" if version is None else str(version)
    raw = gw.network(channel).contract(DATASETS).evaluate("GetDataset", dataset_id, wanted)
    return DatasetRecord.from_json(raw)


def list_datasets(gw: Gateway, *, channel: str = DEFAULT_CHANNEL) -> list[DatasetRecord]:
    """The newest version of every dataset, sorted by id."""
    raw = gw.network(channel).contract(DATASETS).evaluate("ListDatasets")
    return sorted((DatasetRecord.from_json(r) for r in json.loads(raw)), key=lambda d: d.id)


def dataset_versions(
    gw: Gateway, dataset_id: str, *, channel: str = DEFAULT_CHANNEL
) -> list[DatasetRecord]:
    """Every version of a dataset, oldest first ([] for an id never registered)."""
    raw = gw.network(channel).contract(DATASETS).evaluate("ListVersions", dataset_id)
    return [DatasetRecord.from_json(r) for r in json.loads(raw)]


def resolve_dataset(gw: Gateway, ref: str, *, channel: str = DEFAULT_CHANNEL) -> DatasetRecord:
    """The registered version a reference names ('id@v', or a bare id for the newest).

    NotFoundError when there is no such version: the other registries check
    their dataset references with it before sending, for a precise error; their
    chaincodes check again on the ledger.
    """
    try:
        return get_dataset(gw, ref, channel=channel)
    except ContractError as exc:
        raise not_found("dataset", ref, exc) from None
