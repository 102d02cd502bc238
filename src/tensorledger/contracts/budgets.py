"""PrivacyBudgetContract (chaincode `budgets`): an ε budget per dataset, spent by DP releases.

All accounting is in integer nano-ε, so ten spends of 0.1 add up to exactly
1.0 and a budget is never over-spent by rounding. Each release and the budget
it draws on are written by the same transaction, so two concurrent spends
conflict on the budget key and at most one of them commits (MVCC).
"""

from __future__ import annotations

import json
import re
from typing import Any

from tensorledger.contracts import _records as r
from tensorledger.contracts._base import Contract, TransactionContext

LABEL = "Release"
#: ε is counted in units of 10^-9: decimal strings with at most 9 decimals are exact
NANO = 10**9
MAX_EPSILON = 1000 * NANO
_EPSILON = re.compile(r"(0|[1-9][0-9]{0,3})(?:\.([0-9]{1,9}))?")
EVENTS = {"set": "PrivacyBudgetSet", "spend": "PrivacyBudgetSpent"}


class EpsilonError(ValueError):
    """An ε that is not a decimal string in (0, 1000] with at most 9 decimals."""


def parse_epsilon(value: object) -> int:
    """ε as integer nano-ε from a strict decimal string: no sign, exponent, or 10th decimal.

    Floats are refused on purpose: 0.1 as a binary float is not 0.1, and the
    budget promises exact sums.
    """
    if not isinstance(value, str) or not (match := _EPSILON.fullmatch(value)):
        raise EpsilonError(
            f"ε must be a decimal string such as '0.5' (digits, at most 9 decimals, no sign "
            f"or exponent), got {r.canonical(value) if _jsonable(value) else type(value).__name__}"
        )
    whole, fraction = match.group(1), match.group(2) or ""
    nano = int(whole) * NANO + int(fraction.ljust(9, "0") or "0")
    if not 0 < nano <= MAX_EPSILON:
        raise EpsilonError(f"ε must be > 0 and ≤ 1000, got {value}")
    return nano


def _jsonable(value: object) -> bool:
    return isinstance(value, (str, int, float, bool, type(None)))


def format_epsilon(nano: int) -> str:
    """Nano-ε as the shortest decimal string with at least one decimal: 800000000 → '0.8'."""
    whole, fraction = divmod(nano, NANO)
    return f"{whole}.{(f'{fraction:09d}'.rstrip('0') or '0')}"


def _epsilon(f: r.Fields, name: str, value: Any) -> str:
    try:
        return format_epsilon(parse_epsilon(value))
    except EpsilonError as exc:
        raise r.RecordError(f"{f.kind} record: field '{name}': {exc}") from None


def _delta(f: r.Fields, name: str, value: Any) -> float | int:
    number = r.number(f, name, value)
    if not 0 <= number < 1:
        raise f.fail(name, "a number with 0 ≤ δ < 1", value)
    return number


def _any_json(f: r.Fields, name: str, value: Any) -> Any:
    """The released value: any JSON (a number, an array of counts, an object)."""
    r.json_object(f, name, {"value": value})  # bounds nesting like any object field
    return value


def parse_release(text: str) -> dict[str, Any]:
    """Check a caller's release record and return it normalised (ε in canonical form)."""
    f = r.Fields("release", text)
    f.need("id", r.identifier)
    f.need("dataset", r.ref)
    f.need("epsilon", _epsilon)
    f.may("delta", _delta, 0)
    f.need("mechanism", r.text(64))
    f.need("statistic", r.text(64))
    f.may("parameters", r.json_object, {})
    f.need("value", _any_json)
    return f.done()


def _budget_key(dataset_id: str) -> str:
    return f"budget/{dataset_id}"


def _release_key(dataset_id: str, release_id: str) -> str:
    # ids hold no '/', so one dataset's releases never share a prefix with another's
    return f"release/{dataset_id}/{release_id}"


def _view(budget: dict[str, Any]) -> dict[str, Any]:
    """What GetBudget answers: ε as decimal strings, counted exactly from nano-ε."""
    total, spent = budget["totalNano"], budget["spentNano"]
    return {
        "dataset": budget["dataset"],
        "owner": budget["owner"],
        "total": format_epsilon(total),
        "spent": format_epsilon(spent),
        "remaining": format_epsilon(total - spent),
        "releases": budget["releases"],
    }


