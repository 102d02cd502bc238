"""What the registry contracts share: strict record parsing, field rules, keys and versions.

Every record arrives as JSON text from a client the ledger does not trust, so
each field is checked here against one rule that names it when it fails;
the contract then adds the facts only the ledger knows (who, which tx, when).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from tensorledger.contracts._base import TransactionContext
from tensorledger.crypto.msp import Identity

#: ids of datasets, models and analyses: they become key segments, so no '/' and bounded
ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
_ID = re.compile(ID_PATTERN)
_REF = re.compile(rf"({ID_PATTERN})@([1-9][0-9]{{0,9}})")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_VERSION_ARG = re.compile(r"[1-9][0-9]{0,9}")

#: a record is a few hundred bytes to a few hundred KB (per-tensor hashes); 1 MiB bounds it
MAX_RECORD_BYTES = 1 << 20
#: versions are stored zero-padded to 10 digits so that key order is version order
MAX_VERSION = 2**31 - 1
MAX_COUNT = 2**63 - 1
MAX_REFS = 256
MAX_TAGS = 64
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 1024
MAX_ENTRIES = 4096
MAX_DEPTH = 16
#: fields the contract fills from the transaction; a caller that sends them is refused
STAMPED = ("owner", "registeredBy", "txId", "timestamp")


class RecordError(ValueError):
    """A record breaks a rule; the text is what the client's ContractError carries."""


def canonical(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces, ASCII): what every peer writes alike.

    ASCII escapes keep any text a caller sends, even a lone surrogate that
    JSON allows and UTF-8 cannot encode, storable and byte-for-byte stable.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise RecordError(f"duplicate field {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> None:
    raise RecordError(f"{name} is not a JSON number; use finite numbers")


class Fields:
    """One record being checked: take each field through a rule, then refuse leftovers.

    The normalised record holds only fields a rule accepted, with defaults
    filled in, so stored records always have the same shape.
    """

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        if len(text.encode("utf-8")) > MAX_RECORD_BYTES:
            raise RecordError(f"{kind} record is larger than {MAX_RECORD_BYTES} bytes")
        try:
            raw = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
        except RecordError as exc:
            raise RecordError(f"{kind} record: {exc}") from None
        except (ValueError, RecursionError) as exc:
            raise RecordError(f"{kind} record is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise RecordError(f"{kind} record must be a JSON object, got {_kind_of(raw)}")
        for name in STAMPED:
            if name in raw:
                raise RecordError(
                    f"{kind} record: field '{name}' is filled in by the contract "
                    "from the transaction and must not be given"
                )
        self.raw = raw
        self.out: dict[str, Any] = {}

    def fail(self, field: str, rule: str, value: Any) -> RecordError:
        """The error for `field` breaking `rule`, naming what was found."""
        return RecordError(
            f"{self.kind} record: field '{field}' must be {rule}, got {_shown(value)}"
        )

    def need(self, name: str, check: Callable[[Fields, str, Any], Any]) -> Any:
        """A required field through its rule."""
        if name not in self.raw:
            raise RecordError(f"{self.kind} record: missing required field '{name}'")
        self.out[name] = check(self, name, self.raw[name])
        return self.out[name]

    def may(self, name: str, check: Callable[[Fields, str, Any], Any], default: Any) -> Any:
        """An optional field through its rule; absent (or null) means `default`."""
        value = self.raw.get(name)
        self.out[name] = default if value is None else check(self, name, value)
        return self.out[name]

    def done(self) -> dict[str, Any]:
        """The normalised record; refuses fields no rule took."""
        extra = sorted(set(self.raw) - set(self.out))
        if extra:
            raise RecordError(f"{self.kind} record: unknown field '{extra[0]}'")
        return self.out


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),
    ((int, float), "a number"),
    (str, "a string"),
    (list, "an array"),
)


def _kind_of(value: Any) -> str:
    return next((name for typ, name in _KINDS if isinstance(value, typ)), "an object")


