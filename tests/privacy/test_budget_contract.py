"""The `budgets` chaincode: who sets a budget, exact ε arithmetic, refusals that change nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest

import tensorledger as tl
from tensorledger.ledger.network import DEFAULT_CONTRACTS, EmbeddedNetwork
from tests.contracts.records import uid
from tests.ledger.ledger_state import snapshot
from tests.privacy.conftest import World, spend_record

CC = "budgets"


def budget(world: World, dataset_id: str) -> dict[str, object]:
    return dict(json.loads(world.budgets().evaluate("GetBudget", dataset_id)))


def releases(world: World, dataset_id: str) -> list[dict[str, object]]:
    return list(json.loads(world.budgets().evaluate("ListReleases", dataset_id)))


def test_budgets_is_a_default_contract() -> None:
    assert ("budgets", "tensorledger.contracts.budgets:PrivacyBudgetContract") in [
        (c.name, c.contract) for c in DEFAULT_CONTRACTS
    ]


def test_owner_sets_a_budget_once_and_reads_it_back(world: World) -> None:
    ref = world.register("Org1")
    ds = ref.partition("@")[0]
    world.budgets("Org1").submit("SetBudget", ds, "2.5")
    assert budget(world, ds) == {
        "dataset": ds,
        "owner": "Org1MSP",
        "total": "2.5",
        "spent": "0.0",
        "remaining": "2.5",
        "releases": 0,
    }
    with pytest.raises(tl.ContractError) as err:
        world.budgets("Org1").submit("SetBudget", ds, "100")
    assert err.value.message == (
        f"dataset {ds} already has a privacy budget; a budget is set once and never raised"
    )
    assert budget(world, ds)["total"] == "2.5"


def test_another_organisation_cannot_set_the_budget(world: World) -> None:
    ds = world.register("Org1").partition("@")[0]
    before = snapshot(world.path).world()
    with pytest.raises(tl.ContractError) as err:
        world.budgets("Org2").submit("SetBudget", ds, "1")
    assert err.value.message == (
        f"dataset {ds} belongs to Org1MSP; only Org1MSP may set its privacy budget "
        "(caller is Org2MSP)"
    )
    assert snapshot(world.path).world() == before


def test_a_budget_needs_a_registered_dataset(world: World) -> None:
    ghost = uid("ghost")
    with pytest.raises(tl.ContractError) as err:
        world.budgets().submit("SetBudget", ghost, "1")
    assert err.value.message == (
        f"dataset {ghost} does not exist; register it before setting its budget"
    )
    with pytest.raises(tl.ContractError, match="has no privacy budget"):
        budget(world, ghost)


@pytest.mark.parametrize(
    "text",
    [
        "0", "0.0", "0.000000000", "-1", "+1", "1e-3", "1E2", "1.", ".5", "01", "00.5",
        "1.0000000001", "0.0000000001", "1000.000000001", "1001", "10000", "inf", "nan",
        " 1", "1 ", "1\n", "1,5", "\u0661", "0x10", "", "1_000",
    ],
)  # fmt: skip
def test_malformed_epsilon_is_refused(world: World, text: str) -> None:
    ds = world.register().partition("@")[0]
    with pytest.raises(tl.ContractError, match=r"ε must be"):
        world.budgets().submit("SetBudget", ds, text)
    with pytest.raises(tl.ContractError, match="has no privacy budget"):
        budget(world, ds)


@pytest.mark.parametrize(
    ("text", "shown"),
    [("1000", "1000.0"), ("0.000000001", "0.000000001"), ("3.140", "3.14"), ("0.5", "0.5")],
)
def test_edge_epsilons_are_accepted_exactly(world: World, text: str, shown: str) -> None:
    ds = world.register().partition("@")[0]
    world.budgets().submit("SetBudget", ds, text)
    assert budget(world, ds)["total"] == shown
    assert Decimal(shown) == Decimal(text)


@pytest.mark.parametrize("epsilon", [0.5, 1, True, None, ["0.5"], "0.5e0"])
def test_spend_epsilon_must_be_a_decimal_string(world: World, epsilon: object) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "1")
    with pytest.raises(tl.ContractError, match=r"field 'epsilon': ε must be a decimal string"):
        world.budgets().submit("Spend", spend_record(ref, "r1", epsilon))  # type: ignore[arg-type]
    assert releases(world, ds) == []


def test_ten_tenths_spend_exactly_one_and_the_eleventh_is_refused(world: World) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "1.0")
    for i in range(10):
        world.budgets("Org2" if i % 2 else "Org1").submit(
            "Spend", spend_record(ref, f"r{i:02d}", "0.1")
        )
    assert sum(0.1 for _ in range(10)) != 1.0  # what binary floats would have done
    assert budget(world, ds) == {
        "dataset": ds,
        "owner": "Org1MSP",
        "total": "1.0",
        "spent": "1.0",
        "remaining": "0.0",
        "releases": 10,
    }
    before = snapshot(world.path).world()
    with pytest.raises(tl.ContractError) as err:
        world.budgets().submit("Spend", spend_record(ref, "r10", "0.000000001"))
    assert err.value.message == (
        f"Release r10 would spend ε=0.000000001 of dataset {ds}'s budget: "
        "1.0 of 1.0 spent, 0.0 left"
    )
    assert snapshot(world.path).world() == before
    assert [r["id"] for r in releases(world, ds)] == [f"r{i:02d}" for i in range(10)]


def test_the_refusal_message_names_what_is_spent_and_left(world: World) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "1.0")
    world.budgets().submit("Spend", spend_record(ref, "a", "0.8"))
    before = snapshot(world.path).world()
    with pytest.raises(tl.ContractError) as err:
        world.budgets().submit("Spend", spend_record(ref, "b", "0.5"))
    assert err.value.message == (
        f"Release b would spend ε=0.5 of dataset {ds}'s budget: 0.8 of 1.0 spent, 0.2 left"
    )
    assert snapshot(world.path).world() == before
    world.budgets().submit("Spend", spend_record(ref, "c", "0.2"))  # exactly what is left
    assert budget(world, ds)["remaining"] == "0.0"


def test_spent_equals_the_exact_sum_of_recorded_epsilons(world: World) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "5")
    spends = ["0.333333333", "1.000000001", "0.1", "2.5", "0.000000007"]
    for i, eps in enumerate(spends):
        world.budgets().submit("Spend", spend_record(ref, f"r{i}", eps))
    recorded = releases(world, ds)
    total = sum((Fraction(str(r["epsilon"])) for r in recorded), Fraction(0))
    assert total == sum(Fraction(e) for e in spends)
    assert Fraction(str(budget(world, ds)["spent"])) == total
    assert Fraction(str(budget(world, ds)["remaining"])) == 5 - total


def test_a_replayed_release_id_is_refused(world: World) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "1")
    world.budgets().submit("Spend", spend_record(ref, "once", "0.1", value=1.0))
    before = snapshot(world.path).world()
    with pytest.raises(tl.ContractError) as err:
        world.budgets("Org2").submit("Spend", spend_record(ref, "once", "0.1", value=2.0))
    assert err.value.message == (
        f"Release once of dataset {ds} already exists; release ids are used once"
    )
    assert snapshot(world.path).world() == before
    assert [(r["id"], r["value"]) for r in releases(world, ds)] == [("once", 1.0)]
    assert budget(world, ds)["spent"] == "0.1"


def test_replaying_a_committed_envelope_spends_nothing_more(world: World) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "1")
    network = EmbeddedNetwork(world.path)
    try:
        ch = network.channel("mychannel")
        envelope = ch.endorse(
            network.identity("Org1"), CC, "Spend", [spend_record(ref, "x", "0.3")]
        )
        ch.commit_envelope(envelope)
        with pytest.raises(tl.TensorLedgerError):
            ch.commit_envelope(envelope)
    finally:
        network.close()
    assert budget(world, ds)["spent"] == "0.3"
    assert len(releases(world, ds)) == 1


def test_two_spends_endorsed_on_one_budget_state_commit_once(world: World) -> None:
    # Both read the budget at the same version: MVCC must refuse the second at commit.
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "1")
    network = EmbeddedNetwork(world.path)
    try:
        ch = network.channel("mychannel")
        first = ch.endorse(network.identity("Org1"), CC, "Spend", [spend_record(ref, "a", "0.6")])
        second = ch.endorse(network.identity("Org2"), CC, "Spend", [spend_record(ref, "b", "0.6")])
        ch.commit_envelope(first)
        with pytest.raises(tl.MVCCConflictError):
            ch.commit_envelope(second)
    finally:
        network.close()
    assert budget(world, ds)["spent"] == "0.6"
    assert [r["id"] for r in releases(world, ds)] == ["a"]


def test_spend_without_a_budget_or_dataset_is_refused(world: World) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    with pytest.raises(tl.ContractError) as err:
        world.budgets().submit("Spend", spend_record(ref, "r", "0.1"))
    assert err.value.message == (
        f"dataset {ds} has no privacy budget; its owner sets one with SetBudget"
    )
    world.budgets().submit("SetBudget", ds, "1")
    with pytest.raises(tl.ContractError, match=rf"names dataset {ds}@2, which does not exist"):
        world.budgets().submit("Spend", spend_record(f"{ds}@2", "r", "0.1"))
    assert releases(world, ds) == []


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("delta", 1, "0 ≤ δ < 1"),
        ("delta", -0.1, "0 ≤ δ < 1"),
        ("dataset", "nover", "'id@version'"),
        ("id", "a/b", "an id matching"),
        ("parameters", [], "a JSON object"),
        ("owner", "Org2MSP", "filled in by the contract"),
        ("extra", 1, "unknown field 'extra'"),
    ],
)
def test_malformed_release_fields_are_refused(
    world: World, field: str, value: object, fragment: str
) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "1")
    with pytest.raises(tl.ContractError) as err:
        world.budgets().submit("Spend", spend_record(ref, "r", "0.1", **{field: value}))
    assert fragment in err.value.message
    assert releases(world, ds) == []
    assert budget(world, ds)["spent"] == "0.0"


def test_release_record_is_stamped_and_normalised(world: World) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "1")
    res = world.budgets("Org2").submit("Spend", spend_record(ref, "r", "0.250", delta=1e-6))
    (stored,) = releases(world, ds)
    assert stored == json.loads(res.payload)
    assert stored["epsilon"] == "0.25"
    assert stored["owner"] == "Org2MSP"
    assert stored["txId"] == res.tx_id
    assert stored["delta"] == 1e-6


def test_spend_emits_one_event_with_the_release_key(world: World) -> None:
    ref = world.register()
    ds = ref.partition("@")[0]
    world.budgets().submit("SetBudget", ds, "1")
    start = world.net.height()
    res = world.budgets().submit("Spend", spend_record(ref, "ev", "0.1"))
    events = list(
        world.net.gws["Org1"].network().chaincode_events(CC, start_block=start, timeout=0.2)
    )
    assert [(e.tx_id, e.name, e.payload) for e in events] == [
        (res.tx_id, "PrivacyBudgetSpent", f"release/{ds}/ev".encode())
    ]


def test_queries_are_evaluate_only(world: World) -> None:
    from tensorledger.contracts.budgets import PrivacyBudgetContract

    assert sorted(PrivacyBudgetContract().get_evaluate_transactions()) == [
        "GetBudget",
        "ListReleases",
    ]
