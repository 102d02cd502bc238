"""secure_fedavg: three organisations, no plain update anywhere the aggregator looks, verified.

The clients' true updates are captured on the client side (what each
hospital knows of itself); the aggregator's view is every file under the
ledger directory (world state, blocks, the chunk store) plus every byte the
strategy received. A plain run in the same ledger is the positive control:
the same search finds its updates, so finding nothing means something.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tensorledger as tl
from tensorledger.errors import ContractError, IntegrityError, InvalidRequestError
from tensorledger.federated import run_federated, verify_job, verify_round
from tensorledger.federated.client import LedgerClient
from tensorledger.federated.strategy import AnchoredStrategy
from tensorledger.federated.updates import fetch_update
from tests.federated.cancer import accuracy, model_fn, splits
from tests.federated.conftest import ORGS, open_job
from tests.federated.test_tamper import chunk_files
from tests.federated.test_updates import reference_digest

ROUNDS = 2
SEED = 7
NAMES = ["dense/kernel", "dense/bias"]


@dataclass
class Spied:
    true: dict[int, dict[str, tuple[list[np.ndarray], int]]] = field(default_factory=dict)
    received: list[bytes] = field(default_factory=list)


@dataclass
class Secure:
    job: str
    result: Any
    spied: Spied
    test: tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def secure(net) -> Iterator[Secure]:  # type: ignore[no-untyped-def]
    spied = Spied()
    original_masked = LedgerClient._masked
    original_aggregate = AnchoredStrategy.aggregate_fit

    def masked(self: LedgerClient, sessions: Any, trained: list[np.ndarray]) -> Any:
        round_number = int(sessions[0].rsplit(".r", 1)[1].split(".")[0])
        spied.true.setdefault(round_number, {})[self.name] = (
            [np.array(t) for t in trained],
            self.data.num_examples,
        )
        return original_masked(self, sessions, trained)

    def aggregate_fit(
        self: AnchoredStrategy, server_round: int, results: Any, failures: Any
    ) -> Any:
        for _, res in results:
            spied.received.extend(bytes(t) for t in res.parameters.tensors)
        return original_aggregate(self, server_round, results, failures)

    job = open_job(net.gws, method="secure_fedavg", rounds=ROUNDS)
    # a shuffle no other test of this package's ledger trains on: training is deterministic,
    # so another test's plain run on the same rows would store these very updates in plain
    data, test = splits(ORGS, seed=SEED)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LedgerClient, "_masked", masked)
        patch.setattr(AnchoredStrategy, "aggregate_fit", aggregate_fit)
        result = run_federated(
            net.gws,
            job_id=job,
            model_fn=model_fn,
            client_data=data,
            rounds=ROUNDS,
            aggregation="secure_fedavg",
            epochs=2,
            evaluate=False,
        )
    yield Secure(job, result, spied, test)


def aggregator_view(net_path: Path, received: list[bytes]) -> bytes:
    """Every byte of every file under the ledger directory, and what the strategy received."""
    files = [p.read_bytes() for p in sorted(net_path.rglob("*")) if p.is_file()]
    return b"\x00".join([*files, *received])


def fingerprints(arrays: list[np.ndarray], count: int) -> list[bytes]:
    """Byte patterns of a plain update: its float32 tensors, as float64, and n·w as float64."""
    kernel = np.asarray(arrays[0], dtype=np.float32).reshape(-1)
    return [
        kernel.tobytes(),
        kernel[:4].tobytes(),
        kernel[-4:].tobytes(),
        kernel.astype(np.float64)[:3].tobytes(),
        (kernel.astype(np.float64) * count)[:3].tobytes(),
    ]


def test_no_client_update_is_in_the_aggregators_view(net, secure: Secure) -> None:  # type: ignore[no-untyped-def]
    assert set(secure.spied.true) == set(range(1, ROUNDS + 1))
    view = aggregator_view(net.path, secure.spied.received)
    for number, clients in secure.spied.true.items():
        assert sorted(clients) == ORGS
        for client, (arrays, count) in clients.items():
            for pattern in fingerprints(arrays, count):
                assert pattern not in view, (number, client)
    # positive control: a plain round's updates are found by the very same search
    control = open_job(net.gws, rounds=1)
    data, _ = splits(ORGS)
    plain = run_federated(
        net.gws, job_id=control, model_fn=model_fn, client_data=data, rounds=1, evaluate=False
    )
    record = plain.rounds[0].record
    assert record is not None
    view = aggregator_view(net.path, [])
    for u in record.updates:
        _, arrays = fetch_update(net.gws["Org2"], u.update_object, u.update_root, u.client)
        assert fingerprints(arrays, u.num_examples)[0] in view


def test_the_global_model_is_fedavg_of_the_true_updates(secure: Secure) -> None:
    # fixed point: each n·w is rounded to 2^-48 before masking, and the sum is divided in
    # float64 then cast to float32 once, where FedAvg works in float32: equal to a few ulps
    for outcome in secure.result.rounds:
        clients = secure.spied.true[outcome.round]
        counts = np.array([clients[c][1] for c in ORGS], dtype=np.float64)
        for layer, got in enumerate(outcome.weights):
            stack = np.stack([clients[c][0][layer].astype(np.float64) for c in ORGS])
            expected = np.tensordot(counts, stack, axes=1) / counts.sum()
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
        assert reference_digest(NAMES, outcome.weights) == outcome.global_after
    assert accuracy(secure.result.weights, *secure.test) > 0.9


def test_the_round_record_names_masked_contributions_and_sessions(
    gws: dict[str, tl.Gateway], secure: Secure
) -> None:
    from tensorledger import governance
    from tensorledger.secagg import get_session

    for record in governance.list_rounds(gws["Org3"], secure.job):
        assert record.aggregation == "secure_fedavg"
        assert list(record.secagg) == [f"{secure.job}.r{record.round}.s0"]
        session = get_session(gws["Org3"], record.secagg[0])
        assert session.status == "aggregated" and session.vector_length == 30 + 1 + 1
        assert sorted(session.parties) == [f"{o}MSP" for o in ORGS]
        for u in record.updates:  # one session: updateRoot is the hash the client anchored
            assert session.masked_hashes[u.msp] == u.update_root


def test_any_organisation_verifies_secure_rounds_bit_for_bit(
    gws: dict[str, tl.Gateway], secure: Secure
) -> None:
    checks = verify_job(gws["Org2"], secure.job)
    assert [c.recomputed for c in checks.rounds] == [o.global_after for o in secure.result.rounds]
    assert checks.final == secure.result.digest


def test_a_tampered_masked_object_is_detected(gws: dict[str, tl.Gateway], secure: Secure) -> None:
    from tensorledger import governance

    record = governance.get_round(gws["Org1"], secure.job, 2)
    update = next(u for u in record.updates if u.client == "Org2")
    (path,) = chunk_files(gws["Org1"], update.update_object)
    original = path.read_bytes()
    damaged = bytearray(original)
    damaged[20] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(damaged))
    try:
        with pytest.raises(IntegrityError) as caught:
            verify_round(gws["Org3"], secure.job, 2)
        assert caught.value.where.startswith(f"job {secure.job} round 2 update of Org2")
    finally:
        path.write_bytes(original)
    verify_round(gws["Org3"], secure.job, 2)


def test_a_consistent_but_false_masked_object_is_caught_by_the_anchor(
    gws: dict[str, tl.Gateway], secure: Secure
) -> None:
    """An aggregator re-recording a doctored masked vector (new hash, new object) still fails."""
    from tensorledger import governance
    from tensorledger.federated import secure as sec
    from tensorledger.secagg.encoding import from_bytes

    record = governance.get_round(gws["Org1"], secure.job, 1)
    update = record.updates[0]
    masked = sec.fetch_masked(gws["Org1"], update.update_object, update.update_root, "x")
    part = bytearray(masked.parts[0])
    part[0] ^= 0x01
    forged = sec.store_masked(
        gws["Org1"],
        masked.layout,
        masked.sessions,
        update.msp,
        [from_bytes(bytes(part))],
    )
    with pytest.raises(IntegrityError, match="anchored"):
        check_forged(gws["Org3"], record, update.client, forged)


def check_forged(gw: tl.Gateway, record: Any, client: str, forged: Any) -> None:
    """verify_round's secure check over a copy of ``record`` naming the forged object."""
    from dataclasses import replace

    from tensorledger.federated import verify

    updates = tuple(
        replace(u, update_root=forged.root, update_object=forged.object)
        if u.client == client
        else u
        for u in record.updates
    )
    verify._recompute_secure(gw, replace(record, updates=updates), "forged", "mychannel")


