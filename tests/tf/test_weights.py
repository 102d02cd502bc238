"""Tensor names, tensor hashes, the weights root and the safetensors reader, against references."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensorledger as tl
from tensorledger.registry import TensorRecord
from tensorledger.tf import weights as tlw


def reference_hash(dtype: str, shape: list[int], data: bytes) -> str:
    """The documented tensor hash, written out independently of the code under test."""
    shape_text = "[" + ",".join(str(d) for d in shape) + "]"
    return hashlib.sha256(dtype.encode() + b"\0" + shape_text.encode() + b"\0" + data).hexdigest()


def test_tensor_hash_is_the_documented_one() -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert tlw.tensor_sha256(array) == reference_hash("float32", [2, 3], array.tobytes())
    scalar = np.float64(1.5)
    assert tlw.tensor_sha256(scalar) == reference_hash("float64", [], np.float64(1.5).tobytes())


def test_tensor_hash_covers_byte_order_dtype_and_shape() -> None:
    array = np.arange(6, dtype="<f4").reshape(2, 3)
    assert tlw.tensor_sha256(array.astype(">f4")) == tlw.tensor_sha256(array)
    assert tlw.tensor_sha256(np.asfortranarray(array)) == tlw.tensor_sha256(array)
    assert tlw.tensor_sha256(array.reshape(3, 2)) != tlw.tensor_sha256(array)
    assert tlw.tensor_sha256(array.view(np.int32)) != tlw.tensor_sha256(array)


def test_weights_root_is_rfc9162_over_name_nul_digest() -> None:
    pairs = [("a/kernel", "11" * 32), ("a/bias", "22" * 32), ("b/kernel", "33" * 32)]
    leaves = [
        hashlib.sha256(b"\0" + n.encode() + b"\0" + bytes.fromhex(d)).digest() for n, d in pairs
    ]
    left = hashlib.sha256(b"\1" + leaves[0] + leaves[1]).digest()
    root = hashlib.sha256(b"\1" + left + leaves[2]).digest()
    assert tlw.weights_root(pairs) == root.hex()


def test_names_follow_the_architecture_not_the_process() -> None:
    def build() -> keras.Model:
        model = keras.Sequential(
            [
                keras.layers.Dense(4),
                keras.layers.BatchNormalization(),
                keras.layers.Dense(4),
                keras.layers.Dense(1),
            ]
        )
        model.build((None, 3))
        return model

    first, second = build(), build()
    assert first.layers[0].name != second.layers[0].name  # Keras's own names moved on
    names = [name for name, _ in tlw.named_variables(first)]
    assert names == [name for name, _ in tlw.named_variables(second)]
    assert names == [
        "dense/kernel",
        "dense/bias",
        "batch_normalization/gamma",
        "batch_normalization/beta",
        "batch_normalization/moving_mean",
        "batch_normalization/moving_variance",
        "dense_1/kernel",
        "dense_1/bias",
        "dense_2/kernel",
        "dense_2/bias",
    ]
    assert tlw.snake_case("Conv2D") == "conv2d"
    assert tlw.snake_case("LSTM") == "lstm"


def records_for(tensors: dict[str, np.ndarray]) -> list[TensorRecord]:
    return [
        TensorRecord(name, a.shape, a.dtype.name, tlw.tensor_sha256(a))
        for name, a in tensors.items()
    ]


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
dtypes = st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.uint8, np.bool_])


@settings(max_examples=50, deadline=None)
@given(st.lists(hnp.arrays(dtypes, shapes), min_size=1, max_size=4))
def test_encoded_tensors_check_out_and_come_back_exactly(arrays: list[np.ndarray]) -> None:
    tensors = {f"layer_{i}/w": a for i, a in enumerate(arrays)}
    blob = tlw.encode(list(tensors.items()))
    got = tlw.check(blob, records_for(tensors), "model m v1")
    for name, array in tensors.items():
        assert got[name].dtype == array.dtype
        assert got[name].tobytes() == array.tobytes()


def test_every_altered_byte_is_caught() -> None:
    """Mutate every byte of a small weights file: each must fail, the data bytes by tensor."""
    tensors = {"dense/kernel": np.ones((2, 3), np.float32), "dense/bias": np.zeros(3, np.float32)}
    blob = tlw.encode(list(tensors.items()))
    records = records_for(tensors)
    header_end = 8 + int.from_bytes(blob[:8], "little")
    located = tlw.parse(blob, "x")
    for position in range(len(blob)):
        altered = blob[:position] + bytes([blob[position] ^ 0x20]) + blob[position + 1 :]
        with pytest.raises(tl.IntegrityError) as caught:
            tlw.check(altered, records, "model m v1")
        if position >= header_end:
            owner = next(n for n, t in located.items() if t.start <= position < t.end)
            assert caught.value.where == f"model m v1 tensor {owner}"


def test_several_altered_tensors_are_all_listed() -> None:
    tensors = {"a/w": np.ones(4, np.float32), "b/w": np.ones(4, np.float32)}
    records = records_for(tensors)
    tensors["a/w"][0] = 2
    tensors["b/w"][0] = 2
    with pytest.raises(tl.IntegrityError) as caught:
        tlw.check(tlw.encode(list(tensors.items())), records, "model m v1")
    assert caught.value.where == "model m v1 tensor a/w"
    assert "also altered: b/w" in caught.value.detail


def test_importing_tensorledger_does_not_import_tensorflow() -> None:
    code = "import sys, tensorledger, tensorledger.registry, tensorledger.blobs; "
    code += "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
