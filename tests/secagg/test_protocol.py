"""Whole runs over the ledger: exact sums, and an aggregator's view without any party's values.

"The aggregator's view" is everything it can read: every byte of the
channel's ledger files and every masked vector it received. The test
searches that view for each organisation's values in every form the
protocol handles them (floats as text and bytes, fixed-point integers as
decimals and as ring bytes), with a positive control that the search finds
what is there.
"""

from __future__ import annotations

import json
import struct
from fractions import Fraction

import numpy as np
import pytest

import tensorledger as tl
from tensorledger.ledger.verify import verify_channel
from tensorledger.secagg import Aggregator, MaskedInput, Party, SecureSession, get_session
from tensorledger.secagg.encoding import to_bytes
from tensorledger.secagg.protocol import secure_sum
from tests.contracts.ledgers import Net
from tests.contracts.records import uid

M = 1 << 128
K = 48


def exact_sum(arrays: list[np.ndarray], k: int = K) -> list[float]:
    """Σ round(x·2^k) / 2^k per element, in exact rationals, then rounded once."""
    columns = zip(*(a.ravel().tolist() for a in arrays), strict=True)
    return [float(sum(round(Fraction(x) * 2**k) for x in col) / Fraction(2**k)) for col in columns]


def ledger_bytes(net: Net) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((net.path / "channels").iterdir()))


def forms(x: float, k: int = K) -> list[bytes]:
    """Every form one value takes anywhere in the protocol."""
    fixed = round(Fraction(x) * 2**k)
    ring = fixed % M
    return [
        repr(x).encode(),
        f"{x:.12g}".encode(),
        struct.pack("<d", x),
        struct.pack(">d", x),
        str(fixed).encode(),
        str(ring).encode(),
        ring.to_bytes(16, "little"),
        ring.to_bytes(16, "big"),
    ]


def test_secure_sum_equals_the_exact_fixed_point_sum(
    net: Net, parties: dict[str, tl.Gateway]
) -> None:
    rng = np.random.default_rng(1)
    values = {org: rng.normal(scale=1000, size=(2, 5)) for org in parties}
    sid = uid("sum")
    result = secure_sum(parties, values, sid, description="a 2x5 sum")
    assert result.values.shape == (2, 5)
    assert result.values.ravel().tolist() == exact_sum(list(values.values()))
    np.testing.assert_allclose(result.values, sum(values.values()), rtol=0, atol=1e-12)
    s = get_session(parties["Org2"], sid)
    assert s.status == "aggregated"
    assert s.aggregate == result.integers
    assert s.aggregator == "Org1MSP"  # the first organisation by name aggregates by default
    assert s.aggregate_tx == result.tx_id
    assert dict(s.masked_hashes) == dict(result.masked_hashes)
    assert s.parties == ("Org1MSP", "Org2MSP", "Org3MSP")
    assert s.description == "a 2x5 sum"


def test_the_aggregators_view_holds_no_organisations_values(
    net: Net, parties: dict[str, tl.Gateway]
) -> None:
    rng = np.random.default_rng(7)
    values = {org: rng.normal(scale=50, size=6) for org in parties}
    result = SecureSession(parties, uid("view"), 6, aggregator=net.gws["Org4"]).run(values)
    ledger = ledger_bytes(net)
    received = b"".join(
        to_bytes(item.vector) + " ".join(str(int(v)) for v in item.vector).encode()
        for item in result.received
    )
    view = ledger + received
    # positive controls: what the ledger does hold is found by the same search
    assert all(str(v).encode() in ledger for v in result.integers)
    control = rng.normal(scale=50, size=6).tolist()
    net.contract("Org4", "datacontract").submit("storeData", uid("control"), json.dumps(control))
    stored = ledger_bytes(net)
    assert all(repr(x).encode() in stored for x in control)
    for org, vector in values.items():
        for x in vector.tolist():
            for needle in forms(x):
                assert needle not in view, (org, x, needle)
    # and each received masked vector differs from its party's encoding in every element
    for item in result.received:
        org = {f"{o}MSP": o for o in parties}[item.msp]
        encoded = [round(Fraction(x) * 2**K) % M for x in values[org].tolist()]
        assert all(int(a) != b for a, b in zip(item.vector, encoded, strict=True))


