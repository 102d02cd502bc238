"""Building Hyperledger Fabric's `peer`, `orderer` and `configtxgen` from Go source, once.

Why release 2.1.1: the only Go source this project can reach is the Go module
proxy, and it refuses every `github.com/hyperledger/fabric` version from v2.2
on (and every pseudo-version naming a commit), so v2.5 LTS and v3.x cannot be
fetched. It does serve ``v2.1.1+incompatible``. Fabric's own module has no
usable go.mod at that tag (it vendored with dep), so ``build/go.mod`` and
``build/go.sum`` pin the 95 dependency versions from its ``Gopkg.lock`` that
build with today's Go (1.26), with ``CGO_ENABLED=0``. 2.1 has everything a
Docker-free network needs: Raft ordering, the v2 chaincode lifecycle and
external builders, through which chaincode runs as an external service.

The result lives in one cache directory (``~/.cache/tensorledger/fabric/2.1.1``
or ``$TENSORLEDGER_FABRIC_HOME``): ``bin/``, ``sampleconfig/`` from the module
and ``stamp.json``; `install` does nothing when the stamp matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tensorledger.errors import ConfigError, UnavailableError

FABRIC_VERSION = "2.1.1"
#: the commit v2.1.1 was tagged at, as Fabric's Makefile stamps it into `peer version`
FABRIC_COMMIT = "6393adb"
FABRIC_MODULE = "github.com/hyperledger/fabric"
BINARIES = ("peer", "orderer", "configtxgen")
HOME_ENV = "TENSORLEDGER_FABRIC_HOME"
STAMP_FILE = "stamp.json"
_BUILD_FILES = ("go.mod", "go.sum", "tools.go")
#: lines of go's output quoted in an error
_TAIL = 12

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    """Progress sink that drops messages."""


@dataclass(frozen=True, slots=True)
class Installation:
    """An installed Fabric: where its binaries and sample configuration are."""

    home: Path

    @property
    def bin_dir(self) -> Path:
        """Folder with `peer`, `orderer` and `configtxgen`."""
        return self.home / "bin"

    @property
    def sampleconfig(self) -> Path:
        """Fabric's own ``sampleconfig/`` (core.yaml, orderer.yaml, configtx.yaml, msp/)."""
        return self.home / "sampleconfig"

    def binary(self, name: str) -> Path:
        """Path of one Fabric command; ConfigError when it is not there."""
        path = self.bin_dir / name
        if not path.is_file() or not os.access(path, os.X_OK):
            raise ConfigError(f"Fabric binary {path} is missing; run `tensorledger fabric install`")
        return path


