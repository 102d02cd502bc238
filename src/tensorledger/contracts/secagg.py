"""SecureAggregationContract (chaincode `secagg`): secure-aggregation sessions on the ledger.

The ledger is the protocol's bulletin board and its PKI: each party's
ephemeral X25519 key is bound to its MSP by a signed transaction (so an
aggregator cannot swap keys and unmask a party), each party anchors the
SHA-256 of its masked vector before the aggregator sums, and the aggregate is
recorded only when the masked vectors it was computed from match every anchor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tensorledger.contracts import _records as r
from tensorledger.contracts._base import Contract, TransactionContext

KIND = "session"
LABEL = "Session"
MIN_PARTIES = 2
MAX_PARTIES = 100
#: the aggregate goes on the chain as decimal strings (≤ 40 characters each), so
#: 16384 elements keep the record well under the 1 MiB record bound
MAX_VECTOR_LENGTH = 16_384
#: fixed-point scale 2^scale; 96 leaves 15 bits of integer part below the headroom
MAX_SCALE = 96
MAX_DESCRIPTION = 1024
#: the ring is Z/2^128; aggregates are recorded as signed representatives
MODULUS_BITS = 128
_LOW = -(1 << (MODULUS_BITS - 1))
_HIGH = (1 << (MODULUS_BITS - 1)) - 1
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,38})")
_KEY_HEX = re.compile(r"[0-9a-f]{64}")
EVENTS = {
    "open": "SecAggSessionOpened",
    "key": "SecAggKeyRegistered",
    "masked": "SecAggMaskedRecorded",
    "aggregate": "SecAggAggregateRecorded",
}


def _bounded_int(low: int, high: int) -> Callable[[r.Fields, str, Any], int]:
    def rule(f: r.Fields, name: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise f.fail(name, f"an integer from {low} to {high}", value)
        return value

    return rule


def _parties(f: r.Fields, name: str, value: Any) -> list[str]:
    """Distinct MSP ids, stored sorted: the masking protocol orders parties by MSP id."""
    if not isinstance(value, list) or not MIN_PARTIES <= len(value) <= MAX_PARTIES:
        raise f.fail(name, f"an array of {MIN_PARTIES} to {MAX_PARTIES} MSP ids", value)
    out = [r.identifier(f, f"{name}[{i}]", v) for i, v in enumerate(value)]
    if len(set(out)) != len(out):
        raise r.RecordError(f"{f.kind} record: field '{name}' lists an MSP twice")
    return sorted(out)


def parse_session(text: str) -> dict[str, Any]:
    """Check a caller's session record and return it normalised (defaults filled in)."""
    f = r.Fields(KIND, text)
    f.need("id", r.identifier)
    f.need("parties", _parties)
    f.need("vectorLength", _bounded_int(1, MAX_VECTOR_LENGTH))
    f.need("scale", _bounded_int(0, MAX_SCALE))
    f.may("description", r.text(MAX_DESCRIPTION), "")
    return f.done()


def _hashes(f: r.Fields, name: str, value: Any) -> dict[str, str]:
    """{msp: digest} — which parties must appear is checked against the session."""
    if not isinstance(value, dict) or len(value) > MAX_PARTIES:
        raise f.fail(name, f"an object of at most {MAX_PARTIES} {{msp: digest}} entries", value)
    return {msp: r.digest(f, f"{name}.{msp}", v) for msp, v in value.items()}


def _aggregate(f: r.Fields, name: str, value: Any) -> list[str]:
    """Decimal strings of integers in [-2^127, 2^127): the signed sum in Z/2^128."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_VECTOR_LENGTH:
        raise f.fail(name, f"an array of 1 to {MAX_VECTOR_LENGTH} decimal strings", value)
    for i, item in enumerate(value):
        if (
            not isinstance(item, str)
            or not _INTEGER.fullmatch(item)
            or not _LOW <= int(item) <= _HIGH
            or item == "-0"
        ):
            raise f.fail(f"{name}[{i}]", "a decimal integer string from -2^127 to 2^127-1", item)
    return list(value)


def parse_aggregate(text: str) -> dict[str, Any]:
    """Check an aggregator's record: {session, maskedHashes, aggregate}."""
    f = r.Fields("aggregate", text)
    f.need("session", r.identifier)
    f.need("maskedHashes", _hashes)
    f.need("aggregate", _aggregate)
    return f.done()


def _session_key(session_id: str) -> str:
    return f"{KIND}/{session_id}"


