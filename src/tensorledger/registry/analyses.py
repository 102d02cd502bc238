"""Recording and reading analyses through the `analyses` chaincode.

Each input's Merkle root is checked against the dataset registry here, so the
user gets a precise error before anything is sent; the `analyses` chaincode
checks it again on the ledger (through the `datasets` chaincode), and `verify
analysis` re-verifies the data itself later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from tensorledger import __version__
from tensorledger.errors import ContractError, IntegrityError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.registry._records import AnalysisInput, AnalysisRecord
from tensorledger.registry._refs import not_found
from tensorledger.registry.datasets import resolve_dataset

#: chaincode name of the analysis registry
ANALYSES = "analyses"
#: what `package` says by default: the code that computed the result
PACKAGE = f"tensorledger {__version__}"


def record_analysis(
    gw: Gateway,
    analysis_id: str,
    *,
    method: str,
    inputs: Sequence[str | AnalysisInput | tuple[str, str]],
    result: Mapping[str, Any],
    result_hash: str,
    parameters: Mapping[str, Any] | None = None,
    package: str = PACKAGE,
    tags: Mapping[str, str] | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> AnalysisRecord:
    """Record an analysis once under `analysis_id`.

    `inputs` are dataset references ('id@v', or a bare id for the newest), or
    (reference, root) pairs / AnalysisInput when the caller read the data
    under a root it wants recorded. A given root must equal the registered
    one (IntegrityError naming the input otherwise); an absent one is taken
    from the registry. NotFoundError if an input is not registered.
    `result_hash` is the hash the caller's method defines (stats uses its
    exact float encoding); the ledger records it as given.
    """
    checked = []
    for item in inputs:
        if isinstance(item, AnalysisInput):
            ref, root = item.dataset, item.root
        elif isinstance(item, tuple):
            ref, root = item
        else:
            ref, root = item, None
        registered = resolve_dataset(gw, ref, channel=channel)
        if root is not None and root != registered.root:
            raise IntegrityError(
                f"analysis {analysis_id} input {registered.ref}",
                f"root {root} does not match the registered root {registered.root}",
            )
        checked.append({"dataset": registered.ref, "root": registered.root})
    record = {
        "id": analysis_id,
        "method": method,
        "parameters": dict(parameters or {}),
        "inputs": checked,
        "result": dict(result),
        "resultHash": result_hash,
        "package": package,
        "tags": dict(tags or {}),
    }
    submitted = gw.network(channel).contract(ANALYSES).submit("RecordAnalysis", json.dumps(record))
    return AnalysisRecord.from_json(submitted.payload)


def get_analysis(
    gw: Gateway, analysis_id: str, *, channel: str = DEFAULT_CHANNEL
) -> AnalysisRecord:
    """A recorded analysis; ContractError "Analysis <id> does not exist." when there is none."""
    raw = gw.network(channel).contract(ANALYSES).evaluate("GetAnalysis", analysis_id)
    return AnalysisRecord.from_json(raw)


def list_analyses(gw: Gateway, *, channel: str = DEFAULT_CHANNEL) -> list[AnalysisRecord]:
    """Every recorded analysis, sorted by id."""
    raw = gw.network(channel).contract(ANALYSES).evaluate("ListAnalyses")
    return sorted((AnalysisRecord.from_json(r) for r in json.loads(raw)), key=lambda a: a.id)


def resolve_analysis(
    gw: Gateway, analysis_id: str, *, channel: str = DEFAULT_CHANNEL
) -> AnalysisRecord:
    """A recorded analysis; NotFoundError when there is none."""
    try:
        return get_analysis(gw, analysis_id, channel=channel)
    except ContractError as exc:
        raise not_found("analysis", analysis_id, exc) from None
