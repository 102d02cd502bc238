"""The multi-process path: a Flower gRPC server and three client processes on one ledger."""

from __future__ import annotations

import pytest

from tensorledger.federated import verify_job, verify_round
from tensorledger.federated.processes import ClientSpec, ServerSpec, free_address, run_processes
from tests.federated.cancer import model_fn, splits
from tests.federated.conftest import ORGS, open_job


@pytest.mark.slow
def test_server_and_three_client_processes_record_rounds_that_verify(net) -> None:  # type: ignore[no-untyped-def]
    from tensorledger import governance

    rounds = 2
    job = open_job(net.gws, method="trimmed_mean", params={"beta": 0.2}, rounds=rounds)
    data, _ = splits(ORGS, seed=2)
    address = free_address()
    server = ServerSpec(
        ledger=net.path,
        identity="Org1",
        address=address,
        job_id=job,
        model_fn=model_fn,
        clients=len(ORGS),
        rounds=rounds,
        aggregation="trimmed_mean",
        params={"beta": 0.2},
    )
    clients = [
        ClientSpec(
            ledger=net.path,
            identity=org,
            name=org,
            address=address,
            model_fn=model_fn,
            data=data[org],
            job_id=job,
        )
        for org in ORGS
    ]
    run_processes(server, clients, timeout=400)
    records = governance.list_rounds(net.gws["Org2"], job)
    assert [r.round for r in records] == [1, 2]
    for record in records:
        # the clients named themselves: the record does not carry gRPC connection ids
        assert [u.client for u in record.updates] == ORGS
        assert [u.msp for u in record.updates] == [f"{o}MSP" for o in ORGS]
    for number in (1, 2):
        verify_round(net.gws["Org3"], job, number)
    assert verify_job(net.gws["Org2"], job).final == records[-1].global_after