def _part_key(session_id: str, part: str, msp: str | None = None) -> str:
    # '/' never occurs in ids, so these keys never collide with another session's
    return f"{KIND}/{session_id}/{part}" + (f"/{msp}" if msp else "")


def _creator_msp(ctx: TransactionContext) -> str:
    return str(ctx.get_stub().get_creator()["mspid"])


def _entry(ctx: TransactionContext, **fields: Any) -> bytes:
    """A party's key or anchor, stamped with the facts of the transaction that wrote it."""
    stub = ctx.get_stub()
    timestamp = stub.get_tx_timestamp()
    if timestamp is None:
        raise r.RecordError("the transaction carries no timestamp")
    return r.canonical(
        {**fields, "txId": stub.get_txid(), "timestamp": timestamp.ToJsonString()}
    ).encode("utf-8")


class SecureAggregationContract(Contract):
    """Sessions, written once part by part: keys, masked-input hashes, then the aggregate.

    Each party's key and anchor has its own key in world state, so parties
    registering at the same time never conflict; the aggregate reads them all,
    so it commits only against the anchors it was checked with.
    """

    Name = "SecureAggregationContract"

    def get_evaluate_transactions(self) -> list[str]:
        """Queries, so Fabric's metadata marks them evaluate-only."""
        return ["GetSession"]

    async def OpenSession(self, ctx: TransactionContext, sessionJSON: str) -> str:
        """Open a session {id, parties, vectorLength, scale, description}; ids are unique."""
        record = parse_session(sessionJSON)
        r.stamp(ctx, record)
        stub = ctx.get_stub()
        key = _session_key(record["id"])
        if await stub.get_state(key):
            raise r.RecordError(f"{LABEL} {record['id']} already exists; sessions are opened once")
        body = r.canonical(record)
        await stub.put_state(key, body.encode("utf-8"))
        stub.set_event(EVENTS["open"], key.encode("utf-8"))
        return body

    async def RegisterKey(self, ctx: TransactionContext, sessionId: str, publicKeyHex: str) -> str:
        """The creator's ephemeral X25519 public key (64 hex digits), once per party.

        Returns the stored entry {msp, publicKey, txId, timestamp}.
        """
        session = await self._session(ctx, sessionId)
        msp = self._party(session, _creator_msp(ctx), "register a key")
        if not _KEY_HEX.fullmatch(publicKeyHex):
            raise r.RecordError(
                f"{LABEL} {sessionId}: the public key must be 64 lower-case hex digits "
                f"(a 32-byte X25519 key), got {len(publicKeyHex)} characters"
            )
        stub = ctx.get_stub()
        key = _part_key(sessionId, "key", msp)
        if await stub.get_state(key):
            raise r.RecordError(f"{LABEL} {sessionId}: {msp} has already registered its key")
        # An index by key value catches a copied key with one read, so parties
        # registering different keys at once touch disjoint keys and never conflict.
        index = _part_key(sessionId, "pubkey", publicKeyHex)
        holder = await stub.get_state(index)
        if holder:
            raise r.RecordError(
                f"{LABEL} {sessionId}: this public key is already registered by "
                f"{bytes(holder).decode('utf-8')}"
            )
        body = _entry(ctx, msp=msp, publicKey=publicKeyHex)
        await stub.put_state(key, body)
        await stub.put_state(index, msp.encode("utf-8"))
        stub.set_event(EVENTS["key"], key.encode("utf-8"))
        return body.decode("utf-8")  # not the session: reading peers' keys would conflict

    async def RecordMasked(self, ctx: TransactionContext, sessionId: str, maskedHash: str) -> str:
        """Anchor the SHA-256 of the creator's masked vector, once, after every key is in.

        Returns the stored entry {msp, maskedHash, txId, timestamp}.
        """
        session = await self._session(ctx, sessionId)
        msp = self._party(session, _creator_msp(ctx), "anchor a masked input")
        if not re.fullmatch(r"[0-9a-f]{64}", maskedHash):
            raise r.RecordError(
                f"{LABEL} {sessionId}: the masked hash must be a SHA-256 digest of 64 "
                "lower-case hex digits"
            )
        await self._require_all(ctx, session, "key", "keys", "masked inputs are anchored")
        stub = ctx.get_stub()
        key = _part_key(sessionId, "masked", msp)
        if await stub.get_state(key):
            raise r.RecordError(f"{LABEL} {sessionId}: {msp} has already anchored its masked input")
        body = _entry(ctx, msp=msp, maskedHash=maskedHash)
        await stub.put_state(key, body)
        stub.set_event(EVENTS["masked"], key.encode("utf-8"))
        return body.decode("utf-8")

    async def RecordAggregate(self, ctx: TransactionContext, recordJSON: str) -> str:
        """Record the unmasked aggregate, checked against every party's anchored hash.

        Any organisation of the channel may aggregate; the masked vectors it
        summed must hash to what each party anchored (the submitted hashes are
        compared, the vectors themselves stay off the chain).
        """
        record = parse_aggregate(recordJSON)
        r.stamp(ctx, record)
        session_id = record["session"]
        session = await self._session(ctx, session_id)
        stub = ctx.get_stub()
        key = _part_key(session_id, "aggregate")
        if await stub.get_state(key):
            raise r.RecordError(f"{LABEL} {session_id} already has an aggregate; it is final")
        await self._require_all(ctx, session, "key", "keys", "the aggregate is recorded")
        anchored = await self._require_all(
            ctx, session, "masked", "masked inputs", "the aggregate is recorded"
        )
        given = record["maskedHashes"]
        strangers = sorted(set(given) - set(session["parties"]))
        if strangers:
            raise r.RecordError(
                f"{LABEL} {session_id}: {strangers[0]} is not a party and has no masked input"
            )
        for msp in session["parties"]:
            if msp not in given:
                raise r.RecordError(f"{LABEL} {session_id}: no masked hash given for {msp}")
            if given[msp] != anchored[msp]["maskedHash"]:
                raise r.RecordError(
                    f"{LABEL} {session_id}: the masked vector of {msp} hashes to {given[msp]}, "
                    f"not to the hash {msp} anchored ({anchored[msp]['maskedHash']})"
                )
        if len(record["aggregate"]) != session["vectorLength"]:
            raise r.RecordError(
                f"{LABEL} {session_id}: the aggregate has {len(record['aggregate'])} elements; "
                f"the session's vectors have {session['vectorLength']}"
            )
        body = r.canonical(record)
        await stub.put_state(key, body.encode("utf-8"))
        stub.set_event(EVENTS["aggregate"], key.encode("utf-8"))
        return body

    async def GetSession(self, ctx: TransactionContext, sessionId: str) -> str:
        """The session with its keys, anchors, aggregate (or null) and status."""
        session = await self._session(ctx, sessionId)
        keys = await self._parts(ctx, session, "key")
        masked = await self._parts(ctx, session, "masked")
        raw = await ctx.get_stub().get_state(_part_key(sessionId, "aggregate"))
        aggregate = json.loads(bytes(raw)) if raw else None
        parties = len(session["parties"])
        status = (
            "aggregated"
            if aggregate
            else "ready"
            if len(masked) == parties
            else "masking"
            if len(keys) == parties
            else "keys"
        )
        view = {
            **session,
            "keys": {msp: entry["publicKey"] for msp, entry in keys.items()},
            "maskedHashes": {msp: entry["maskedHash"] for msp, entry in masked.items()},
            "aggregate": aggregate,
            "status": status,
        }
        return r.canonical(view)

    # -- reads shared by the transactions --------------------------------------------------

    @staticmethod
    async def _session(ctx: TransactionContext, session_id: str) -> dict[str, Any]:
        r.check_id(LABEL, session_id)
        raw = await ctx.get_stub().get_state(_session_key(session_id))
        if not raw:
            raise r.RecordError(f"{LABEL} {session_id} does not exist.")
        found: dict[str, Any] = json.loads(bytes(raw))
        return found

    @staticmethod
    def _party(session: dict[str, Any], msp: str, action: str) -> str:
        if msp not in session["parties"]:
            raise r.RecordError(
                f"{LABEL} {session['id']}: {msp} is not a party and may not {action} "
                f"(parties: {', '.join(session['parties'])})"
            )
        return msp

    @staticmethod
    async def _parts(
        ctx: TransactionContext, session: dict[str, Any], part: str
    ) -> dict[str, dict[str, Any]]:
        # One point read per party (not a range scan): each read joins the read set.
        found = {}
        for msp in session["parties"]:
            raw = await ctx.get_stub().get_state(_part_key(session["id"], part, msp))
            if raw:
                found[msp] = json.loads(bytes(raw))
        return found

    async def _require_all(
        self, ctx: TransactionContext, session: dict[str, Any], part: str, what: str, until: str
    ) -> dict[str, dict[str, Any]]:
        found = await self._parts(ctx, session, part)
        missing = [msp for msp in session["parties"] if msp not in found]
        if missing:
            raise r.RecordError(
                f"{LABEL} {session['id']} lacks {what} from {', '.join(missing)}; "
                f"every party's {what} must be in before {until}"
            )
        return found
