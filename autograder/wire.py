"""The only format in which values cross between the grader and a student's worker.

A message is a JSON header plus a list of ``.npy`` blobs. Values are encoded as a JSON tree in
which arrays are replaced by ``{"$nd": i}`` (blob ``i``), tensors by ``{"$tensor": i}``, tuples by
``{"$tuple": [...]}``, dicts with non-string keys by ``{"$dict": [[k, v], ...]}``, and anything
else by an opaque ``{"$handle": n}``: a reference to an object that stays in the process that made
it (a ``cache``, a ``Value`` node, an ``nn.Module``). Decoding never unpickles anything and never
builds an object of a class the student defined: ``np.load(..., allow_pickle=False)`` and
``json.loads`` only. Whatever the student's process sends, the grader gets plain data.

Framing on a stream socket: ``u32 header length | header | u32 blob count | (u64 length | blob)*``.
"""

from __future__ import annotations

import io
import json
import math
import socket
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_HEADER = 16 * 2**20  # bytes of JSON in one message
MAX_MESSAGE = 256 * 2**20  # bytes in one message, blobs included


class WireError(Exception):
    """A message that is malformed, too large, or cut off."""


@dataclass(frozen=True)
class Handle:
    """An object that lives in the other process; only its number crosses."""

    id: int


def _is_tensor(x: Any) -> bool:
    mod = type(x).__module__
    return mod.startswith("torch") and type(x).__name__ in ("Tensor", "Parameter")


class Encoder:
    """Turns a value into (JSON tree, blobs); ``keep`` stores non-data objects and returns a Handle."""

    def __init__(self, keep=None):
        self.blobs: list[bytes] = []
        self.keep = keep

    def encode(self, x: Any, depth: int = 0) -> Any:
        if depth > 50:
            raise WireError("value nested more than 50 levels deep")
        if x is None or isinstance(x, bool | str):
            return x if not isinstance(x, str) else str(x)
        if type(x) is int or isinstance(x, np.integer):
            return {"$int": str(int(x))}  # arbitrary precision, no JSON float rounding
        if isinstance(x, float | np.floating):
            f = float(x)
            return f if math.isfinite(f) else {"$float": repr(f)}
        if isinstance(x, np.bool_):
            return bool(x)
        if isinstance(x, Handle):
            return {"$handle": x.id}
        if isinstance(x, np.ndarray):
            return self._array(np.asarray(x), "$nd")
        if _is_tensor(x):
            t = x.detach().cpu()
            if str(t.dtype) == "torch.bfloat16":
                t = t.float()
            return self._array(t.numpy(), "$tensor")
        if isinstance(x, tuple):
            return {"$tuple": [self.encode(v, depth + 1) for v in x]}
        if isinstance(x, list):
            return [self.encode(v, depth + 1) for v in x]
        if isinstance(x, dict):
            if all(type(k) is str for k in x):
                return {"$strdict": {k: self.encode(v, depth + 1) for k, v in x.items()}}
            return {
                "$dict": [
                    [self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in x.items()
                ]
            }
        if self.keep is None:
            raise WireError(f"cannot send a {type(x).__name__} by value")
        return {"$handle": self.keep(x)}

    def _array(self, a: np.ndarray, tag: str) -> dict:
        if a.dtype.hasobject or a.dtype.kind not in "biufc":
            raise WireError(f"arrays of dtype {a.dtype} cannot be sent")
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(a).reshape(a.shape), allow_pickle=False)  # keeps 0-d
        self.blobs.append(buf.getvalue())
        return {tag: len(self.blobs) - 1}


def decode(tree: Any, blobs: list[bytes], resolve=None, as_tensor=None) -> Any:
    """Rebuild a value. ``resolve(id)`` maps handle numbers to objects (worker side); without it,
    handles come back as :class:`Handle`. ``as_tensor`` turns an array into a tensor (lazy torch)."""

    def walk(x: Any) -> Any:
        if isinstance(x, list):
            return [walk(v) for v in x]
        if not isinstance(x, dict):
            return x
        if len(x) != 1:
            raise WireError("malformed value")
        ((tag, v),) = x.items()
        if tag == "$int":
            return int(v)
        if tag == "$float":
            if v not in ("nan", "inf", "-inf"):
                raise WireError("malformed float")
            return float(v)
        if tag in ("$nd", "$tensor"):
            if not isinstance(v, int) or not 0 <= v < len(blobs):
                raise WireError("malformed array reference")
            a = load_npy(blobs[v])
            if tag == "$tensor" and as_tensor is not None:
                return as_tensor(a)
            return a
        if tag == "$tuple":
            return tuple(walk(i) for i in v)
        if tag == "$strdict":
            return {str(k): walk(i) for k, i in v.items()}
        if tag == "$dict":
            return {_hashable(walk(k)): walk(i) for k, i in v}
        if tag == "$handle":
            if not isinstance(v, int):
                raise WireError("malformed handle")
            return resolve(v) if resolve is not None else Handle(v)
        raise WireError(f"unknown tag {tag!r}")

    return walk(tree)


def load_npy(blob: bytes) -> np.ndarray:
    """Parse one ``.npy`` blob, refusing anything but a plain numeric array whose header agrees
    with its size (``np.load`` would allocate whatever shape a hostile header claims)."""
    fp = io.BytesIO(blob)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise WireError(f"unsupported .npy version {version}")
    except ValueError as err:
        raise WireError(f"malformed array: {err}") from None
    if dtype.hasobject or dtype.kind not in "biufc" or dtype.fields is not None:
        raise WireError(f"arrays of dtype {dtype} are not accepted")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count < 0 or count * dtype.itemsize != len(blob) - fp.tell():
        raise WireError("array header does not match its data")
    data = np.frombuffer(blob, dtype=dtype, count=count, offset=fp.tell())
    return data.reshape(shape, order="F" if fortran else "C").copy()


def _hashable(k: Any) -> Any:
    if isinstance(k, np.ndarray):
        raise WireError("array used as a dict key")
    return k


def _tensor_from_numpy(a: np.ndarray):
    import torch

    return torch.from_numpy(a)


# -- framing ---------------------------------------------------------------------------------


def send(sock: socket.socket, header: dict, blobs: list[bytes] = ()) -> None:
    head = json.dumps(header, allow_nan=False).encode()
    parts = [struct.pack("<I", len(head)), head, struct.pack("<I", len(blobs))]
    for b in blobs:
        parts += [struct.pack("<Q", len(b)), b]
    sock.sendall(b"".join(parts))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket) -> tuple[dict, list[bytes]]:
    """Read one message; raises EOFError on a closed socket, WireError on a bad or huge one."""
    (n,) = struct.unpack("<I", _recv_exact(sock, 4))
    if n > MAX_HEADER:
        raise WireError(f"header of {n} bytes is over the limit")
    try:
        header = json.loads(_recv_exact(sock, n))
    except (ValueError, RecursionError) as e:
        raise WireError(f"header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    (count,) = struct.unpack("<I", _recv_exact(sock, 4))
    total, blobs = n, []
    for _ in range(count):
        (size,) = struct.unpack("<Q", _recv_exact(sock, 8))
        total += size
        if total > MAX_MESSAGE:
            raise WireError(f"message over {MAX_MESSAGE // 2**20} MiB")
        blobs.append(_recv_exact(sock, size))
    return header, blobs