def _shown(value: Any) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = json.dumps(value)
        return text if len(text) <= 80 else f"{text[:77]}..."
    return _kind_of(value)


# -- field rules: (fields, name, value) -> normalised value ---------------------------------


def identifier(f: Fields, name: str, value: Any) -> str:
    """An id: letters, digits, '.', '_', '-', starting with a letter or digit, ≤ 128 chars."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise f.fail(name, f"an id matching {ID_PATTERN}", value)
    return value


def version(f: Fields, name: str, value: Any) -> int:
    """A version number: an integer from 1 to 2^31-1."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_VERSION:
        raise f.fail(name, f"an integer from 1 to {MAX_VERSION}", value)
    return value


def count(f: Fields, name: str, value: Any) -> int:
    """A size or count: an integer ≥ 0."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
        raise f.fail(name, "an integer ≥ 0", value)
    return value


def digest(f: Fields, name: str, value: Any) -> str:
    """A SHA-256 digest as 64 lower-case hex digits (what blobs and merkle produce)."""
    if not isinstance(value, str) or not _HEX64.fullmatch(value):
        raise f.fail(name, "a SHA-256 digest of 64 lower-case hex digits", value)
    return value


def boolean(f: Fields, name: str, value: Any) -> bool:
    """A JSON boolean."""
    if not isinstance(value, bool):
        raise f.fail(name, "true or false", value)
    return value


def text(limit: int, pattern: str | None = None) -> Callable[[Fields, str, Any], str]:
    """A rule for non-empty text of at most `limit` characters (matching `pattern`)."""
    compiled = re.compile(pattern) if pattern else None

    def rule(f: Fields, name: str, value: Any) -> str:
        if (
            not isinstance(value, str)
            or not 0 < len(value) <= limit
            or (compiled is not None and not compiled.fullmatch(value))
        ):
            what = f"text matching {pattern}" if pattern else "non-empty text"
            raise f.fail(name, f"{what} of at most {limit} characters", value)
        return value

    return rule


def ref(f: Fields, name: str, value: Any) -> str:
    """A reference to one version: 'id@version'."""
    if not isinstance(value, str) or parse_ref(value) is None:
        raise f.fail(name, "a reference 'id@version' (version ≥ 1)", value)
    return value


def refs(f: Fields, name: str, value: Any) -> list[str]:
    """A list of distinct 'id@version' references."""
    if not isinstance(value, list) or len(value) > MAX_REFS:
        raise f.fail(name, f"an array of at most {MAX_REFS} references 'id@version'", value)
    out = [ref(f, f"{name}[{i}]", v) for i, v in enumerate(value)]
    if len(set(out)) != len(out):
        raise RecordError(f"{f.kind} record: field '{name}' lists a reference twice")
    return out


def tags(f: Fields, name: str, value: Any) -> dict[str, str]:
    """Free-form labels such as consent or licence: text keys to text values, bounded."""
    if not isinstance(value, dict) or len(value) > MAX_TAGS:
        raise f.fail(name, f"an object of at most {MAX_TAGS} tags", value)
    for key, tag in value.items():
        if not 0 < len(key) <= MAX_TAG_KEY:
            raise RecordError(
                f"{f.kind} record: field '{name}' has a tag name that is empty or longer "
                f"than {MAX_TAG_KEY} characters"
            )
        if not isinstance(tag, str) or len(tag) > MAX_TAG_VALUE:
            raise f.fail(f"{name}.{key}", f"text of at most {MAX_TAG_VALUE} characters", tag)
    return dict(value)


def json_object(f: Fields, name: str, value: Any) -> dict[str, Any]:
    """Any JSON object (parameters, results), with bounded entries and nesting."""
    if not isinstance(value, dict) or len(value) > MAX_ENTRIES:
        raise f.fail(name, f"a JSON object of at most {MAX_ENTRIES} entries", value)
    _check_depth(f, name, value, 0)
    return value


def _check_depth(f: Fields, name: str, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise RecordError(f"{f.kind} record: field '{name}' nests deeper than {MAX_DEPTH} levels")
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    for child in children:
        _check_depth(f, name, child, depth + 1)


def number(f: Fields, name: str, value: Any) -> float | int:
    """A finite JSON number (booleans are not numbers)."""
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        raise f.fail(name, "a finite number", value)
    return value


def parse_ref(value: str) -> tuple[str, int] | None:
    """('id', version) of 'id@version', or None when it is not one."""
    match = _REF.fullmatch(value)
    if match is None or int(match.group(2)) > MAX_VERSION:
        return None
    return match.group(1), int(match.group(2))


# -- arguments of queries --------------------------------------------------------------------


def check_id(label: str, value: str) -> str:
    """An id argument of a query, refused with its label when malformed."""
    if not _ID.fullmatch(value):
        raise RecordError(f"{label} id {value!r} must match {ID_PATTERN}")
    return value


def check_version_arg(label: str, value: str) -> int | None:
    """A version argument: 'latest' (None) or a decimal version ≥ 1."""
    if value == "latest":
        return None
    if not _VERSION_ARG.fullmatch(value) or int(value) > MAX_VERSION:
        raise RecordError(f"{label} version {value!r} must be 'latest' or an integer ≥ 1")
    return int(value)


# -- stamping: the facts only the transaction knows -------------------------------------------


def stamp(ctx: TransactionContext, record: dict[str, Any]) -> str:
    """Add owner (creator MSP), registeredBy (creator CN), txId and timestamp; return the MSP.

    Read from the signed proposal, never from the caller's JSON, so a record
    cannot claim another organisation or another time.
    """
    stub = ctx.get_stub()
    creator = stub.get_creator()
    identity = Identity(msp_id=creator["mspid"], cert_pem=bytes(creator["idBytes"]))
    timestamp = stub.get_tx_timestamp()
    if timestamp is None:
        raise RecordError("the transaction carries no timestamp")
    record["owner"] = identity.msp_id
    record["registeredBy"] = identity.common_name
    record["txId"] = stub.get_txid()
    record["timestamp"] = timestamp.ToJsonString()
    return identity.msp_id


# -- versioned records: <kind>/<id>/<version:010d> and <kind>/<id>/latest ------------------------


def version_key(kind: str, record_id: str, number: int) -> str:
    """The key of one version; zero padding makes key order version order."""
    return f"{kind}/{record_id}/{number:010d}"


def latest_key(kind: str, record_id: str) -> str:
    """The key holding the newest version number of an id."""
    return f"{kind}/{record_id}/latest"


def id_range(kind: str, record_id: str) -> tuple[str, str]:
    """[start, end) covering exactly one id's keys: ids hold no '/' and '0' follows '/'."""
    return f"{kind}/{record_id}/", f"{kind}/{record_id}0"


