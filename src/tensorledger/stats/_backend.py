"""The one door through which TensorFlow enters tensorledger.stats.

TensorFlow is imported here, lazily, so that `import tensorledger` and the CLI
stay fast; every computation runs inside `compute()`, which pins it to the CPU
with op determinism on. (TensorFlow's numerical failures surface as NaNs, not
exceptions, on the CPU; `_linalg.spd_solve` turns them into our errors.)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _Scope:
    """How many statistics are running, and whether determinism was off before them."""

    lock = threading.RLock()
    depth = 0
    restore = False


def tensorflow() -> Any:
    """Import TensorFlow on first use; the module is typed `Any` because TF ships no stubs."""
    import tensorflow as tf  # type: ignore[import-untyped,unused-ignore]

    return tf


@contextmanager
def compute() -> Iterator[Any]:
    """Run a statistic: CPU only, deterministic ops, yielding the `tensorflow` module.

    Why the CPU: a recorded result is re-computed by other organisations on
    other machines, so the same kernels must run everywhere; these are
    O(n·p²) float64 computations that gain nothing from an accelerator.

    Why scoped determinism: `enable_op_determinism()` is process-wide and makes
    unseeded random ops raise, which would break a Keras model trained in the
    same process. It is switched on for the duration of the statistic and
    switched back off afterwards if we were the ones who switched it on.
    Concurrent statistics serialise on a lock so that the flag is never turned
    off under a running one.
    """
    tf = tensorflow()
    with _Scope.lock:
        if _Scope.depth == 0:
            _Scope.restore = not _determinism_enabled()
            tf.config.experimental.enable_op_determinism()
        _Scope.depth += 1
        try:
            with tf.device("/CPU:0"):
                yield tf
        finally:
            _Scope.depth -= 1
            if _Scope.depth == 0 and _Scope.restore:
                _disable_determinism()


def _determinism_enabled() -> bool:
    from tensorflow.python.framework import (  # type: ignore[import-untyped,unused-ignore]
        config,
    )

    return bool(config.is_op_determinism_enabled())


def _disable_determinism() -> None:
    from tensorflow.python.framework import (  # type: ignore[import-untyped,unused-ignore]
        config,
    )

    config.disable_op_determinism()