def manual_run(net: Net, parties: dict[str, tl.Gateway], sid: str, values: dict[str, list[float]]):
    aggregator = net.gws["Org4"]
    members = {org: Party(gw, sid) for org, gw in parties.items()}
    for org, party in members.items():
        party.prepare(values[org])
    aggregator.network().contract("secagg").submit(
        "OpenSession",
        f'{{"id":"{sid}","parties":["Org1MSP","Org2MSP","Org3MSP"],"vectorLength":3,"scale":48}}',
    )
    for party in members.values():
        party.register_key()
    masked = {org: party.mask_and_anchor() for org, party in members.items()}
    return members, masked, Aggregator(aggregator, sid)


def test_a_tampered_masked_vector_is_refused_by_the_contract_and_named(
    net: Net, parties: dict[str, tl.Gateway]
) -> None:
    sid = uid("tamper")
    values = {"Org1": [1.0, 2.0, 3.0], "Org2": [10.0, 20.0, 30.0], "Org3": [0.5, 0.25, -1.0]}
    _, masked, aggregator = manual_run(net, parties, sid, values)
    good = masked["Org2"]
    forged = good.vector.copy()
    forged[1] = (forged[1] + 1) % M  # one unit in the last place of one element
    height = net.height()
    with pytest.raises(
        tl.ContractError,
        match=r"masked vector of Org2MSP hashes to [0-9a-f]{64}, not to the hash Org2MSP anchored",
    ):
        aggregator.aggregate([masked["Org1"], MaskedInput("Org2MSP", forged), masked["Org3"]])
    assert net.height() == height
    assert get_session(parties["Org1"], sid).status == "ready"
    # swapping two parties' vectors is caught the same way
    with pytest.raises(tl.ContractError, match="masked vector of Org1MSP"):
        aggregator.aggregate(
            [
                MaskedInput("Org1MSP", masked["Org3"].vector),
                masked["Org2"],
                MaskedInput("Org3MSP", masked["Org1"].vector),
            ]
        )
    result = aggregator.aggregate(masked.values())
    assert result.values.tolist() == [11.5, 22.25, 32.0]


def test_the_aggregator_needs_every_partys_input(net: Net, parties: dict[str, tl.Gateway]) -> None:
    sid = uid("partial")
    values = {org: [1.0, 2.0, 3.0] for org in parties}
    _, masked, aggregator = manual_run(net, parties, sid, values)
    height = net.height()
    with pytest.raises(tl.InvalidRequestError, match="no masked input from Org3MSP"):
        aggregator.aggregate([masked["Org1"], masked["Org2"]])
    with pytest.raises(tl.InvalidRequestError, match="two masked inputs from Org1MSP"):
        aggregator.aggregate([masked["Org1"], masked["Org1"], masked["Org2"], masked["Org3"]])
    with pytest.raises(tl.InvalidRequestError, match="Org4MSP is not a party"):
        aggregator.aggregate([*masked.values(), MaskedInput("Org4MSP", masked["Org1"].vector)])
    assert net.height() == height


def test_a_party_masks_once_and_only_under_its_own_key(
    net: Net, parties: dict[str, tl.Gateway]
) -> None:
    sid = uid("once")
    values = {org: [1.0, 2.0, 3.0] for org in parties}
    members, _, _ = manual_run(net, parties, sid, values)
    with pytest.raises(
        tl.InvalidRequestError, match=r"already masked its input .* masks are used once"
    ):
        members["Org1"].mask_and_anchor()
    # a second Party object of the same organisation holds a key the ledger does not have
    stranger = Party(parties["Org2"], sid)
    stranger.prepare([4.0, 5.0, 6.0])
    with pytest.raises(tl.InvalidRequestError, match="not this party's key"):
        stranger.mask_and_anchor()


