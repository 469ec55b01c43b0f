"""Model inputs and outputs on the bus: numpy arrays <-> `WireTensor` (KServe v2 datatypes).

Both ends of a call use this one codec: the planner's inference client encodes inputs and
decodes outputs, the car's node agent does the reverse before and after calling its own
Triton. Numbers travel as raw little-endian bytes (no per-element cost); BYTES tensors as a
list of items, since their elements have no fixed size. Shapes and sizes are checked on
decode, so a car cannot make the platform build an array from a lying header.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec
import numpy as np
import numpy.typing as npt

from macrohard.contracts.fleet import InferenceReply, InferenceRequest, WireTensor

Array = npt.NDArray[np.generic]

# KServe v2 datatype <-> numpy dtype (little-endian on the wire).
_NUMERIC: dict[str, np.dtype[np.generic]] = {
    "BOOL": np.dtype("bool"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
_BY_KIND = {(dt.kind, dt.itemsize): name for name, dt in _NUMERIC.items()}
MAX_ELEMENTS = 16 * 1024 * 1024  # a decoded tensor is refused past this many elements


class BadTensor(ValueError):
    """A tensor whose header and body disagree, or of a datatype we do not know."""


def datatype_of(array: Array) -> str:
    """The KServe v2 datatype name of a numpy array (text and object arrays are BYTES)."""
    if array.dtype == np.object_ or array.dtype.kind in "SU":
        return "BYTES"
    name = _BY_KIND.get((array.dtype.kind, array.dtype.itemsize))
    if name is None:
        raise BadTensor(f"no KServe datatype for numpy dtype {array.dtype}")
    return name


def to_wire(name: str, array: Array) -> WireTensor:
    """Encode one array; BYTES items are sent as UTF-8 when they are text."""
    datatype = datatype_of(array)
    shape = [int(d) for d in array.shape]
    if datatype == "BYTES":
        items = [x if isinstance(x, bytes) else str(x).encode() for x in array.reshape(-1)]
        return WireTensor(name=name, datatype=datatype, shape=shape, items=items)
    data = np.ascontiguousarray(array, dtype=_NUMERIC[datatype]).tobytes()
    return WireTensor(name=name, datatype=datatype, shape=shape, data=data)


def from_wire(tensor: WireTensor) -> Array:
    """Decode one tensor, refusing one whose shape does not match its body."""
    if any(d < 0 for d in tensor.shape):
        raise BadTensor(f"{tensor.name}: negative dimension in {tensor.shape}")
    count = math.prod(tensor.shape)
    if count > MAX_ELEMENTS:
        raise BadTensor(f"{tensor.name}: {count} elements is over the limit")
    if tensor.datatype == "BYTES":
        if len(tensor.items) != count:
            raise BadTensor(f"{tensor.name}: {len(tensor.items)} items for shape {tensor.shape}")
        out = np.empty(count, dtype=np.object_)
        out[:] = tensor.items
        return out.reshape(tensor.shape)
    dtype = _NUMERIC.get(tensor.datatype)
    if dtype is None:
        raise BadTensor(f"{tensor.name}: unknown datatype {tensor.datatype!r}")
    if len(tensor.data) != count * dtype.itemsize:
        raise BadTensor(f"{tensor.name}: {len(tensor.data)} bytes for shape {tensor.shape}")
    return np.frombuffer(tensor.data, dtype=dtype).reshape(tensor.shape)


def nbytes(tensor: WireTensor) -> int:
    """Payload bytes of a tensor (what is metered as input/output size)."""
    return len(tensor.data) + sum(len(i) for i in tensor.items)


def arrays(tensors: list[WireTensor]) -> dict[str, Array]:
    return {t.name: from_wire(t) for t in tensors}


def wire(named: Mapping[str, Array]) -> list[WireTensor]:
    return [to_wire(name, a) for name, a in named.items()]


# msgpack on the bus: tensors are binary, and this traffic never enters the (JSON) log.
encode = msgspec.msgpack.Encoder().encode
decode_request = msgspec.msgpack.Decoder(InferenceRequest).decode
decode_reply = msgspec.msgpack.Decoder(InferenceReply).decode
