"""Getting our errors back out of TensorFlow: the one place TF's error wrapping is undone.

A `tf.data` generator runs inside a TensorFlow op, so an `IntegrityError` it
raises reaches the caller as a `tf.errors.UnknownError` whose message quotes
ours. The generators here `remember` each error before raising it, and
`ledger_errors()` (around `model.fit`, a loop, anything) or `iterate()`
turns such an op error back into the very `IntegrityError` that was raised.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tensorledger.errors import TensorLedgerError
from tensorledger.tf._runtime import tensorflow

#: errors raised inside TF ops and not yet recovered; bounded, because nobody
#: is obliged to recover them (a caller may just let TF's error propagate)
_KEEP = 64
_lock = threading.Lock()
_raised: OrderedDict[str, TensorLedgerError] = OrderedDict()


def remember(error: TensorLedgerError) -> None:
    """Note an error about to be raised inside a TensorFlow op (any thread)."""
    with _lock:
        _raised[str(error)] = error
        _raised.move_to_end(str(error))
        while len(_raised) > _KEEP:
            _raised.popitem(last=False)


def recover(error: BaseException) -> TensorLedgerError | None:
    """Our error that a TensorFlow op error carries, or None if it carries none.

    TensorFlow quotes the Python exception's text in the op error's message;
    that text (``"<where>: <detail>"``, digests included) is what identifies it.
    """
    if not isinstance(error, tensorflow().errors.OpError):
        return None
    message = str(error.message)
    with _lock:
        for text in reversed(_raised):
            if text in message:
                return _raised.pop(text)
    return None


@contextmanager
def ledger_errors() -> Iterator[None]:
    """Re-raise, as themselves, tensorledger errors that TensorFlow wrapped in op errors.

    ``with ledger_errors(): model.fit(tltf.dataset(gw, "d", 1, ...))`` makes a
    tampered chunk stop training with `tensorledger.IntegrityError` naming
    the chunk, instead of a `tf.errors.UnknownError` that merely quotes it.
    Other errors pass through untouched.
    """
    try:
        yield
    except Exception as exc:
        ours = recover(exc)
        if ours is None:
            raise
        raise ours.with_traceback(None) from None


def iterate(dataset: Iterable[Any]) -> Iterator[Any]:
    """The elements of a `tf.data.Dataset`, with tensorledger errors surfacing as themselves.

    The plain ``for x in dataset`` works too, but reports a bad chunk as a
    TensorFlow op error; this is the loop to use when the caller wants to
    ``except IntegrityError``.
    """
    iterator = iter(dataset)
    while True:
        with ledger_errors():
            try:
                element = next(iterator)
            except StopIteration:
                return
        yield element


__all__ = ["iterate", "ledger_errors", "recover", "remember"]