async def latest_version(ctx: TransactionContext, kind: str, record_id: str) -> int:
    """The newest version of an id, 0 when there is none (the read is in the rwset)."""
    raw = await ctx.get_stub().get_state(latest_key(kind, record_id))
    return int(bytes(raw).decode()) if raw else 0


async def check_next_version(
    ctx: TransactionContext, kind: str, label: str, record_id: str, number: int, creator: str
) -> None:
    """Refuse anything but latest+1, and any version from an organisation other than the owner.

    Both keys read here land in the read set, so two transactions racing for
    the same version cannot both commit: the second fails MVCC validation.
    """
    stub = ctx.get_stub()
    latest = await latest_version(ctx, kind, record_id)
    if latest:
        current = json.loads(bytes(await stub.get_state(version_key(kind, record_id, latest))))
        if current["owner"] != creator:
            raise RecordError(
                f"{label} {record_id} belongs to {current['owner']}; only {current['owner']} "
                f"may add versions (caller is {creator})"
            )
    existing = await stub.get_state(version_key(kind, record_id, number))
    if existing:
        raise RecordError(
            f"{label} {record_id}@{number} already exists; versions are append-only "
            f"and never overwritten (the next version is {latest + 1})"
        )
    if number != latest + 1:
        raise RecordError(
            f"{label} {record_id}: version {number} is not the next version; versions are "
            f"append-only, so the next version must be {latest + 1}"
        )