def test_masking_waits_for_every_key(net: Net, parties: dict[str, tl.Gateway]) -> None:
    sid = uid("wait")
    net.gws["Org4"].network().contract("secagg").submit(
        "OpenSession",
        f'{{"id":"{sid}","parties":["Org1MSP","Org2MSP","Org3MSP"],"vectorLength":2,"scale":48}}',
    )
    early = Party(parties["Org1"], sid)
    early.prepare([1.0, 2.0])
    early.register_key()
    with pytest.raises(tl.InvalidRequestError, match="lacks keys from Org2MSP, Org3MSP"):
        early.mask_and_anchor()
    wrong = Party(parties["Org2"], sid)
    wrong.prepare([1.0, 2.0, 3.0])
    wrong.register_key()
    Party(parties["Org3"], sid).register_key()
    with pytest.raises(
        tl.InvalidRequestError, match=r"has 3 elements at scale 2\^48; session .* wants 2"
    ):
        wrong.mask_and_anchor()
    assert get_session(parties["Org1"], sid).masked_hashes == {}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"Org1": [1.0], "Org2": [float("nan")], "Org3": [1.0]},
            r"Org2MSP's input: element 0 is nan",
        ),
        (
            {"Org1": [1.0], "Org2": [1e300], "Org3": [1.0]},
            r"Org2MSP's input: element 0 \(1e\+300\) is outside",
        ),
        ({"Org1": [1.0], "Org2": [1.0]}, r"missing \['Org3'\]"),
        ({"Org1": [1.0], "Org2": [1.0], "Org3": [1.0], "Org9": [1.0]}, r"unknown \['Org9'\]"),
        ({"Org1": [1.0], "Org2": [1.0, 2.0], "Org3": [1.0]}, r"one shape"),
    ],
)
def test_bad_input_is_refused_before_the_ledger_is_touched(
    net: Net, parties: dict[str, tl.Gateway], values: dict[str, list[float]], message: str
) -> None:
    sid = uid("bad")
    height = net.height()
    with pytest.raises(tl.InvalidRequestError, match=message):
        secure_sum(parties, values, sid)
    assert net.height() == height
    with pytest.raises(tl.ContractError, match="does not exist"):
        get_session(parties["Org1"], sid)


def test_session_setup_is_checked(net: Net, parties: dict[str, tl.Gateway]) -> None:
    with pytest.raises(tl.InvalidRequestError, match="at least two organisations"):
        SecureSession({"Org1": parties["Org1"]}, uid("s"), 1)
    with pytest.raises(tl.InvalidRequestError, match="share an MSP"):
        SecureSession({"a": parties["Org1"], "b": parties["Org1"]}, uid("s"), 1)
    with pytest.raises(tl.InvalidRequestError, match="Org1's input has 2 elements"):
        SecureSession(parties, uid("s"), 3).run({org: [1.0, 2.0] for org in parties})


def test_a_session_id_cannot_be_run_twice(net: Net, parties: dict[str, tl.Gateway]) -> None:
    sid = uid("twice")
    secure_sum(parties, {org: [1.0] for org in parties}, sid)
    with pytest.raises(tl.ContractError, match=f"Session {sid} already exists"):
        secure_sum(parties, {org: [2.0] for org in parties}, sid)
    assert get_session(parties["Org1"], sid).aggregate == (3 * 2**K,)


def test_two_parties_and_other_scales(net: Net) -> None:
    two = {"Org2": net.gws["Org2"], "Org4": net.gws["Org4"]}
    values = {"Org2": np.array([0.1, -7.25]), "Org4": np.array([0.2, 3.0])}
    result = secure_sum(two, values, uid("two"), scale_bits=20)
    assert result.values.tolist() == exact_sum(list(values.values()), 20)
    assert result.parties == ("Org2MSP", "Org4MSP")
    assert get_session(net.gws["Org1"], result.session).scale_bits == 20


def test_the_ledger_with_sessions_verifies(net: Net, parties: dict[str, tl.Gateway]) -> None:
    secure_sum(parties, {org: [1.5, -2.0] for org in parties}, uid("verify"))
    report = verify_channel(net.path, "mychannel")
    assert report.ok, report.findings
