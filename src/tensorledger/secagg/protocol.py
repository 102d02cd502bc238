"""A secure-aggregation run over the ledger: parties mask their inputs, the aggregator sums.

Roles are separate objects so that what each one holds is explicit: a
`Party` alone holds its values and its ephemeral private key; the
`Aggregator` receives masked vectors only, and the ledger holds public keys,
masked-vector hashes and the aggregate. The run is:

1. the aggregator opens the session (`OpenSession`: parties, vector length, scale);
2. each party registers an ephemeral X25519 key through its own gateway;
3. each party reads its peers' keys from the ledger, masks its encoded input
   and anchors the masked vector's SHA-256 (`RecordMasked`);
4. the aggregator sums the masked vectors (the masks cancel) and records the
   aggregate with the hashes of what it summed (`RecordAggregate`), which the
   contract accepts only if every hash equals the party's anchor.

Why not Flower's SecAgg+: flwr ships SecAgg+ only as a `ServerApp` workflow
(`SecAggPlusWorkflow(grid, context)` with the `secaggplus_mod` client mod),
driven through a Flower `Grid` and SuperLink; our federated runner drives
Flower's legacy `Server` round loop through in-process `ClientProxy`s, with no
Grid, so the workflow cannot run there, nor for statistics outside FL. It
would also keep keys and commitments in Flower's memory, where our design
needs them on the ledger: the ledger authenticates each party's key by its
MSP (an aggregator cannot substitute keys) and anchors each masked input.

Threat model and limits: the aggregator and any coalition that lacks the
private key of some pair (i, j) learn nothing about i's or j's input beyond
the sum. There is no dropout recovery (SecAgg's Shamir-shared seeds): a
party that never anchors leaves the session unfinishable, and a new session
with the remaining parties is opened instead. Parties are trusted to encode
honestly; the sum of their inputs is what the ledger records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tensorledger.errors import InvalidRequestError
from tensorledger.gateway import Gateway
from tensorledger.ledger.network import DEFAULT_CHANNEL
from tensorledger.secagg import _ledger
from tensorledger.secagg._ledger import SessionState, get_session
from tensorledger.secagg.encoding import DEFAULT_SCALE_BITS, RingVector, decode, encode, signed
from tensorledger.secagg.masking import (
    generate_key,
    mask,
    masked_digest,
    public_key_hex,
    unmask_sum,
)


@dataclass(frozen=True, eq=False)
class MaskedInput:
    """What a party sends the aggregator: its MSP id and its masked vector."""

    msp: str
    vector: RingVector

    @property
    def digest(self) -> str:
        """SHA-256 of the masked vector's canonical bytes: what the party anchored."""
        return masked_digest(self.vector)


@dataclass(frozen=True, eq=False)
class SecureSum:
    """The recorded aggregate of one session, decoded, with what the aggregator received."""

    session: str
    parties: tuple[str, ...]
    scale_bits: int
    integers: tuple[int, ...]  # the signed fixed-point sum, as recorded on the ledger
    values: npt.NDArray[np.float64]  # integers / 2^scale_bits, in the inputs' shape
    masked_hashes: Mapping[str, str]
    received: tuple[MaskedInput, ...]
    tx_id: str


