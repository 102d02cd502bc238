"""The seed's story with TensorFlow, end to end, on a fresh two-organisation embedded ledger.

`run_tf_demo` does the work and returns a `TFDemoResult`; the CLI's `demo`
command only prints it. Org1 registers scikit-learn's diabetes data, streams
it verified into the seed's Keras model while `LedgerCheckpoint` anchors the
weights, records an OLS analysis that Org2 re-verifies, stores the seed's
``statData`` and ``modelParams`` through DataContract, and then shows what a
changed byte does: one dataset chunk and one checkpoint tensor are altered
(on a copy of the stored file), caught and named, and put back.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tensorledger as tl
from tensorledger.demo import CONTRACT, ORGS, STAT_DATA
from tensorledger.errors import IntegrityError
from tensorledger.ledger.network import DEFAULT_CHANNEL, EmbeddedNetwork
from tensorledger.ledger.verify import VerifyReport, verify_channel

DATASET = "diabetes"
MODEL = "diabetes-mlp"
LABEL = "target"
BATCH_SIZE = 32
EVERY = 5
PNG_NAME = "training-loss.png"
CSV_NAME = "diabetes.csv"


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One thing the demo put on the ledger: what it is, its id, and its transaction."""

    kind: str
    ref: str
    tx_id: str
    detail: str


