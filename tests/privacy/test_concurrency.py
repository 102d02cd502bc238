"""Concurrent spends from threads and processes never over-spend a budget or lose a release."""

from __future__ import annotations

import json
import multiprocessing as mp
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import tensorledger as tl
from tests.privacy.conftest import World, spend_record

#: each client's outcome: "ok", "refused" (the contract's budget refusal)
Outcome = str


def spend_until_decided(gw: tl.Gateway, ref: str, release_id: str, epsilon: str) -> Outcome:
    """Submit one Spend, retrying only when MVCC invalidated it (a concurrent spend won)."""
    contract = gw.network("mychannel").contract("budgets")
    for _ in range(200):
        try:
            contract.submit("Spend", spend_record(ref, release_id, epsilon))
            return "ok"
        except tl.MVCCConflictError:
            continue
        except tl.UnavailableError:  # the ledger's single-writer lock was busy: try again
            continue
        except tl.ContractError as exc:
            if "would spend" not in exc.message:
                raise
            return "refused"
    raise AssertionError(f"{release_id}: still conflicting after 200 attempts")


def check_invariants(world: World, ref: str, total: Fraction, epsilon: Fraction) -> int:
    """spent ≤ total, spent = Σ recorded ε = releases * ε; returns the number of releases."""
    ds = ref.partition("@")[0]
    budget = json.loads(world.budgets().evaluate("GetBudget", ds))
    recorded = json.loads(world.budgets().evaluate("ListReleases", ds))
    spent = Fraction(budget["spent"])
    assert spent <= total
    assert spent == sum((Fraction(r["epsilon"]) for r in recorded), Fraction(0))
    assert spent == len(recorded) * epsilon
    assert budget["releases"] == len(recorded)
    assert len({r["id"] for r in recorded}) == len(recorded)
    return len(recorded)


def test_threads_spending_at_once_fill_the_budget_exactly(world: World) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "1.0")
    clients = 12  # budget for 8 releases of 0.125
    barrier = threading.Barrier(clients)
    outcomes: list[Outcome | BaseException] = [""] * clients
    gateways = [
        tl.connect(world.path, identity="Org1" if i % 2 else "Org2") for i in range(clients)
    ]

    def client(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = spend_until_decided(gateways[i], ref, f"t{i:02d}", "0.125")
        except BaseException as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for gw in gateways:
            gw.close()
    assert sorted(map(str, outcomes)) == ["ok"] * 8 + ["refused"] * 4, outcomes
    assert check_invariants(world, ref, Fraction(1), Fraction(1, 8)) == 8


def _process_client(
    path: str, org: str, ref: str, prefix: str, count: int, start: Any, results: Any
) -> None:
    gw = tl.connect(Path(path), identity=org)
    try:
        start.wait()
        results.put([spend_until_decided(gw, ref, f"{prefix}{i}", "0.1") for i in range(count)])
    except BaseException as exc:
        results.put([repr(exc)])
    finally:
        gw.close()


def test_two_processes_spending_at_once_fill_the_budget_exactly(world: World) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "0.7")
    ctx = mp.get_context("spawn")
    start, results = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=_process_client, args=(str(world.path), org, ref, org, 5, start, results)
        )
        for org in ("Org1", "Org2")
    ]
    for p in procs:
        p.start()
    start.set()
    outcomes = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    flat = sorted(o for per in outcomes for o in per)
    assert flat == ["ok"] * 7 + ["refused"] * 3, outcomes
    assert check_invariants(world, ref, Fraction(7, 10), Fraction(1, 10)) == 7
