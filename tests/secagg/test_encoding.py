"""Fixed-point encoding into Z/2^128: round trips, exact sums, refusals naming the element."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tensorledger as tl
from tensorledger.secagg import encoding

M = 1 << 128
K = 48
BOUND = 2.0 ** (127 - 16 - K)

finite = st.floats(min_value=-BOUND / 2, max_value=BOUND / 2, allow_nan=False)


def reference_encode(x: float, k: int = K) -> int:
    """round-half-even(x·2^k) mod 2^128, from exact rationals."""
    return round(Fraction(x) * 2**k) % M


@given(st.lists(finite, min_size=1, max_size=20))
def test_encoding_matches_exact_rounding_and_round_trips(values: list[float]) -> None:
    ring = encoding.encode(values)
    assert [int(v) for v in ring] == [reference_encode(x) for x in values]
    back = encoding.decode(ring)
    for x, y in zip(values, back, strict=True):
        assert abs(Fraction(float(y)) - Fraction(x)) <= Fraction(1, 2 ** (K + 1)) + abs(
            Fraction(x)
        ) * Fraction(1, 2**52)


@given(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=20))
def test_dyadic_values_round_trip_exactly(numerators: list[int]) -> None:
    values = [n / 2**20 for n in numerators]
    assert encoding.decode(encoding.encode(values)).tolist() == values


@given(st.lists(st.lists(finite, min_size=3, max_size=3), min_size=1, max_size=30))
def test_decoded_sum_is_the_correctly_rounded_exact_sum(rows: list[list[float]]) -> None:
    total = encoding.ring_sum(encoding.encode(r) for r in rows)
    # reference_encode is mod 2^128: undo it for negatives, then divide exactly
    exact = [sum(Fraction(_signed(reference_encode(r[j]))) for r in rows) / 2**K for j in range(3)]
    assert encoding.decode(total).tolist() == [float(e) for e in exact]


def _signed(v: int) -> int:
    return v - M if v >= M // 2 else v


def test_negative_values_wrap_to_the_top_of_the_ring() -> None:
    ring = encoding.encode([-1.0, 1.0, 0.0, -0.0])
    assert list(ring) == [M - 2**K, 2**K, 0, 0]
    assert encoding.signed(ring) == [-(2**K), 2**K, 0, 0]
    assert list(encoding.from_signed([-(2**K), 2**K])) == [M - 2**K, 2**K]


def test_largest_encodable_value_and_the_first_refused() -> None:
    below = math.nextafter(BOUND, 0.0)
    assert encoding.decode(encoding.encode([below, -below])).tolist() == [below, -below]
    assert encoding.encodable_bound(K) == BOUND
    for bad in (BOUND, -BOUND, 1e300):
        with pytest.raises(tl.InvalidRequestError, match=r"element 2 .* outside the encodable"):
            encoding.encode([0.0, 1.0, bad, 2e300])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused_by_index(bad: float) -> None:
    with pytest.raises(tl.InvalidRequestError, match=r"element 1 is .*only finite values"):
        encoding.encode([1.0, bad])


def test_a_sum_of_2_to_16_extreme_values_does_not_wrap() -> None:
    top = math.nextafter(BOUND, 0.0)
    one = encoding.encode([top, -top])
    total = encoding.ring_sum([one] * 2**16)
    assert encoding.decode(total).tolist() == [top * 2**16, -top * 2**16]


@pytest.mark.parametrize("scale", [-1, 97, True, 1.5])
def test_bad_scales_are_refused(scale: object) -> None:
    with pytest.raises(tl.InvalidRequestError, match="scale_bits must be an integer"):
        encoding.encode([1.0], scale)  # type: ignore[arg-type]


def test_other_scales_change_the_resolution() -> None:
    assert list(encoding.encode([0.75], 0)) == [1]  # rint(0.75) = 1
    assert list(encoding.encode([0.75], 2)) == [3]
    assert encoding.decode(encoding.encode([0.1], 96), 96)[0] == 0.1


def test_shapes_and_types_are_refused() -> None:
    with pytest.raises(tl.InvalidRequestError, match="1-D vector"):
        encoding.encode(np.zeros((2, 2)))
    with pytest.raises(tl.InvalidRequestError, match="not a float64 vector"):
        encoding.encode(["a", "b"])


def test_ring_bytes_round_trip_and_bad_input() -> None:
    values = [0, 1, M - 1, 2**64, 2**64 - 1, 12345678901234567890123456789]
    ring = np.array(values, dtype=object)
    data = encoding.to_bytes(ring)
    assert data == b"".join(v.to_bytes(16, "little") for v in values)
    assert list(encoding.from_bytes(data)) == values
    with pytest.raises(tl.InvalidRequestError, match="whole number"):
        encoding.from_bytes(b"\0" * 17)
    with pytest.raises(tl.InvalidRequestError, match="not an element"):
        encoding.signed([M])
    with pytest.raises(tl.InvalidRequestError, match="outside"):
        encoding.from_signed([2**127])
    with pytest.raises(tl.InvalidRequestError, match="vector 1 has 2 elements"):
        encoding.ring_sum([ring, ring[:2]])
    with pytest.raises(tl.InvalidRequestError, match="no vectors"):
        encoding.ring_sum([])
