"""TensorFlow stays out of the import path, and `compute()` leaves global state as it found it."""

from __future__ import annotations

import subprocess
import sys

from tensorledger.stats import _backend, describe


def test_importing_stats_does_not_import_tensorflow() -> None:
    code = (
        "import sys, tensorledger, tensorledger.stats; "
        "sys.exit(1 if 'tensorflow' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_determinism_is_on_during_a_statistic_and_restored_after() -> None:
    from tensorflow.python.framework import config

    before = config.is_op_determinism_enabled()
    with _backend.compute() as tf:
        assert config.is_op_determinism_enabled()
        with _backend.compute():  # nested statistics keep it on
            pass
        assert config.is_op_determinism_enabled()
        assert tf.constant(1.0).device.endswith("CPU:0")
    assert config.is_op_determinism_enabled() == before
    describe({"x": [1.0, 2.0, 3.0]})
    assert config.is_op_determinism_enabled() == before


def test_determinism_left_on_when_someone_else_turned_it_on() -> None:
    from tensorflow.python.framework import config

    before = config.is_op_determinism_enabled()
    try:
        config.enable_op_determinism()
        describe({"x": [1.0, 2.0, 3.0]})
        assert config.is_op_determinism_enabled()
    finally:
        if not before:
            config.disable_op_determinism()
