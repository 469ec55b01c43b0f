"""The car's Triton Inference Server, through PyTriton, serving every model binding.

PyTriton starts `tritonserver` as a child process whose Python backend stub links libpython
dynamically and, left alone, picks the system's copy. Under any other interpreter (our
venv's pyenv Python) the stub and the interpreter then disagree about CPython internals and
models fail to load with "'_thread.RLock' object has no attribute '_recursion_count'". The
child inherits our environment when it starts, so putting this interpreter's LIBDIR first in
LD_LIBRARY_PATH here, before Triton starts, fixes it for `mh node`, `mh up` and tests alike
(no re-exec needed: our own process never loads the stub).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import signal
import socket
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from macrohard.planner_model import Array, InferFn, ModelBinding

log = logging.getLogger("macrohard.node_agent")


def put_libpython_first() -> None:
    """Make the Triton child load *this* interpreter's libpython (idempotent)."""
    libdir = sysconfig.get_config_var("LIBDIR")
    if not libdir:
        return
    current = os.environ.get("LD_LIBRARY_PATH", "")
    parts = [p for p in current.split(":") if p]
    if parts[:1] != [libdir]:
        os.environ["LD_LIBRARY_PATH"] = ":".join([libdir, *[p for p in parts if p != libdir]])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ComputeMeter:
    """Per-model compute time (an exponentially weighted mean), reported in heartbeats as the
    node's measured latency and read by placement."""

    alpha: float = 0.2
    mean_ms: dict[str, float] = field(default_factory=dict)
    inflight: int = 0

    def record(self, model: str, ms: float) -> None:
        old = self.mean_ms.get(model)
        self.mean_ms[model] = ms if old is None else old + self.alpha * (ms - old)

    @property
    def latency_ms(self) -> float:
        return max(self.mean_ms.values(), default=0.0)


def _batched(binding: ModelBinding, fn: InferFn, meter: ComputeMeter) -> object:
    from pytriton.decorators import batch

    @batch  # type: ignore[untyped-decorator]
    def infer(**inputs: Array) -> dict[str, Array]:
        meter.inflight += 1
        started = time.perf_counter()
        try:
            outputs: dict[str, Array] = fn(inputs)
            return outputs
        finally:
            meter.inflight -= 1
            meter.record(binding.name, (time.perf_counter() - started) * 1000)

    return infer


@dataclass
class TritonHost:
    """One Triton server on the given ports (0 = pick free ones) with every binding."""

    bindings: list[ModelBinding]
    host: str = "127.0.0.1"
    http_port: int = 0
    grpc_port: int = 0
    metrics_port: int = 0
    meter: ComputeMeter = field(default_factory=ComputeMeter)
    # Where PyTriton keeps its sockets and model store. A fixed path per car (rather than a
    # fresh temporary one) lets the next start clear what a killed run left behind.
    workspace: Path | None = None
    _triton: object | None = None

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"grpc://{self.host}:{self.grpc_port}"

    def start(self) -> TritonHost:
        """Load every model and start serving (blocks ~3 s on CPU)."""
        from pytriton.model_config import ModelConfig, Tensor
        from pytriton.triton import Triton, TritonConfig

        put_libpython_first()
        self.http_port = self.http_port or free_port()
        self.grpc_port = self.grpc_port or free_port()
        self.metrics_port = self.metrics_port or free_port()
        config = TritonConfig(
            http_address=self.host,
            http_port=self.http_port,
            grpc_address=self.host,
            grpc_port=self.grpc_port,
            metrics_port=self.metrics_port,
            # Without it a stop waits 30 s for in-flight work; a departing car cannot.
            exit_timeout_secs=2,
            log_verbose=0,
        )
        workspace = socket_safe(self.workspace) if self.workspace is not None else None
        if workspace is not None and workspace.exists():
            _stop_programs_under(workspace)
            shutil.rmtree(workspace)
        triton = Triton(config=config, workspace=workspace)
        for binding in self.bindings:
            triton.bind(
                model_name=binding.name,
                infer_func=_batched(binding, binding.load(), self.meter),
                inputs=[Tensor(name=t.name, dtype=t.dtype, shape=t.shape) for t in binding.inputs],
                outputs=[
                    Tensor(name=t.name, dtype=t.dtype, shape=t.shape) for t in binding.outputs
                ],
                config=ModelConfig(max_batch_size=binding.max_batch_size),
                strict=True,
            )
        triton.run()
        self._triton = triton
        log.info("triton serving", extra={"http": self.http_url, "models": self.model_names})
        return self

    @property
    def model_names(self) -> list[str]:
        return [b.name for b in self.bindings]

    def stop(self) -> None:
        if self._triton is not None:
            self._triton.stop()  # type: ignore[attr-defined]
            self._triton = None


def socket_safe(workspace: Path) -> Path:
    """A short stand-in for `workspace`, the same for the same car on every start.

    PyTriton puts its Unix sockets in the workspace, and a socket path may hold only 107
    bytes: a data dir in a deep folder (a clone under a test's temporary dir, a home folder
    with long names) made every model fail to load with "AF_UNIX path too long". A fixed
    short path derived from the asked one keeps what the fixed path was for: the next start
    of this car finds and stops what a killed run left running there.
    """
    digest = hashlib.sha256(str(workspace.absolute()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"mh-triton-{digest}"


def _stop_programs_under(workspace: Path) -> None:
    """SIGKILL what a killed run of this car left running from its workspace.

    Triton's Python-backend stubs are started by tritonserver, not by us, and outlive it when
    the car is killed; their binary lives in the workspace, which names them as ours.
    """
    root = str(workspace.absolute()) + "/"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe = (entry / "cmdline").read_bytes().split(b"\0", 1)[0].decode()
        except OSError:
            continue
        if exe.startswith(root):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def as_text_column(texts: list[str]) -> Array:
    """A BYTES input column of shape (n, 1), as Triton clients send text."""
    return np.array([[t.encode()] for t in texts], dtype=np.object_)
