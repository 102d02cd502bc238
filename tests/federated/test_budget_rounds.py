"""DP rounds spend from each client's dataset budget on the ledger, and stop when it runs out.

The per-round ε is checked against two independent bounds: the exact
Gaussian-mechanism curve (Balle & Wang 2018, solved here with scipy) below,
and the classical zCDP conversion rho + 2·sqrt(rho·ln(1/δ)) above.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from scipy.optimize import brentq
from scipy.stats import norm

import tensorledger as tl
from tensorledger.errors import ContractError, InvalidRequestError
from tensorledger.federated import ClientData, run_federated
from tensorledger.federated.dp import ClipNoise
from tests.contracts.records import dataset, uid
from tests.federated.cancer import model_fn, splits
from tests.federated.conftest import ORGS

SIGMA, DELTA, CLIP = 2.0, 1e-5, 1.0
DP = {"clip": CLIP, "noiseMultiplier": SIGMA, "delta": DELTA}


def exact_gaussian_epsilon(sigma: float, delta: float) -> float:
    """The smallest ε with δ(ε) ≤ delta for the Gaussian mechanism of sensitivity 1."""

    def gap(eps: float) -> float:
        a, b = 1 / (2 * sigma), eps * sigma
        return norm.cdf(a - b) - math.exp(eps) * norm.cdf(-a - b) - delta

    return float(brentq(gap, 1e-9, 100.0))


def register(gws: dict[str, tl.Gateway]) -> dict[str, str]:
    """One dataset per organisation, registered (so owned) by it; refs by org."""
    refs = {}
    for org, gw in gws.items():
        record_id = uid(f"ward-{org.lower()}")
        gw.network().contract("datasets").submit("RegisterDataset", json.dumps(dataset(record_id)))
        refs[org] = f"{record_id}@1"
    return refs


def dp_job(gws: dict[str, tl.Gateway], refs: dict[str, str], rounds: int, dp: dict) -> str:
    from tensorledger import governance

    job = uid("dpjob")
    governance.propose_job(
        gws["Org1"],
        job,
        model=uid("model"),
        datasets=list(refs.values()),
        rounds=rounds,
        aggregation="fedavg",
        dp=dp,
        approvers=[gw.msp_id for gw in gws.values()],
        threshold_metric="accuracy",
        threshold_min=0.5,
    )
    for gw in gws.values():
        governance.approve_job(gw, job)
    return job


def client_data(refs: dict[str, str]) -> dict[str, ClientData]:
    data, _ = splits(ORGS)
    return {
        org: ClientData.arrays(*d.train, batch_size=16, dataset=refs[org])
        for org, d in data.items()
    }


def test_the_round_epsilon_lies_between_the_exact_curve_and_the_classical_bound() -> None:
    e = ClipNoise(CLIP, SIGMA, DELTA).round_epsilon()
    rho = 1 / (2 * SIGMA**2)
    assert exact_gaussian_epsilon(SIGMA, DELTA) <= float(e)
    assert float(e) <= rho + 2 * math.sqrt(rho * math.log(1 / DELTA))
    assert e == e.quantize(Decimal("1e-9"))  # on the budget's nano-ε grid


def test_a_run_stops_at_the_round_the_budget_runs_out(gws: dict[str, tl.Gateway]) -> None:
    from tensorledger import governance, privacy

    e = ClipNoise(CLIP, SIGMA, DELTA).round_epsilon()
    refs = register(gws)
    totals = {"Org1": e * 10, "Org2": e * 10, "Org3": e * 2 + e / 2}
    for org, ref in refs.items():
        privacy.set_budget(gws[org], ref.partition("@")[0], str(totals[org].quantize(e)))
    job = dp_job(gws, refs, rounds=3, dp=DP)
    with pytest.raises(ContractError) as caught:
        run_federated(
            gws,
            job_id=job,
            model_fn=model_fn,
            client_data=client_data(refs),
            rounds=3,
            evaluate=False,
        )
    org3 = refs["Org3"].partition("@")[0]
    assert f"of dataset {org3}'s budget" in caught.value.message
    records = governance.list_rounds(gws["Org1"], job)
    assert [r.round for r in records] == [1, 2]
    spent = {
        org: privacy.get_budget(gws[org], ref.partition("@")[0]).spent for org, ref in refs.items()
    }
    # Org1 and Org2 sent their round-3 updates before Org3 refused: those were spent for
    assert spent == {"Org1": 3 * e, "Org2": 3 * e, "Org3": 2 * e}
    for org, ref in refs.items():
        releases = privacy.list_releases(gws[org], ref.partition("@")[0])
        assert {r.statistic for r in releases} == {"federated-update"}
        assert all(r.epsilon == e and r.delta == DELTA for r in releases)
        by_round = {r.parameters["round"]: r.value for r in releases}
        for record in records:  # the release carries the update's digest, not the update
            (update,) = [u for u in record.updates if u.msp == gws[org].msp_id]
            assert by_round[record.round] == update.update_root


def test_a_full_run_spends_rounds_times_the_round_epsilon_exactly(
    gws: dict[str, tl.Gateway],
) -> None:
    from tensorledger import privacy

    e = ClipNoise(CLIP, SIGMA, DELTA).round_epsilon()
    refs = register(gws)
    for org, ref in refs.items():
        privacy.set_budget(gws[org], ref.partition("@")[0], "100")
    rounds = 3
    job = dp_job(gws, refs, rounds=rounds, dp=DP)
    run_federated(
        gws,
        job_id=job,
        model_fn=model_fn,
        client_data=client_data(refs),
        rounds=rounds,
        evaluate=False,
    )
    for org, ref in refs.items():
        budget = privacy.get_budget(gws[org], ref.partition("@")[0])
        assert budget.spent == rounds * e and budget.releases == rounds
        assert budget.remaining == Decimal(100) - rounds * e


def test_a_dp_run_is_refused_before_training_when_it_cannot_account(
    gws: dict[str, tl.Gateway],
) -> None:
    from tensorledger import governance

    refs = register(gws)
    job = dp_job(gws, refs, rounds=1, dp=DP)
    data, _ = splits(ORGS)  # no dataset named: no budget to spend from
    with pytest.raises(InvalidRequestError, match="client Org1 trains on no named dataset"):
        run_federated(gws, job_id=job, model_fn=model_fn, client_data=data, rounds=1)
    noisy = dp_job(gws, refs, rounds=1, dp={"clip": 1.0, "noiseMultiplier": 1.0})
    with pytest.raises(InvalidRequestError, match="names no delta"):
        run_federated(gws, job_id=noisy, model_fn=model_fn, client_data=client_data(refs), rounds=1)
    assert governance.list_rounds(gws["Org1"], job) == []


def test_a_dataset_without_a_budget_refuses_before_its_client_trains(
    gws: dict[str, tl.Gateway],
) -> None:
    from tensorledger import governance

    refs = register(gws)  # no budgets set
    job = dp_job(gws, refs, rounds=1, dp=DP)
    with pytest.raises(ContractError, match="has no privacy budget"):
        run_federated(
            gws,
            job_id=job,
            model_fn=model_fn,
            client_data=client_data(refs),
            rounds=1,
            evaluate=False,
        )
    assert governance.list_rounds(gws["Org1"], job) == []
