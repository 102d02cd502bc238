"""Registering and reading model checkpoints through the `models` chaincode.

The training dataset versions are checked here before submitting, for a
precise error; the `models` chaincode checks them again on the ledger through
the `datasets` chaincode, and the parent checkpoint itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tensorledger.errors import ContractError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.registry._records import ModelRecord, TensorRecord
from tensorledger.registry._refs import latest_version, not_found, split_ref
from tensorledger.registry.datasets import resolve_dataset

#: chaincode name of the model registry
MODELS = "models"


def register_checkpoint(
    gw: Gateway,
    model_id: str,
    *,
    architecture: str,
    weights: str,
    weights_root: str,
    tensors: Sequence[TensorRecord | Mapping[str, Any]],
    datasets: Sequence[str],
    framework: str,
    version: int | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    parent: str | None = None,
    epoch: int | None = None,
    tags: Mapping[str, str] | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> ModelRecord:
    """Register a checkpoint whose weights are already in the chunk store.

    `version=None` registers the next one. Dataset references and `parent`
    may be bare ids (their newest version) and are resolved to 'id@v' here;
    NotFoundError if one is not registered. ContractError carries the
    contract's refusal (version rule, owner, malformed fields).
    """
    if version is None:
        version = latest_version(gw, channel, MODELS, "GetModel", "Model", model_id) + 1
    record = {
        "id": model_id,
        "version": version,
        "architecture": architecture,
        "weights": weights,
        "weightsRoot": weights_root,
        "tensors": [t.to_dict() if isinstance(t, TensorRecord) else dict(t) for t in tensors],
        "datasets": [resolve_dataset(gw, d, channel=channel).ref for d in datasets],
        "hyperparameters": dict(hyperparameters or {}),
        "metrics": dict(metrics or {}),
        "parent": None if parent is None else resolve_model(gw, parent, channel=channel).ref,
        "epoch": epoch,
        "framework": framework,
        "tags": dict(tags or {}),
    }
    result = gw.network(channel).contract(MODELS).submit("RegisterCheckpoint", json.dumps(record))
    return ModelRecord.from_json(result.payload)


def get_model(
    gw: Gateway, model_id: str, version: int | None = None, *, channel: str = DEFAULT_CHANNEL
) -> ModelRecord:
    """A checkpoint (the newest when `version` is None; 'id@v' also accepted).

    ContractError "Model <id>@<v> does not exist." when it is not registered.
    """
    if version is None:
        model_id, version = split_ref(model_id)
    wanted = "latest" if version is None else str(version)
    raw = gw.network(channel).contract(MODELS).evaluate("GetModel", model_id, wanted)
    return ModelRecord.from_json(raw)


def list_models(gw: Gateway, *, channel: str = DEFAULT_CHANNEL) -> list[ModelRecord]:
    """The newest checkpoint of every model, sorted by id."""
    raw = gw.network(channel).contract(MODELS).evaluate("ListModels")
    return sorted((ModelRecord.from_json(r) for r in json.loads(raw)), key=lambda m: m.id)


def model_versions(
    gw: Gateway, model_id: str, *, channel: str = DEFAULT_CHANNEL
) -> list[ModelRecord]:
    """Every checkpoint of a model, oldest first ([] for an id never registered)."""
    raw = gw.network(channel).contract(MODELS).evaluate("ListVersions", model_id)
    return [ModelRecord.from_json(r) for r in json.loads(raw)]


def resolve_model(gw: Gateway, ref: str, *, channel: str = DEFAULT_CHANNEL) -> ModelRecord:
    """The registered checkpoint a reference names; NotFoundError when there is none."""
    try:
        return get_model(gw, ref, channel=channel)
    except ContractError as exc:
        raise not_found("model", ref, exc) from None
