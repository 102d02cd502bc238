"""The seed's helpers made correct: model parameters and statistical data through storeData."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tensorledger as tl
import tensorledger.tf as tltf
from tests.tf.diabetes_ledger import Ledger, seed_model


@pytest.fixture(scope="module")
def contract(ledger: Ledger) -> tl.Contract:
    return ledger.gw.network("mychannel").contract("datacontract")


def test_model_parameters_round_trip_exactly(ledger: Ledger, contract: tl.Contract) -> None:
    model = seed_model()
    model.build((None, 10))
    result = tltf.store_model_parameters(contract, "modelParams", model)
    assert result.payload == b"Data with ID modelParams stored successfully."
    # Read back by another organisation, with plain JSON: what the seed meant to store.
    other = ledger.gw2.network().contract("datacontract")
    stored = json.loads(other.evaluate("retrieveData", "modelParams"))
    expected = model.get_weights()
    assert len(stored) == len(expected)
    for value, weights in zip(stored, expected, strict=True):
        np.testing.assert_array_equal(np.asarray(value, dtype=np.float32), weights)
    loaded = tltf.load_model_parameters(other, "modelParams")
    for a, b in zip(loaded, expected, strict=True):
        assert a.dtype == np.float32
        assert a.tobytes() == b.tobytes()


def test_models_too_large_for_a_value_point_to_ledger_checkpoint(contract: tl.Contract) -> None:
    import keras

    big = keras.Sequential([keras.layers.Dense(1200)])
    big.build((None, 1000))
    with pytest.raises(tl.InvalidRequestError, match="LedgerCheckpoint"):
        tltf.store_model_parameters(contract, "bigParams", big)
    with pytest.raises(tl.ContractError, match=r"Data with ID bigParams does not exist\."):
        contract.evaluate("retrieveData", "bigParams")


def test_non_finite_weights_are_refused(contract: tl.Contract) -> None:
    model = seed_model()
    model.build((None, 10))
    weights = model.get_weights()
    weights[1][0] = np.nan
    model.set_weights(weights)
    with pytest.raises(tl.InvalidRequestError, match="NaN"):
        tltf.store_model_parameters(contract, "nanParams", model)


def test_statistical_data_comes_back_as_tf_data(contract: tl.Contract) -> None:
    contract.submit("storeData", "statData", "[1.0, 2.0, 3.0, 4.0, 5.0]")
    ds = tltf.dataset_from_ledger(contract, "statData")
    assert [float(x) for x in ds.as_numpy_iterator()] == [1.0, 2.0, 3.0, 4.0, 5.0]
    contract.submit("storeData", "pairs", "[[1, 2], [3, 4]]")
    assert [list(x) for x in tltf.dataset_from_ledger(contract, "pairs").as_numpy_iterator()] == [
        [1, 2],
        [3, 4],
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"a": 1}', "not an array"),
        ("[[1, 2], [3]]", "not a rectangular numeric array"),
        ("not json", "not JSON"),
    ],
)
def test_values_that_are_not_arrays_are_refused(
    contract: tl.Contract, value: str, message: str
) -> None:
    contract.submit("storeData", "oddData", value)
    with pytest.raises(tl.InvalidRequestError, match=message):
        tltf.dataset_from_ledger(contract, "oddData")


def test_missing_data_keeps_the_contract_message(contract: tl.Contract) -> None:
    with pytest.raises(tl.ContractError, match=r"Data with ID nothingHere does not exist\."):
        tltf.dataset_from_ledger(contract, "nothingHere")
