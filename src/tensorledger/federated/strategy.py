"""`AnchoredStrategy`: Flower's round loop, with every round's updates and result on the ledger.

Client selection and evaluation are an inner `FedAvg`'s (all clients, every
round); aggregation is `tensorledger.federated.aggregation.aggregate` over
the updates sorted by client id, the same call `verify_round` repeats. After
aggregating, each client's update is stored in the chunk store and the round
is recorded through the `rounds` chaincode: ``globalBefore`` is the digest of
the weights sent this round, ``globalAfter`` that of the aggregate, and every
update's digest, object, example count and metrics. A round the ledger
refuses stops training: the next round is never sent.

With ``secure_fedavg`` the strategy never holds an update: before each round
it asks every client who it is (Flower's ``get_properties``), opens the
round's secagg sessions for their MSPs, has each client register its keys,
and then receives only masked contributions, which it sums, records as
secagg aggregates, stores, and names in the round record
(`tensorledger.federated.secure`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from flwr.common import (
    Code,
    EvaluateIns,
    EvaluateRes,
    FitIns,
    FitRes,
    GetPropertiesIns,
    Parameters,
    Scalar,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.server.client_manager import ClientManager
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg, Strategy

from tensorledger.errors import InvalidRequestError, TensorLedgerError, UnavailableError
from tensorledger.federated import aggregation, secure
from tensorledger.federated.updates import model_digest, store_update
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL

if TYPE_CHECKING:  # the ledger side is imported only when a round is recorded
    from tensorledger import governance

NDArrays = list[npt.NDArray[Any]]
#: metrics a client sends that say who it is rather than how it did
IDENTITY_METRICS = ("client", "msp")


@dataclass(frozen=True)
class ClientUpdate:
    """One client's update as received: who, its tensors, example count, numeric metrics."""

    client: str
    msp: str
    arrays: NDArrays
    num_examples: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class RoundOutcome:
    """What one round produced; digests and record are None when anchoring is off."""

    round: int
    clients: tuple[str, ...]
    weights: NDArrays
    metrics: dict[str, float]
    global_before: str | None = None
    global_after: str | None = None
    record: governance.Round | None = None


@dataclass(frozen=True)
class MaskedUpdate:
    """One client's masked contribution as received: who, one ring vector per session, weight."""

    client: str
    msp: str
    vectors: tuple[Any, ...]  # secagg RingVector per session, in session order
    num_examples: int
    metrics: dict[str, float]


@dataclass
class _State:
    sent: NDArrays = field(default_factory=list)
    outcomes: list[RoundOutcome] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)