@dataclass(frozen=True, slots=True)
class TFDemoResult:
    """Everything the TensorFlow demo did, in the order it did it."""

    ledger: Path
    kept: bool
    orgs: tuple[str, ...]
    dataset_ref: str
    dataset_rows: int
    dataset_root: str
    dataset_tx: str
    losses: tuple[float, ...]
    model_versions: tuple[str, ...]
    model_txs: tuple[str, ...]
    analysis_id: str
    analysis_tx: str
    coefficients: tuple[tuple[str, float], ...]
    analysis_verified: bool
    analysis_summary: str
    stat_data: tuple[float, ...]
    stat_data_tx: str
    params_tx: str
    params_match: bool
    chunk_error: str
    tensor_error: str
    restored_ok: bool
    report: VerifyReport
    png: Path
    rows: tuple[LedgerRow, ...]
    timings: tuple[tuple[str, float], ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """True when every step came out as a working ledger should."""
        return (
            self.analysis_verified
            and self.params_match
            and "chunk" in self.chunk_error
            and "tensor" in self.tensor_error
            and self.restored_ok
            and self.report.ok
        )


def run_tf_demo(directory: Path | None = None, *, epochs: int = 20) -> TFDemoResult:
    """Run the TensorFlow story; with `directory` the ledger, CSV and PNG are kept there.

    Without it everything happens in a temporary directory that is removed
    afterwards (the PNG path in the result then no longer exists).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.monotonic()
    with _work_dir(directory) as work:
        return _run(work, directory is not None, epochs, started)


def _run(work: Path, kept: bool, epochs: int, started: float) -> TFDemoResult:  # noqa: PLR0915 - one story, told in order
    import numpy as np
    from sklearn.datasets import load_diabetes  # type: ignore[import-untyped]

    import tensorledger.tf as tltf
    from tensorledger import blobs, registry, stats
    from tensorledger.tf._runtime import tensorflow

    tf = tensorflow()

    timings: list[tuple[str, float]] = []
    clock = [time.monotonic()]

    def lap(name: str) -> None:
        now = time.monotonic()
        timings.append((name, now - clock[0]))
        clock[0] = now

    work.mkdir(parents=True, exist_ok=True)
    path = work / "ledger"
    tl.init(path, ORGS, channels=(DEFAULT_CHANNEL,))
    csv = work / CSV_NAME
    load_diabetes(as_frame=True).frame.to_csv(csv, index=False)
    lap("network + data")
    with tl.connect(path, identity=ORGS[0]) as gw, tl.connect(path, ORGS[1]) as other:
        record = registry.add_dataset(gw, csv, DATASET, tags={"licence": "BSD-3-Clause"})
        lap("register dataset")

        tf.keras.utils.set_random_seed(7)
        width = len(record.columns) - 1
        model = tf.keras.Sequential(
            [
                tf.keras.Input((width,)),
                tf.keras.layers.Dense(10, activation="relu"),
                tf.keras.layers.Dense(1),
            ]
        )
        # The seed's adam and MSE; its default step (1e-3) barely moves on the unscaled
        # diabetes target (mean 152) in a demo's few epochs, so take larger steps.
        model.compile(
            optimizer=tf.keras.optimizers.Adam(learning_rate=0.05), loss="mean_squared_error"
        )
        data = tltf.dataset(gw, DATASET, record.version, label=LABEL, batch_size=BATCH_SIZE)
        anchor = tltf.LedgerCheckpoint(gw, MODEL, datasets=[record.ref], every=EVERY)
        with tltf.ledger_errors():
            history = model.fit(data, epochs=epochs, callbacks=[anchor], verbose=0, shuffle=False)
        models = anchor.wait()
        losses = tuple(float(v) for v in history.history["loss"])
        lap("train + anchor")

        analysis = stats.run_analysis(gw, "ols", record.ref, y=LABEL)
        check = stats.verify_analysis(other, analysis.id)
        names = analysis.result["columns"]
        values = analysis.result["coefficients"]
        coefficients = tuple((str(n), float(v)) for n, v in zip(names, values, strict=True))
        lap("OLS + verify")

        writer = gw.network(DEFAULT_CHANNEL).contract(CONTRACT)
        reader = other.network(DEFAULT_CHANNEL).contract(CONTRACT)
        stat_tx = writer.submit("storeData", "statData", STAT_DATA).tx_id
        stat_data = tuple(
            float(v) for v in tltf.iterate(tltf.dataset_from_ledger(reader, "statData"))
        )
        params_tx = tltf.store_model_parameters(writer, "modelParams", model).tx_id
        back = tltf.load_model_parameters(reader, "modelParams")
        params_match = all(
            np.array_equal(a, b) for a, b in zip(model.get_weights(), back, strict=True)
        )
        lap("storeData / retrieveData")

        store = blobs.store_for(gw.root)
        manifest = blobs.get_manifest(store, record.manifest)
        chunk_file = store.path(manifest.chunks[0].stored)
        chunk_error = _tampered(
            chunk_file, lambda: _drain(tltf.iterate(tltf.dataset(other, DATASET, record.version)))
        )
        last = models[-1]
        weights = blobs.get_manifest(store, last.weights)
        weight_file = store.path(weights.chunks[-1].stored)
        probe = tf.keras.models.clone_model(model)
        tensor_error = _tampered(
            weight_file, lambda: tltf.load_weights(other, probe, MODEL, last.version), at=-1
        )
        _drain(tltf.iterate(tltf.dataset(other, DATASET, record.version)))
        tltf.load_weights(other, probe, MODEL, last.version)
        restored_ok = True
        lap("tamper + restore")

        rows = (
            LedgerRow(
                "dataset", record.ref, record.tx_id, f"{record.rows} rows, root {record.root[:12]}"
            ),
            *(
                LedgerRow(
                    "model", m.ref, m.tx_id, f"epoch {m.epoch}, loss {m.metrics.get('loss', 0):.1f}"
                )
                for m in models
            ),
            LedgerRow("analysis", analysis.id, analysis.tx_id, f"ols, verified by {ORGS[1]}"),
            LedgerRow("data", "statData", stat_tx, STAT_DATA),
            LedgerRow("data", "modelParams", params_tx, f"{len(back)} tensors as JSON"),
        )
    png = _plot(losses, work / PNG_NAME, [m.epoch or 0 for m in models])
    lap("plot")
    ledger = EmbeddedNetwork(path)
    try:
        report = verify_channel(ledger, DEFAULT_CHANNEL)
    finally:
        ledger.close()
    lap("verify ledger")
    return TFDemoResult(
        ledger=path,
        kept=kept,
        orgs=ORGS,
        dataset_ref=record.ref,
        dataset_rows=record.rows,
        dataset_root=record.root,
        dataset_tx=record.tx_id,
        losses=losses,
        model_versions=tuple(m.ref for m in models),
        model_txs=tuple(m.tx_id for m in models),
        analysis_id=analysis.id,
        analysis_tx=analysis.tx_id,
        coefficients=coefficients,
        analysis_verified=check.ok,
        analysis_summary=check.summary(),
        stat_data=stat_data,
        stat_data_tx=stat_tx,
        params_tx=params_tx,
        params_match=params_match,
        chunk_error=chunk_error,
        tensor_error=tensor_error,
        restored_ok=restored_ok,
        report=report,
        png=png,
        rows=rows,
        timings=tuple(timings),
        seconds=time.monotonic() - started,
    )


@contextmanager
def _work_dir(directory: Path | None) -> Iterator[Path]:
    if directory is not None:
        yield Path(directory)
        return
    with tempfile.TemporaryDirectory(prefix="tensorledger-tf-demo-") as tmp:
        yield Path(tmp)


def _drain(items: Iterator[Any]) -> None:
    for _ in items:
        pass


def _tampered(file: Path, read: Callable[[], object], at: int | None = None) -> str:
    """Flip one byte of a copy of ``file`` put in its place, run ``read``, restore the original.

    The stored file is never written to: a changed copy replaces it and the
    original bytes go back afterwards, with their permissions, whatever happens.
    """
    original = file.read_bytes()
    mode = file.stat().st_mode
    changed = bytearray(original)
    changed[len(changed) // 2 if at is None else at] ^= 0x01
    try:
        _replace(file, bytes(changed), mode)
        try:
            read()
        except IntegrityError as exc:
            return str(exc)
        return ""
    finally:
        _replace(file, original, mode)


def _replace(file: Path, data: bytes, mode: int) -> None:
    copy = file.with_name(file.name + ".demo-tmp")
    copy.write_bytes(data)
    copy.chmod(mode & 0o7777)
    copy.replace(file)


def _plot(losses: tuple[float, ...], png: Path, anchored: list[int]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5))
    epochs = list(range(1, len(losses) + 1))
    axes.plot(epochs, losses, marker="o", markersize=3, label="training loss (MSE)")
    marked = [e for e in anchored if 1 <= e <= len(losses)]
    axes.scatter(marked, [losses[e - 1] for e in marked], color="red", zorder=3, label="anchored")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.set_title("diabetes: the seed's model, trained on verified data")
    axes.legend()
    figure.tight_layout()
    figure.savefig(png, dpi=100)
    plt.close(figure)
    return png


__all__ = ["LedgerRow", "TFDemoResult", "run_tf_demo"]
