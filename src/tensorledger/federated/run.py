"""`run_federated`: a governed job trained across organisations in one process, round by round.

The job must be on the ledger and approved: a job still ``proposed`` is
started here, which the `governance` contract refuses until every approver
has approved. Each organisation's client trains on its own data; the
aggregator (the first organisation, or ``aggregator=``) runs Flower's round
loop with `AnchoredStrategy` and records every round through its gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy.typing as npt
from flwr.server import History, Server, SimpleClientManager

from tensorledger.errors import InvalidRequestError
from tensorledger.federated import aggregation as rules
from tensorledger.federated._inprocess import InProcessProxy
from tensorledger.federated.client import ClientData, LedgerClient, Poison
from tensorledger.federated.dp import ClipNoise
from tensorledger.federated.strategy import AnchoredStrategy, RoundOutcome
from tensorledger.federated.updates import model_digest
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.tf import weights as w
from tensorledger.tf._runtime import keras

if TYPE_CHECKING:  # the ledger side is imported only when a round is recorded
    from tensorledger import governance

NDArrays = list[npt.NDArray[Any]]
#: builds a fresh compiled Keras model; called once for the aggregator and once per client
ModelFn = Callable[[], Any]


@dataclass(frozen=True)
class FederatedResult:
    """A finished run: Flower's history, the final weights and digest, and each round."""

    job: str
    history: History
    names: list[str]
    weights: NDArrays
    digest: str
    rounds: list[RoundOutcome]
    seconds: float


def run_federated(
    gateways: Mapping[str, Gateway],
    *,
    job_id: str,
    model_fn: ModelFn,
    client_data: Mapping[str, ClientData],
    rounds: int,
    aggregation: str = "fedavg",
    params: Mapping[str, Any] | None = None,
    anchor: bool = True,
    seed: int = 0,
    aggregator: str | None = None,
    epochs: int = 1,
    dp: Mapping[str, Any] | None = None,
    poison: Mapping[str, Poison] | None = None,
    evaluate: bool = True,
    channel: str = DEFAULT_CHANNEL,
) -> FederatedResult:
    """Train ``rounds`` rounds of job ``job_id``; one client per key of ``client_data``.

    Each client's name is its key and its gateway ``gateways[name]`` (the same
    gateway may serve several clients of one organisation); its MSP goes into
    the round record. ``aggregation``/``params`` must be the job's. ``dp``
    defaults to the job's ``dp`` record (``{clip, noiseMultiplier}`` turns on
    client-side clipping and noise). With ``anchor=False`` nothing is read
    from or written to the ledger: the same run, for comparison.
    """
    if not client_data:
        raise InvalidRequestError("a federated run needs at least one client's data")
    missing = sorted(set(client_data) - set(gateways))
    if missing:
        raise InvalidRequestError(f"no gateway for clients {missing}")
    unknown = sorted(set(poison or {}) - set(client_data))
    if unknown:
        raise InvalidRequestError(f"poison names clients that do not take part: {unknown}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise InvalidRequestError(f"rounds must be a positive integer, not {rounds!r}")
    chosen = aggregator if aggregator is not None else next(iter(gateways))
    if chosen not in gateways:
        raise InvalidRequestError(f"aggregator {chosen!r} has no gateway")
    params = dict(params or {})
    rules.check(aggregation, params)
    gw = gateways[chosen]
    if aggregation == rules.SECURE:
        _check_secure(gateways, client_data, anchor)
    datasets: tuple[str, ...] = ()
    if anchor:
        job = ready_job(gw, job_id, rounds=rounds, method=aggregation, params=params)
        dp = dict(job.dp) if dp is None else dp
        datasets = job.datasets
    mechanism = ClipNoise.from_record(dp or {})
    if anchor and mechanism is not None:
        _check_accounting(job_id, mechanism, client_data, datasets)
    keras().utils.set_random_seed(seed)
    model = model_fn()
    named = w.named_variables(model)
    names = [name for name, _ in named]
    initial = [v.numpy() for _, v in named]
    strategy = AnchoredStrategy(
        job=job_id,
        names=names,
        initial=initial,
        clients=len(client_data),
        method=aggregation,
        params=params,
        gateway=gw,
        anchor=anchor,
        dp=dp,
        evaluate=evaluate,
        channel=channel,
    )
    manager = SimpleClientManager()
    for name in sorted(client_data):
        client = LedgerClient(
            name,
            gateways[name].msp_id,
            model_fn(),
            client_data[name],
            epochs=epochs,
            seed=seed,
            dp=mechanism,
            poison=(poison or {}).get(name),
            gateway=gateways[name] if anchor else None,
            channel=channel,
        )
        manager.register(InProcessProxy(name, client.to_client()))
    server = Server(client_manager=manager, strategy=strategy)
    # one client at a time: Keras models training in parallel threads contend
    # for the same cores and make runs harder to repeat
    server.set_max_workers(1)
    history, seconds = server.fit(rounds, timeout=None)
    outcomes = strategy.outcomes
    final = outcomes[-1].weights if outcomes else initial
    return FederatedResult(
        job_id, history, names, final, model_digest(names, final), outcomes, seconds
    )


def _check_secure(
    gateways: Mapping[str, Gateway], client_data: Mapping[str, ClientData], anchor: bool
) -> None:
    """A secure run needs the ledger and one client per organisation (the secagg parties)."""
    msps = sorted(gateways[name].msp_id for name in client_data)
    if not anchor or len(msps) < 2 or len(set(msps)) != len(msps):
        raise InvalidRequestError(
            f"{rules.SECURE} needs the ledger and one client per organisation, at least two; "
            f"the clients' organisations are {msps}"
        )


def _check_accounting(
    job_id: str,
    mechanism: ClipNoise,
    client_data: Mapping[str, ClientData],
    datasets: tuple[str, ...],
) -> None:
    """Before any training: a noisy job accounts ε per round, on each client's own dataset."""
    if mechanism.noise_multiplier > 0 and mechanism.delta is None:
        raise InvalidRequestError(
            f"job {job_id} adds noise but names no delta; each round's ε is accounted at δ"
        )
    if not mechanism.accounted:
        return
    mechanism.round_epsilon()  # refuses a per-round ε no budget can hold
    for name, data in sorted(client_data.items()):
        if data.dataset is None or data.dataset not in datasets:
            raise InvalidRequestError(
                f"client {name} trains on {data.dataset or 'no named dataset'}; a DP job spends "
                f"from the budget of one of its datasets {list(datasets)}"
            )


def ready_job(
    gw: Gateway, job_id: str, *, rounds: int, method: str, params: Mapping[str, Any]
) -> governance.Job:
    """The job, started if it was only proposed, after checking the run matches it."""
    from tensorledger import governance

    job = governance.get_job(gw, job_id)
    if job.status == "proposed":
        job = governance.start_job(gw, job_id)
    if job.status != "running":
        raise InvalidRequestError(
            f"job {job_id} is {job.status}; rounds are recorded only while running"
        )
    if rounds > job.rounds:
        raise InvalidRequestError(f"job {job_id} has {job.rounds} rounds; {rounds} asked for")
    if method != job.aggregation or dict(params) != dict(job.aggregation_params):
        raise InvalidRequestError(
            f"job {job_id} aggregates with {job.aggregation} {dict(job.aggregation_params)}, "
            f"not {method} {dict(params)}"
        )
    return job


__all__ = ["FederatedResult", "ModelFn", "ready_job", "run_federated"]
