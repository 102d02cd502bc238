"""Endorsement policies: Fabric's signature-policy language, checked at commit.

The end-to-end tests deploy DataContract under several policies on a
three-organisation network and choose which organisations endorse; the unit
tests compare `policy.satisfied` with a brute-force evaluator written here.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tensorledger as tl
from tensorledger.ledger import policy
from tensorledger.ledger.network import ContractSpec, EmbeddedNetwork
from tests.ledger.fabric_reference import decode_tx
from tests.ledger.ledger_state import snapshot, stored_envelope

DATA = "tensorledger.contracts.data:DataContract"
POLICIES = {
    "andcc": "AND('Org1MSP.peer','Org2MSP.peer')",
    "orcc": "OR('Org1MSP.peer','Org2MSP.peer')",
    "outofcc": "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')",
    "majoritycc": "MAJORITY",
    "twiceorg1cc": "AND('Org1MSP.peer','Org1MSP.peer')",
    "nestedcc": "AND('Org1MSP.peer', OR('Org2MSP.peer', 'Org3MSP.peer'))",
    "andorcc": "AND(OR('Org1MSP.peer', 'Org2MSP.peer'), 'Org1MSP.peer')",
}


@dataclass
class ThreeOrgs:
    path: Path
    gw: tl.Gateway

    def contract(self, name: str) -> tl.Contract:
        return self.gw.network("mychannel").contract(name)


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreeOrgs]:
    path = tl.init(tmp_path_factory.mktemp("policy") / "ledger", orgs=["Org1", "Org2", "Org3"])
    network = EmbeddedNetwork(path)
    try:
        for name, text in POLICIES.items():
            network.deploy("mychannel", ContractSpec(name, DATA, policy=text))
    finally:
        network.close()
    with tl.connect(path, identity="Org1") as gw:
        yield ThreeOrgs(path, gw)


_counter = itertools.count()


def attempt(three: ThreeOrgs, chaincode: str, orgs: list[str] | None) -> str | None:
    """Store a fresh key endorsed by `orgs`; the validation code name, None when valid.

    On failure also checks that the key did not reach world state.
    """
    key = f"{chaincode}-{next(_counter)}"
    contract = three.contract(chaincode)
    before = snapshot(three.path)
    try:
        res = contract.submit("storeData", key, "v", endorsing_orgs=orgs)
    except tl.CommitError as exc:
        after = snapshot(three.path)
        assert after.world() == before.world(), "an invalid transaction changed state"
        assert after.height == before.height + 1
        with pytest.raises(tl.ContractError, match="does not exist"):
            contract.evaluate("retrieveData", key)
        return exc.code
    assert contract.evaluate("retrieveData", key) == b"v"
    endorsers = sorted(
        decode_tx(stored_envelope(three.path, res.tx_id)).endorsements,
        key=lambda e: e.endorser,
    )
    assert len(endorsers) == len(orgs) if orgs is not None else len(endorsers) >= 1
    return None


def test_and_refuses_one_endorsement_with_a_commit_error(three: ThreeOrgs) -> None:
    with pytest.raises(tl.CommitError) as err:
        three.contract("andcc").submit("storeData", "and-one", "v", endorsing_orgs=["Org1MSP"])
    assert err.value.code == "ENDORSEMENT_POLICY_FAILURE"
    assert "ENDORSEMENT_POLICY_FAILURE" in str(err.value)
    assert not isinstance(err.value, tl.MVCCConflictError)
    assert len(err.value.tx_id) == 64 and err.value.block is not None


@pytest.mark.parametrize(
    ("chaincode", "orgs", "outcome"),
    [
        ("andcc", ["Org1MSP"], "ENDORSEMENT_POLICY_FAILURE"),
        ("andcc", ["Org2MSP"], "ENDORSEMENT_POLICY_FAILURE"),
        ("andcc", ["Org1MSP", "Org3MSP"], "ENDORSEMENT_POLICY_FAILURE"),
        ("andcc", ["Org1MSP", "Org2MSP"], None),
        ("andcc", None, None),
        ("orcc", ["Org1MSP"], None),
        ("orcc", ["Org2MSP"], None),
        ("orcc", ["Org3MSP"], "ENDORSEMENT_POLICY_FAILURE"),
        ("outofcc", ["Org1MSP"], "ENDORSEMENT_POLICY_FAILURE"),
        ("outofcc", ["Org3MSP"], "ENDORSEMENT_POLICY_FAILURE"),
        ("outofcc", ["Org1MSP", "Org3MSP"], None),
        ("outofcc", ["Org2MSP", "Org3MSP"], None),
        ("outofcc", ["Org1MSP", "Org2MSP", "Org3MSP"], None),
        ("majoritycc", ["Org2MSP"], "ENDORSEMENT_POLICY_FAILURE"),
        ("majoritycc", ["Org1MSP", "Org2MSP"], None),
        ("majoritycc", ["Org2MSP", "Org3MSP"], None),
        ("majoritycc", None, None),
        # One peer's signature counts once, however often it appears.
        ("twiceorg1cc", ["Org1MSP"], "ENDORSEMENT_POLICY_FAILURE"),
        ("twiceorg1cc", ["Org1MSP", "Org1MSP"], "ENDORSEMENT_POLICY_FAILURE"),
        ("nestedcc", ["Org2MSP", "Org3MSP"], "ENDORSEMENT_POLICY_FAILURE"),
        ("nestedcc", ["Org1MSP", "Org3MSP"], None),
        ("andorcc", ["Org1MSP"], "ENDORSEMENT_POLICY_FAILURE"),
        # Regression: a greedy search kept the Org1 peer for the OR and failed this.
        ("andorcc", ["Org1MSP", "Org2MSP"], None),
        ("andorcc", None, None),
    ],
)
def test_policy_outcomes(
    three: ThreeOrgs, chaincode: str, orgs: list[str] | None, outcome: str | None
) -> None:
    assert attempt(three, chaincode, orgs) == outcome


def test_majority_of_three_asks_two_peers_by_default(three: ThreeOrgs) -> None:
    res = three.contract("majoritycc").submit("storeData", "maj-default", "v")
    endorsements = decode_tx(stored_envelope(three.path, res.tx_id)).endorsements
    assert len(endorsements) == 2


def test_or_asks_one_peer_by_default(three: ThreeOrgs) -> None:
    res = three.contract("orcc").submit("storeData", "or-default", "v")
    assert len(decode_tx(stored_envelope(three.path, res.tx_id)).endorsements) == 1


def test_endorsing_org_not_on_the_channel_is_refused(three: ThreeOrgs) -> None:
    before = snapshot(three.path)
    with pytest.raises(tl.EndorsementError, match="Org9MSP"):
        three.contract("orcc").submit("storeData", "k", "v", endorsing_orgs=["Org9MSP"])
    assert snapshot(three.path) == before


# -- the parser ---------------------------------------------------------------------------

ORGS3 = ["Org1MSP", "Org2MSP", "Org3MSP"]


def peers(*msps: str) -> list[tuple[str, str]]:
    return [(m, "peer") for m in msps]


@pytest.mark.parametrize(
    ("text", "yes", "no"),
    [
        (
            "AND('Org1MSP.peer', OR('Org2MSP.peer', 'Org3MSP.peer'))",
            [peers("Org1MSP", "Org2MSP"), peers("Org1MSP", "Org3MSP")],
            [peers("Org1MSP"), peers("Org2MSP", "Org3MSP"), []],
        ),
        (
            "OR(AND('Org1MSP.peer','Org2MSP.peer'), AND('Org3MSP.peer','Org1MSP.admin'))",
            [peers("Org1MSP", "Org2MSP"), [("Org3MSP", "peer"), ("Org1MSP", "admin")]],
            [peers("Org1MSP", "Org3MSP"), [("Org3MSP", "peer"), ("Org1MSP", "peer")]],
        ),
        (
            "OutOf(2, 'Org1MSP.member', 'Org2MSP.member', 'Org3MSP.member')",
            [[("Org1MSP", "client"), ("Org3MSP", "admin")], peers("Org2MSP", "Org3MSP")],
            [[("Org1MSP", "client")], [("Org1MSP", "client"), ("Org1MSP", "peer")]],
        ),
        (
            'AND("Org1MSP.peer", "Org1MSP.peer")',
            [peers("Org1MSP", "Org1MSP")],  # two distinct signers of the same org
            [peers("Org1MSP")],
        ),
        ("  OR ( 'Org1MSP.peer' , 'Org2MSP.peer' )  ", [peers("Org2MSP")], [peers("Org3MSP")]),
    ],
)
def test_nested_rules(
    text: str, yes: list[list[tuple[str, str]]], no: list[list[tuple[str, str]]]
) -> None:
    rule = policy.parse(text, ORGS3)
    for signers in yes:
        assert policy.satisfied(rule, signers), signers
    for signers in no:
        assert not policy.satisfied(rule, signers), signers


def test_one_signer_cannot_satisfy_two_principals() -> None:
    # A member principal and a peer principal of the same org: one peer matches
    # both, but may only be counted for one of them.
    rule = policy.parse("AND('Org1MSP.member', 'Org1MSP.peer')", ORGS3)
    assert not policy.satisfied(rule, peers("Org1MSP"))
    assert policy.satisfied(rule, [("Org1MSP", "client"), ("Org1MSP", "peer")])
    assert not policy.satisfied(rule, [("Org1MSP", "client"), ("Org1MSP", "admin")])


def test_satisfied_finds_an_assignment_the_greedy_choice_misses() -> None:
    # Regression: the search used to keep a principal's first matching signer.
    # 'member' takes the peer (first match); 'peer' then finds nobody, although
    # admin-for-member and peer-for-peer satisfies the rule.
    rule = policy.parse("AND('Org1MSP.member', 'Org1MSP.peer')", ORGS3)
    assert policy.satisfied(rule, [("Org1MSP", "peer"), ("Org1MSP", "admin")])


def test_or_inside_and_can_use_the_other_organisation() -> None:
    # Regression: OR('Org1MSP.peer','Org2MSP.peer') kept the Org1 peer, so the second
    # 'Org1MSP.peer' found nobody and the Org2 peer was never tried.
    rule = policy.parse("AND(OR('Org1MSP.peer', 'Org2MSP.peer'), 'Org1MSP.peer')", ORGS3)
    assert policy.satisfied(rule, peers("Org1MSP", "Org2MSP"))


@pytest.mark.parametrize(("n_orgs", "need"), [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4)])
def test_majority_needs_more_than_half(n_orgs: int, need: int) -> None:
    orgs = [f"Org{i}MSP" for i in range(n_orgs)]
    rule = policy.parse("MAJORITY", orgs)
    for k in range(n_orgs + 1):
        for subset in itertools.combinations(orgs, k):
            assert policy.satisfied(rule, peers(*subset)) == (k >= need)
    assert policy.satisfied(policy.parse("ANY", orgs), peers(orgs[-1]))
    assert not policy.satisfied(policy.parse("ALL", orgs), peers(*orgs[1:]))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "AND(",
        "AND()",
        "AND('Org1MSP.peer'",
        "AND('Org1MSP.peer',)",
        "AND('Org1MSP.peer') trailing",
        "AND('Org1MSP.peer'))",
        "XOR('Org1MSP.peer')",
        "and('Org1MSP.peer')",
        "OR('Org1MSP')",
        "OR('.peer')",
        "OR('Org1MSP.boss')",
        "OR('Org1MSP.peer' 'Org2MSP.peer')",
        "OutOf(3, 'Org1MSP.peer', 'Org2MSP.peer')",
        "OutOf(0, 'Org1MSP.peer')",
        "OutOf('Org1MSP.peer')",
        "OutOf(1 'Org1MSP.peer')",
        "OutOf(-1, 'Org1MSP.peer')",
        "'Org1MSP.peer",
        "Org1MSP.peer",
        "MAJORITY AND",
    ],
)
def test_malformed_policies_raise_config_error(text: str) -> None:
    with pytest.raises(tl.ConfigError, match="endorsement policy"):
        policy.parse(text, ORGS3)


def test_shorthand_on_a_channel_without_orgs_is_a_config_error() -> None:
    with pytest.raises(tl.ConfigError, match="no organisations"):
        policy.parse("MAJORITY", [])


def test_deeply_nested_policy_is_a_config_error_not_a_crash() -> None:
    # Regression: the recursive parser raised RecursionError.
    text = "AND(" * 2000 + "'Org1MSP.peer'" + ")" * 2000
    with pytest.raises(tl.ConfigError, match="endorsement policy"):
        policy.parse(text, ORGS3)
    shallow = "AND(" * 10 + "'Org1MSP.peer'" + ")" * 10
    assert policy.satisfied(policy.parse(shallow, ORGS3), peers("Org1MSP"))


@given(st.text(alphabet="ANDORutOf()'\",. 0123Org1MSP.peeradmin", max_size=60))
@settings(max_examples=300, deadline=None)
def test_parser_raises_only_config_error(text: str) -> None:
    try:
        rule = policy.parse(text, ORGS3)
    except tl.ConfigError:
        return
    assert isinstance(rule, policy.Principal | policy.OutOf)


# -- satisfied() against a brute-force reference ---------------------------------------------

ROLES = ["peer", "admin", "client"]
MSPS = ["A", "B", "C"]


@st.composite
def trees(
    draw: st.DrawFn,
    depth: int = 0,
    roles: tuple[str, ...] = ("peer", "admin", "client"),
    max_depth: int = 2,
) -> tuple[object, ...]:
    """('p', msp, role) or ('n', k, children), nested at most `max_depth` levels."""
    if depth >= max_depth or (depth > 0 and draw(st.booleans())):
        return ("p", draw(st.sampled_from(MSPS)), draw(st.sampled_from(roles)))
    children = draw(st.lists(trees(depth + 1, roles, max_depth), min_size=1, max_size=4))
    return ("n", draw(st.integers(1, len(children))), tuple(children))


def to_text(tree: tuple[object, ...]) -> str:
    if tree[0] == "p":
        return f"'{tree[1]}.{tree[2]}'"
    k, children = tree[1], tree[2]
    inner = ", ".join(to_text(c) for c in children)  # type: ignore[attr-defined]
    return f"OutOf({k}, {inner})"


def leaves(tree: tuple[object, ...]) -> list[tuple[object, ...]]:
    if tree[0] == "p":
        return [tree]
    return [leaf for c in tree[2] for leaf in leaves(c)]  # type: ignore[attr-defined]


def brute_force(tree: tuple[object, ...], signers: list[tuple[str, str]]) -> bool:
    """Try every way of giving each signer to at most one principal leaf (or none)."""
    leaf_list = leaves(tree)
    for assignment in itertools.product(range(-1, len(leaf_list)), repeat=len(signers)):
        used = [a for a in assignment if a >= 0]
        if len(used) != len(set(used)):
            continue
        ok = True
        for s, a in zip(signers, assignment, strict=True):
            if a >= 0:
                _, msp, role = leaf_list[a]
                if msp != s[0] or (role != "member" and role != s[1]):
                    ok = False
        if ok and _holds(tree, set(used), iter(range(len(leaf_list)))):
            return True
    return False


def _holds(tree: tuple[object, ...], used: set[int], numbering: Iterator[int]) -> bool:
    if tree[0] == "p":
        return next(numbering) in used
    results = [_holds(c, used, numbering) for c in tree[2]]  # type: ignore[attr-defined]
    return sum(results) >= tree[1]  # type: ignore[operator]


SIGNERS = st.lists(st.tuples(st.sampled_from(MSPS), st.sampled_from(ROLES)), max_size=3)


@given(trees(roles=("peer", "admin", "client", "member")), SIGNERS)
@example(("n", 2, (("p", "A", "member"), ("p", "A", "peer"))), [("A", "peer"), ("A", "admin")])
@example(
    ("n", 2, (("n", 1, (("p", "A", "peer"), ("p", "B", "peer"))), ("p", "A", "peer"))),
    [("A", "peer"), ("B", "peer")],
)
@settings(max_examples=300, deadline=None)
def test_satisfied_matches_brute_force(
    tree: tuple[object, ...], signers: list[tuple[str, str]]
) -> None:
    # The examples are the greedy search's misses (regressions).
    rule = policy.parse(to_text(tree), MSPS)
    assert policy.satisfied(rule, signers) == brute_force(tree, signers)


@given(trees())
@settings(max_examples=200, deadline=None)
def test_endorsing_orgs_is_a_smallest_satisfying_set(tree: tuple[object, ...]) -> None:
    # Checked against policy.satisfied itself: the layout must satisfy the committer.
    rule = policy.parse(to_text(tree), MSPS)
    subsets = [combo for k in range(len(MSPS) + 1) for combo in itertools.combinations(MSPS, k)]
    fitting = [c for c in subsets if policy.satisfied(rule, [(m, "peer") for m in c])]
    if not fitting:
        with pytest.raises(tl.ConfigError, match="cannot be satisfied"):
            policy.endorsing_orgs(rule, MSPS)
        return
    chosen = policy.endorsing_orgs(rule, MSPS)
    assert policy.satisfied(rule, [(m, "peer") for m in chosen])
    assert len(set(chosen)) == len(chosen)
    assert len(chosen) == min(len(c) for c in fitting)
