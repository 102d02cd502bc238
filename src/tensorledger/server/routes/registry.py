"""Registry routes: datasets, models (with a metrics series per checkpoint) and analyses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tensorledger import registry
from tensorledger.errors import ContractError, NotFoundError
from tensorledger.gateway import Gateway
from tensorledger.server.auth import ReadAccess
from tensorledger.server.routes._common import ERRORS, require_deployed
from tensorledger.server.schemas import (
    AnalysisList,
    DatasetList,
    DatasetVersions,
    MetricPoint,
    ModelList,
    ModelVersions,
    Record,
)

router = APIRouter(tags=["registries"], responses=ERRORS)


def _gateway(access: ReadAccess, chaincode: str) -> Gateway:
    require_deployed(access, chaincode)
    return access.state.ledger.gateway(access.principal.identity)


@router.get("/channels/{ch}/datasets", response_model=DatasetList)
def datasets(access: ReadAccess) -> dict[str, Any]:
    """The newest version of every dataset."""
    gw = _gateway(access, registry.DATASETS)
    return {"datasets": [d.to_dict() for d in registry.list_datasets(gw, channel=access.channel)]}


@router.get("/channels/{ch}/datasets/{dataset_id}", response_model=DatasetVersions)
def dataset(access: ReadAccess, dataset_id: str) -> dict[str, Any]:
    """Every version of a dataset, oldest first."""
    gw = _gateway(access, registry.DATASETS)
    versions = registry.dataset_versions(gw, dataset_id, channel=access.channel)
    if not versions:
        raise NotFoundError(f"dataset {dataset_id} is not registered")
    return {"id": dataset_id, "versions": [d.to_dict() for d in versions]}


@router.get("/channels/{ch}/models", response_model=ModelList)
def models(access: ReadAccess) -> dict[str, Any]:
    """The newest checkpoint of every model."""
    gw = _gateway(access, registry.MODELS)
    return {"models": [m.to_dict() for m in registry.list_models(gw, channel=access.channel)]}


@router.get("/channels/{ch}/models/{model_id}", response_model=ModelVersions)
def model(access: ReadAccess, model_id: str) -> dict[str, Any]:
    """Every checkpoint of a model, and its metrics by version for a training curve."""
    gw = _gateway(access, registry.MODELS)
    versions = registry.model_versions(gw, model_id, channel=access.channel)
    if not versions:
        raise NotFoundError(f"model {model_id} is not registered")
    series = [
        MetricPoint(
            version=m.version,
            epoch=m.epoch,
            timestamp=m.timestamp,
            metrics={
                k: float(v)
                for k, v in m.metrics.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            },
        )
        for m in versions
    ]
    return {"id": model_id, "versions": [m.to_dict() for m in versions], "metrics": series}


@router.get("/channels/{ch}/analyses", response_model=AnalysisList)
def analyses(access: ReadAccess) -> dict[str, Any]:
    """Every recorded analysis."""
    gw = _gateway(access, registry.ANALYSES)
    return {"analyses": [a.to_dict() for a in registry.list_analyses(gw, channel=access.channel)]}


@router.get("/channels/{ch}/analyses/{analysis_id}", response_model=Record)
def analysis(access: ReadAccess, analysis_id: str) -> Record:
    """One analysis record."""
    gw = _gateway(access, registry.ANALYSES)
    try:
        return registry.get_analysis(gw, analysis_id, channel=access.channel).to_dict()
    except ContractError as exc:
        if exc.message.endswith("does not exist."):
            raise NotFoundError(exc.message) from None
        raise
