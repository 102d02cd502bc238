"""Secure FedAvg: clients send masked, pre-weighted contributions; only their sum is ever seen.

Each client turns its update into one float64 vector ``[n·w (every tensor,
flattened, in model order), n]`` and masks it with `tensorledger.secagg`'s
pairwise masks over Z/2^128 (fixed point, 2^-SCALE_BITS resolution). The
aggregator sums the masked vectors, in which the masks cancel, and divides
Σ n·w by Σ n: the example-weighted mean, without holding any client's update.

A secagg session holds at most `MAX_VECTOR_LENGTH` elements, so a longer
vector is cut into consecutive spans, one session per span, all opened for
the round with the same parties; session ``k`` of round ``r`` of job ``J`` is
``<J>.r<r>.s<k>``. The masked vector a client sent is stored as one object
(the spans' 16-byte little-endian ring elements, concatenated); its SHA-256
is the round record's ``updateRoot`` and equals, span by span, the hashes each
client anchored in the secagg sessions. `combine` is the one function both
the aggregator and `verify_round` use to turn decoded sums into weights, so
a recomputation gives ``globalAfter`` bit for bit.

Why the result only approximates plain FedAvg: each client's n·w is rounded
to a multiple of 2^-SCALE_BITS before masking (float32 weights times an
integer count are exact in float64, the rounding is not), and the sum is
then divided in float64 and cast to float32 once, where Flower's FedAvg
multiplies, sums and divides in float32. The two differ by float32 rounding,
a few ulps of each weight, not by anything a client could hide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tensorledger import blobs
from tensorledger.contracts.secagg import MAX_VECTOR_LENGTH
from tensorledger.errors import IntegrityError, InvalidRequestError, NotFoundError
from tensorledger.gateway import Gateway
from tensorledger.secagg.encoding import (
    DEFAULT_SCALE_BITS,
    ELEMENT_BYTES,
    RingVector,
    decode,
    from_bytes,
    to_bytes,
)

NDArrays = list[npt.NDArray[Any]]
#: fixed-point bits of every secure round: |n·w| may reach 2^(127-16-48) = 2^63
SCALE_BITS = DEFAULT_SCALE_BITS
#: media type of a stored masked contribution
MASKED_MEDIA = "application/vnd.tensorledger.masked-update"
#: config key carrying a round's session ids to clients (comma-separated)
SESSIONS_KEY = "secaggSessions"


@dataclass(frozen=True)
class Layout:
    """The model's tensors as the contribution vector lays them out: names, shapes, dtypes."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[str, ...]

    @classmethod
    def of(cls, names: Sequence[str], arrays: Sequence[npt.NDArray[Any]]) -> Layout:
        """The layout of ``arrays`` named ``names``."""
        return cls(
            tuple(names),
            tuple(tuple(int(d) for d in a.shape) for a in arrays),
            tuple(np.asarray(a).dtype.name for a in arrays),
        )

    @property
    def length(self) -> int:
        """Elements of a contribution: every weight, plus the example count."""
        return sum(int(np.prod(s, dtype=np.int64)) for s in self.shapes) + 1

    def to_json(self) -> list[dict[str, Any]]:
        """``[{name, shape, dtype}]``, as the masked object's metadata keeps it."""
        return [
            {"name": n, "shape": list(s), "dtype": d}
            for n, s, d in zip(self.names, self.shapes, self.dtypes, strict=True)
        ]

    @classmethod
    def from_json(cls, value: Any) -> Layout:
        """From `to_json` output; ValueError/KeyError/TypeError when malformed."""
        return cls(
            tuple(str(t["name"]) for t in value),
            tuple(tuple(int(d) for d in t["shape"]) for t in value),
            tuple(str(np.dtype(t["dtype"]).name) for t in value),
        )


