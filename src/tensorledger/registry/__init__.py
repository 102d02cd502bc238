"""The client side of the dataset, model and analysis registries: typed records, lineage.

Every function takes a `Gateway` and a `channel` keyword and talks to the
`datasets`, `models` and `analyses` chaincodes through the public gateway API,
so it runs unchanged on the embedded ledger and on Fabric.
"""

from __future__ import annotations

from tensorledger.registry._records import (
    AnalysisInput,
    AnalysisRecord,
    DatasetRecord,
    ModelRecord,
    TensorRecord,
)
from tensorledger.registry.add import add_dataset
from tensorledger.registry.analyses import (
    ANALYSES,
    get_analysis,
    list_analyses,
    record_analysis,
    resolve_analysis,
)
from tensorledger.registry.datasets import (
    DATASETS,
    dataset_versions,
    get_dataset,
    list_datasets,
    register_dataset,
    resolve_dataset,
)
from tensorledger.registry.lineage import LineageNode, lineage
from tensorledger.registry.models import (
    MODELS,
    get_model,
    list_models,
    model_versions,
    register_checkpoint,
    resolve_model,
)

__all__ = [
    "ANALYSES",
    "DATASETS",
    "MODELS",
    "AnalysisInput",
    "AnalysisRecord",
    "DatasetRecord",
    "LineageNode",
    "ModelRecord",
    "TensorRecord",
    "add_dataset",
    "dataset_versions",
    "get_analysis",
    "get_dataset",
    "get_model",
    "lineage",
    "list_analyses",
    "list_datasets",
    "list_models",
    "model_versions",
    "record_analysis",
    "register_checkpoint",
    "register_dataset",
    "resolve_analysis",
    "resolve_dataset",
    "resolve_model",
]
