"""The only format in which values cross between the grader and a student's worker.

A message is a JSON header plus a list of ``.npy`` blobs. Values are encoded as a JSON tree in
which arrays are replaced by ``{"$nd": i}`` (blob ``i``), tensors by ``{"$tensor": i}``, tuples by
``{"$tuple": [...]}``, dicts with non-string keys by ``{"$dict": [[k, v], ...]}``, and anything
else by an opaque ``{"$handle": n}``: a reference to an object that stays in the process that made
it (a ``cache``, a ``Value`` node, an ``nn.Module``). Decoding never unpickles anything and never
builds an object of a class the student defined: ``np.load(..., allow_pickle=False)`` and
``json.loads`` only. Whatever the student's process sends, the grader gets plain data.

Framing on a stream socket: ``u64 message length | u32 header length | header | u32 blob count |
(u64 length | blob)*``.
"""

from __future__ import annotations

import json
import math
import re
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
        self.blobs.append(dump_npy(a))
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


_NPY_MAGIC = b"\x93NUMPY\x01\x00"
# The header numpy writes for a plain array, and the only one accepted: parsing it with a regular
# expression is ~20x faster than numpy's reader (which calls ast.literal_eval) and admits nothing
# else: no structured or object dtypes, no arbitrary Python literals.
_NPY_HEADER = re.compile(
    rb"\{'descr': '([<>|]?[biufc]\d{1,2})', 'fortran_order': (True|False), "
    rb"'shape': \(((?:\d{1,12}, )*\d{0,12},?)\), \} *\n"
)


def dump_npy(a: np.ndarray) -> bytes:
    """An ``.npy`` (version 1.0) blob of a numeric array, byte for byte what ``np.save`` writes
    for a C-ordered array; 0-d arrays keep their shape."""
    a = np.ascontiguousarray(a).reshape(a.shape)  # ascontiguousarray makes 0-d arrays 1-d
    shape = repr(tuple(int(n) for n in a.shape))
    head = f"{{'descr': '{a.dtype.str}', 'fortran_order': False, 'shape': {shape}, }}"
    pad = 64 - (len(_NPY_MAGIC) + 2 + len(head) + 1) % 64
    head = (head + " " * pad + "\n").encode("latin1")
    return b"".join([_NPY_MAGIC, struct.pack("<H", len(head)), head, a.tobytes()])


def load_npy(blob: bytes) -> np.ndarray:
    """Parse one ``.npy`` blob, refusing anything but a plain numeric array whose header agrees
    with its size (``np.load`` would allocate whatever shape a hostile header claims)."""
    if len(blob) < 10 or blob[:8] != _NPY_MAGIC:
        raise WireError("malformed array: not an .npy version 1.0 blob")
    (n,) = struct.unpack("<H", blob[8:10])
    m = _NPY_HEADER.fullmatch(blob, 10, 10 + n)
    if m is None:
        raise WireError("malformed array: unexpected .npy header")
    try:
        dtype = np.dtype(m[1].decode())
    except TypeError as err:
        raise WireError(f"malformed array: {err}") from None
    if dtype.hasobject or dtype.kind not in "biufc" or dtype.fields is not None:
        raise WireError(f"arrays of dtype {dtype} are not accepted")
    shape = tuple(int(d) for d in m[3].split(b",") if d.strip())
    count = math.prod(shape)
    if count * dtype.itemsize != len(blob) - 10 - n:
        raise WireError("array header does not match its data")
    data = np.frombuffer(blob, dtype=dtype, count=count, offset=10 + n)
    return data.reshape(shape, order="F" if m[2] == b"True" else "C").copy()


def load_npz(data: bytes, max_bytes: int, max_arrays: int = 4096) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive (``np.savez`` or ``np.savez_compressed``), read without
    pickle and without trusting its headers: at most ``max_arrays`` members and ``max_bytes``
    inflated in all. Raises :class:`WireError` for anything else."""
    import io
    import zipfile

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise WireError(f"not an .npz archive ({err})") from None
    if len(infos) > max_arrays:
        raise WireError(f"{len(infos)} arrays: more than {max_arrays}")
    out, total = {}, 0
    for info in infos:
        name = info.filename
        if not name.endswith(".npy") or "/" in name or "\\" in name or info.flag_bits & 0x1:
            raise WireError(f"unexpected member {name!r} in the .npz archive")
        try:
            with zf.open(info) as f:  # reads at most what is left of the budget, plus one byte
                blob = f.read(max_bytes - total + 1)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as err:
            raise WireError(f"{name!r} cannot be read ({err})") from None
        total += len(blob)
        if total > max_bytes:
            raise WireError(f"the arrays inflate past {max_bytes / 2**20:.0f} MiB")
        key = name[: -len(".npy")]
        if key in out:
            raise WireError(f"array {key!r} appears twice")
        try:
            out[key] = load_npy(blob)
        except WireError as err:
            raise WireError(f"array {key!r} is not a plain numeric array ({err})") from None
    return out


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
    body = b"".join(parts)
    sock.sendall(struct.pack("<Q", len(body)) + body)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = sock.recv_into(view[got:], min(n - got, 1 << 24))
        if not k:
            raise EOFError("connection closed")
        got += k
    return bytes(buf)


def recv(sock: socket.socket) -> tuple[dict, list[bytes]]:
    """Read one message; raises EOFError on a closed socket, WireError on a bad or huge one.

    The whole message is read in one go (its length comes first), then split in memory."""
    (total,) = struct.unpack("<Q", _recv_exact(sock, 8))
    if total > MAX_MESSAGE:
        raise WireError(f"message over {MAX_MESSAGE // 2**20} MiB")
    body = _recv_exact(sock, total)
    try:
        (n,) = struct.unpack_from("<I", body, 0)
        if n > MAX_HEADER:
            raise WireError(f"header of {n} bytes is over the limit")
        try:
            header = json.loads(body[4 : 4 + n])
        except (ValueError, RecursionError) as e:
            raise WireError(f"header is not valid JSON: {e}") from None
        if not isinstance(header, dict):
            raise WireError("header is not an object")
        (count,) = struct.unpack_from("<I", body, 4 + n)
        pos, blobs = 8 + n, []
        for _ in range(count):
            (size,) = struct.unpack_from("<Q", body, pos)
            if pos + 8 + size > total:
                raise WireError("message cut off")
            blobs.append(body[pos + 8 : pos + 8 + size])
            pos += 8 + size
    except struct.error:
        raise WireError("message cut off") from None
    if pos != total:
        raise WireError("trailing bytes after the message")
    return header, blobs