class PrivacyBudgetContract(Contract):
    """Budgets set once by the dataset's owner; releases recorded once, each within budget."""

    Name = "PrivacyBudgetContract"

    def get_evaluate_transactions(self) -> list[str]:
        """Queries, so Fabric's metadata marks them evaluate-only."""
        return ["GetBudget", "ListReleases"]

    async def SetBudget(self, ctx: TransactionContext, datasetId: str, epsilon: str) -> str:
        """Give dataset `datasetId` a total ε; only its owner's MSP may, and only once."""
        r.check_id("Dataset", datasetId)
        try:
            total = parse_epsilon(epsilon)
        except EpsilonError as exc:
            raise r.RecordError(f"budget of dataset {datasetId}: {exc}") from None
        budget: dict[str, Any] = {"dataset": datasetId}
        creator = r.stamp(ctx, budget)
        owner = await self._owner(ctx, datasetId)
        if creator != owner:
            raise r.RecordError(
                f"dataset {datasetId} belongs to {owner}; only {owner} may set its privacy "
                f"budget (caller is {creator})"
            )
        stub = ctx.get_stub()
        key = _budget_key(datasetId)
        if await stub.get_state(key):
            raise r.RecordError(
                f"dataset {datasetId} already has a privacy budget; a budget is set once "
                "and never raised"
            )
        budget.update(totalNano=total, spentNano=0, releases=0)
        await stub.put_state(key, r.canonical(budget).encode("utf-8"))
        stub.set_event(EVENTS["set"], key.encode("utf-8"))
        return r.canonical(_view(budget))

    async def Spend(self, ctx: TransactionContext, releaseJSON: str) -> str:
        """Record a DP release and draw its ε from the dataset's budget; returns the release.

        Any organisation of the channel may release; the refusal when the
        budget cannot cover ε changes nothing.
        """
        release = parse_release(releaseJSON)
        r.stamp(ctx, release)
        await r.registered_dataset(ctx, "release", "dataset", release["dataset"])
        dataset_id = release["dataset"].partition("@")[0]
        stub = ctx.get_stub()
        budget = await self._budget(ctx, dataset_id)
        key = _release_key(dataset_id, release["id"])
        if await stub.get_state(key):
            raise r.RecordError(
                f"{LABEL} {release['id']} of dataset {dataset_id} already exists; "
                "release ids are used once"
            )
        cost = parse_epsilon(release["epsilon"])
        total, spent = budget["totalNano"], budget["spentNano"]
        if spent + cost > total:
            raise r.RecordError(
                f"{LABEL} {release['id']} would spend ε={release['epsilon']} of dataset "
                f"{dataset_id}'s budget: {format_epsilon(spent)} of {format_epsilon(total)} "
                f"spent, {format_epsilon(total - spent)} left"
            )
        budget["spentNano"] = spent + cost
        budget["releases"] += 1
        body = r.canonical(release)
        await stub.put_state(_budget_key(dataset_id), r.canonical(budget).encode("utf-8"))
        await stub.put_state(key, body.encode("utf-8"))
        stub.set_event(EVENTS["spend"], key.encode("utf-8"))
        return body

    async def GetBudget(self, ctx: TransactionContext, datasetId: str) -> str:
        """{dataset, owner, total, spent, remaining, releases}, ε as decimal strings."""
        r.check_id("Dataset", datasetId)
        return r.canonical(_view(await self._budget(ctx, datasetId)))

    async def ListReleases(self, ctx: TransactionContext, datasetId: str) -> str:
        """Every release of one dataset, in release-id order, as a JSON array."""
        r.check_id("Dataset", datasetId)
        start = f"release/{datasetId}/"
        bodies = [
            bytes(kv.value).decode("utf-8")
            async for kv in await ctx.get_stub().get_state_by_range(start, f"release/{datasetId}0")
        ]
        return "[" + ",".join(bodies) + "]"

    async def _budget(self, ctx: TransactionContext, dataset_id: str) -> dict[str, Any]:
        raw = await ctx.get_stub().get_state(_budget_key(dataset_id))
        if not raw:
            raise r.RecordError(
                f"dataset {dataset_id} has no privacy budget; its owner sets one with SetBudget"
            )
        found: dict[str, Any] = json.loads(bytes(raw))
        return found

    async def _owner(self, ctx: TransactionContext, dataset_id: str) -> str:
        """The owner MSP of the dataset's newest version, read through the `datasets` chaincode."""
        response = await ctx.get_stub().invoke_chaincode(
            "datasets", ["GetDataset", dataset_id, "latest"]
        )
        if response.status != 200:
            raise r.RecordError(
                f"dataset {dataset_id} does not exist; register it before setting its budget"
            )
        return str(json.loads(bytes(response.payload))["owner"])