async def require_versions(
    ctx: TransactionContext, kind: str, record: str, field: str, references: list[str]
) -> None:
    """Every 'id@version' in `field` must be registered in this namespace.

    The reads land in the read set; registered versions are never removed,
    so what exists at endorsement still exists at commit.
    """
    for reference in references:
        parsed = parse_ref(reference)
        if parsed is None or not await ctx.get_stub().get_state(version_key(kind, *parsed)):
            raise RecordError(
                f"{record} record: field '{field}' names {kind} {reference}, which does not exist"
            )


async def registered_dataset(
    ctx: TransactionContext, record: str, field: str, reference: str
) -> dict[str, Any]:
    """The dataset record `reference` names, read from the `datasets` chaincode.

    A chaincode-to-chaincode call: the read joins this transaction's read set,
    so the decision is checked again at commit like any other read.
    """
    parsed = parse_ref(reference)
    if parsed is None:
        raise RecordError(f"{record} record: field '{field}' is not 'id@version': {reference!r}")
    response = await ctx.get_stub().invoke_chaincode(
        "datasets", ["GetDataset", parsed[0], str(parsed[1])]
    )
    if response.status != 200:
        raise RecordError(
            f"{record} record: field '{field}' names dataset {reference}, which does not exist"
        )
    found: dict[str, Any] = json.loads(bytes(response.payload))
    return found


async def put_version(
    ctx: TransactionContext, kind: str, record: dict[str, Any], event: str
) -> str:
    """Write a new version and move `latest` to it; emit `event` with the record's key."""
    stub = ctx.get_stub()
    key = version_key(kind, record["id"], record["version"])
    body = canonical(record)
    await stub.put_state(key, body.encode("utf-8"))
    await stub.put_state(latest_key(kind, record["id"]), str(record["version"]).encode())
    stub.set_event(event, key.encode("utf-8"))
    return body


async def get_version(
    ctx: TransactionContext, kind: str, label: str, record_id: str, number: str
) -> str:
    """One version's record JSON ('latest' allowed); the not-found text names id and version."""
    check_id(label, record_id)
    wanted = check_version_arg(label, number)
    if wanted is None:
        wanted = await latest_version(ctx, kind, record_id)
        if not wanted:
            raise RecordError(f"{label} {record_id} does not exist.")
    raw = await ctx.get_stub().get_state(version_key(kind, record_id, wanted))
    if not raw:
        raise RecordError(f"{label} {record_id}@{wanted} does not exist.")
    return bytes(raw).decode("utf-8")


async def list_versions(ctx: TransactionContext, kind: str, label: str, record_id: str) -> str:
    """Every version of an id as a JSON array, oldest first ([] for an unknown id)."""
    check_id(label, record_id)
    start, end = id_range(kind, record_id)
    bodies = []
    async for kv in await ctx.get_stub().get_state_by_range(start, end):
        if not kv.key.endswith("/latest"):
            bodies.append(bytes(kv.value).decode("utf-8"))
    return "[" + ",".join(bodies) + "]"


async def list_latest(ctx: TransactionContext, kind: str) -> str:
    """The newest version of every id as a JSON array, in key order.

    One range scan over all of `kind`'s keys, so it reads every version: fine
    for registries of thousands of versions, and bounded by the simulator's
    range limit (MAX_RANGE_RESULTS keys) beyond that.
    """
    newest: dict[str, str] = {}
    async for kv in await ctx.get_stub().get_state_by_range(f"{kind}/", f"{kind}0"):
        record_id, _, leaf = kv.key[len(kind) + 1 :].rpartition("/")
        if leaf != "latest":
            newest[record_id] = bytes(kv.value).decode("utf-8")  # versions ascend: last wins
    return "[" + ",".join(newest.values()) + "]"