class Party:
    """One organisation's side of a session: its input and its ephemeral key never leave it."""

    def __init__(self, gw: Gateway, session_id: str, *, channel: str = DEFAULT_CHANNEL) -> None:
        self.gw = gw
        self.session_id = session_id
        self.msp = gw.msp_id
        self.channel = channel
        self._key = generate_key()
        self._public = public_key_hex(self._key)
        self._encoded: RingVector | None = None
        self._scale_bits: int | None = None
        self._masked = False

    @property
    def public_key(self) -> str:
        """This party's ephemeral public key as hex (what it registers)."""
        return self._public

    def prepare(self, values: npt.ArrayLike, scale_bits: int = DEFAULT_SCALE_BITS) -> None:
        """Encode the party's input now, so bad input is refused before the ledger is touched."""
        try:
            self._encoded = encode(values, scale_bits)
        except InvalidRequestError as exc:
            raise InvalidRequestError(f"{self.msp}'s input: {exc}") from None
        self._scale_bits = scale_bits

    def register_key(self) -> str:
        """RegisterKey through this party's own gateway; returns the transaction id."""
        return _ledger.register_key(self.gw, self.session_id, self._public, channel=self.channel)

    def mask_and_anchor(self) -> MaskedInput:
        """Mask the prepared input with every peer's registered key and anchor its hash.

        Once only: masking a second input under the same pairwise masks would
        hand the aggregator the difference of the two inputs.
        """
        if self._encoded is None or self._scale_bits is None:
            raise InvalidRequestError(f"{self.msp} has no prepared input to mask")
        if self._masked:
            raise InvalidRequestError(
                f"{self.msp} has already masked its input for session {self.session_id}; "
                "masks are used once"
            )
        session = get_session(self.gw, self.session_id, channel=self.channel)
        self._check(session)
        peers = {msp: key for msp, key in session.keys.items() if msp != self.msp}
        masked = mask(self.session_id, self.msp, self._key, peers, self._encoded)
        self._masked = True
        _ledger.record_masked(self.gw, self.session_id, masked_digest(masked), channel=self.channel)
        return MaskedInput(self.msp, masked)

    def _check(self, session: SessionState) -> None:
        assert self._encoded is not None
        if self.msp not in session.parties:
            raise InvalidRequestError(f"{self.msp} is not a party of session {session.id}")
        missing = [p for p in session.parties if p not in session.keys]
        if missing:
            raise InvalidRequestError(
                f"session {session.id} lacks keys from {', '.join(missing)}; cannot mask yet"
            )
        if session.keys[self.msp] != self._public:
            raise InvalidRequestError(
                f"the key registered for {self.msp} in session {session.id} is not this "
                "party's key; its masks would not cancel"
            )
        if (len(self._encoded), self._scale_bits) != (session.vector_length, session.scale_bits):
            raise InvalidRequestError(
                f"{self.msp}'s input has {len(self._encoded)} elements at scale "
                f"2^{self._scale_bits}; session {session.id} wants {session.vector_length} "
                f"at 2^{session.scale_bits}"
            )


class Aggregator:
    """Sums masked vectors and records the aggregate; it never holds a party's input."""

    def __init__(self, gw: Gateway, session_id: str, *, channel: str = DEFAULT_CHANNEL) -> None:
        self.gw = gw
        self.session_id = session_id
        self.channel = channel

    def aggregate(
        self, inputs: Iterable[MaskedInput], shape: tuple[int, ...] | None = None
    ) -> SecureSum:
        """Unmask the sum, record it with the hashes of what was summed, return it decoded.

        The contract refuses (ContractError naming the party) if any received
        vector's hash differs from the one that party anchored.
        """
        session = get_session(self.gw, self.session_id, channel=self.channel)
        received: dict[str, MaskedInput] = {}
        for item in inputs:
            if item.msp not in session.parties:
                raise InvalidRequestError(f"{item.msp} is not a party of session {session.id}")
            if item.msp in received:
                raise InvalidRequestError(f"two masked inputs from {item.msp}")
            received[item.msp] = item
        missing = [p for p in session.parties if p not in received]
        if missing:
            raise InvalidRequestError(
                f"session {session.id}: no masked input from {', '.join(missing)}; "
                "the masks only cancel over every party"
            )
        ordered = tuple(received[p] for p in session.parties)
        total = unmask_sum(item.vector for item in ordered)
        hashes = {item.msp: item.digest for item in ordered}
        integers = tuple(signed(total))
        tx_id = _ledger.record_aggregate(
            self.gw, session.id, hashes, integers, channel=self.channel
        )
        values = decode(total, session.scale_bits)
        return SecureSum(
            session=session.id,
            parties=session.parties,
            scale_bits=session.scale_bits,
            integers=integers,
            values=values.reshape(shape) if shape is not None else values,
            masked_hashes=hashes,
            received=ordered,
            tx_id=tx_id,
        )


