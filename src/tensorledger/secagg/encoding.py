"""Fixed-point encoding of float64 vectors into the ring Z/2^128, and exact decoding of sums.

Masks only cancel in a ring, so values are scaled by 2^scale_bits, rounded to
integers and taken mod 2^128. A ring vector is a 1-D numpy array of dtype
object holding Python ints in [0, 2^128): exact at any size, and numpy's
elementwise `+`, `-` and `%` work on it unchanged. Each encoded magnitude is
kept below 2^(127 - HEADROOM_BITS), so a sum over up to 2^HEADROOM_BITS
parties never wraps and decodes exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from tensorledger.errors import InvalidRequestError

MODULUS_BITS = 128
MODULUS = 1 << MODULUS_BITS
_HALF = 1 << (MODULUS_BITS - 1)
#: bytes of one ring element on the wire (little-endian), what masked hashes cover
ELEMENT_BYTES = MODULUS_BITS // 8
DEFAULT_SCALE_BITS = 48
MAX_SCALE_BITS = 96
#: sums of up to 2^16 parties' encodings stay inside the signed range
HEADROOM_BITS = 16

RingVector = npt.NDArray[np.object_]


def encodable_bound(scale_bits: int = DEFAULT_SCALE_BITS) -> float:
    """The exclusive bound on |value|: 2^(127 - HEADROOM_BITS - scale_bits)."""
    _check_scale(scale_bits)
    return 2.0 ** (MODULUS_BITS - 1 - HEADROOM_BITS - scale_bits)


def encode(values: npt.ArrayLike, scale_bits: int = DEFAULT_SCALE_BITS) -> RingVector:
    """round(x · 2^scale_bits) mod 2^128 for each element of a 1-D float64 vector.

    Rounding is to the nearest integer (ties to even); the error per element
    is at most 2^-(scale_bits+1). InvalidRequestError names the first element
    that is not finite or whose magnitude reaches `encodable_bound`.
    """
    _check_scale(scale_bits)
    floats = _vector(values)
    with np.errstate(over="ignore", invalid="ignore"):  # huge values are refused just below
        rounded = np.rint(floats * 2.0**scale_bits)
    # 2^(127-h) is a power of two, so the float comparison is exact; inf compares too
    limit = 2.0 ** (MODULUS_BITS - 1 - HEADROOM_BITS)
    bad = np.flatnonzero(~np.isfinite(floats) | ~(np.abs(rounded) < limit))
    if bad.size:
        i = int(bad[0])
        value = float(floats[i])
        if not np.isfinite(value):
            raise InvalidRequestError(f"element {i} is {value}; only finite values encode")
        raise InvalidRequestError(
            f"element {i} ({value!r}) is outside the encodable range "
            f"±2^{MODULUS_BITS - 1 - HEADROOM_BITS - scale_bits} at scale 2^{scale_bits}"
        )
    return np.array([int(v) % MODULUS for v in rounded], dtype=object)


def decode(ring: Iterable[int], scale_bits: int = DEFAULT_SCALE_BITS) -> npt.NDArray[np.float64]:
    """The float64 nearest to each element's signed value / 2^scale_bits (correctly rounded).

    Python's int / int true division rounds once, so a sum decoded here is
    the float nearest the exact fixed-point sum, whatever its size.
    """
    _check_scale(scale_bits)
    denominator = 1 << scale_bits
    return np.array([v / denominator for v in signed(ring)], dtype=np.float64)


def signed(ring: Iterable[int]) -> list[int]:
    """Each element's representative in [-2^127, 2^127): the two's-complement reading."""
    out = []
    for element in ring:
        v = int(element)
        if not 0 <= v < MODULUS:
            raise InvalidRequestError(f"{v} is not an element of Z/2^{MODULUS_BITS}")
        out.append(v - MODULUS if v >= _HALF else v)
    return out


def from_signed(values: Iterable[int]) -> RingVector:
    """The ring vector of signed integers (the inverse of `signed`)."""
    out = []
    for v in values:
        if not -_HALF <= int(v) < _HALF:
            raise InvalidRequestError(f"{v} is outside [-2^127, 2^127)")
        out.append(int(v) % MODULUS)
    return np.array(out, dtype=object)


def to_bytes(ring: RingVector) -> bytes:
    """16 little-endian bytes per element: the canonical form that masked hashes cover."""
    return b"".join(int(v).to_bytes(ELEMENT_BYTES, "little") for v in ring)


def from_bytes(data: bytes) -> RingVector:
    """The ring vector of `to_bytes` output (or of any 16k bytes, e.g. a PRG stream)."""
    if len(data) % ELEMENT_BYTES:
        raise InvalidRequestError(
            f"{len(data)} bytes is not a whole number of {ELEMENT_BYTES}-byte ring elements"
        )
    limbs = np.frombuffer(data, dtype="<u8").reshape(-1, 2)
    low = limbs[:, 0].astype(object)
    high = limbs[:, 1].astype(object)
    ring: RingVector = low + (high << 64)
    return ring


def ring_sum(vectors: Iterable[RingVector]) -> RingVector:
    """The elementwise sum mod 2^128; every vector must have the same length."""
    total: RingVector | None = None
    for i, vector in enumerate(vectors):
        if total is None:
            total = np.array(vector, dtype=object)
            continue
        if len(vector) != len(total):
            raise InvalidRequestError(
                f"vector {i} has {len(vector)} elements; the first has {len(total)}"
            )
        total = (total + vector) % MODULUS
    if total is None:
        raise InvalidRequestError("there are no vectors to sum")
    result: RingVector = total % MODULUS
    return result


def _vector(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    try:
        floats = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"values are not a float64 vector: {exc}") from None
    if floats.ndim != 1:
        raise InvalidRequestError(f"values must be a 1-D vector, got shape {floats.shape}")
    return floats


def _check_scale(scale_bits: int) -> None:
    if (
        not isinstance(scale_bits, int)
        or isinstance(scale_bits, bool)
        or not 0 <= scale_bits <= MAX_SCALE_BITS
    ):
        raise InvalidRequestError(f"scale_bits must be an integer from 0 to {MAX_SCALE_BITS}")
