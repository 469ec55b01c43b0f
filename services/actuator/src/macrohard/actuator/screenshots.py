"""Content-addressed screenshot store: a file's name is the SHA-256 of its bytes.

Events carry only the hash; the same screenshot taken twice is stored once, and a file can
never be changed under a hash that an event already names.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class ScreenshotStore:
    """Files under `root/<hh>/<sha256>.jpg` (two-level fan-out keeps directories small)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def from_env(cls) -> ScreenshotStore:
        root = os.environ.get("MH_ACTUATOR_SCREENSHOT_DIR")
        if root:
            return cls(Path(root))
        return cls(Path(os.environ.get("MH_DATA_DIR", ".mh")) / "screenshots")

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.jpg"

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_of(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a reader never sees half a file under a valid hash.
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return digest

    def get(self, sha256: str) -> bytes:
        return self.path_of(sha256).read_bytes()
