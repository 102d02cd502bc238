"""Crash-trial writer: submits DataContract transactions in a loop until it is SIGKILLed.

Run as a script by tests/durability/test_crash.py:

    python _writer.py LEDGER_DIR ACK_FILE READY_FILE PREFIX THREADS SEED

Each thread runs its own sequence of storeData (fresh keys and one
overwritten "hot" key) and deleteData (of keys it stored before). Before a
submit it appends a `begin` line to ACK_FILE; once `submit` has returned it
appends an `ack` line and fsyncs the file, so an `ack` on disk means "the
ledger told us this transaction is committed". Keys are never shared between
threads, so per key the file lists operations in the order they were made.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import traceback

import tensorledger as tl

# Values exercise UTF-8 (multi-byte and astral characters), JSON escapes and length.
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 -_/\\\"'é€ü😀\t"


class AckLog:
    """The append-only record of what was begun and what was acknowledged."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lock = threading.Lock()

    def write(self, record: dict[str, object], *, durable: bool) -> None:
        line = (json.dumps(record, ensure_ascii=True) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
            if durable:
                os.fsync(self._fd)


def value_for(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 120)))


def run_thread(contract: tl.Contract, log: AckLog, prefix: str, thread: int, seed: int) -> None:
    rng = random.Random(f"{seed}/{thread}")
    stored: list[str] = []
    n = 0
    while True:
        n += 1
        roll = rng.random()
        if roll < 0.12 and stored:
            key, kind, value = stored.pop(rng.randrange(len(stored))), "del", None
        elif roll < 0.30:
            key, kind, value = f"{prefix}-t{thread}-hot", "put", value_for(rng)
        else:
            key, kind, value = f"{prefix}-t{thread}-{n:06d}", "put", value_for(rng)
        record: dict[str, object] = {"key": key, "kind": kind, "value": value}
        log.write({"op": "begin", **record}, durable=False)
        if kind == "put":
            assert value is not None
            result = contract.submit("storeData", key, value)
        else:
            result = contract.submit("deleteData", key)
        # Acknowledge only after submit returned: this is the promise under test.
        log.write({"op": "ack", **record, "tx": result.tx_id, "block": result.block}, durable=True)
        if kind == "put" and not key.endswith("-hot"):
            stored.append(key)


def main() -> None:
    ledger, ack_file, ready_file, prefix, threads, seed = sys.argv[1:7]
    log = AckLog(ack_file)
    gateway = tl.connect(ledger, "Org1")
    contract = gateway.network().contract("datacontract")
    gateway.network().checkpoint()  # opens the channel's database before we say ready
    with open(ready_file, "w") as f:
        f.write(str(os.getpid()))

    def guarded(i: int) -> None:
        try:
            run_thread(contract, log, prefix, i, int(seed))
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(3)  # a failing submit is a test failure, not a crash to recover from

    workers = [threading.Thread(target=guarded, args=(i,)) for i in range(int(threads))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()
