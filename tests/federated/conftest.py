"""A three-organisation ledger, breast-cancer data split across it, and approved jobs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import tensorledger as tl
from tests.contracts.ledgers import Net, make_net
from tests.contracts.records import uid

ORGS = ["Org1", "Org2", "Org3"]


@pytest.fixture(scope="package")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    yield from make_net(tmp_path_factory.mktemp("federated") / "ledger", ORGS)


@pytest.fixture
def gws(net: Net) -> dict[str, tl.Gateway]:
    return net.gws


def open_job(
    gws: Mapping[str, tl.Gateway],
    *,
    method: str = "fedavg",
    params: Mapping[str, Any] | None = None,
    rounds: int = 3,
    dp: Mapping[str, Any] | None = None,
    approve: bool = True,
) -> str:
    """Propose a job as Org1 with every organisation approving it (unless ``approve=False``)."""
    from tensorledger import governance

    job_id = uid("job")
    governance.propose_job(
        gws["Org1"],
        job_id,
        model=uid("model"),
        datasets=["cohort@1"],
        rounds=rounds,
        aggregation=method,
        aggregation_params=dict(params or {}),
        dp=dict(dp or {}),
        approvers=[gw.msp_id for gw in gws.values()],
        threshold_metric="accuracy",
        threshold_min=0.5,
    )
    if approve:
        for gw in gws.values():
            governance.approve_job(gw, job_id)
    return job_id
