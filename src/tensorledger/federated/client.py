"""`LedgerClient`: one organisation's Flower client, training on its own verified data.

The client receives the global weights, trains its Keras model on its own
dataset for a few epochs and returns the weights, its example count and its
metrics, plus who it is (``client``, ``msp``), so that the aggregator can
name it in the round record whatever transport carried the update. Data is
either in-memory arrays (tests) or a registered dataset streamed through
`tensorledger.tf.dataset`, every chunk verified before a row is used.

Two duties act through the client's own gateway, never the aggregator's:
in a DP job it spends each round's ε from its dataset's budget before the
update leaves (and checks the budget before training, so an exhausted budget
refuses the round); in a ``secure_fedavg`` job it registers one ephemeral key
per secagg session when asked (Flower's ``get_properties``), then returns
only its masked contribution, whose hash it has anchored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from flwr.client import NumPyClient
from flwr.common import Scalar

from tensorledger.errors import InvalidRequestError
from tensorledger.federated import secure
from tensorledger.federated.dp import ClipNoise, clip_and_noise, spend_round
from tensorledger.federated.updates import model_digest
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.secagg.protocol import Party
from tensorledger.tf import weights as w

NDArrays = list[npt.NDArray[Any]]
#: ``poison(sent, trained) -> returned``: a test's stand-in for a dishonest client
Poison = Callable[[NDArrays, NDArrays], NDArrays]


@dataclass(frozen=True)
class ClientData:
    """What one client trains (and evaluates) on: arrays, or a batched ``(x, y)`` pipeline."""

    train: Any
    num_examples: int
    test: Any = None
    batch_size: int = 32
    #: the registered dataset version (``"id@v"``) the rows are, whose DP budget rounds spend
    dataset: str | None = None

    @classmethod
    def arrays(
        cls,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        test: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
        batch_size: int = 32,
        dataset: str | None = None,
    ) -> ClientData:
        """In-memory rows ``x`` and labels ``y`` (float32), optionally a test split.

        ``dataset`` names the registered version the rows are (needed in a DP job).
        """
        xs, ys = np.asarray(x, dtype=np.float32), np.asarray(y, dtype=np.float32)
        if xs.ndim != 2 or len(xs) != len(ys) or len(xs) == 0:
            raise InvalidRequestError(
                f"client data needs rows x (2-D) and one label per row; got {xs.shape}, {ys.shape}"
            )
        pair = None
        if test is not None:
            pair = (np.asarray(test[0], dtype=np.float32), np.asarray(test[1], dtype=np.float32))
        return cls((xs, ys), len(xs), pair, batch_size, dataset)

    @classmethod
    def ledger(
        cls,
        gw: Gateway,
        ref: str,
        *,
        label: str,
        features: Sequence[str] | None = None,
        batch_size: int = 32,
        seed: int = 0,
        channel: str = DEFAULT_CHANNEL,
    ) -> ClientData:
        """A registered dataset version (``"id@v"``), streamed by `tensorledger.tf.dataset`."""
        import tensorledger.tf as tltf
        from tensorledger.registry import resolve_dataset

        record = resolve_dataset(gw, ref, channel=channel)
        pipeline = tltf.dataset(
            gw,
            record.id,
            record.version,
            features=features,
            label=label,
            batch_size=batch_size,
            shuffle=True,
            seed=seed,
            channel=channel,
        )
        return cls(pipeline, record.rows, None, batch_size, record.ref)


class LedgerClient(NumPyClient):
    """A Flower `NumPyClient` over a Keras model; weights travel in ``named_variables`` order."""

    def __init__(
        self,
        name: str,
        msp: str,
        model: Any,
        data: ClientData,
        *,
        epochs: int = 1,
        seed: int = 0,
        dp: ClipNoise | None = None,
        poison: Poison | None = None,
        gateway: Gateway | None = None,
        channel: str = DEFAULT_CHANNEL,
    ) -> None:
        if epochs < 1:
            raise InvalidRequestError(f"epochs must be ≥ 1, not {epochs}")
        self.name = name
        self.msp = msp
        self.model = model
        self.data = data
        self.epochs = epochs
        self.seed = seed
        self.dp = dp
        self.poison = poison
        self.gateway = gateway
        self.channel = channel
        named = w.named_variables(model)
        self.names = [name for name, _ in named]
        self.variables = [v for _, v in named]
        self._parties: dict[str, Party] = {}

    def get_properties(self, config: dict[str, Scalar]) -> dict[str, Scalar]:
        """Who this client is; with secagg sessions in ``config``, register a key for each.

        Each key is ephemeral, registered through this client's own gateway,
        and kept only by this client until it masks its contribution.
        """
        sessions = secure.received_sessions(config)
        if sessions:
            gw = self._own_gateway("secure aggregation")
            for session in sessions:
                party = Party(gw, session, channel=self.channel)
                party.register_key()
                self._parties[session] = party
        return {"client": self.name, "msp": self.msp}

    def weights(self) -> NDArrays:
        """The model's current weights, in ``named_variables`` order."""
        return [np.array(v.numpy()) for v in self.variables]

    def set_weights(self, arrays: Sequence[npt.NDArray[Any]]) -> None:
        """Assign ``arrays`` to the model; refuses a count or shape that does not fit."""
        if len(arrays) != len(self.variables):
            raise InvalidRequestError(
                f"client {self.name}: {len(arrays)} tensors sent, "
                f"the model has {len(self.variables)}"
            )
        for variable, array in zip(self.variables, arrays, strict=True):
            if tuple(variable.shape) != tuple(array.shape):
                raise InvalidRequestError(
                    f"client {self.name}: tensor of shape {list(array.shape)} sent for a "
                    f"{list(variable.shape)} weight"
                )
            variable.assign(array)

    def get_parameters(self, config: dict[str, Scalar]) -> NDArrays:
        """The current local weights (Flower asks one client for initial weights)."""
        return self.weights()

    def fit(
        self, parameters: NDArrays, config: dict[str, Scalar]
    ) -> tuple[NDArrays, int, dict[str, Scalar]]:
        """Train from the global weights; return weights, example count and metrics."""
        sent = [np.array(p) for p in parameters]
        self.set_weights(sent)
        accounted = self.dp is not None and self.dp.accounted
        if accounted:  # refuse before touching the data when the budget cannot pay
            self._spend(config, None, dry_run=True)
        history = self._train()
        trained = self.weights()
        if self.dp is not None:
            rng = np.random.default_rng([self.seed, int(config.get("round", 0)), _id(self.name)])
            delta = [t - s for t, s in zip(trained, sent, strict=True)]
            noisy = clip_and_noise(delta, self.dp, rng)
            trained = [(s + d).astype(s.dtype) for s, d in zip(sent, noisy, strict=True)]
        if self.poison is not None:
            trained = [
                np.asarray(t, dtype=s.dtype)
                for t, s in zip(self.poison(sent, trained), sent, strict=True)
            ]
        if accounted:  # the round's ε is spent before the update leaves this client
            self._spend(config, model_digest(self.names, trained))
        metrics: dict[str, Scalar] = {"client": self.name, "msp": self.msp}
        metrics.update(_last(history))
        sessions = secure.received_sessions(config)
        if sessions:
            return self._masked(sessions, trained), self.data.num_examples, metrics
        return trained, self.data.num_examples, metrics

    def _own_gateway(self, purpose: str) -> Gateway:
        if self.gateway is None:
            raise InvalidRequestError(f"client {self.name} has no gateway for {purpose}")
        return self.gateway

    def _spend(
        self, config: Mapping[str, Scalar], digest: str | None, dry_run: bool = False
    ) -> None:
        """Spend (or with ``dry_run`` check) this round's ε from the client's dataset budget."""
        assert self.dp is not None
        if self.data.dataset is None:
            raise InvalidRequestError(
                f"client {self.name} trains in a DP job but names no dataset whose budget to spend"
            )
        spend_round(
            self._own_gateway("spending its privacy budget"),
            self.dp,
            dataset=self.data.dataset,
            job=str(config.get("job", "")),
            round_number=int(config.get("round", 0)),
            client=self.name,
            digest=digest,
            dry_run=dry_run,
            channel=self.channel,
        )

    def _masked(self, sessions: Sequence[str], trained: NDArrays) -> NDArrays:
        """Mask ``[n·w, n]`` span by span with each session's keys; anchor each hash; send."""
        vector = secure.contribution(trained, self.data.num_examples)
        bounds = secure.spans(len(vector))
        if len(bounds) != len(sessions):
            raise InvalidRequestError(
                f"client {self.name}: its {len(vector)}-element contribution needs "
                f"{len(bounds)} sessions, {len(sessions)} were opened"
            )
        out: NDArrays = []
        for session, (start, end) in zip(sessions, bounds, strict=True):
            party = self._parties.pop(session, None)
            if party is None:
                raise InvalidRequestError(
                    f"client {self.name} registered no key for session {session}"
                )
            party.prepare(vector[start:end], secure.SCALE_BITS)
            out.append(secure.wire(party.mask_and_anchor().vector))
        return out

    def evaluate(
        self, parameters: NDArrays, config: dict[str, Scalar]
    ) -> tuple[float, int, dict[str, Scalar]]:
        """Loss and metrics of the given weights on the test split (the training data if none)."""
        self.set_weights([np.array(p) for p in parameters])
        data = self.data.test if self.data.test is not None else self.data.train
        count = len(data[0]) if isinstance(data, tuple) else self.data.num_examples
        scores = self._score(data)
        loss = float(scores.pop("loss"))
        return loss, count, {"client": self.name, **{k: float(v) for k, v in scores.items()}}

    def _train(self) -> Mapping[str, Sequence[Any]]:
        """Keras ``fit`` on arrays or a pipeline; a bad ledger chunk surfaces as ours."""
        from tensorledger.tf import ledger_errors

        with ledger_errors():
            if isinstance(self.data.train, tuple):
                x, y = self.data.train
                history = self.model.fit(
                    x,
                    y,
                    epochs=self.epochs,
                    batch_size=self.data.batch_size,
                    shuffle=True,
                    verbose=0,
                )
            else:
                # the pipeline shuffles itself (seeded); Keras would only warn
                history = self.model.fit(
                    self.data.train, epochs=self.epochs, shuffle=False, verbose=0
                )
        return dict(history.history)

    def _score(self, data: Any) -> dict[str, Any]:
        """Keras ``evaluate`` as a dict of loss and metrics."""
        from tensorledger.tf import ledger_errors

        with ledger_errors():
            if isinstance(data, tuple):
                return dict(
                    self.model.evaluate(
                        data[0],
                        data[1],
                        batch_size=self.data.batch_size,
                        return_dict=True,
                        verbose=0,
                    )
                )
            return dict(self.model.evaluate(data, return_dict=True, verbose=0))


def _last(history: Mapping[str, Sequence[Any]]) -> dict[str, Scalar]:
    """Each metric's value after the last epoch."""
    return {name: float(values[-1]) for name, values in history.items() if len(values)}


def _id(name: str) -> int:
    """A stable 64-bit number for a client name, to seed its noise apart from others'."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")


__all__ = ["ClientData", "LedgerClient", "Poison"]