def fabric_home(cache_dir: Path | None = None) -> Path:
    """The installation directory: `cache_dir`, else $TENSORLEDGER_FABRIC_HOME, else ~/.cache."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env)
    return Path.home() / ".cache" / "tensorledger" / "fabric" / FABRIC_VERSION


def _recipe() -> tuple[dict[str, bytes], str]:
    """The pinned build files and a digest of everything that decides the binaries."""
    folder = resources.files("tensorledger.fabric") / "build"
    files = {name: (folder / name).read_bytes() for name in _BUILD_FILES}
    digest = hashlib.sha256()
    for name, data in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    digest.update(f"{FABRIC_VERSION}:{FABRIC_COMMIT}".encode())
    return files, digest.hexdigest()


def _stamp_matches(home: Path, recipe: str) -> bool:
    try:
        stamp = json.loads((home / STAMP_FILE).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict) or stamp.get("recipe") != recipe:
        return False
    binaries = stamp.get("binaries", {})
    for name in BINARIES:
        path = home / "bin" / name
        if not path.is_file() or binaries.get(name) != _file_digest(path):
            return False
    return (home / "sampleconfig" / "core.yaml").is_file()


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def find_installation(cache_dir: Path | None = None) -> Installation:
    """The installed Fabric; ConfigError telling to run `install` when it is absent or stale."""
    home = fabric_home(cache_dir)
    _, recipe = _recipe()
    if not _stamp_matches(home, recipe):
        raise ConfigError(
            f"Fabric {FABRIC_VERSION} is not installed in {home}; run `tensorledger fabric install`"
        )
    return Installation(home)


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    # Pure Go: no C toolchain needed, PKCS#11 (cgo only) is left out.
    env.update(CGO_ENABLED="0", GOFLAGS="-mod=mod", GOTOOLCHAIN="local")
    return env


def _run_go(go: str, args: list[str], cwd: Path, log: Path, what: str) -> str:
    """Run go, appending its output to `log`; UnavailableError with its last lines on failure."""
    try:
        done = subprocess.run(
            [go, *args], cwd=cwd, env=_go_env(), capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise ConfigError(f"cannot run Go ({go}): {exc.strerror}") from None
    with log.open("a") as handle:
        handle.write(f"$ go {' '.join(args)}\n{done.stderr}")
    if done.returncode != 0:
        tail = " | ".join(line for line in done.stderr.strip().splitlines()[-_TAIL:])
        raise UnavailableError(f"{what} failed (go exit {done.returncode}, see {log}): {tail}")
    return done.stdout


def _writable_copy(source: Path, target: Path) -> None:
    # The module cache is read-only; a plain copytree would keep that and make
    # the copy impossible to replace later.
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def install(
    cache_dir: Path | None = None, *, progress: Progress = _quiet, go: str | None = None
) -> Installation:
    """Build Fabric's binaries into the cache directory and copy its sample configuration.

    Idempotent: returns at once when the stamp names this recipe and the
    binaries are the ones it recorded. ConfigError when Go is missing,
    UnavailableError (with go's last lines) when the build fails; a failed
    build leaves any previous installation as it was.
    """
    home = fabric_home(cache_dir)
    files, recipe = _recipe()
    if _stamp_matches(home, recipe):
        progress(f"Fabric {FABRIC_VERSION} already installed in {home}")
        return Installation(home)
    go_path = go or shutil.which("go")
    if go_path is None or shutil.which(go_path) is None:
        raise ConfigError(
            "the Go toolchain (`go`) is not on PATH; install Go ≥ 1.22 to build Fabric"
        )
    src = home / "src"
    src.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (src / name).write_bytes(data)
    log = home / "build.log"
    log.write_text("")
    version = _run_go(go_path, ["version"], src, log, "go version").strip()
    progress(f"building Fabric {FABRIC_VERSION} ({', '.join(BINARIES)}) with {version}")
    staging = home / ".bin-new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    ldflags = (
        f"-X {FABRIC_MODULE}/common/metadata.Version={FABRIC_VERSION} "
        f"-X {FABRIC_MODULE}/common/metadata.CommitSHA={FABRIC_COMMIT}"
    )
    packages = [f"{FABRIC_MODULE}/cmd/{name}" for name in BINARIES]
    _run_go(
        go_path,
        ["build", "-ldflags", ldflags, "-o", f"{staging}/", *packages],
        src,
        log,
        f"building Fabric {FABRIC_VERSION}",
    )
    progress("copying Fabric's sample configuration")
    info = json.loads(
        _run_go(
            go_path,
            ["mod", "download", "-json", f"{FABRIC_MODULE}@v{FABRIC_VERSION}+incompatible"],
            src,
            log,
            "locating Fabric's module source",
        )
    )
    _writable_copy(Path(info["Dir"]) / "sampleconfig", home / "sampleconfig")
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in BINARIES:
        (staging / name).replace(bin_dir / name)
    staging.rmdir()
    stamp = {
        "fabric": FABRIC_VERSION,
        "commit": FABRIC_COMMIT,
        "recipe": recipe,
        "go": version,
        "binaries": {name: _file_digest(bin_dir / name) for name in BINARIES},
    }
    (home / STAMP_FILE).write_text(json.dumps(stamp, indent=2) + "\n")
    progress(f"Fabric {FABRIC_VERSION} installed in {home}")
    return Installation(home)


__all__ = [
    "BINARIES",
    "FABRIC_VERSION",
    "HOME_ENV",
    "Installation",
    "fabric_home",
    "find_installation",
    "install",
]