class AnchoredStrategy(Strategy):
    """All clients every round; aggregation by a named rule; each round recorded on the ledger."""

    def __init__(
        self,
        *,
        job: str,
        names: Sequence[str],
        initial: Sequence[npt.NDArray[Any]],
        clients: int,
        method: str = "fedavg",
        params: Mapping[str, Any] | None = None,
        gateway: Gateway | None = None,
        anchor: bool = True,
        dp: Mapping[str, Any] | None = None,
        evaluate: bool = True,
        channel: str = DEFAULT_CHANNEL,
    ) -> None:
        super().__init__()
        aggregation.check(method, params or {})
        if anchor and gateway is None:
            raise InvalidRequestError("an anchored strategy needs the aggregator's gateway")
        if clients < 1:
            raise InvalidRequestError(f"a federated job needs at least one client, not {clients}")
        if method == aggregation.SECURE and (not anchor or clients < 2):
            raise InvalidRequestError(
                f"{method} needs the ledger (anchor=True) and at least two clients: keys and "
                "masked hashes are anchored there, and a sum of one hides nothing"
            )
        self.job = job
        self.names = list(names)
        self.initial = [np.asarray(a) for a in initial]
        self.method = method
        self.params = dict(params or {})
        self.gateway = gateway
        self.anchor = anchor
        self.dp = dict(dp or {})
        self.channel = channel
        self.state = _State(sent=self.initial)
        self.inner = FedAvg(
            fraction_fit=1.0,
            fraction_evaluate=1.0 if evaluate else 0.0,
            min_fit_clients=clients,
            min_evaluate_clients=clients,
            min_available_clients=clients,
            on_fit_config_fn=lambda server_round: {"round": server_round, "job": job},
            on_evaluate_config_fn=lambda server_round: {"round": server_round, "job": job},
            evaluate_metrics_aggregation_fn=_weighted_metrics,
            initial_parameters=ndarrays_to_parameters(self.initial),
        )

    def __repr__(self) -> str:
        return f"AnchoredStrategy(job={self.job!r}, method={self.method!r}, anchor={self.anchor})"

    @property
    def outcomes(self) -> list[RoundOutcome]:
        """The rounds aggregated so far, in order."""
        return list(self.state.outcomes)

    def initialize_parameters(self, client_manager: ClientManager) -> Parameters | None:
        """The model's initial weights (every run of the job starts from the same ones)."""
        return ndarrays_to_parameters(self.initial)

    def configure_fit(
        self, server_round: int, parameters: Parameters, client_manager: ClientManager
    ) -> list[tuple[ClientProxy, FitIns]]:
        """Every client, with the global weights; remembered as this round's ``globalBefore``."""
        self.state.sent = parameters_to_ndarrays(parameters)
        instructions = self.inner.configure_fit(server_round, parameters, client_manager)
        if self.method == aggregation.SECURE:
            return self._open_sessions(server_round, instructions)
        return instructions

    def aggregate_fit(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, FitRes]],
        failures: list[tuple[ClientProxy, FitRes] | BaseException],
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        """Aggregate the updates sorted by client id, then store and record the round."""
        if failures:
            raise _failure(server_round, failures, len(results))
        if self.method == aggregation.SECURE:
            return self._aggregate_secure(server_round, results)
        updates = sorted((self._received(p, r) for p, r in results), key=lambda u: u.client)
        clients = [u.client for u in updates]
        if len(set(clients)) != len(clients):
            raise InvalidRequestError(f"round {server_round}: a client id repeats in {clients}")
        aggregate = aggregation.aggregate(
            self.method, self.params, [(u.arrays, u.num_examples) for u in updates]
        )
        metrics = _weighted_metrics([(u.num_examples, dict(u.metrics)) for u in updates])
        outcome = RoundOutcome(server_round, tuple(clients), aggregate, _floats(metrics))
        if self.anchor:
            outcome = self._record(outcome, self._store(updates))
        self.state.outcomes.append(outcome)
        return ndarrays_to_parameters(aggregate), metrics

    def configure_evaluate(
        self, server_round: int, parameters: Parameters, client_manager: ClientManager
    ) -> list[tuple[ClientProxy, EvaluateIns]]:
        """The inner FedAvg's: every client evaluates the new global weights."""
        return self.inner.configure_evaluate(server_round, parameters, client_manager)

    def aggregate_evaluate(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, EvaluateRes]],
        failures: list[tuple[ClientProxy, EvaluateRes] | BaseException],
    ) -> tuple[float | None, dict[str, Scalar]]:
        """Example-weighted loss and metrics, as FedAvg computes them."""
        return self.inner.aggregate_evaluate(server_round, results, failures)

    def evaluate(
        self, server_round: int, parameters: Parameters
    ) -> tuple[float, dict[str, Scalar]] | None:
        """No central evaluation: the aggregator holds no data."""
        return self.inner.evaluate(server_round, parameters)

    def _received(self, proxy: ClientProxy, res: FitRes) -> ClientUpdate:
        """A client's update, checked to fit the weights that were sent."""
        client = str(res.metrics.get("client", proxy.cid))
        arrays = parameters_to_ndarrays(res.parameters)
        sent = self.state.sent
        if len(arrays) != len(sent) or any(
            a.shape != s.shape or a.dtype != s.dtype for a, s in zip(arrays, sent, strict=False)
        ):
            raise InvalidRequestError(
                f"client {client} returned tensors {[f'{a.dtype}{list(a.shape)}' for a in arrays]}"
                f" that do not fit the model's {[f'{s.dtype}{list(s.shape)}' for s in sent]}"
            )
        msp = str(res.metrics.get("msp", ""))
        return ClientUpdate(client, msp, arrays, int(res.num_examples), _numeric(res.metrics))

    def _store(self, updates: Sequence[ClientUpdate]) -> list[governance.RoundUpdate]:
        """Store every plain update in the chunk store; the round record's entries."""
        assert self.gateway is not None  # __init__ refuses anchoring without one
        from tensorledger import governance

        entries = []
        for update in updates:
            stored = store_update(self.gateway, self.names, update.arrays)
            entries.append(
                governance.RoundUpdate(
                    client=update.client,
                    msp=update.msp,
                    update_root=stored.root,
                    update_object=stored.object,
                    num_examples=update.num_examples,
                    metrics=update.metrics,
                )
            )
        return entries

    def _open_sessions(
        self, server_round: int, instructions: list[tuple[ClientProxy, FitIns]]
    ) -> list[tuple[ClientProxy, FitIns]]:
        """Open this round's secagg sessions for the clients' MSPs; have each register keys."""
        assert self.gateway is not None  # __init__ refuses secure rounds without one
        from tensorledger.secagg import open_session

        msps = [_properties(proxy, {}, server_round)["msp"] for proxy, _ in instructions]
        if len(set(msps)) != len(msps) or len(msps) < 2:
            raise InvalidRequestError(
                f"round {server_round}: {aggregation.SECURE} needs one client per organisation "
                f"and at least two; the clients' MSPs are {sorted(msps)}"
            )
        length = secure.Layout.of(self.names, self.state.sent).length
        sessions = secure.session_ids(self.job, server_round, length)
        for session, (start, end) in zip(sessions, secure.spans(length), strict=True):
            open_session(
                self.gateway,
                session,
                sorted(msps),
                end - start,
                scale_bits=secure.SCALE_BITS,
                description=f"job {self.job} round {server_round} elements {start}:{end}",
                channel=self.channel,
            )
        config: dict[str, Scalar] = {secure.SESSIONS_KEY: ",".join(sessions)}
        for proxy, _ in instructions:
            _properties(proxy, config, server_round)
        self.state.sessions = sessions
        return [
            (proxy, FitIns(ins.parameters, {**ins.config, **config})) for proxy, ins in instructions
        ]

    def _aggregate_secure(
        self, server_round: int, results: list[tuple[ClientProxy, FitRes]]
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        """Sum the masked contributions session by session; divide Σ n·w by Σ n; record."""
        assert self.gateway is not None
        from tensorledger import governance
        from tensorledger.secagg import Aggregator, MaskedInput

        updates = sorted((self._masked(p, r) for p, r in results), key=lambda u: u.client)
        layout = secure.Layout.of(self.names, self.state.sent)
        sums = []
        for k, session in enumerate(self.state.sessions):
            inputs = [MaskedInput(u.msp, u.vectors[k]) for u in updates]
            sums.append(Aggregator(self.gateway, session, channel=self.channel).aggregate(inputs))
        total = np.concatenate([summed.values for summed in sums])
        reported = sum(u.num_examples for u in updates)
        if total[-1] != reported:
            raise InvalidRequestError(
                f"round {server_round}: the masked example counts sum to {total[-1]:g}, "
                f"the clients reported {reported}"
            )
        weights = secure.combine(layout, total)
        metrics = _weighted_metrics([(u.num_examples, dict(u.metrics)) for u in updates])
        clients = tuple(u.client for u in updates)
        outcome = RoundOutcome(server_round, clients, weights, _floats(metrics))
        entries = []
        for update in updates:
            stored = secure.store_masked(
                self.gateway, layout, self.state.sessions, update.msp, update.vectors
            )
            entries.append(
                governance.RoundUpdate(
                    client=update.client,
                    msp=update.msp,
                    update_root=stored.root,
                    update_object=stored.object,
                    num_examples=update.num_examples,
                    metrics=update.metrics,
                )
            )
        outcome = self._record(outcome, entries, self.state.sessions)
        self.state.outcomes.append(outcome)
        return ndarrays_to_parameters(weights), metrics

    def _masked(self, proxy: ClientProxy, res: FitRes) -> MaskedUpdate:
        """A client's masked vectors, checked to fit the round's sessions."""
        client = str(res.metrics.get("client", proxy.cid))
        arrays = parameters_to_ndarrays(res.parameters)
        length = secure.Layout.of(self.names, self.state.sent).length
        expected = [end - start for start, end in secure.spans(length)]
        vectors = tuple(
            secure.unwire(a, f"client {client}'s masked vector {k}") for k, a in enumerate(arrays)
        )
        if [len(v) for v in vectors] != expected:
            raise InvalidRequestError(
                f"client {client} sent masked vectors of {[len(v) for v in vectors]} elements; "
                f"this round's sessions take {expected}"
            )
        return MaskedUpdate(
            client,
            str(res.metrics.get("msp", "")),
            vectors,
            int(res.num_examples),
            _numeric(res.metrics),
        )

    def _record(
        self,
        outcome: RoundOutcome,
        entries: Sequence[governance.RoundUpdate],
        secagg: Sequence[str] = (),
    ) -> RoundOutcome:
        """Record the round on the ledger as the aggregator."""
        assert self.gateway is not None  # __init__ refuses anchoring without one
        from tensorledger import governance

        before = model_digest(self.names, self.state.sent)
        after = model_digest(self.names, outcome.weights)
        record = governance.record_round(
            self.gateway,
            job=self.job,
            round=outcome.round,
            global_before=before,
            global_after=after,
            aggregation=self.method,
            aggregation_params=self.params,
            updates=entries,
            metrics=outcome.metrics,
            dp=self.dp,
            secagg=secagg,
        )
        return RoundOutcome(
            outcome.round, outcome.clients, outcome.weights, outcome.metrics, before, after, record
        )


def _weighted_metrics(results: list[tuple[int, dict[str, Scalar]]]) -> dict[str, Scalar]:
    """Example-weighted mean of every numeric metric all clients report."""
    if not results:
        return {}
    total = sum(count for count, _ in results)
    common = set.intersection(*(set(m) for _, m in results))
    out: dict[str, Scalar] = {}
    for name in sorted(common):
        numbers = [
            (count, float(m[name]))
            for count, m in results
            if isinstance(m[name], int | float) and not isinstance(m[name], bool)
        ]
        if len(numbers) == len(results):
            out[name] = sum(count * value for count, value in numbers) / total
    return out


def _numeric(metrics: Mapping[str, Scalar]) -> dict[str, float]:
    """A client's numeric metrics, without those that say who it is."""
    return {
        name: float(value)
        for name, value in metrics.items()
        if name not in IDENTITY_METRICS
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    }


def _properties(proxy: ClientProxy, config: dict[str, Scalar], server_round: int) -> dict[str, str]:
    """Ask a client its ``{client, msp}`` (and, with sessions in ``config``, to register keys)."""
    res = proxy.get_properties(GetPropertiesIns(config=config), None, server_round)
    if res.status.code != Code.OK:
        raise UnavailableError(
            f"round {server_round}: client {proxy.cid} did not answer: {res.status.message}"
        )
    return {k: str(v) for k, v in res.properties.items()}


def _floats(metrics: Mapping[str, Scalar]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}


def _failure(
    server_round: int, failures: Sequence[tuple[ClientProxy, FitRes] | BaseException], ok: int
) -> TensorLedgerError:
    """The error a round with failed clients stops on: a client's own error when it is ours."""
    for failure in failures:
        if isinstance(failure, TensorLedgerError):
            return failure
    first = failures[0]
    detail = repr(first) if isinstance(first, BaseException) else first[1].status.message
    return UnavailableError(
        f"round {server_round}: {len(failures)} of {len(failures) + ok} clients failed "
        f"({detail}); the round is not recorded"
    )


__all__ = ["AnchoredStrategy", "ClientUpdate", "MaskedUpdate", "RoundOutcome"]
