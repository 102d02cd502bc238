"""The client side of the `budgets` chaincode: set and read ε budgets, release DP statistics.

`release` reads a registered dataset version through its verified chunks,
computes a DP statistic and records it with one `Spend` transaction, which
also draws its ε from the dataset's budget. Only the noisy value leaves this
process; the exact statistic is never sent, logged or recorded.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tensorledger.errors import InvalidRequestError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.privacy.mechanisms import Release, epsilon_of

#: chaincode name of the privacy budgets
BUDGETS = "budgets"


@dataclass(frozen=True)
class Budget:
    """A dataset's ε budget as the ledger counts it (exactly, in nano-ε)."""

    dataset: str
    owner: str
    total: Decimal
    spent: Decimal
    remaining: Decimal
    releases: int

    @classmethod
    def from_json(cls, data: bytes | str) -> Budget:
        """Parse the `GetBudget` answer."""
        raw = json.loads(data)
        return cls(
            dataset=str(raw["dataset"]),
            owner=str(raw["owner"]),
            total=Decimal(raw["total"]),
            spent=Decimal(raw["spent"]),
            remaining=Decimal(raw["remaining"]),
            releases=int(raw["releases"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, ε as decimal strings as on the chain."""
        return {
            "dataset": self.dataset,
            "owner": self.owner,
            "total": str(self.total),
            "spent": str(self.spent),
            "remaining": str(self.remaining),
            "releases": self.releases,
        }


def set_budget(
    gw: Gateway, dataset_id: str, epsilon: str | Decimal, *, channel: str = DEFAULT_CHANNEL
) -> Budget:
    """Give a dataset its total ε, once; only the dataset's owner organisation may."""
    text = str(epsilon_of(epsilon))
    contract = gw.network(channel).contract(BUDGETS)
    return Budget.from_json(contract.submit("SetBudget", dataset_id, text).payload)


def get_budget(gw: Gateway, dataset_id: str, *, channel: str = DEFAULT_CHANNEL) -> Budget:
    """A dataset's budget; ContractError "dataset D has no privacy budget; ..." if unset."""
    return Budget.from_json(gw.network(channel).contract(BUDGETS).evaluate("GetBudget", dataset_id))


def list_releases(gw: Gateway, dataset_id: str, *, channel: str = DEFAULT_CHANNEL) -> list[Release]:
    """Every recorded release of a dataset, sorted by release id."""
    raw = gw.network(channel).contract(BUDGETS).evaluate("ListReleases", dataset_id)
    return [release_from_record(r) for r in json.loads(raw)]


def release_from_record(record: Mapping[str, Any]) -> Release:
    """A stored release record as a `Release` (the column is kept in its parameters)."""
    parameters = dict(record["parameters"])
    column = str(parameters.pop("column", ""))
    return Release(
        statistic=str(record["statistic"]),
        column=column,
        value=record["value"],
        epsilon=Decimal(record["epsilon"]),
        delta=float(record["delta"]),
        mechanism=str(record["mechanism"]),
        parameters=parameters,
        id=str(record["id"]),
        dataset=str(record["dataset"]),
        tx_id=str(record["txId"]),
    )


def release(
    gw: Gateway,
    dataset_ref: str,
    *,
    statistic: str,
    column: str,
    epsilon: str | Decimal,
    mechanism: str = "laplace",
    bounds: Sequence[float] | None = None,
    bins: Sequence[float] | Sequence[str] | None = None,
    delta: float = 0.0,
    release_id: str | None = None,
    private_n: bool = False,
    key: bytes | None = None,
    channel: str = DEFAULT_CHANNEL,
) -> Release:
    """Compute a DP statistic of one column of a verified dataset version and record it.

    A mean divides by the version's row count, which the ledger already
    publishes; `private_n=True` spends half of ε on a noisy count instead.
    Before any data is read the `Spend` is dry-run (evaluated, not
    submitted), so a refusal (no budget, not enough left, a used release
    id) comes first, with the contract's own message; the submit checks it
    all again and a refusal then records nothing either.
    """
    from tensorledger.privacy import mechanisms
    from tensorledger.stats._record_sources import open_source

    source = open_source(gw, dataset_ref, key=key, channel=channel)
    record = source.record
    if column not in record.columns:
        listed = ", ".join(repr(c) for c in record.columns[:20])
        raise InvalidRequestError(f"column {column!r} is not in {source.where} (it has {listed})")
    size = record.rows if statistic == "mean" and not private_n else None
    plan = mechanisms.plan(
        statistic,
        column=column,
        epsilon=epsilon,
        mechanism=mechanism,
        bounds=bounds,
        bins=bins,
        delta=delta,
        size=size,
    )
    release_id = release_id or f"r-{secrets.token_hex(8)}"
    contract = gw.network(channel).contract(BUDGETS)
    dry = Release(statistic, column, None, plan.epsilon, delta, plan.mechanism, plan.parameters)
    contract.evaluate("Spend", json.dumps(dry.to_record(release_id, record.ref)))
    released = plan.run(source.values(column))
    spend = released.to_record(release_id, record.ref)
    result = contract.submit("Spend", json.dumps(spend, allow_nan=False))
    return released.recorded(release_id, record.ref, result.tx_id)