class SecureSession:
    """Drives one whole session: open, keys, masked anchors, aggregate.

    `gateways` maps an organisation's name to its own gateway; each party
    acts through its own (the ledger checks each key's and anchor's MSP). The
    aggregator (default: the first organisation's gateway, by name) opens the
    session and records the aggregate.
    """

    def __init__(
        self,
        gateways: Mapping[str, Gateway],
        session_id: str,
        vector_length: int,
        *,
        scale_bits: int = DEFAULT_SCALE_BITS,
        aggregator: Gateway | None = None,
        description: str = "",
        channel: str = DEFAULT_CHANNEL,
    ) -> None:
        if len(gateways) < 2:
            raise InvalidRequestError("secure aggregation needs at least two organisations")
        msps = [gw.msp_id for gw in gateways.values()]
        if len(set(msps)) != len(msps):
            raise InvalidRequestError(f"two organisations share an MSP: {sorted(msps)}")
        self.gateways = dict(gateways)
        self.session_id = session_id
        self.vector_length = vector_length
        self.scale_bits = scale_bits
        self.aggregator = aggregator or self.gateways[min(self.gateways)]
        self.description = description
        self.channel = channel

    def run(
        self, values: Mapping[str, npt.ArrayLike], shape: tuple[int, ...] | None = None
    ) -> SecureSum:
        """The sum of every organisation's 1-D vector, computed and recorded securely.

        Inputs are checked (names, lengths, encodability) before anything is
        written, so a bad input leaves the ledger unchanged.
        """
        unknown = sorted(set(values) - set(self.gateways))
        missing = sorted(set(self.gateways) - set(values))
        if unknown or missing:
            raise InvalidRequestError(
                f"values must be given for exactly the organisations {sorted(self.gateways)}; "
                f"missing {missing}, unknown {unknown}"
            )
        parties = {
            org: Party(gw, self.session_id, channel=self.channel)
            for org, gw in self.gateways.items()
        }
        for org, party in parties.items():
            party.prepare(values[org], self.scale_bits)
            length = len(np.asarray(values[org]))
            if length != self.vector_length:
                raise InvalidRequestError(
                    f"{org}'s input has {length} elements; the session's vectors have "
                    f"{self.vector_length}"
                )
        _ledger.open_session(
            self.aggregator,
            self.session_id,
            sorted(p.msp for p in parties.values()),
            self.vector_length,
            scale_bits=self.scale_bits,
            description=self.description,
            channel=self.channel,
        )
        for party in parties.values():
            party.register_key()
        masked = [party.mask_and_anchor() for party in parties.values()]
        return Aggregator(self.aggregator, self.session_id, channel=self.channel).aggregate(
            masked, shape
        )


def secure_sum(
    gateways: Mapping[str, Gateway],
    values: Mapping[str, npt.ArrayLike],
    session_id: str,
    *,
    scale_bits: int = DEFAULT_SCALE_BITS,
    aggregator: Gateway | None = None,
    description: str = "",
    channel: str = DEFAULT_CHANNEL,
) -> SecureSum:
    """The elementwise sum of each organisation's array (all of one shape), securely.

    Arrays of any shape are flattened for the session and the sum is given
    back in that shape.
    """
    arrays = {org: np.asarray(v, dtype=np.float64) for org, v in values.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1:
        raise InvalidRequestError(f"every organisation's array must have one shape, got {shapes}")
    (shape,) = shapes
    size = int(np.prod(shape, dtype=np.int64))
    session = SecureSession(
        gateways,
        session_id,
        size,
        scale_bits=scale_bits,
        aggregator=aggregator,
        description=description,
        channel=channel,
    )
    return session.run({org: a.reshape(-1) for org, a in arrays.items()}, shape)
