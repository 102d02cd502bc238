"""Anchoring Keras checkpoints on the ledger: `anchor_checkpoint` and `LedgerCheckpoint`.

A checkpoint is two blobs in the chunk store (the weights as safetensors, the
architecture as Keras JSON) and one `models` record on the chain naming them
by hash, with a hash per tensor, the Merkle root over those, the training
dataset versions, the epoch's metrics, the optimizer's settings and the
checkpoint it continues.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy.typing as npt

from tensorledger import blobs
from tensorledger.errors import InvalidRequestError, NotFoundError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.registry import (
    ModelRecord,
    TensorRecord,
    register_checkpoint,
    resolve_dataset,
    resolve_model,
)
from tensorledger.tf import weights as w
from tensorledger.tf._runtime import framework, keras

#: the contract keeps hyperparameters to this nesting depth; deeper values become text
_MAX_DEPTH = 12


@dataclass(frozen=True)
class Snapshot:
    """A model's named weights (owned copies) and Keras JSON at one moment.

    Taking one is the only part of anchoring that must run on the training
    thread; hashing, storing and registering it can run anywhere while the
    model trains on.
    """

    tensors: tuple[tuple[str, npt.NDArray[Any]], ...]
    architecture: bytes
    hyperparameters: Mapping[str, Any]


def snapshot(model: Any, architecture: bytes | None = None) -> Snapshot:
    """Copy ``model``'s weights out (``Variable.numpy()`` copies), with its JSON unless given."""
    tensors = tuple((name, w.little_endian(v.numpy())) for name, v in w.named_variables(model))
    if architecture is None:
        architecture = str(model.to_json()).encode("utf-8")
    return Snapshot(tensors, architecture, _default_hyperparameters(model))