def session_ids(job: str, round_number: int, length: int) -> list[str]:
    """One session per span of at most `MAX_VECTOR_LENGTH` elements (ids ≤ 128 characters)."""
    prefix = job if len(job) <= 96 else hashlib.sha256(job.encode("utf-8")).hexdigest()[:32]
    count = -(-length // MAX_VECTOR_LENGTH)
    return [f"{prefix}.r{round_number}.s{k}" for k in range(count)]


def spans(length: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each session's part of a ``length``-element vector."""
    return [
        (start, min(start + MAX_VECTOR_LENGTH, length))
        for start in range(0, length, MAX_VECTOR_LENGTH)
    ]


def contribution(arrays: Sequence[npt.NDArray[Any]], num_examples: int) -> npt.NDArray[np.float64]:
    """``[n·w..., n]`` in float64: exact for float32 weights and counts below 2^29."""
    flat = [np.asarray(a, dtype=np.float64).reshape(-1) * num_examples for a in arrays]
    return np.concatenate([*flat, np.array([float(num_examples)])])


def combine(layout: Layout, summed: npt.NDArray[np.float64]) -> NDArrays:
    """The example-weighted mean from the decoded sum ``[Σ n·w..., Σ n]``, in the model's dtypes."""
    if summed.shape != (layout.length,):
        raise InvalidRequestError(
            f"a summed contribution has {summed.shape} elements; the model needs {layout.length}"
        )
    count = float(summed[-1])
    if not count >= 1:
        raise InvalidRequestError(f"the summed example count is {count}; at least 1 is needed")
    mean = summed[:-1] / count
    out: NDArrays = []
    start = 0
    for shape, dtype in zip(layout.shapes, layout.dtypes, strict=True):
        size = int(np.prod(shape, dtype=np.int64))
        out.append(mean[start : start + size].reshape(shape).astype(dtype))
        start += size
    return out


def decode_sums(
    sums: Sequence[RingVector], scale_bits: int = SCALE_BITS
) -> npt.NDArray[np.float64]:
    """Each session's ring sum decoded, concatenated in session order."""
    return np.concatenate([decode(s, scale_bits) for s in sums])


def wire(ring: RingVector) -> npt.NDArray[np.uint64]:
    """A ring vector as Flower can carry it: ``(length, 2)`` little-endian uint64 limbs."""
    return np.frombuffer(to_bytes(ring), dtype="<u8").reshape(-1, 2).astype(np.uint64)


def unwire(array: npt.NDArray[Any], where: str) -> RingVector:
    """The ring vector of `wire` output; InvalidRequestError when it is not one."""
    data = np.asarray(array)
    if data.dtype != np.uint64 or data.ndim != 2 or data.shape[1] != 2:
        raise InvalidRequestError(
            f"{where} is {data.dtype}{list(data.shape)}, not a masked vector (uint64[n, 2])"
        )
    return from_bytes(data.astype("<u8").tobytes())


@dataclass(frozen=True)
class StoredMasked:
    """A stored masked contribution: SHA-256 of its bytes (updateRoot) and its object digest."""

    root: str
    object: str


def store_masked(
    gw: Gateway,
    layout: Layout,
    sessions: Sequence[str],
    msp: str,
    vectors: Sequence[RingVector],
) -> StoredMasked:
    """Store one client's masked vectors (one per session) as one object; root and object."""
    data = b"".join(to_bytes(v) for v in vectors)
    _, digest = blobs.put_object(
        blobs.store_for(gw.root),
        data,
        media_type=MASKED_MEDIA,
        metadata={
            "msp": msp,
            "sessions": list(sessions),
            "lengths": [len(v) for v in vectors],
            "scaleBits": SCALE_BITS,
            "tensors": layout.to_json(),
        },
    )
    return StoredMasked(hashlib.sha256(data).hexdigest(), digest)


@dataclass(frozen=True)
class FetchedMasked:
    """A masked contribution read back and checked against its recorded root."""

    layout: Layout
    sessions: tuple[str, ...]
    scale_bits: int
    parts: tuple[bytes, ...]  # each session's canonical bytes, in session order


def fetch_masked(gw: Gateway, update_object: str, update_root: str, where: str) -> FetchedMasked:
    """A stored masked contribution, verified chunk by chunk and against ``update_root``."""
    store = blobs.store_for(gw.root)
    try:
        manifest = blobs.get_manifest(store, update_object)
    except NotFoundError:
        raise IntegrityError(
            f"{where} object", f"{update_object} is not in the chunk store"
        ) from None
    except (IntegrityError, InvalidRequestError) as exc:
        detail = exc.detail if isinstance(exc, IntegrityError) else str(exc)
        raise IntegrityError(f"{where} object", detail) from None
    data = b"".join(blobs.iter_chunks(store, manifest, where=where))
    actual = hashlib.sha256(data).hexdigest()
    if actual != update_root:
        raise IntegrityError(
            where, f"its masked vector hashes to {actual}, the ledger records {update_root}"
        )
    meta = manifest.metadata
    try:
        layout = Layout.from_json(meta["tensors"])
        sessions = tuple(str(s) for s in meta["sessions"])
        lengths = [int(n) for n in meta["lengths"]]
        scale_bits = int(meta["scaleBits"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"{where} object", f"its metadata is malformed: {exc!r}") from None
    if sum(lengths) * ELEMENT_BYTES != len(data) or len(lengths) != len(sessions):
        raise IntegrityError(
            f"{where} object", f"holds {len(data)} bytes, its metadata lists spans {lengths}"
        )
    parts = []
    start = 0
    for n in lengths:
        parts.append(data[start : start + n * ELEMENT_BYTES])
        start += n * ELEMENT_BYTES
    return FetchedMasked(layout, sessions, scale_bits, tuple(parts))


def received_sessions(config: Mapping[str, Any]) -> list[str]:
    """The session ids a fit or properties instruction carries ([] for a plain round)."""
    value = config.get(SESSIONS_KEY)
    return [s for s in str(value).split(",") if s] if value else []


__all__ = [
    "MASKED_MEDIA",
    "SCALE_BITS",
    "SESSIONS_KEY",
    "FetchedMasked",
    "Layout",
    "StoredMasked",
    "combine",
    "contribution",
    "decode_sums",
    "fetch_masked",
    "received_sessions",
    "session_ids",
    "spans",
    "store_masked",
    "unwire",
    "wire",
]
