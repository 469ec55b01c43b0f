"""Files generated from the code and committed (the JSON Schema, the NATS permissions).

One behaviour for all of them: `-` prints, `--check` exits 1 when the committed file is not
what the code gives (CI and the tests run it), otherwise the file is rewritten.
"""

from __future__ import annotations

import sys
from pathlib import Path


def write_generated(out: Path, data: bytes, *, check: bool, command: str) -> int:
    """Print, check or write one generated file; `command` is what regenerates it."""
    if str(out) == "-":
        sys.stdout.buffer.write(data)
        return 0
    if check:
        current = out.read_bytes() if out.exists() else b""
        if current != data:
            print(f"{out} is out of date: run `{command}`", file=sys.stderr)
            return 1
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(f"wrote {out}")
    return 0
