"""Our external chaincode builder: detect, build, release for chaincode run as a service.

Fabric 2.1 ships no ``ccaas_builder``, so these are three small Python
scripts with the same contract as Fabric 2.4's: `detect` accepts a package
whose metadata.json has type "ccaas", `build` copies its connection.json,
`release` puts it where the peer looks (``chaincode/server/connection.json``)
and the peer then dials the chaincode server instead of launching anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_TYPE = "ccaas"

_DETECT = """\
import json, pathlib, sys
meta = pathlib.Path(sys.argv[2]) / "metadata.json"
try:
    kind = json.loads(meta.read_text()).get("type", "")
except (OSError, ValueError):
    sys.exit(1)
sys.exit(0 if str(kind).lower() == "{kind}" else 1)
"""

_BUILD = """\
import pathlib, shutil, sys
src, meta, out = (pathlib.Path(a) for a in sys.argv[1:4])
conn = src / "connection.json"
if not conn.is_file():
    sys.exit("connection.json missing from the chaincode package")
shutil.copyfile(conn, out / "connection.json")
shutil.copyfile(meta / "metadata.json", out / "metadata.json")
"""

_RELEASE = """\
import pathlib, shutil, sys
bld, rel = (pathlib.Path(a) for a in sys.argv[1:3])
server = rel / "chaincode" / "server"
server.mkdir(parents=True, exist_ok=True)
shutil.copyfile(bld / "connection.json", server / "connection.json")
"""


def write_builder(folder: Path, python: str = sys.executable) -> Path:
    """Write ``bin/{detect,build,release}`` under `folder` and return `folder`.

    The scripts name this interpreter in their ``#!`` line: the peer passes
    builders only PATH and a few variables, so an absolute interpreter is
    the one thing certain to be there.
    """
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, body in (
        ("detect", _DETECT.replace("{kind}", PACKAGE_TYPE)),
        ("build", _BUILD),
        ("release", _RELEASE),
    ):
        script = bin_dir / name
        script.write_text(f"#!{python}\n{body}")
        script.chmod(0o755)
    return folder


__all__ = ["PACKAGE_TYPE", "write_builder"]