def anchor_snapshot(
    gw: Gateway,
    taken: Snapshot,
    model_id: str,
    *,
    datasets: Sequence[str],
    epoch: int | None = None,
    metrics: Mapping[str, Any] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    parent: str | None = None,
    version: int | None = None,
    tags: Mapping[str, str] | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> ModelRecord:
    """Hash, store and register a `Snapshot`; see `anchor_checkpoint`."""
    tensors = [
        TensorRecord(name, tuple(int(d) for d in a.shape), a.dtype.name, w.tensor_sha256(a))
        for name, a in taken.tensors
    ]
    root = w.weights_root([(t.name, t.sha256) for t in tensors])
    store = blobs.store_for(gw.root)
    _, weights_digest = blobs.put_object(
        store,
        w.encode(taken.tensors),
        media_type=w.SAFETENSORS,
        metadata={"tensors": len(tensors), "weights_root": root},
    )
    architecture = store.put(taken.architecture)
    numbers, labels = _split_metrics(metrics or {})
    return register_checkpoint(
        gw,
        model_id,
        architecture=architecture,
        weights=weights_digest,
        weights_root=root,
        tensors=tensors,
        datasets=datasets,
        framework=framework(),
        version=version,
        hyperparameters={**taken.hyperparameters, **_json_safe(hyperparameters or {})},
        metrics=numbers,
        parent=parent,
        epoch=epoch,
        tags={**labels, **(tags or {})},
        channel=channel,
    )


def anchor_checkpoint(
    gw: Gateway,
    model: Any,
    model_id: str,
    *,
    datasets: Sequence[str],
    epoch: int | None = None,
    metrics: Mapping[str, Any] | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    parent: str | None = None,
    version: int | None = None,
    tags: Mapping[str, str] | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> ModelRecord:
    """Store ``model``'s weights and architecture off-chain and register them as a checkpoint.

    Blobs are durable before the transaction is sent, so a registered
    checkpoint never names missing data. ``hyperparameters`` default to the
    optimizer's class and config (under ``"optimizer"``) and the loss,
    overridden by what is given. Metrics that are not finite numbers (a NaN
    loss) cannot be recorded as numbers and go into ``tags`` as
    ``metric.<name>``. ``version=None`` registers the next version.
    """
    return anchor_snapshot(
        gw,
        snapshot(model),
        model_id,
        datasets=datasets,
        epoch=epoch,
        metrics=metrics,
        hyperparameters=hyperparameters,
        parent=parent,
        version=version,
        tags=tags,
        channel=channel,
    )


def _default_hyperparameters(model: Any) -> dict[str, Any]:
    """What the compiled model says about its training: optimizer class and config, loss name.

    The optimizer's ``name`` is left out: Keras numbers it per process
    (``adam_8``), which says nothing about the training.
    """
    found: dict[str, Any] = {}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        config = {k: v for k, v in optimizer.get_config().items() if k != "name"}
        found["optimizer"] = {"class": type(optimizer).__name__, **_json_safe(config)}
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        found["loss"] = loss
    return found


def _json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON the contract takes: numpy scalars unwrapped, non-finite floats as text."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if depth >= _MAX_DEPTH:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, depth + 1) for v in value]
    return str(value)


def _split_metrics(logs: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """(finite metrics as floats, the rest as ``metric.<name>`` tags)."""
    numbers: dict[str, float] = {}
    labels: dict[str, str] = {}
    for name, value in logs.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            numbers[str(name)] = number
        else:
            labels[f"metric.{name}"] = str(number)
    return numbers, labels


class LedgerCheckpoint(keras().callbacks.Callback):  # type: ignore[misc]
    """A Keras callback that anchors a checkpoint every ``every`` epochs.

    Each anchored epoch becomes the next version of ``model_id`` on the
    chain: the weights as safetensors, named ``"<layer>/<weight>"``
    (``dense_1/kernel``); per tensor SHA-256(dtype ‖ 0x00 ‖ shape ‖ 0x00 ‖
    little-endian bytes); the weights root, the RFC 9162 Merkle root over
    leaves ``name ‖ 0x00 ‖ digest`` in model order (details in
    `tensorledger.tf.weights`); the Keras JSON architecture; lineage to
    ``datasets`` ("id@v"); the epoch's logs as metrics; the optimizer's
    config (plus ``hyperparameters``); and, as parent, the version before it
    (the model's newest version when training starts, if it has one).

    Why a background thread: storing a checkpoint durably (fsync) and
    committing its transaction take longer than Keras's own `save_weights`,
    which does neither. So at a chosen epoch the training thread only copies
    the weights out (`Snapshot`) and training goes on while one worker
    thread hashes, stores and registers them. At most one anchoring is in
    flight: the next chosen epoch first waits for the previous one, and
    `fit` does not return before the last one is on the ledger. An anchoring
    error is raised at the next chosen epoch or at the end of training.

    `records` holds the registered `ModelRecord`s in order; `seconds` how long
    each chosen epoch held up the training thread. If `fit` stops with an
    error, call `wait()` to collect a checkpoint still in flight.
    Dataset references are resolved when training starts, so a typo stops
    `fit` before the first epoch rather than after it.
    """

    def __init__(
        self,
        gw: Gateway,
        model_id: str,
        *,
        datasets: Sequence[str],
        every: int = 1,
        hyperparameters: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        channel: str = DEFAULT_CHANNEL,
    ) -> None:
        super().__init__()
        if isinstance(datasets, str):
            raise InvalidRequestError("datasets must be a list of 'id@version' references")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise InvalidRequestError(f"every must be a positive number of epochs, not {every!r}")
        self.gw = gw
        self.model_id = model_id
        self.datasets = list(datasets)
        self.every = every
        self.hyperparameters = dict(hyperparameters or {})
        self.tags = dict(tags or {})
        self.channel = channel
        self.records: list[ModelRecord] = []
        self.seconds: list[float] = []
        self._refs: list[str] = []
        self._parent: str | None = None
        self._architecture: bytes | None = None
        self._worker: ThreadPoolExecutor | None = None
        self._pending: Future[ModelRecord] | None = None

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        """Resolve the dataset versions and find the version this training continues."""
        self.wait()
        self._refs = [resolve_dataset(self.gw, d, channel=self.channel).ref for d in self.datasets]
        self._architecture = None
        if self.records:
            self._parent = self.records[-1].ref
            return
        try:
            self._parent = resolve_model(self.gw, self.model_id, channel=self.channel).ref
        except NotFoundError:
            self._parent = None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """At every ``every``-th epoch (counting from 1), snapshot the weights and anchor them."""
        if (epoch + 1) % self.every:
            return
        started = time.perf_counter()
        self.wait()
        if self._architecture is None:  # once per fit: the architecture does not change in one
            self._architecture = str(self.model.to_json()).encode("utf-8")
        taken = snapshot(self.model, self._architecture)
        version = _next_version(self._parent)
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix="tensorledger-anchor")
        self._pending = self._worker.submit(
            anchor_snapshot,
            self.gw,
            taken,
            self.model_id,
            datasets=self._refs,
            epoch=epoch + 1,
            metrics=dict(logs or {}),
            hyperparameters=self.hyperparameters,
            parent=self._parent,
            version=version,
            tags=self.tags,
            channel=self.channel,
        )
        self._parent = f"{self.model_id}@{version}"
        self.seconds.append(time.perf_counter() - started)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """Wait until the last checkpoint is on the ledger, then stop the worker thread."""
        self.wait()
        self._stop_worker()

    def wait(self) -> list[ModelRecord]:
        """Wait for the anchoring in flight, if any; raise its error; return `records`.

        An error stops the worker thread too, since `fit` ends without
        `on_train_end`; the next `fit` starts another.
        """
        pending, self._pending = self._pending, None
        if pending is not None:
            try:
                self.records.append(pending.result())
            except BaseException:
                self._stop_worker()
                raise
        return self.records

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None


def _next_version(parent: str | None) -> int:
    """The version after ``parent`` ('id@v'), 1 for a model with none."""
    return 1 if parent is None else int(parent.rpartition("@")[2]) + 1


__all__ = ["LedgerCheckpoint", "Snapshot", "anchor_checkpoint", "anchor_snapshot", "snapshot"]