def test_robust_rules_cannot_be_secure(gws: dict[str, tl.Gateway]) -> None:
    from tensorledger import governance
    from tensorledger.federated import aggregation

    for method, params in (("median", {"secure": True}), ("secure_krum", {})):
        with pytest.raises(InvalidRequestError, match="needs each client's own update"):
            aggregation.check(method, params)
    with pytest.raises(ContractError, match="krum needs each client's own update"):
        open_job(gws, method="secure_krum")
    with pytest.raises(InvalidRequestError, match="from masked contributions"):
        aggregation.aggregate("secure_fedavg", {}, [([np.zeros(2, np.float32)], 1)])
    assert all(j.aggregation != "secure_krum" for j in governance.list_jobs(gws["Org1"]))


def test_a_secure_run_needs_one_client_per_organisation(gws: dict[str, tl.Gateway]) -> None:
    from tensorledger import governance

    job = open_job(gws, method="secure_fedavg", rounds=1)
    data, _ = splits(["a", "b", "c"])
    shared = {"a": gws["Org1"], "b": gws["Org1"], "c": gws["Org2"]}
    with pytest.raises(InvalidRequestError, match="one client per organisation"):
        run_federated(
            shared,
            job_id=job,
            model_fn=model_fn,
            client_data=data,
            rounds=1,
            aggregation="secure_fedavg",
        )
    assert governance.list_rounds(gws["Org1"], job) == []


def test_a_model_longer_than_one_session_is_split_across_sessions(
    gws: dict[str, tl.Gateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    from tensorledger import governance
    from tensorledger.federated import secure as sec
    from tensorledger.secagg import get_session

    monkeypatch.setattr(sec, "MAX_VECTOR_LENGTH", 10)  # 32 elements -> spans 10, 10, 10, 2
    job = open_job(gws, method="secure_fedavg", rounds=1)
    data, _ = splits(ORGS, seed=2)
    result = run_federated(
        gws,
        job_id=job,
        model_fn=model_fn,
        client_data=data,
        rounds=1,
        aggregation="secure_fedavg",
        evaluate=False,
    )
    record = governance.get_round(gws["Org2"], job, 1)
    assert list(record.secagg) == [f"{job}.r1.s{k}" for k in range(4)]
    sessions = [get_session(gws["Org2"], s) for s in record.secagg]
    assert [s.vector_length for s in sessions] == [10, 10, 10, 2]
    for u in record.updates:
        masked = sec.fetch_masked(gws["Org2"], u.update_object, u.update_root, u.client)
        assert [hashlib.sha256(p).hexdigest() for p in masked.parts] == [
            s.masked_hashes[u.msp] for s in sessions
        ]
    assert verify_round(gws["Org3"], job, 1).recomputed == result.digest
